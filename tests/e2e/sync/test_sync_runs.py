"""Sync runs against both sandbox CRMs: what the CRM holds afterwards, and what it cost."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from crm_sandboxes import EXAMPLES, sandbox, watched_run
from hubspot import HubSpot

from sandbox.orgs import OrgSpec
from sync.engine import ASSIGNMENTS_KEPT, CHANGES_KEPT
from sync.plan import is_promotion

# Runs score as of a fixed moment just after the synthetic orgs' history ends, not the day the
# suite runs: by December 2026 a real-clock `now` left no qualified lead to decay.
NOW = OrgSpec().now + timedelta(hours=9)
CRMS = ["hubspot", "salesforce"]
STAGE = {"hubspot": "lifecyclestage", "salesforce": "Status"}
OWNER = {"hubspot": "hubspot_owner_id", "salesforce": "OwnerId"}
SCORE = {"hubspot": "leadq_score", "salesforce": "leadq_Score__c"}
MQL = {"hubspot": "marketingqualifiedlead", "salesforce": "Marketing Qualified"}


@pytest.mark.parametrize("crm", CRMS)
def test_a_full_run_scores_every_lead_and_a_rerun_writes_nothing(crm: str, tmp_path: Path) -> None:
    with sandbox(crm, 400, tmp_path) as box:
        runtime = box.runtime()
        engine = runtime.engine(clock=lambda: NOW)
        first = engine.run("full")
        state = box.state()
        writable = [lead for lead in state.values() if lead[STAGE[crm]] != "Closed - Converted"]
        assert first.failed == []
        assert first.written == len(writable) == first.pulled
        assert all(lead[SCORE[crm]] is not None for lead in writable)
        box.emulator.log.clear()
        again = engine.run("full")
        assert (again.changed, again.written) == (0, 0)
        writes = [e for e in box.emulator.log.entries() if e.method in ("PATCH", "POST")]
        assert [e.path for e in writes if "update" in e.path or "composite" in e.path] == []


@pytest.mark.parametrize("crm", CRMS)
def test_new_activity_on_fifty_leads_is_all_an_incremental_run_writes(
    crm: str, tmp_path: Path
) -> None:
    with sandbox(crm, 400, tmp_path) as box:
        engine = box.runtime().engine()  # the real clock: the CRM stamps changes with it too
        engine.run("full")
        engine.run("incremental")  # reads back our own writes: nothing to change
        simulated = box.emulator.simulate_activity(50, datetime.now(UTC), 5)
        people = {activity.person_key for activity in simulated}
        planned = watched_run(engine, "incremental", dry_run=True)
        report = watched_run(engine, "incremental")
        state = box.state()
        email = "email" if crm == "hubspot" else "Email"
        written = {str(state[c.lead_id][email]).lower() for c in report.changes}
        assert len(people) == 50
        assert report.report.written > 0
        assert {c.lead_id for c in report.changes} == {c.lead_id for c in planned.changes}
        assert written <= box.emails_of(people)


@pytest.mark.parametrize("crm", CRMS)
def test_sixty_days_of_decay_lower_scores_and_recycle_but_never_demote(
    crm: str, tmp_path: Path
) -> None:
    with sandbox(crm, 600, tmp_path) as box:
        runtime = box.runtime()
        runtime.engine(clock=lambda: NOW).run("full")
        before = box.state()
        later = watched_run(runtime.engine(clock=lambda: NOW + timedelta(days=60)), "full")
        after = box.state()
        lowered = [i for i in before if _score(after[i], crm) < _score(before[i], crm)]
        raised = [i for i in before if _score(after[i], crm) > _score(before[i], crm)]
        assert len(lowered) > len(before) // 4
        assert raised == []
        recycled = [c for c in later.changes if "recycled" in c.why]
        assert recycled
        for change in recycled:
            assert after[change.lead_id][STAGE[crm]] in (MQL[crm], "Nurture")
        was_mql = [i for i in before if before[i][STAGE[crm]] == MQL[crm]]
        if crm == "hubspot":
            assert all(after[i][STAGE[crm]] == MQL[crm] for i in was_mql)


@pytest.mark.parametrize("crm", CRMS)
def test_owners_set_by_people_are_kept(crm: str, tmp_path: Path) -> None:
    with sandbox(crm, 600, tmp_path) as box:
        before = box.state()
        report = watched_run(box.runtime().engine(clock=lambda: NOW), "full")
        after = box.state()
        assigned = {a.lead_id for a in report.assignments}
        assert assigned
        changed_owner = {i for i in before if after[i][OWNER[crm]] != before[i][OWNER[crm]]}
        assert changed_owner == assigned
        queue_or_empty = _unowned_or_queue(box, before, crm)
        assert assigned <= queue_or_empty


class SeparateRoutingReads:
    """A connector reading the owners and the account owners with a request each, as every
    connector did before Salesforce's one Composite request."""

    def __init__(self, connector: object) -> None:
        self._connector = connector

    def __getattr__(self, name: str) -> object:
        if name == "routing_reads":
            raise AttributeError(name)
        return getattr(self._connector, name)


@pytest.mark.parametrize("crm", CRMS)
def test_owners_and_accounts_read_together_route_every_lead_as_separate_reads_do(
    crm: str, tmp_path: Path
) -> None:
    with sandbox(crm, 600, tmp_path) as box:
        together = watched_run(box.runtime().engine(clock=lambda: NOW), "full", dry_run=True)
        engine = box.runtime().engine(clock=lambda: NOW)
        engine.routing.connector = SeparateRoutingReads(engine.connector)  # type: ignore[assignment]
        apart = watched_run(engine, "full", dry_run=True)

    decided = [(a.lead_id, a.owner_id, a.reason) for a in together.assignments]
    assert decided == [(a.lead_id, a.owner_id, a.reason) for a in apart.assignments]
    assert any(reason.startswith("owner of") for _, _, reason in decided)  # account owners


def test_a_dry_run_lists_every_change_and_writes_nothing(tmp_path: Path) -> None:
    with sandbox("hubspot", 200, tmp_path) as box:
        before = box.state()
        run = watched_run(box.runtime().engine(clock=lambda: NOW), "full", dry_run=True)
        assert box.state() == before
        assert run.report.written == 0 and run.report.changed == 200
        assert len(run.changes) == run.report.fields_changed
        fields = {change.field for change in run.changes}
        assert {"leadq_score", "leadq_reasons", "leadq_model_version"} <= fields


def test_a_run_report_keeps_a_bounded_sample_while_counting_every_change(tmp_path: Path) -> None:
    with sandbox("hubspot", 200, tmp_path) as box:
        run = watched_run(box.runtime().engine(clock=lambda: NOW), "full")
    report = run.report
    assert report.fields_changed == len(run.changes) > 10 * CHANGES_KEPT
    assert report.changes == run.changes[:CHANGES_KEPT]
    assert report.promoted == sum(is_promotion(change.why) for change in run.changes) > 0
    assert report.assigned == len(run.assignments) > 0
    assert report.assignments == run.assignments[:ASSIGNMENTS_KEPT]
    assert report.counts()["assigned"] == report.assigned


@pytest.mark.parametrize("crm", CRMS)
def test_a_run_audits_one_row_per_lead_and_rows_past_the_retention_are_pruned(
    crm: str, tmp_path: Path
) -> None:
    state = tmp_path / "audited.db"
    with sandbox(crm, 200, tmp_path) as box:
        box.settings = box.settings.model_copy(update={"audit_retention_days": 30})
        first = box.runtime(state=state).engine(clock=lambda: NOW).run("full")
        after_first = _audit_rows(state)
        later_runtime = box.runtime(state=state)
        later = later_runtime.engine(clock=lambda: NOW + timedelta(days=31)).run("full")
        newest = {lead_id: later_runtime.store.audit_for(lead_id) for lead_id in after_first}
    assert len(after_first) == first.written > 0
    assert {(runs, run_ids) for runs, run_ids in after_first.values()} == {(1, first.run_id)}
    assert {run_ids for _, run_ids in _audit_rows(state).values()} == {later.run_id}
    assert all(entry.run_id == later.run_id for entries in newest.values() for entry in entries)


def _audit_rows(state: Path) -> dict[str, tuple[int, str]]:
    """Each audited lead's rows in the state file, and the runs they came from."""
    with sqlite3.connect(state) as connection:
        rows = connection.execute(
            "SELECT lead_id, count(*), group_concat(run_id) FROM audit_rows GROUP BY lead_id"
        ).fetchall()
    connection.close()
    return {lead_id: (count, run_ids) for lead_id, count, run_ids in rows}


def _score(lead: dict, crm: str) -> float:
    return float(lead[SCORE[crm]] or 0)


def _unowned_or_queue(box, state: dict, crm: str) -> set[str]:
    queue_ids = {o.id for o in box.runtime().connector.list_owners() if o.kind == "queue"}
    return {i for i, lead in state.items() if not lead[OWNER[crm]] or lead[OWNER[crm]] in queue_ids}


def test_a_learned_probability_lands_in_the_crm_beside_the_score(tmp_path: Path) -> None:
    from scoring.loading import parse_model

    text = (EXAMPLES / "sandbox.yaml").read_text(encoding="utf-8")
    model = parse_model(text + "\npredictive: {intercept: -3.0, points_per_logit: 25}\n")
    with sandbox("hubspot", 200, tmp_path) as box:
        box.runtime(model).engine(clock=lambda: NOW).run("full")
        client = HubSpot(access_token=box.running.access_token, host=box.running.base_url)
        contacts = client.crm.contacts.get_all(
            properties=["leadq_score", "leadq_probability", "leadq_probability_reasons"]
        )
    probabilities = [float(c.properties["leadq_probability"]) for c in contacts]
    assert len(probabilities) == 200
    assert all(0 < p < 1 for p in probabilities)
    best = max(contacts, key=lambda c: float(c.properties["leadq_probability"]))
    assert "odds" in best.properties["leadq_probability_reasons"]


def test_salesforce_leads_and_contacts_are_scored_and_contacts_keep_their_fields(
    tmp_path: Path,
) -> None:
    with sandbox("salesforce", 400, tmp_path) as box:
        box.settings = box.settings.model_copy(update={"salesforce_objects": ["Lead", "Contact"]})
        report = watched_run(box.runtime().engine(clock=lambda: NOW), "full")
        assert report.report.failed == []
        contacts = {c.lead_id for c in report.changes if c.lead_id.startswith("003")}
        assert contacts
        contact_fields = {c.field for c in report.changes if c.lead_id in contacts}
        assert "leadq_Score__c" in contact_fields
        assert "Status" not in contact_fields


def test_contacts_added_to_a_salesforce_sync_are_backfilled_by_the_next_incremental_run(
    tmp_path: Path,
) -> None:
    from connector_crms import soql_of

    def people_queries() -> dict[str, str]:
        entries = [soql_of(entry) for entry in box.emulator.log.entries()]
        return {sobject: next(soql for soql in entries
                              if soql.startswith("SELECT Id, Email") and f"FROM {sobject} " in soql)
                for sobject in ("Lead", "Contact")}

    with sandbox("salesforce", 300, tmp_path) as box:
        leads_only = box.runtime().engine()  # the real clock: the CRM stamps changes with it too
        leads_only.run("full")
        leads_only.run("incremental")
        unscored = "SELECT Id FROM Contact WHERE leadq_Score__c = null"
        contacts = len(box.query(unscored))
        box.settings = box.settings.model_copy(update={"salesforce_objects": ["Lead", "Contact"]})
        both = box.runtime().engine()
        box.emulator.log.clear()
        backfill = both.run("incremental")
        backfill_queries = people_queries()
        still_unscored = box.query(unscored)
        box.emulator.log.clear()
        both.run("incremental")
        next_queries = people_queries()

    assert "WHERE" not in backfill_queries["Contact"]  # every contact, once
    assert all("SystemModstamp >=" in soql for soql in next_queries.values())  # then from the cursor
    assert backfill.failed == [] and contacts > 0 and still_unscored == []


def test_salesforce_contacts_falling_back_to_a_queue_get_the_fallback_user_instead(
    tmp_path: Path,
) -> None:
    from crm_sandboxes import MODEL

    from scoring.config import Routing

    person = "joshua.parker2@acme-saas.example"
    routing = Routing(rules=[], account_owner_first=False,
                      fallback="sales-queue@acme-saas.example", fallback_user=person)
    model = MODEL.model_copy(update={"routing": routing})
    with sandbox("salesforce", 400, tmp_path) as box:
        contact_owners = Counter(row["OwnerId"] for row in box.query("SELECT OwnerId FROM Contact"))
        unowned_stand_in = contact_owners.most_common(1)[0][0]  # owns the contacts without one
        box.settings = box.settings.model_copy(update={
            "salesforce_objects": ["Lead", "Contact"],
            "salesforce_integration_user_id": unowned_stand_in,
        })
        report = box.runtime(model).engine(clock=lambda: NOW).run("full")
    owners: dict[str, set[str]] = {a.lead_id[:3]: set() for a in report.assignments}
    for assignment in report.assignments:
        owners[assignment.lead_id[:3]].add(assignment.owner_id[:3])
    assert report.failed == []
    assert owners == {"00Q": {"00G"}, "003": {"005"}}  # Leads: the queue; Contacts: the person
    contact_reasons = {a.reason for a in report.assignments if a.lead_id.startswith("003")}
    assert all(reason.startswith("fallback user ") and "cannot own a contact" in reason
               for reason in contact_reasons)


def test_when_a_later_batch_fails_for_good_the_earlier_ones_are_remembered_and_audited(
    tmp_path: Path,
) -> None:
    from connectors.retry import RetriesExhaustedError, RetrySettings
    from sandbox.server import FaultPlan

    with sandbox("hubspot", 300, tmp_path) as box:
        runtime = box.runtime()
        runtime.connector.api.policy.settings = RetrySettings(max_attempts=2, initial_wait=0.01)
        emulator = box.emulator
        emulator.log.when(  # from the first write's answer on, the CRM fails every request
            lambda _, entry: "batch/update" in entry.path and entry.status == 200,
            lambda: setattr(emulator, "faults", FaultPlan(server_error=1.0)),
        )
        with pytest.raises(RetriesExhaustedError):
            runtime.engine(clock=lambda: NOW).run("full")
        emulator.faults = FaultPlan()
        first_written = emulator.log.count(path_contains="batch/update", status=200)
        remembered = runtime.store.last_written("hubspot", list(box.state()))
        assert first_written == 1
        assert len(remembered) == 100
        finished = runtime.engine(clock=lambda: NOW).run("full")
        assert finished.written == 200
        for lead_id in box.state():
            scores = [e for e in runtime.store.audit_for(lead_id) if e.field == "leadq_score"]
            assert len(scores) == 1, lead_id


def test_reasons_are_cut_to_the_length_salesforce_describes_for_their_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandbox.salesforce import describe

    monkeypatch.setitem(describe.TEXT_LENGTHS, "textarea", 60)  # an admin's short Long Text Area
    with sandbox("salesforce", 150, tmp_path) as box:
        engine = box.runtime().engine(clock=lambda: NOW)
        first = engine.run("full")
        reasons = [lead["leadq_Reasons__c"] for lead in box.state().values()]
        again = engine.run("full")
    assert first.failed == [] and first.written > 0
    assert all(len(line) <= 60 for line in reasons if line)
    cut = [line for line in reasons if line and line.endswith("; …")]
    assert cut and all(line.removesuffix("; …").endswith(")") for line in cut)
    assert (again.changed, again.written) == (0, 0)


def test_a_run_as_of_another_moment_reports_the_real_time_it_took(tmp_path: Path) -> None:
    with sandbox("hubspot", 50, tmp_path) as box:
        report = box.runtime().engine(clock=lambda: NOW).run("full")
    assert report.pulled == 50
    assert report.seconds > 0  # the fixed clock alone would say 0.0 s
