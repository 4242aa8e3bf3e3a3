"""The HubSpot connector end to end: the real hubspot-api-client against the HubSpot emulator over
loopback HTTP. Assertions read the CRM's state (the emulator's store) and its request log."""

from __future__ import annotations

import math
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clocks import MovableClock
from hubspot import HubSpot

from connectors.base import OutputField
from connectors.hubspot import HubSpotConnector, OAuthApp
from connectors.records import Activity, Lead, LeadUpdate
from connectors.retry import (
    AuthenticationError,
    MissingFieldError,
    PermissionDeniedError,
    RetrySettings,
)
from sandbox.hubspot import PortalSettings, RunningHubSpot, start_hubspot
from sandbox.orgs import OrgSpec, SynthOrg
from sandbox.server import FaultPlan
from sync.settings import Settings

pytestmark = pytest.mark.e2e

BIG_ORG = 10_000
SMALL_ORG = 1_000
UNLIMITED = {"rate_limit": (1_000_000, 10.0), "search_per_second": 100_000}
QUICK_RETRIES = RetrySettings(max_attempts=12, budget_seconds=60, initial_wait=0.005,
                              max_wait=0.05, jitter=0.005)
OUTPUTS = [
    OutputField("leadq_score", "leadq score", "number"),
    OutputField("leadq_grade", "leadq grade", "enumeration", ("A", "B", "C", "D", "F")),
    OutputField("leadq_reasons", "leadq reasons", "string"),
    OutputField("leadq_scored_at", "leadq scored at", "datetime"),
]
OUTPUT_NAMES = [field.name for field in OUTPUTS]
PER_LEAD_PATH = re.compile(r"^/crm/v[34]/objects/contacts/\d+")


# ---- portals ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_org() -> SynthOrg:
    return SynthOrg(OrgSpec(leads=BIG_ORG, seed=7))


@pytest.fixture(scope="module")
def small_org() -> SynthOrg:
    return SynthOrg(OrgSpec(leads=SMALL_ORG, seed=11))


def seeded_file(org: SynthOrg, directory: Path) -> Path:
    path = directory / f"portal-{org.spec.leads}.sqlite"
    start_hubspot(org=org, db_path=path).stop()
    return path


@pytest.fixture(scope="module")
def big_portal(big_org: SynthOrg, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_file(big_org, tmp_path_factory.mktemp("hubspot"))


@pytest.fixture(scope="module")
def small_portal(small_org: SynthOrg, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_file(small_org, tmp_path_factory.mktemp("hubspot"))


@contextmanager
def portal_copy(seeded: Path, org: SynthOrg, directory: Path, name: str = "portal",
                **options: Any) -> Iterator[RunningHubSpot]:
    copy = directory / f"{name}.sqlite"
    shutil.copyfile(seeded, copy)
    with start_hubspot(org=org, db_path=copy, **{**UNLIMITED, **options}) as running:
        yield running


@pytest.fixture
def hubspot(small_portal: Path, small_org: SynthOrg, tmp_path: Path) -> Iterator[RunningHubSpot]:
    with portal_copy(small_portal, small_org, tmp_path) as running:
        yield running


def connector_for(running: RunningHubSpot, **options: Any) -> HubSpotConnector:
    settings: dict[str, Any] = {
        "base_url": running.base_url,
        "access_token": running.access_token,
        "rate_limit": 1_000_000,
        "search_rate": 100_000,
        "retry": QUICK_RETRIES,
        "output_properties": OUTPUT_NAMES,
    }
    return HubSpotConnector(**{**settings, **options})


# ---- reading the CRM's own state ----------------------------------------------------------------


def stored_contacts(running: RunningHubSpot) -> dict[str, dict[str, str]]:
    return {str(record.id): record.properties
            for record in running.store.page("contacts", 0, 1_000_000)}


def stored_activity_kinds(running: RunningHubSpot, contact_ids: list[str]) -> Counter[str]:
    return Counter(row.kind for contact_id in contact_ids
                   for row in running.store.activities_of(int(contact_id)))


def requests_to(running: RunningHubSpot, method: str, path: str | re.Pattern[str]) -> int:
    pattern = re.compile(f"^{re.escape(path)}$") if isinstance(path, str) else path
    return sum(1 for entry in running.emulator.log.entries()
               if entry.method == method and pattern.match(entry.path))


def record_writes(running: RunningHubSpot) -> Counter[str]:
    """Spy on the emulator (not the client): how many times the API wrote each contact."""
    written: Counter[str] = Counter()
    writer = running.emulator.portal.writer
    update = writer.update

    def counting_update(object_type: str, updates: Any, source: Any, now_ms: Any = None) -> Any:
        if object_type == "contacts" and source.change_source == "INTEGRATION":
            written.update(str(record.id) for record, _ in updates)
        return update(object_type, updates, source, now_ms)

    writer.update = counting_update  # type: ignore[method-assign]
    return written


def sent_properties(running: RunningHubSpot) -> dict[str, list[dict[str, str]]]:
    """Spy on the emulator: the properties each API write of a contact carried."""
    sent: dict[str, list[dict[str, str]]] = {}
    writer = running.emulator.portal.writer
    update = writer.update

    def recording_update(object_type: str, updates: Any, source: Any, now_ms: Any = None) -> Any:
        if object_type == "contacts" and source.change_source == "INTEGRATION":
            for record, properties in updates:
                sent.setdefault(str(record.id), []).append(dict(properties))
        return update(object_type, updates, source, now_ms)

    writer.update = recording_update  # type: ignore[method-assign]
    return sent


def score_of(lead: Lead) -> dict[str, Any]:
    """What a scoring run would write: deterministic values from the lead alone."""
    points = (int(lead.id) * 37) % 101
    return {
        "leadq_score": points,
        "leadq_grade": "ABCDF"[points % 5],
        "leadq_reasons": f"fit {points}; engagement {100 - points}",
        "leadq_scored_at": datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
    }


def full_sync(connector: HubSpotConnector) -> tuple[list[Lead], list[Activity], list[Any]]:
    """Pull every lead page by page with its activities, then write a score to each."""
    leads: list[Lead] = []
    activities: list[Activity] = []
    for page in connector.pull_changed(None):
        leads.extend(page.leads)
        activities.extend(connector.pull_activities(page.leads, None))
    updates = [LeadUpdate(lead_id=lead.id, kind="contact", changes=score_of(lead))
               for lead in leads]
    return leads, activities, connector.write(updates)


# ---- pulls and writes at scale ------------------------------------------------------------------


def test_a_10000_lead_pull_with_companies_and_activities_and_its_writes_use_only_pages_and_batches(
    big_portal: Path, big_org: SynthOrg, tmp_path: Path
) -> None:
    with portal_copy(big_portal, big_org, tmp_path) as running:
        connector = connector_for(running)
        connector.ensure_fields(OUTPUTS)
        running.emulator.log.clear()

        leads, activities, results = full_sync(connector)

        ids = [lead.id for lead in leads]
        stored = stored_contacts(running)
        assert sorted(ids) == sorted(stored) and len(ids) == BIG_ORG
        companies = running.store.associations("contacts", [int(i) for i in ids], "companies")
        assert {lead.id: lead.company.id if lead.company else None for lead in leads} == {
            lead.id: str(companies[int(lead.id)][0][0]) if int(lead.id) in companies else None
            for lead in leads
        }
        assert Counter(a.type for a in activities) == stored_activity_kinds(running, ids)
        assert all(result.ok for result in results)
        assert all(stored[lead.id]["leadq_score"] == str(score_of(lead)["leadq_score"])
                   for lead in leads)

        pages = requests_to(running, "GET", "/crm/v3/objects/contacts")
        writes = requests_to(running, "POST", "/crm/v3/objects/contacts/batch/update")
        lower_bound = math.ceil(BIG_ORG / 100) + math.ceil(len(results) / 100)
        assert pages == 100 and writes == 100
        assert pages + writes <= 1.05 * lower_bound
        assert requests_to(running, "GET", PER_LEAD_PATH) == 0
        assert requests_to(running, "PATCH", PER_LEAD_PATH) == 0
        assert not any("objectId" in entry.query for entry in running.emulator.log.entries())
        company_reads = requests_to(running, "POST", "/crm/v3/objects/companies/batch/read")
        engagement_reads = requests_to(
            running, "POST", re.compile(r"^/crm/v3/objects/(calls|emails|meetings|notes)/batch/read$"))
        event_pages = requests_to(running, "GET", "/events/v3/events/")
        events = sum(1 for a in activities if a.type not in ("call", "email_reply", "meeting_booked"))
        assert company_reads <= pages
        assert engagement_reads <= 3 * pages
        assert event_pages == math.ceil(events / 1_000)
        assert len(running.emulator.log.entries()) == (
            pages + writes + company_reads + engagement_reads + event_pages
            + requests_to(running, "GET", re.compile(r"^/crm/v3/properties/\w+$"))
        )


def test_an_incremental_pull_past_10000_changed_leads_restarts_the_search_and_returns_each_once(
    big_portal: Path, big_org: SynthOrg, tmp_path: Path
) -> None:
    with portal_copy(big_portal, big_org, tmp_path) as running:
        client = HubSpot(access_token=running.access_token, host=running.base_url)
        for batch in range(3):
            client.crm.contacts.batch_api.create({"inputs": [
                {"properties": {"email": f"new{batch}-{n}@example.org", "firstname": "New"}}
                for n in range(100)
            ]})
        connector = connector_for(running)
        connector.ensure_fields(OUTPUTS)
        running.emulator.log.clear()

        pages = []
        for page in connector.pull_changed(datetime(2000, 1, 1, tzinfo=UTC)):
            pages.append(page)  # each page written before the next, moving its contacts' times
            connector.write([LeadUpdate(lead_id=lead.id, changes={"leadq_score": 1})
                             for lead in page.leads])

        ids = [lead.id for page in pages for lead in page.leads]
        assert len(ids) == BIG_ORG + 300 > 10_000
        assert len(set(ids)) == len(ids)
        assert set(ids) == set(stored_contacts(running))
        searches = requests_to(running, "POST", "/crm/v3/objects/contacts/search")
        assert searches == math.ceil(len(ids) / 200)
        assert all(entry.status < 400 for entry in running.emulator.log.entries())
        cursors = [page.cursor for page in pages]
        assert cursors == sorted(cursors)
        assert cursors[-1] == max(lead.updated_at for page in pages for lead in page.leads)


def test_contacts_sharing_one_modified_time_across_pages_are_each_returned_once(
    hubspot: RunningHubSpot,
) -> None:
    store = hubspot.store
    shared_ms = 1_790_000_000_000  # 2026-09-21, within the org's history
    tied = store.page("contacts", 0, 450)
    with store.transaction():
        for record in tied:
            store.rewrite_record(record.id, record.properties, shared_ms, 0)
    connector = connector_for(hubspot, overlap_seconds=0)

    pages = list(connector.pull_changed(datetime.fromtimestamp(shared_ms / 1000, UTC)))

    ids = [lead.id for page in pages for lead in page.leads]
    assert len(ids) == len(set(ids))
    assert {str(record.id) for record in tied} <= set(ids)


def test_with_429s_5xx_dropped_connections_and_record_failures_every_update_lands_exactly_once(
    small_portal: Path, small_org: SynthOrg, tmp_path: Path
) -> None:
    with portal_copy(small_portal, small_org, tmp_path, name="clean") as clean, \
            portal_copy(small_portal, small_org, tmp_path, name="faulty") as faulty:
        clean_run = connector_for(clean)
        clean_run.ensure_fields(OUTPUTS)
        clean_leads, clean_activities, _ = full_sync(clean_run)
        faulty.emulator.faults = FaultPlan(rate_limited=0.10, server_error=0.10, dropped=0.02,
                                           record_failure=0.02, seed=5)
        writes = record_writes(faulty)
        faulty_run = connector_for(faulty)
        faulty_run.ensure_fields(OUTPUTS)

        leads, activities, results = full_sync(faulty_run)

        assert all(result.ok for result in results) and len(results) == SMALL_ORG
        assert (leads, activities) == (clean_leads, clean_activities)
        assert writes == Counter({lead.id: 1 for lead in leads})
        assert stored_contacts(faulty) == stored_contacts(clean)
        faults = Counter(entry.fault for entry in faulty.emulator.log.entries() if entry.fault)
        retries = faulty_run.stats.retries
        assert retries["rate_limited"] == faults["rate_limited"] > 0
        assert retries["server_error"] == faults["server_error"] > 0
        assert retries["connection"] == faults["dropped"] > 0
        assert retries["record_lock"] > 0
        assert faulty_run.stats.total_requests == len(faulty.emulator.log.entries())


# ---- lifecycle ----------------------------------------------------------------------------------


def contact_at(running: RunningHubSpot, stage: str, skip: int = 0) -> str:
    found = [contact_id for contact_id, properties in stored_contacts(running).items()
             if properties.get("lifecyclestage") == stage]
    return found[skip]


def test_a_lifecycle_stage_is_never_moved_backwards(hubspot: RunningHubSpot) -> None:
    customer, stale, unknown, cleared = (contact_at(hubspot, "customer", n) for n in range(4))
    promoted = contact_at(hubspot, "lead")
    connector = connector_for(hubspot)
    connector.ensure_fields(OUTPUTS)
    sent = sent_properties(hubspot)

    results = connector.write([
        LeadUpdate(lead_id=customer, changes={"lifecyclestage": "marketingqualifiedlead",
                                              "leadq_score": 80},
                   before={"lifecyclestage": "customer"}),
        LeadUpdate(lead_id=stale, changes={"lifecyclestage": "marketingqualifiedlead"},
                   before={"lifecyclestage": "lead"}),
        LeadUpdate(lead_id=unknown, changes={"lifecyclestage": "lead"}),
        LeadUpdate(lead_id=cleared, changes={"lifecyclestage": ""},
                   before={"lifecyclestage": "customer"}),
        LeadUpdate(lead_id=promoted, changes={"lifecyclestage": "marketingqualifiedlead"},
                   before={"lifecyclestage": "lead"}),
    ])

    stored = stored_contacts(hubspot)
    assert [stored[i]["lifecyclestage"] for i in (customer, stale, unknown, cleared, promoted)] \
        == ["customer", "customer", "customer", "customer", "marketingqualifiedlead"]
    assert stored[customer]["leadq_score"] == "80"
    assert sent == {
        customer: [{"leadq_score": "80"}],
        stale: [{"lifecyclestage": "marketingqualifiedlead"}],  # HubSpot itself ignores it
        promoted: [{"lifecyclestage": "marketingqualifiedlead"}],
    }
    assert [result.ok for result in results] == [True] * 5
    assert results[0].error == (
        "kept lifecycle stage 'customer': leadq never moves a stage backwards "
        "(wanted 'marketingqualifiedlead')"
    )
    assert results[3].error == (
        "kept lifecycle stage 'customer': leadq never moves a stage backwards "
        "(wanted 'no stage')"
    )
    assert results[4].error is None


# ---- OAuth --------------------------------------------------------------------------------------


def oauth_connector(running: RunningHubSpot, clock: Callable[[], float],
                    refresh_token: str | None = None) -> HubSpotConnector:
    app = OAuthApp(running.client_id, running.client_secret,
                   refresh_token or running.refresh_token)
    return connector_for(running, access_token=None, oauth=app, clock=clock)


def statuses(running: RunningHubSpot) -> list[tuple[str, int]]:
    return [(entry.path, entry.status) for entry in running.emulator.log.entries()]


def test_oauth_access_tokens_are_renewed_before_they_expire(hubspot: RunningHubSpot) -> None:
    clock = MovableClock()
    hubspot.emulator.clock = clock
    connector = oauth_connector(hubspot, clock)
    connector.list_owners()
    clock.offset = 1_800 - 120  # two minutes before the token expires

    connector.list_owners()

    renewed_first = [("/oauth/v1/token", 200), ("/crm/v3/owners/", 200), ("/crm/v3/owners/", 200)]
    assert statuses(hubspot) == renewed_first * 2  # renewed before it expired: never a 401
    assert connector.stats.requests["auth"] == 2


def test_an_oauth_token_that_expired_early_is_renewed_once_more_on_a_401(
    hubspot: RunningHubSpot,
) -> None:
    emulator_clock, our_clock = MovableClock(), MovableClock()
    hubspot.emulator.clock = emulator_clock
    connector = oauth_connector(hubspot, our_clock)
    connector.list_owners()
    emulator_clock.offset = 1_900  # HubSpot's clock runs ahead of ours

    owners = connector.list_owners()

    assert owners
    assert [status for path, status in statuses(hubspot) if path == "/crm/v3/owners/"].count(401) \
        == 1
    assert [path for path, _ in statuses(hubspot)].count("/oauth/v1/token") == 2


def test_a_refused_refresh_token_is_an_authentication_error_naming_the_settings(
    hubspot: RunningHubSpot,
) -> None:
    connector = oauth_connector(hubspot, MovableClock(), refresh_token="na1-0000-wrong")

    with pytest.raises(AuthenticationError) as refused:
        connector.list_owners()

    assert str(refused.value) == (
        "HubSpot refused the app's credentials (BAD_REFRESH_TOKEN: missing or unknown refresh "
        "token): set LEADQ_HUBSPOT_CLIENT_ID, LEADQ_HUBSPOT_CLIENT_SECRET and "
        "LEADQ_HUBSPOT_REFRESH_TOKEN to the app's client id and secret and a refresh token from "
        "a current install of the app"
    )


# ---- typed errors -------------------------------------------------------------------------------


def test_a_wrong_access_token_is_an_authentication_error_naming_the_setting(
    hubspot: RunningHubSpot,
) -> None:
    connector = connector_for(hubspot, access_token="pat-na1-not-a-token")

    with pytest.raises(AuthenticationError) as refused:
        next(connector.pull_changed(None))

    assert str(refused.value) == (
        "HubSpot refused the access token (401 INVALID_AUTHENTICATION): set "
        "LEADQ_HUBSPOT_ACCESS_TOKEN to the private app's access token (HubSpot → Settings → "
        "Integrations → Private apps → the app → Access token)"
    )
    assert len(hubspot.emulator.log.entries()) == 1  # a refusal is not retried


def test_a_missing_scope_is_a_permission_error_naming_the_scope(hubspot: RunningHubSpot) -> None:
    hubspot.emulator.credentials.granted_scopes.discard("crm.objects.owners.read")

    with pytest.raises(PermissionDeniedError) as refused:
        connector_for(hubspot).list_owners()

    assert str(refused.value) == (
        "HubSpot refused listing owners: the app lacks the scope crm.objects.owners.read; add it "
        "to the private app's scopes (or reinstall the public app with it) and run again"
    )


def test_a_custom_property_the_portal_lacks_is_a_missing_field_error(
    hubspot: RunningHubSpot,
) -> None:
    connector = connector_for(hubspot, extra_properties=["annual_budget", "industry"])

    with pytest.raises(MissingFieldError) as missing:
        next(connector.pull_changed(None))

    assert str(missing.value) == (
        "HubSpot has no contact property annual_budget: run `leadq setup` to create leadq's "
        "output properties, or create the property in HubSpot (Settings → Properties) or fix the "
        "name in the scoring model"
    )


def test_writing_output_properties_before_setup_is_a_missing_field_error_and_writes_nothing(
    hubspot: RunningHubSpot,
) -> None:
    connector = connector_for(hubspot)
    lead_id = next(iter(stored_contacts(hubspot)))

    with pytest.raises(MissingFieldError) as missing:
        connector.write([LeadUpdate(lead_id=lead_id, changes={"leadq_score": 10,
                                                              "leadq_grade": "B"})])

    assert str(missing.value) == (
        "HubSpot has no contact properties leadq_grade, leadq_score: run `leadq setup` to create "
        "leadq's output properties, or create the properties in HubSpot (Settings → Properties) "
        "or fix the name in the scoring model; nothing was written"
    )
    assert requests_to(hubspot, "POST", "/crm/v3/objects/contacts/batch/update") == 0


def test_deleted_contacts_and_refused_values_fail_alone_with_a_message_the_others_are_written(
    hubspot: RunningHubSpot,
) -> None:
    connector = connector_for(hubspot)
    connector.ensure_fields(OUTPUTS)
    ids = list(stored_contacts(hubspot))[:150]
    deleted, refused = ids[3], ids[120]
    HubSpot(access_token=hubspot.access_token, host=hubspot.base_url) \
        .crm.contacts.basic_api.archive(deleted)
    updates = [LeadUpdate(lead_id=i, changes={"leadq_score": 5}) for i in ids]
    updates[120] = LeadUpdate(lead_id=refused, changes={"leadq_grade": "Z"})

    results = connector.write(updates)

    failures = {result.lead_id: result.error for result in results if not result.ok}
    assert failures == {
        deleted: f"HubSpot has no contact {deleted}: it was deleted or merged; nothing was written",
        refused: "HubSpot refused the values: leadq_grade: Z was not one of the allowed options: "
                 "[A], [B], [C], [D], [F]",
    }
    stored = stored_contacts(hubspot)
    assert all(stored[i]["leadq_score"] == "5" for i in ids if i not in (deleted, refused))
    assert [lead.id for lead in connector.read_leads([ids[0], deleted, ids[1]])] == ids[:2]


# ---- setup, owners, accounts, outcomes, activities ----------------------------------------------


def test_ensure_fields_creates_the_leadq_group_and_properties_once(
    hubspot: RunningHubSpot,
) -> None:
    connector = connector_for(hubspot)

    first = connector.ensure_fields(OUTPUTS)
    second = connector_for(hubspot).ensure_fields(OUTPUTS)

    assert first.created == OUTPUT_NAMES and first.existing == []
    assert second.created == [] and second.existing == OUTPUT_NAMES
    definitions = hubspot.store.definitions("contacts")
    assert {definitions[name].group_name for name in OUTPUT_NAMES} == {"leadq"}
    assert definitions["leadq_grade"].option_values == ("A", "B", "C", "D", "F")
    assert definitions["leadq_scored_at"].type == "datetime"
    assert "leadq" in hubspot.store.groups("contacts")


def test_owners_include_archived_ones_as_inactive_and_queues(
    hubspot: RunningHubSpot, small_org: SynthOrg
) -> None:
    owners = {owner.id: owner for owner in connector_for(hubspot).list_owners()}

    expected = {str(10_000_000 + int(owner.key[1:])): owner for owner in small_org.owners}
    assert set(owners) == set(expected)
    assert {i: (o.active, o.kind) for i, o in owners.items()} == {
        i: (o.active, o.kind) for i, o in expected.items()}
    assert requests_to(hubspot, "GET", "/crm/v3/owners/") == 2


def test_account_owners_are_found_by_domain_in_batches_of_100(hubspot: RunningHubSpot) -> None:
    companies = hubspot.store.page("companies", 0, 1_000)
    owned = {c.properties["domain"]: c.properties["hubspot_owner_id"] for c in companies
             if c.properties.get("hubspot_owner_id")}
    domains = [*(c.properties["domain"] for c in companies[:230]), "no-such-company.example"]

    found = connector_for(hubspot).account_owners([d.upper() for d in domains])

    assert found == {d.upper(): owned[d] for d in domains if d in owned}
    assert requests_to(hubspot, "POST", "/crm/v3/objects/companies/search") == 3


def test_outcomes_say_which_contacts_reached_opportunity_or_later(hubspot: RunningHubSpot) -> None:
    outcomes = list(connector_for(hubspot).pull_outcomes(None))

    stages = {i: p.get("lifecyclestage") for i, p in stored_contacts(hubspot).items()}
    assert {o.lead_id: o.converted for o in outcomes} == {
        i: stage in ("opportunity", "customer", "evangelist") for i, stage in stages.items()}
    assert any(o.converted for o in outcomes)


def test_without_the_events_api_activities_come_from_summary_properties_dated_by_the_latest(
    small_org: SynthOrg, small_portal: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "starter.sqlite"
    shutil.copyfile(small_portal, copy)
    starter = PortalSettings(events_enabled=False)
    with start_hubspot(org=small_org, db_path=copy, settings=starter, **UNLIMITED) as running:
        connector = connector_for(running)
        leads = [lead for page in connector.pull_changed(None) for lead in page.leads]
        activities = connector.pull_activities(leads[:100], None) + \
            connector.pull_activities(leads[100:200], None)

        assert requests_to(running, "GET", "/events/v3/events/") == 1  # one 403, then no more
        kinds = Counter(a.type for a in activities)
        assert set(kinds) <= {"page_view", "form_submission", "content_download", "demo_request",
                              "webinar_registered", "email_open", "email_click", "bounce",
                              "unsubscribe", "call", "email_reply", "meeting_booked"}
        per_lead = Counter((a.lead_id, a.type) for a in activities
                           if a.type in ("page_view", "email_open", "email_click"))
        assert set(per_lead.values()) == {1}  # counts collapse to one
        lead = next(lead for lead in leads[:200] if (lead.id, "email_open") in per_lead)
        rows = running.store.activities_of(int(lead.id))
        latest_open = max(row.occurred_ms for row in rows if row.kind == "email_open")
        opened = next(a for a in activities if a.lead_id == lead.id and a.type == "email_open")
        assert opened.occurred_at == datetime.fromtimestamp(latest_open / 1000, UTC)


def test_an_incremental_pull_after_new_activity_returns_the_changed_contacts_and_their_events(
    hubspot: RunningHubSpot, small_org: SynthOrg
) -> None:
    later = small_org.spec.now + timedelta(days=2)
    simulated = hubspot.emulator.simulate_activity(40, later, seed=3)
    connector = connector_for(hubspot)

    pages = list(connector.pull_changed(later - timedelta(hours=1)))

    leads = [lead for page in pages for lead in page.leads]
    changed = {str(record.id) for record in hubspot.store.records_by_source_key(
        list({activity.person_key for activity in simulated})).values()}
    assert {lead.id for lead in leads} == changed
    fresh = connector.pull_activities(leads, later - timedelta(days=1))
    assert len(fresh) == len([a for a in simulated if a.occurred_at > later - timedelta(days=1)])


def test_the_events_window_is_read_once_and_later_calls_only_top_it_up(
    hubspot: RunningHubSpot, small_org: SynthOrg
) -> None:
    connector = connector_for(hubspot, events_refresh_seconds=0)
    leads = [lead for page in connector.pull_changed(None) for lead in page.leads]
    horizon = small_org.spec.now - timedelta(days=30)
    connector.pull_activities(leads[:500], horizon)
    window_pages = requests_to(hubspot, "GET", "/events/v3/events/")
    hubspot.emulator.simulate_activity(20, small_org.spec.now + timedelta(hours=1), seed=8)

    activities = connector.pull_activities(leads, horizon)

    assert requests_to(hubspot, "GET", "/events/v3/events/") == window_pages + 1
    engagements = {"call", "email_reply", "meeting_booked"}
    expected = Counter(
        row.kind for lead in leads for row in hubspot.store.activities_of(int(lead.id))
        if row.kind not in engagements and row.occurred_ms > horizon.timestamp() * 1000
    )
    assert Counter(a.type for a in activities if a.type not in engagements) == expected


def test_search_keeps_under_its_own_per_second_limit(hubspot: RunningHubSpot) -> None:
    hubspot.emulator.limits.search_window.max_requests = 5  # HubSpot's own limit
    connector = connector_for(hubspot, search_rate=4)  # leadq's default setting
    domains = [c.properties["domain"] for c in hubspot.store.page("companies", 0, 400)]

    list(connector.pull_changed(datetime(2000, 1, 1, tzinfo=UTC)))
    connector.account_owners(domains)

    expected = math.ceil(SMALL_ORG / 200) + math.ceil(len(set(domains)) / 100)
    assert requests_to(hubspot, "POST", re.compile(r".*/search$")) == expected
    assert all(entry.status != 429 for entry in hubspot.emulator.log.entries())
    assert connector.stats.throttled_seconds > 0


def test_from_settings_reads_the_hubspot_settings(hubspot: RunningHubSpot) -> None:
    settings = Settings(hubspot_base_url=hubspot.base_url,
                        hubspot_access_token=hubspot.access_token,  # type: ignore[arg-type]
                        hubspot_rate_limit=150, read_page_size=50, overlap_seconds=60)

    connector = HubSpotConnector.from_settings(settings, output_properties=OUTPUT_NAMES)

    pages = list(connector.pull_changed(None))
    assert len(pages) == SMALL_ORG // 50
    assert connector.overlap_seconds == 60
    assert connector.stats.requests["read"] == SMALL_ORG // 50
