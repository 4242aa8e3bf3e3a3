"""Writes that fail for good are not lost: the leads wait in the retry set, and the following runs
write them once the CRM accepts them, on both sandbox CRMs."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from crm_sandboxes import EXAMPLES, Sandbox, sandbox, watched_run
from typer.testing import CliRunner

from connectors.retry import RetrySettings
from sandbox.orgs import OrgSpec
from sandbox.server import FaultPlan
from sync import cli_options
from sync.cli import app
from sync.engine import EngineOptions, RunKind, RunReport, SyncEngine
from sync.retry_set import RetryPolicy
from sync.runtime import Runtime

pytestmark = pytest.mark.e2e

NOW = OrgSpec().now + timedelta(hours=9)
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
CRMS = ["hubspot", "salesforce"]
SCORE = {"hubspot": "leadq_score", "salesforce": "leadq_Score__c"}
STAGE = {"hubspot": "lifecyclestage", "salesforce": "Status"}


def quick_to_give_up(runtime: Runtime) -> Runtime:
    """A connector that gives a locked record up after two tries, without long waits."""
    connector = runtime.connector
    policy = connector.api.policy if runtime.settings.crm == "hubspot" else connector.calls.policy  # type: ignore[attr-defined]
    policy.settings = RetrySettings(max_attempts=2, initial_wait=0.01, max_wait=0.01)
    return runtime


def unscored(box: Sandbox) -> list[str]:
    state = box.state()
    return [lead_id for lead_id, lead in state.items()
            if lead[SCORE[box.crm]] is None and lead[STAGE[box.crm]] != "Closed - Converted"]


@pytest.mark.parametrize("crm", CRMS)
def test_writes_that_failed_for_good_are_written_by_the_next_incremental_run(
    crm: str, tmp_path: Path
) -> None:
    with sandbox(crm, 150, tmp_path) as box:
        runtime = quick_to_give_up(box.runtime())
        box.emulator.faults = FaultPlan(record_failure=1.0)
        failed_run = runtime.engine(clock=lambda: NOW).run("full")
        failed = {lead_id for lead_id, _ in failed_run.failed}
        assert failed_run.written == 0
        assert len(failed) == failed_run.changed > 50
        assert {waiting.failed.lead_id for waiting in failed_run.waiting} == failed
        assert set(unscored(box)) == failed

        box.emulator.faults = FaultPlan()
        too_soon = runtime.engine(clock=lambda: NOW + MINUTE).run("incremental")
        assert too_soon.retried == 0
        assert too_soon.written < 2  # the lead at the cursor is pulled again, and written
        assert len(too_soon.waiting) == len(failed) - too_soon.written

        waiting = {entry.failed.lead_id for entry in too_soon.waiting}
        planned = watched_run(
            runtime.engine(clock=lambda: NOW + 3 * MINUTE), "incremental", dry_run=True
        )
        assert {change.lead_id for change in planned.changes} == waiting
        retried = runtime.engine(clock=lambda: NOW + 3 * MINUTE).run("incremental")
        assert retried.retried == retried.written == len(waiting)
        assert retried.failed == []
        assert retried.waiting == []
        assert unscored(box) == []
        assert runtime.store.failed_writes(crm) == []

        after = runtime.engine(clock=lambda: NOW + 10 * MINUTE).run("incremental")
        assert (after.retried, after.written) == (0, 0)


def test_an_id_run_retries_the_leads_that_are_due_besides_those_it_was_asked_for(
    tmp_path: Path,
) -> None:
    with sandbox("hubspot", 120, tmp_path) as box:
        runtime = quick_to_give_up(box.runtime())
        box.emulator.faults = FaultPlan(record_failure=1.0)
        failed_run = runtime.engine(clock=lambda: NOW).run("full")
        box.emulator.faults = FaultPlan()
        asked = failed_run.failed[0][0]

        report = runtime.engine(clock=lambda: NOW + 3 * MINUTE).run("ids", [asked])

        assert report.retried == len(failed_run.failed) - 1
        assert report.written == len(failed_run.failed)
        assert unscored(box) == []


def test_a_lead_the_crm_keeps_refusing_waits_twice_as_long_each_time_then_is_given_up(
    tmp_path: Path,
) -> None:
    options = EngineOptions(retry=RetryPolicy(max_attempts=4))
    with sandbox("hubspot", 60, tmp_path) as box:
        runtime = quick_to_give_up(box.runtime())

        def run(kind: RunKind, at: datetime) -> RunReport:  # an id run asked for no lead
            engine = SyncEngine(runtime.connector, runtime.store, runtime.model, options, lambda: at)
            return engine.run(kind)

        box.emulator.faults = FaultPlan(record_failure=1.0)
        report = run("full", NOW)
        failed = len(report.failed)
        for attempt in range(1, 4):
            (waiting, *_) = report.waiting
            assert waiting.next_attempt_at - waiting.failed.last_failed_at == 2**attempt * MINUTE
            assert run("ids", waiting.next_attempt_at - SECOND).retried == 0
            report = run("ids", waiting.next_attempt_at)
            assert (report.retried, report.written, len(report.failed)) == (failed, 0, failed)

        assert len(report.given_up) == len(report.waiting) == failed
        assert run("ids", NOW + timedelta(days=30)).retried == 0
        box.emulator.faults = FaultPlan()
        full = run("full", NOW + timedelta(days=30))
        assert (full.written, full.waiting) == (failed, [])


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as a 200-column terminal shows them, whatever width the console started with."""
    monkeypatch.setattr(cli_options.console, "_width", 200)


def leadq(box: Sandbox, *args: str) -> Result:
    env = {
        **box.running.leadq_environment(),
        "COLUMNS": "220",
        "LEADQ_HUBSPOT_RATE_LIMIT": "10000",
        "LEADQ_STATE_URL": box.settings.state_url,
        "LEADQ_MODEL_PATH": str(EXAMPLES / "sandbox.yaml"),
        "LEADQ_OVERLAP_SECONDS": "0",
    }
    return CliRunner().invoke(app, list(args), env=env)


def row(*cells: object) -> str:
    """A pattern for consecutive cells of a table row."""
    return r"\s*│\s*".join(str(cell) for cell in cells)


def test_the_run_summary_and_leadq_status_show_the_leads_while_they_wait(tmp_path: Path) -> None:
    with sandbox("hubspot", 120, tmp_path) as box:
        runtime = quick_to_give_up(box.runtime())
        box.emulator.faults = FaultPlan(record_failure=1.0)
        failed = [lead_id for lead_id, _ in runtime.engine(clock=lambda: NOW).run("full").failed]
        runtime.close()
        box.emulator.faults = FaultPlan()

        status = leadq(box, "status")
        assert status.exit_code == 0, status.output
        assert re.search(rf"waiting for retry\s+{len(failed)}\b", status.output)
        assert "Waiting for retry" in status.output
        assert all(re.search(row(lead_id, 1), status.output) for lead_id in sorted(failed)[:50])
        assert f"… and {len(failed) - 50} more leads" in status.output
        assert re.search(r"run lease\s+free", status.output)
        assert re.search(row("full", "succeeded with failures", 120, 0, 120, 0), status.output)

        soon = leadq(box, "sync", "--now", (NOW + MINUTE).isoformat())
        assert soon.exit_code == 0, soon.output
        assert "Waiting for retry" in soon.output
        waiting = int(re.search(r"waiting for retry\s+(\d+)", soon.output).group(1))  # type: ignore[union-attr]
        assert len(failed) - 1 <= waiting <= len(failed)

        retried = leadq(box, "sync", "--now", (NOW + 3 * MINUTE).isoformat())
        assert retried.exit_code == 0, retried.output
        assert re.search(rf"retried from earlier runs\s+{waiting}\b", retried.output)
        assert re.search(rf"written\s+{waiting}\b", retried.output)
        assert "Waiting for retry" not in retried.output

        after = leadq(box, "status")
        assert re.search(r"waiting for retry\s+0\b", after.output)
        assert re.findall(row("(incremental|full)", "succeeded"), after.output) == [
            "incremental", "incremental", "full"]
