"""What every CRM connector promises, checked on both sandbox CRMs: the real client library of
each against its emulator over loopback HTTP. The per-CRM files hold what only one CRM does."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from connector_crms import ConnectorCrm, full_sync

from connectors.records import LeadUpdate
from connectors.retry import AuthenticationError, MissingFieldError, PermissionDeniedError
from sandbox.server import FaultPlan

pytestmark = pytest.mark.e2e

FAULTS = {"rate_limited": 0.10, "server_error": 0.10, "dropped": 0.02, "record_failure": 0.02}


def values_held(crm: ConnectorCrm, updates: list[LeadUpdate]) -> dict[str, dict[str, Any]]:
    """What the CRM holds now in each field the updates wrote (scores read as numbers)."""
    stored = crm.stored()
    return {update.lead_id: {
        name: float(stored[update.lead_id][name]) if name == crm.score_field
        else stored[update.lead_id][name] for name in update.changes} for update in updates}


# ---- pulls and writes ---------------------------------------------------------------------------


def test_a_full_sync_reads_every_lead_once_and_uses_the_fewest_pages_and_write_batches(
    crm: ConnectorCrm,
) -> None:
    connector = crm.connector()
    run = full_sync(crm, connector)
    log = crm.log()

    ids = [lead.id for lead in run.pulled]
    assert len(ids) == len(set(ids))
    assert set(ids) == crm.live_lead_ids()
    assert all(result.ok for result in run.results)
    assert values_held(crm, run.updates) == {u.lead_id: u.changes for u in run.updates}
    assert crm.per_lead_requests(log) == []
    assert crm.lead_pages(log) == crm.fewest_lead_pages()
    assert crm.write_batches(log) == math.ceil(len(run.updates) / connector.write_batch_size)
    assert connector.stats.total_requests == len(log)


def test_under_injected_faults_every_update_lands_exactly_once_as_in_a_clean_run(
    crm: ConnectorCrm,
) -> None:
    with crm.twin() as faulty:
        clean = full_sync(crm, crm.connector())
        faulty.running.emulator.faults = FaultPlan(**FAULTS, seed=5)
        connector = faulty.connector()

        run = full_sync(faulty, connector)

        assert (run.pulled, run.activities, run.updates) == \
            (clean.pulled, clean.activities, clean.updates)
        assert all(result.ok for result in run.results)
        assert faulty.api_writes() == Counter({update.lead_id: 1 for update in run.updates})
        assert faulty.stored() == crm.stored()
        log = faulty.log()
        faults = Counter(entry.fault for entry in log if entry.fault)
        retries = connector.stats.retries
        assert retries["rate_limited"] == faults["rate_limited"] > 0
        assert retries["server_error"] == faults["server_error"] > 0
        assert retries["connection"] == faults["dropped"] > 0
        assert retries["record_lock"] > 0
        assert connector.stats.total_requests == len(log)


def test_a_deleted_lead_fails_alone_with_a_message_and_the_others_are_written(
    crm: ConnectorCrm,
) -> None:
    connector = crm.connector()
    leads = next(iter(connector.pull_changed(None))).leads[:20]
    deleted = leads[3].id
    crm.delete(deleted)

    updates = [LeadUpdate(lead_id=lead.id, kind=lead.kind, changes={crm.score_field: 5.0})
               for lead in leads]

    results = connector.write(updates)

    assert {r.lead_id: (r.error, r.transient) for r in results if not r.ok} == {
        deleted: (crm.deleted_error(deleted), False)}
    written = [update for update in updates if update.lead_id != deleted]
    assert values_held(crm, written) == {update.lead_id: update.changes for update in written}


def test_read_leads_returns_the_named_leads_in_order_and_leaves_deleted_and_unknown_ones_out(
    crm: ConnectorCrm,
) -> None:
    connector = crm.connector()
    leads = next(iter(connector.pull_changed(None))).leads
    crm.delete(leads[5].id)
    found = connector.read_leads([leads[7].id, crm.unknown_id, leads[5].id, leads[2].id])

    assert [lead.id for lead in found] == [leads[7].id, leads[2].id]


def test_an_incremental_pull_returns_what_changed_after_the_cursor_less_the_overlap_oldest_first(
    crm: ConnectorCrm,
) -> None:
    connector = crm.connector()  # re-reading 300 s behind the cursor
    cursor = datetime(2026, 10, 31, tzinfo=UTC)

    pages = list(connector.pull_changed(cursor))

    leads = [lead for page in pages for lead in page.leads]
    stamps = [crm.change_stamp(lead) for lead in leads]
    assert {lead.id for lead in leads} == crm.changed_after(cursor - timedelta(seconds=300))
    assert len(leads) > 0 and len(leads) == len({lead.id for lead in leads})
    assert stamps == sorted(stamps)
    assert [page.cursor for page in pages] == [crm.change_stamp(page.leads[-1]) for page in pages]


def test_activities_after_a_date_leave_older_ones_out(crm: ConnectorCrm) -> None:
    connector = crm.connector()
    people = [lead for page in connector.pull_changed(None) for lead in page.leads]
    since = datetime(2026, 9, 1, tzinfo=UTC)

    recent = connector.pull_activities(people, since)
    every = connector.pull_activities(people, None)

    assert recent
    assert all(activity.occurred_at > since for activity in recent)
    assert sorted(recent, key=repr) == sorted((a for a in every if a.occurred_at > since), key=repr)


# ---- owners, accounts, outcomes -----------------------------------------------------------------


def test_owners_are_every_user_with_their_active_flag_and_the_queues(crm: ConnectorCrm) -> None:
    owners = crm.connector().list_owners()

    assert {owner.id: (owner.active, owner.kind) for owner in owners} == crm.owners()
    assert {"person", "queue"} <= {owner.kind for owner in owners}
    assert any(not owner.active for owner in owners)


def test_account_owners_are_found_by_the_domain_of_the_company(crm: ConnectorCrm) -> None:
    owned = crm.domain_owners()
    domains = [*list(owned)[:150], "no-such-company.example"]

    found = crm.connector().account_owners(domains)

    assert found == {domain: owned[domain] for domain in domains[:-1]}


def test_outcomes_say_which_leads_converted(crm: ConnectorCrm) -> None:
    outcomes = list(crm.connector().pull_outcomes(None))

    assert {o.lead_id: o.converted for o in outcomes} == crm.conversions()
    assert any(o.converted for o in outcomes)


def test_backtest_reads_every_conversion_the_org_planted_with_its_time(crm: ConnectorCrm) -> None:
    connector = crm.connector()
    history = {lead.id for page in connector.pull_history() for lead in page.leads}
    outcomes = {o.lead_id: o for o in connector.pull_outcomes(None) if o.converted}
    planted = crm.planted_conversions()

    # converted Leads included, each once (not also as the Contact it became)
    assert history == (crm.live_lead_ids() - crm.converted_into()) | set(planted)
    assert set(outcomes) == set(planted)
    for lead_id, at in planted.items():  # Salesforce keeps the day (ConvertedDate, CloseDate)
        found = outcomes[lead_id].at
        assert found is not None and found.date() == at.date()
        assert found <= at + timedelta(milliseconds=1)  # never after it: nothing later leaks


# ---- refusals -----------------------------------------------------------------------------------


def test_credentials_the_crm_refuses_are_an_authentication_error_naming_the_settings(
    crm: ConnectorCrm,
) -> None:
    call, message = crm.refused_credentials()

    with pytest.raises(AuthenticationError) as refused:
        call()

    assert str(refused.value) == message
    assert len(crm.log()) == 1  # a refusal is not retried


def test_a_missing_permission_is_an_error_saying_what_to_grant(crm: ConnectorCrm) -> None:
    call, message = crm.refused_permission()

    with pytest.raises(PermissionDeniedError) as refused:
        call()

    assert str(refused.value) == message


def test_a_field_the_model_names_that_the_crm_lacks_is_a_missing_field_error(
    crm: ConnectorCrm,
) -> None:
    call, message = crm.missing_field()

    with pytest.raises(MissingFieldError) as missing:
        call()

    assert str(missing.value) == message
