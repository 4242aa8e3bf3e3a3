"""The handoff on both sandbox CRMs, through the real clients: every MQL leadq assigns to a person
gets exactly one open follow-up task for that owner, carrying the CRM reasons line and due per the
model's SLA — also when the run is SIGKILLed right after the CRM created the tasks, and rerun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from crm_sandboxes import EXAMPLES, MODEL, Sandbox, WatchedRun, sandbox, watched_run
from headless_chromium import WINDOW, chromium, console_messages, png_size
from hubspot import HubSpot
from typer.testing import CliRunner

from connectors.base import TaskDesk
from connectors.records import CrmTask, FollowUpTask, WriteResult
from sandbox.salesforce.values import stored_datetime
from scoring.handoff_config import (
    Handoff,
)
from sync.cli import app
from sync.handoff import marked, slack_notice
from sync.handoff_report import handoff_figures
from sync.handoff_sla import TOKEN, HandoffFacts, Marker, due_at, sla_for

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday, as the synthetic orgs' history ends
HANDOFF = Handoff()
MODEL_WITH_HANDOFF = MODEL.model_copy(update={"handoff": HANDOFF})
CRMS = ["hubspot", "salesforce"]
TASK_CREATE = {"hubspot": "/crm/v3/objects/tasks/batch/create", "salesforce": "/composite/sobjects"}


def tasks_by_lead(box: Sandbox, lead_ids: list[str]) -> dict[str, list]:
    runtime = box.runtime(MODEL_WITH_HANDOFF)
    found = marked(runtime.connector.tasks.tasks_of(lead_ids))
    by_lead: dict[str, list] = {}
    for (lead_id, _owner), tasks in found.items():
        by_lead.setdefault(lead_id, []).extend(tasks)
    return by_lead


@pytest.mark.parametrize("crm", CRMS)
def test_each_lead_leadq_assigns_gets_one_open_task_for_its_owner_with_reasons_and_due_time(
    crm: str, tmp_path: Path
) -> None:
    with sandbox(crm, 1000, tmp_path) as box:
        engine = box.runtime(MODEL_WITH_HANDOFF).engine(clock=lambda: NOW)
        planned = watched_run(engine, "full", dry_run=True).report.handoffs
        run = watched_run(engine, "full")
        people = {a.lead_id: a for a in run.assignments
                  if engine.routing.directory().find(a.owner_id).kind == "person"}
        assert people, "the org has leads to hand off"
        assert run.report.handoffs.created == planned.planned == len(people)
        assert planned.created == 0
        tasks = tasks_by_lead(box, list(people))
        assert {lead_id: len(found) for lead_id, found in tasks.items()} == dict.fromkeys(people, 1)
        state = box.state()
        reasons_field = "leadq_reasons" if crm == "hubspot" else "leadq_Reasons__c"
        for lead_id, (task,) in tasks.items():
            marker = Marker.find(task.body)
            assert marker is not None
            assert task.owner_id == people[lead_id].owner_id and not task.closed
            assert state[lead_id][reasons_field] in (task.body or "")
            rule = next(rule for rule in HANDOFF.sla if rule.id == marker.sla)
            assert marker.due_at == due_at(NOW, rule.due_within, HANDOFF.working_hours)

        again = watched_run(box.runtime(MODEL_WITH_HANDOFF).engine(clock=lambda: NOW), "full")
        assert again.report.handoffs.created == 0
        assert {k: len(v) for k, v in tasks_by_lead(box, list(people)).items()} == dict.fromkeys(
            people, 1)


def test_hand_raisers_are_due_within_four_working_hours_and_the_rest_within_two_days() -> None:
    from sync.handoff_sla import HandoffFacts

    def facts(hand_raiser: bool) -> HandoffFacts:
        return HandoffFacts("1", "contact", "Ada", "7", "C", "C1", 40, "mql", None, hand_raiser,
                            "Demo request (+30)")

    friday_afternoon = datetime(2026, 11, 6, 15, 0, tzinfo=UTC)
    assert sla_for(HANDOFF, facts(True)).id == "hand_raisers"
    assert due_at(friday_afternoon, "4h", HANDOFF.working_hours) == datetime(
        2026, 11, 9, 11, 0, tzinfo=UTC)  # two hours on Friday, two on Monday
    assert due_at(friday_afternoon, "2d", HANDOFF.working_hours) == datetime(
        2026, 11, 10, 15, 0, tzinfo=UTC)
    assert sla_for(HANDOFF, facts(False)).id == "everyone_else"


@pytest.mark.parametrize("crm", CRMS)
def test_a_run_killed_right_after_creating_tasks_leaves_one_task_per_handoff_after_a_rerun(
    crm: str, tmp_path: Path
) -> None:
    model = tmp_path / "model.yaml"
    model.write_text((EXAMPLES / "sandbox.yaml").read_text(encoding="utf-8") + "\nhandoff: {}\n",
                     encoding="utf-8")
    with sandbox(crm, 300, tmp_path) as box:
        box.runtime(MODEL_WITH_HANDOFF)  # leadq's fields, as `leadq setup` makes them
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LEADQ_STATE_URL": box.settings.state_url,
            "LEADQ_OVERLAP_SECONDS": "0",
            "LEADQ_MODEL_PATH": str(model),
            **(box.running.leadq_environment() if crm == "hubspot"
               else box.running.leadq_environment("session")),
        }
        command = [sys.executable, "-m", "sync.cli", "sync", "--full", "--now",
                   NOW.isoformat().replace("+00:00", "Z")]
        log = box.emulator.log
        process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        log.when(lambda _number, entry: entry.method == "POST"
                 and entry.path.endswith(TASK_CREATE[crm]),
                 lambda: os.kill(process.pid, signal.SIGKILL))
        _, errors = process.communicate(timeout=120)
        assert process.returncode == -signal.SIGKILL, errors
        rerun = subprocess.run(command, env=environment, capture_output=True, text=True,
                               timeout=120, check=False)
        assert rerun.returncode == 0, rerun.stderr

        owner_field = "hubspot_owner_id" if crm == "hubspot" else "OwnerId"
        state = box.state()
        tasks = tasks_by_lead(box, list(state))
        runtime = box.runtime(MODEL_WITH_HANDOFF)
        directory = runtime.engine().routing.directory()
        handed = {
            lead_id: owner for lead_id in state
            if (owner := runtime.store.assignment_for(lead_id)) is not None
            and directory.find(owner).kind == "person"
        }
        assert handed, "the org has leads to hand off"
        assert set(tasks) == set(handed)
        for lead_id, found in tasks.items():
            assert len(found) == 1, f"lead {lead_id} has {len(found)} handoff tasks"
            assert found[0].owner_id == state[lead_id][owner_field] == handed[lead_id]
            assert not found[0].closed


def test_a_task_for_a_later_owner_is_a_new_handoff() -> None:
    first = Marker("1", "7", "A", "A1", "hand_raisers", NOW, NOW + timedelta(hours=4))
    assert Marker.find("Why now: demo\n\n" + first.line()) == first
    assert Marker.find("no marker here") is None


def complete(box: Sandbox, task: CrmTask, at: datetime) -> None:
    """A rep marks the task done at `at`: through the API on HubSpot (its completion date is
    writable); in the org's own store on Salesforce, whose CompletedDateTime only the platform
    sets, at the moment a user closes the task."""
    if box.crm == "hubspot":
        client = HubSpot(access_token=box.running.access_token, host=box.running.base_url)
        client.crm.objects.tasks.basic_api.update(task.id, {"properties": {
            "hs_task_status": "COMPLETED",
            "hs_task_completion_date": at.strftime("%Y-%m-%dT%H:%M:%S.000Z")}})
        return
    store = box.emulator.store
    store.update(store.sobject("Task"), task.id, {
        "Status": "Completed", "IsClosed": 1, "CompletedDateTime": stored_datetime(at)})


def log_call(box: Sandbox, contact_id: str, at: datetime) -> None:
    client = HubSpot(access_token=box.running.access_token, host=box.running.base_url)
    client.crm.objects.calls.basic_api.create({
        "properties": {"hs_timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                       "hs_call_title": "First call", "hs_call_direction": "OUTBOUND"},
        "associations": [{"to": {"id": contact_id}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]}],
    })


@pytest.mark.parametrize("crm", CRMS)
def test_the_handoff_report_counts_tasks_completed_in_the_crm_as_on_time_or_late(
    crm: str, tmp_path: Path
) -> None:
    with sandbox(crm, 1000, tmp_path) as box:
        watched_run(box.runtime(MODEL_WITH_HANDOFF).engine(clock=lambda: NOW), "full")
        runtime = box.runtime(MODEL_WITH_HANDOFF)
        # the CRM dates the tasks by its own clock: created today, handed off as of NOW
        today = datetime.now(UTC)
        tasks = sorted(runtime.connector.tasks.tasks_created_since(today - timedelta(hours=1), TOKEN),
                       key=lambda task: task.id)
        assert len(tasks) >= 3
        on_time, late = tasks[0], tasks[1]
        complete(box, on_time, Marker.find(on_time.body).due_at - timedelta(minutes=30))
        complete(box, late, Marker.find(late.body).due_at + timedelta(minutes=30))

        if crm == "hubspot":  # a rep calls one lead two hours after its handoff
            touched = Marker.find(tasks[2].body)
            log_call(box, touched.lead_id, touched.at + timedelta(hours=2))
        figures = handoff_figures(runtime.connector, NOW - timedelta(days=1), today)
        assert (figures.total.handed_off, figures.total.on_time, figures.total.late,
                figures.total.open, figures.total.overdue) == (
                    len(tasks), 1, 1, len(tasks) - 2, len(tasks) - 2)
        assert sum(t.handed_off for t in figures.by_owner.values()) == len(tasks)
        assert sum(t.on_time for t in figures.by_grade.values()) == 1
        if crm == "hubspot":
            assert figures.total.median_hours_to_touch == 2.0

        environment = {
            "COLUMNS": "220", "LEADQ_STATE_URL": box.settings.state_url,
            "LEADQ_MODEL_PATH": str(EXAMPLES / "sandbox.yaml"),
            **(box.running.leadq_environment() if crm == "hubspot"
               else box.running.leadq_environment("session")),
        }
        page = tmp_path / "handoff.html"
        result = CliRunner().invoke(app, [
            "report", "handoff", "--days", "7", "--html", str(page)], env=environment)
        assert result.exit_code == 0, result.output
        total_row = next(line for line in result.output.splitlines() if "│ all" in line)
        cells = [cell.strip() for cell in total_row.split("│")[1:-1]]
        open_count = len(tasks) - 2
        assert cells[:5] == ["all", str(len(tasks)), cells[2], cells[2],
                             f"{open_count} ({open_count})"]
        assert cells[2].startswith("1 (")
        assert page.read_text(encoding="utf-8").startswith("<!doctype html>")
        if crm == "hubspot":  # the page is the same for both CRMs: opened once in Chromium
            screenshot = tmp_path / "handoff.png"
            shown = chromium(page, tmp_path / "profile", f"--screenshot={screenshot}")
            assert console_messages(shown.stderr) == []
            assert png_size(screenshot) == WINDOW
            dom = chromium(page, tmp_path / "profile", "--dump-dom").stdout
            assert "Speed to lead" in dom and "Per owner" in dom and "Per grade" in dom


class SlackHook(BaseHTTPRequestHandler):
    """A Slack incoming webhook on loopback: keeps every message, answers `ok`."""

    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        SlackHook.received.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        return None


def test_each_created_task_is_announced_once_in_slack_when_the_model_asks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlackHook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    SlackHook.received = []
    monkeypatch.setenv("LEADQ_TEST_SLACK_URL", f"http://127.0.0.1:{server.server_port}/hook")
    model = MODEL.model_copy(
        update={"handoff": Handoff(slack_webhook_url_env="LEADQ_TEST_SLACK_URL")})
    try:
        with sandbox("hubspot", 1000, tmp_path) as box:
            run = watched_run(box.runtime(model).engine(clock=lambda: NOW), "full")
            again = watched_run(box.runtime(model).engine(clock=lambda: NOW), "full")
    finally:
        server.shutdown()
        server.server_close()
    created = run.report.handoffs.created
    assert created > 0 and run.report.handoffs.slack_sent == created
    assert again.report.handoffs.slack_sent == 0  # no task created, nothing announced again
    assert len(SlackHook.received) == created
    assert all(message["text"].startswith("New MQL for ") for message in SlackHook.received)


def test_slack_stays_silent_unless_the_model_names_its_webhook() -> None:
    assert slack_notice(Handoff(), {"LEADQ_SLACK_URL": "http://127.0.0.1:9/"}) is None
    assert slack_notice(Handoff(slack_webhook_url_env="LEADQ_SLACK_URL"), {}) is None


class AnswerLostOnce:
    """The CRM's task desk, as seen through a create whose first answer was lost: the request
    landed, the client sent it again (a retried timeout or 5xx), so the CRM made every task
    twice."""

    def __init__(self, desk: TaskDesk, removes: bool = True) -> None:
        self.desk = desk
        self.removes = removes  # False: the run dies before it removes the second tasks

    def tasks_of(self, lead_ids: Sequence[str]) -> list[CrmTask]:
        return self.desk.tasks_of(lead_ids)

    def create_tasks(self, tasks: Sequence[FollowUpTask]) -> list[WriteResult]:
        self.desk.create_tasks(tasks)
        return self.desk.create_tasks(tasks)

    def remove_tasks(self, task_ids: Sequence[str]) -> None:
        if self.removes:
            self.desk.remove_tasks(task_ids)

    def tasks_created_since(self, since: datetime, token: str) -> Iterator[CrmTask]:
        return self.desk.tasks_created_since(since, token)


@pytest.mark.parametrize("crm", CRMS)
def test_a_create_sent_twice_still_leaves_one_task_per_handoff(crm: str, tmp_path: Path) -> None:
    with sandbox(crm, 1000, tmp_path) as box:
        engine = box.runtime(MODEL_WITH_HANDOFF).engine(clock=lambda: NOW)
        assert engine.handoffs is not None
        engine.handoffs.desk = AnswerLostOnce(engine.handoffs.desk)
        run = watched_run(engine, "full")
        handed = run.report.handoffs
        assert handed.created > 0 and handed.duplicates_removed == handed.created
        tasks = tasks_by_lead(box, [a.lead_id for a in run.assignments])
        assert tasks and all(len(found) == 1 for found in tasks.values())


@pytest.mark.parametrize("crm", CRMS)
def test_second_tasks_left_by_a_run_that_died_are_removed_by_the_next_run(
    crm: str, tmp_path: Path
) -> None:
    with sandbox(crm, 1000, tmp_path) as box:
        engine = box.runtime(MODEL_WITH_HANDOFF).engine(clock=lambda: NOW)
        assert engine.handoffs is not None
        engine.handoffs.desk = AnswerLostOnce(engine.handoffs.desk, removes=False)
        first = watched_run(engine, "full")
        leads = [a.lead_id for a in first.assignments]
        doubled = tasks_by_lead(box, leads)
        assert doubled and all(len(found) == 2 for found in doubled.values())
        # the owners were written too: as if a webhook names the leads again, with no owner yet
        rerun = box.runtime(MODEL_WITH_HANDOFF).engine(clock=lambda: NOW)
        assert rerun.handoffs is not None
        facts = [fact for fact in _facts_of(first) if fact.lead_id in doubled]
        report = rerun.handoffs.hand_off(facts, NOW, {})
        assert report.created == 0 and report.duplicates_removed == len(facts)
        assert all(len(found) == 1 for found in tasks_by_lead(box, leads).values())


def _facts_of(run: WatchedRun) -> list[HandoffFacts]:
    return [
        HandoffFacts(a.lead_id, "contact", a.lead_name, a.owner_id, "B", "B2", 50, "mql", None,
                     False, "")
        for a in run.assignments
    ]
