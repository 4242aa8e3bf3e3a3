"""Steady state on both sandbox CRMs: what the runs after a full sync cost, counted from the
sandbox's own request log, and cursors that neither skip nor re-read at their boundary."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from crm_sandboxes import MODEL, Sandbox, sandbox
from simple_salesforce import Salesforce

from sandbox.hubspot.writes import ChangeSource
from sandbox.orgs import OrgSpec
from scoring.config import ScoringModel
from sync.engine import RunReport
from sync.ledger import LedgerState, ledger_document
from sync.runtime import open_runtime

NOW = OrgSpec().now + timedelta(hours=9)
CRMS = ["hubspot", "salesforce"]
NO_CHANGE_REQUESTS = 8


def fresh_run(box: Sandbox, kind: str = "incremental", overlap_seconds: int = 300,
              now: datetime | None = None, model: ScoringModel = MODEL) -> tuple[RunReport, int]:
    """One run by a new process's worth of leadq (nothing kept in memory between runs), and the
    requests the CRM saw."""
    settings = box.settings.model_copy(update={"overlap_seconds": overlap_seconds})
    box.emulator.log.clear()
    runtime = open_runtime(settings, model, box.session)
    try:
        report = runtime.engine(clock=(lambda: now) if now else None).run(kind)
    finally:
        runtime.close()
    return report, len(box.emulator.log.entries())


@pytest.mark.parametrize("crm", CRMS)
def test_an_incremental_run_after_a_full_run_reads_none_of_leadqs_own_writes(
    crm: str, tmp_path: Path
) -> None:
    with sandbox(crm, 400, tmp_path) as box:
        box.runtime().close()  # leadq setup: the output fields
        full, _ = fresh_run(box, "full")
        again, requests = fresh_run(box)
        later, later_requests = fresh_run(box)

    assert full.written > 0
    assert (again.pulled, again.written) == (0, 0)
    assert requests <= NO_CHANGE_REQUESTS
    assert (later.pulled, later_requests) == (0, requests)


def test_salesforce_cursors_keep_milliseconds_so_a_change_later_in_the_same_second_is_read_once(
    tmp_path: Path,
) -> None:
    with sandbox("salesforce", 200, tmp_path) as box:
        box.runtime().close()
        fresh_run(box, "full", overlap_seconds=0, now=NOW)
        first, second = _two_open_leads(box)
        second_of_both = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        _touch(box, first, second_of_both + timedelta(milliseconds=100))
        handled_first, _ = fresh_run(box, overlap_seconds=0, now=NOW)
        _touch(box, second, second_of_both + timedelta(milliseconds=700))
        handled_second, _ = fresh_run(box, overlap_seconds=0, now=NOW)
        nothing, _ = fresh_run(box, overlap_seconds=0, now=NOW)

    assert handled_first.pulled == 1
    assert handled_second.pulled == 1  # the second lead, not the first again, nor nothing
    assert nothing.pulled == 0


def test_a_salesforce_run_after_a_full_run_reads_the_window_behind_its_cursor_instead_of_counting_it(
    tmp_path: Path,
) -> None:
    with sandbox("salesforce", 400, tmp_path) as box:
        box.runtime().close()
        fresh_run(box, "full")
        box.emulator.log.clear()
        nothing, _ = fresh_run(box)
        queries = _queries(box)

    assert nothing.pulled == 0
    assert not [query for query in queries if "COUNT()" in query]


def test_a_salesforce_run_where_no_lead_reaches_an_assigning_stage_reads_no_owners(
    tmp_path: Path,
) -> None:
    with sandbox("salesforce", 200, tmp_path) as box:
        box.runtime().close()
        fresh_run(box, "full", now=NOW)
        first, _ = _two_open_leads(box)
        _touch(box, first, datetime.now(UTC))
        touched, _ = fresh_run(box, now=NOW)
        queries = _queries(box)
        composite = [e for e in box.emulator.log.entries() if e.path.endswith("/composite")]

    assert touched.pulled == 1
    assert not [query for query in queries if " FROM User " in query or " FROM Group " in query]
    assert not composite  # nor through the Composite resource


def _queries(box: Sandbox) -> list[str]:
    """The SOQL of every query the sandbox answered since its log was last cleared."""
    return [
        parse_qs(entry.query).get("q", [""])[0]
        for entry in box.emulator.log.entries()
        if "/query" in entry.path
    ]


def _client(box: Sandbox) -> Salesforce:
    running = box.running
    return Salesforce(username=running.username, password=running.password,
                      security_token=running.security_token, session=running.session())


def _two_open_leads(box: Sandbox) -> tuple[str, str]:
    rows = _client(box).query("SELECT Id FROM Lead WHERE IsConverted = false ORDER BY Id LIMIT 2")
    first, second = (row["Id"] for row in rows["records"])
    return first, second


def _touch(box: Sandbox, lead_id: str, at: datetime) -> None:
    """Someone edits a field leadq does not score, at exactly `at` by the CRM's clock."""
    writer = box.emulator.writer
    real_clock = writer.clock
    writer.clock = lambda: at
    try:
        _client(box).Lead.update(lead_id, {"Rating": "Warm"})
    finally:
        writer.clock = real_clock


@pytest.mark.parametrize("crm", CRMS)
def test_new_activity_on_fifty_people_is_read_from_the_ledger_and_scored_as_a_full_read_would(
    crm: str, tmp_path: Path
) -> None:
    with sandbox(crm, 400, tmp_path, ending_now=True) as box:
        box.runtime().close()
        now = datetime.now(UTC)
        fresh_run(box, "full", now=now)
        fresh_run(box, now=now)
        box.emulator.simulate_activity(50, datetime.now(UTC), 5)  # the CRM stamps it now
        later = datetime.now(UTC)
        steady, requests = fresh_run(box, now=later)
        paths = [entry.path for entry in box.emulator.log.entries()]
        check = fresh_run_dry_full(box, later)

    assert steady.pulled > 0 and steady.written > 0
    # the ledger held what a full read finds; on Salesforce a campaign member whose status moved
    # on keeps its earlier status's activity in the ledger until the nightly full run
    assert check.changed <= LEDGER_DRIFT[crm]
    assert requests <= STEADY_ACTIVITY_REQUESTS[crm]
    # schemas were kept by the runs before, within the hour: none is read again
    assert not [path for path in paths if "/describe" in path or "/properties/companies" in path]


@pytest.mark.parametrize("crm", CRMS)
def test_a_model_reading_activity_details_the_ledger_lacks_rebuilds_it_and_says_so(
    crm: str, tmp_path: Path
) -> None:
    with sandbox(crm, 300, tmp_path, ending_now=True) as box:
        box.runtime().close()
        now = datetime.now(UTC)
        full, _ = fresh_run(box, "full", now=now, model=NO_DETAILS)
        kept = _ledger_state(box)
        rebuilt, _ = fresh_run(box, now=now)
        after, _ = fresh_run(box, now=now)
        rebuilt_state = _ledger_state(box)

    assert kept.spec.details == ()
    assert "url" in rebuilt.ledger and rebuilt.pulled == full.pulled
    assert rebuilt_state.spec.details == ("url", "form") and rebuilt_state.complete
    assert after.ledger == "" and after.pulled == 0


def _ledger_state(box: Sandbox) -> LedgerState:
    runtime = open_runtime(box.settings, MODEL, box.session)
    try:
        text = runtime.store.read_document(ledger_document(box.crm))
    finally:
        runtime.close()
    assert text is not None
    return LedgerState.model_validate_json(text)


# Salesforce: the people changed, three activity queries, the owners, queues and accounts
# routing needs in one Composite request, and the write (no login: the session the run before
# kept)
STEADY_ACTIVITY_REQUESTS = {"hubspot": 17, "salesforce": 6}
LEDGER_DRIFT = {"hubspot": 0, "salesforce": 2}
NO_DETAILS = MODEL.model_copy(
    deep=True,
    update={
        "engagement": MODEL.engagement.model_copy(
            update={"rules": [r.model_copy(update={"where": None}) for r in MODEL.engagement.rules]}
        ),
        "stages": [],
    },
)


def fresh_run_dry_full(box: Sandbox, now: datetime) -> RunReport:
    runtime = open_runtime(box.settings, MODEL, box.session)
    try:
        return runtime.engine(clock=lambda: now).run("full", dry_run=True)
    finally:
        runtime.close()


def test_an_id_run_reads_the_last_hour_of_events_not_a_year(tmp_path: Path) -> None:
    with sandbox("hubspot", 1_000, tmp_path, ending_now=True) as box:
        box.runtime().close()
        now = datetime.now(UTC)
        fresh_run(box, "full", now=now)
        full_events = _events_requests(box)
        box.emulator.log.clear()
        runtime = open_runtime(box.settings, MODEL, box.session)
        try:
            runtime.engine(clock=lambda: now).run("ids", ids=["1", "2", "3"])
        finally:
            runtime.close()

    assert full_events > 5  # a year of the portal's events, read once by the full run
    assert _events_requests(box) <= 1


def _events_requests(box: Sandbox) -> int:
    return sum(1 for entry in box.emulator.log.entries() if entry.path.startswith("/events/"))


def test_a_hubspot_contact_someone_edits_during_a_full_sync_after_leadq_wrote_it_is_read_next_run(
    tmp_path: Path,
) -> None:
    """The full sync writes every contact, so its cursor is settled from the list of what changed
    (sync/cursor_edge.py): a contact of its first page, edited by a user once leadq had written
    it, must not pass for one of leadq's own writes."""
    later = 10.0  # both runs see a clock 10 s ahead: the edit below lies in their past
    with sandbox("hubspot", 400, tmp_path) as box:
        box.runtime().close()
        first_page: list[str] = []
        edited: list[str] = []

        def edit_the_first_page(pulled: int) -> None:
            if pulled == 100 and not edited:  # the first page is scored and written
                edited.append(_edit_as_a_user(box, first_page[0], after_seconds=3.0))

        runtime = open_runtime(box.settings, MODEL, clock=lambda: time.time() + later)
        try:
            full = runtime.engine().run(
                "full", progress=edit_the_first_page,
                observer=lambda leads, *_: first_page.extend(lead.id for lead in leads))
        finally:
            runtime.close()
        read: list[str] = []
        runtime = open_runtime(box.settings, MODEL, clock=lambda: time.time() + later)
        try:
            next_run = runtime.engine().run(
                observer=lambda leads, *_: read.extend(lead.id for lead in leads))
        finally:
            runtime.close()

    assert full.written == 400 and len(edited) == 1
    assert next_run.pulled == 1 and read == edited


def _edit_as_a_user(box: Sandbox, contact_id: str, after_seconds: float) -> str:
    """A sales rep changes the contact's job title in HubSpot, `after_seconds` from now by the
    CRM's clock (past leadq's tolerance for a clock a little ahead of its own)."""
    portal = box.emulator.portal
    (record,) = portal.store.records("contacts", [int(contact_id)]).values()
    stamp = round((time.time() + after_seconds) * 1000)
    portal.writer.update("contacts", [(record, {"jobtitle": "Head of Revenue"})],
                         ChangeSource("CRM_UI", "userId:1"), now_ms=stamp)
    return contact_id
