"""A sync killed (SIGKILL) converges on the next run: the CRM then holds what an uninterrupted run
leaves, nobody is assigned twice, and every field leadq changed has its audit entry. One kill in
each phase of a run here; `python -m benchmarks reliability` kills a run at every one of its
requests, on both CRMs, with the same trials."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.reliability import CleanRun, clean_run, killed_run

pytestmark = pytest.mark.e2e

# the request after which the CRM kills leadq (the CRM handles it; leadq never hears the answer)
KILL_POINTS: dict[str, Callable[[CleanRun], int]] = {
    "before_any_write": lambda clean: clean.writes()[0] - 1,
    "as_a_write_lands_unconfirmed": lambda clean: clean.writes()[0],
    "between_write_batches": lambda clean: clean.writes()[0] + 1,
}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> CleanRun:
    run = clean_run("hubspot", tmp_path_factory.mktemp("clean"))
    first, *later = run.writes()
    assert later and not run.is_write(first + 1)  # two write batches, with reads between
    return run


@pytest.mark.parametrize("phase", list(KILL_POINTS))
def test_a_run_killed_converges_on_the_next_run(
    phase: str, clean: CleanRun, tmp_path: Path
) -> None:
    trial = killed_run(clean, KILL_POINTS[phase](clean), tmp_path)

    assert trial.differences == []
    assert trial.assigned_twice == []
    assert trial.fields_changed > 1000  # score, grade, reasons … of 200 leads: checked below
    assert trial.audit_lost == []
