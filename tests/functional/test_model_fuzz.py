"""Whatever a model file holds — keys deleted, values of the wrong type, NaN, huge numbers, odd
unicode, backtracking regexes, deep nesting, alias bombs, cut or spliced text — `leadq validate`
and `leadq score` answer with exit code 0 (and a scored file) or 2 (an `error:`, no file), never a
traceback and never a hang. A quick profile here; `python -m benchmarks reliability` tries 5,000."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from benchmarks.fuzzing import FuzzTally, Outcome
from benchmarks.model_fuzz import EXAMPLE_DATA, example_text, model_texts, try_model


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(made=model_texts())
def test_no_model_gets_a_traceback_a_wrong_exit_code_or_a_hang(
    made: tuple[str, str], tmp_path: Path
) -> None:
    tally = FuzzTally("models")
    tally.add(try_model(*made, tmp_path))
    assert tally.tracebacks == []
    assert tally.wrong_exit_codes == []
    assert tally.hangs == []


def test_the_fuzzer_starts_from_example_models_that_validate_and_score(tmp_path: Path) -> None:
    for name in EXAMPLE_DATA:
        validate, score = try_model(name, example_text(name), tmp_path)
        assert (validate.exit_code, score.exit_code) == (0, 0), name


@pytest.mark.parametrize(
    ("outcome", "column"),
    [
        (Outcome("score", 1, 0.1, traceback="ValueError: boom"), "tracebacks"),
        (Outcome("score", 1, 0.1, problem="score exited 1"), "wrong_exit_codes"),
        (Outcome("validate", 2, 11.0), "hangs"),
        (Outcome("validate", 2, 3.0, traceback="Hang"), "hangs"),
        (Outcome("score", 0, 0.1, leads_lost=("L-1001",)), "leads_lost"),
    ],
)
def test_the_tally_counts_each_kind_of_failure_in_its_column(outcome: Outcome, column: str) -> None:
    tally = FuzzTally("models")
    tally.add([outcome, Outcome("validate", 0, 0.1)])
    assert tally.tried == 1
    columns = ("tracebacks", "wrong_exit_codes", "hangs", "leads_lost")
    assert {name: len(getattr(tally, name)) for name in columns} == {
        name: int(name == column) for name in columns
    }
    assert not tally.clean
