"""Whatever CSV files, settings or options a user gives, `leadq` answers with an exit code the
README documents — never a traceback, never a hang — leaves no partial output file, creates nothing
when it refuses (exit 2), and a scored file holds every lead of its input. A quick profile here
(fixed inputs, a few hundred in all); `python -m benchmarks reliability` tries thousands."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from benchmarks import fuzzing
from benchmarks.cli_fuzz import cli_inputs, try_cli
from benchmarks.csv_fuzz import fuzz_csv
from benchmarks.fuzzing import FuzzTally, Outcome, fuzz, invoke, loopback_only
from benchmarks.settings_fuzz import Sandboxes, sandboxes, settings_inputs, try_settings


@pytest.fixture(scope="module")
def running() -> Iterator[Sandboxes]:
    with sandboxes() as both:
        yield both


def assert_clean(tally: FuzzTally, tried: int) -> None:
    assert tally.tried == tried
    assert tally.tracebacks == []
    assert tally.wrong_exit_codes == []
    assert tally.hangs == []
    assert tally.leads_lost == []


def test_no_csv_file_gets_a_traceback_a_wrong_exit_code_a_hang_or_loses_a_lead() -> None:
    assert_clean(fuzz_csv(100), 100)


def test_no_settings_get_a_traceback_a_wrong_exit_code_or_a_hang(running: Sandboxes) -> None:
    assert_clean(fuzz("settings", settings_inputs(running), try_settings, 60), 60)


def test_no_command_line_gets_a_traceback_a_wrong_exit_code_or_a_hang(running: Sandboxes) -> None:
    def attempt(arguments: list[str], folder: Path) -> list[Outcome]:
        return try_cli(arguments, folder, running.hubspot)

    assert_clean(fuzz("CLI options", cli_inputs(), attempt, 80), 80)


def test_a_refusal_that_leaves_a_file_behind_is_a_wrong_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    careless = typer.Typer()

    @careless.command()
    def status(leave: bool = False) -> None:
        if leave:
            Path("leadq-state.db").write_text("")
        print("error: no state")
        raise typer.Exit(2)

    monkeypatch.setattr(fuzzing, "app", careless)
    assert invoke("status", [], env={}, folder=tmp_path).problem is None
    assert invoke("status", ["--leave"], env={}, folder=tmp_path).problem == (
        f"status exited 2 but created [{tmp_path / 'leadq-state.db'!r}]"
    )


def test_while_fuzzing_no_host_but_loopback_can_be_resolved() -> None:
    with loopback_only():
        assert socket.getaddrinfo("127.0.0.1", 80)
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("login.salesforce.com", 443)
    assert socket.getaddrinfo("localhost", 80)
