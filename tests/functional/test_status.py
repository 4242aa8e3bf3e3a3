"""`leadq status`: the sync's state as an admin checks it, read from the state store alone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync import cli_options
from sync.cli import app
from sync.engine import LEASE
from sync.state import AuditEntry, IntendedWrites, RunRecord
from sync.state_sqlite import SqliteStateStore

NOW = datetime.now(UTC)
runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as a 200-column terminal shows them, whatever width the console started with."""
    monkeypatch.setattr(cli_options.console, "_width", 200)


def status(state: Path) -> str:
    result = runner.invoke(app, ["status"], env={
        "COLUMNS": "200", "LEADQ_CRM": "hubspot", "LEADQ_STATE_URL": f"sqlite:///{state}"})
    assert result.exit_code == 0, result.output
    return result.output


def test_a_store_never_synced_says_so(tmp_path: Path) -> None:
    SqliteStateStore(tmp_path / "state.db").close()
    shown = status(tmp_path / "state.db")

    assert re.search(r"lead cursor\s+never synced", shown)
    assert re.search(r"run lease\s+free", shown)
    assert re.search(r"waiting for retry\s+0\b", shown)
    assert "no run yet" in shown
    assert "Waiting for retry" not in shown


def test_status_shows_the_cursor_the_lease_holder_runs_and_leads_given_up(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    store.advance_cursor("hubspot:leads", datetime(2026, 11, 1, 8, 30, tzinfo=UTC))
    # `leadq status` asks who holds the lease now: taken now, not when this module was imported
    store.acquire_lease(LEASE, "worker-7:4242:run-9", datetime.now(UTC), timedelta(minutes=15))
    store.record_run(RunRecord(run_id="run-8", kind="incremental", started_at=NOW,
                               status="succeeded with failures",
                               counts={"pulled": 40, "written": 39, "failed": 1, "retried": 2}))
    for minutes in range(10):
        store.record_failed_writes("hubspot", {"L1": "INVALID_OPTION: leadq_grade G"}, "run",
                                   NOW + timedelta(minutes=minutes))
    store.record_failed_writes("salesforce", {"00Q1": "locked"}, "run", NOW)
    entry = AuditEntry(at=NOW, run_id="run-8", crm="hubspot", lead_id="L2", field="leadq_score")
    store.record_intended_writes(IntendedWrites(id="run-8-1", crm="hubspot", recorded_at=NOW,
                                                entries=(entry,)))
    store.close()

    shown = status(tmp_path / "state.db")

    assert re.search(r"lead cursor\s+2026-11-01 08:30:00 UTC", shown)
    assert re.search(r"run lease\s+worker-7:4242:run-9", shown)
    assert re.search(r"waiting for retry\s+1 \(1 given up\)", shown)
    assert re.search(r"writes to settle\s+1 \(the next run settles them\)", shown)
    assert re.search(r"incremental\s*│\s*succeeded with failures\s*│\s*40\s*│\s*39\s*│\s*1\s*│\s*2",
                     shown)
    assert re.search(r"L1\s*│\s*10\s*│\s*given up \(a full run retries it\)", shown)
    assert "INVALID_OPTION: leadq_grade G" in shown
    assert "00Q1" not in shown
