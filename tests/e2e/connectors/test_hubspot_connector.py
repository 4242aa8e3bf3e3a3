"""What only the HubSpot connector does, end to end: the real hubspot-api-client against the HubSpot
emulator over loopback HTTP. What both connectors promise is in test_connector_contract.py;
assertions read the CRM's state (the emulator's store) and its request log."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clocks import MovableClock
from connector_crms import (
    CONTRACT_ORG,
    HUBSPOT_OUTPUTS,
    HubSpotCrm,
    SeededOrg,
    full_sync,
    seed_hubspot,
)
from hubspot import HubSpot

from connectors.hubspot import HubSpotConnector, OAuthApp
from connectors.records import LeadUpdate
from connectors.retry import AuthenticationError, MissingFieldError
from sandbox.hubspot import PortalSettings
from sync.connect import hubspot_connector

pytestmark = pytest.mark.e2e

OUTPUT_NAMES = [field.name for field in HUBSPOT_OUTPUTS]
LEADS = CONTRACT_ORG.leads


@pytest.fixture(scope="session")
def seeded_bare_portal(tmp_path_factory: pytest.TempPathFactory) -> SeededOrg:
    return seed_hubspot(CONTRACT_ORG, tmp_path_factory.mktemp("hubspot"), set_up=False)


@pytest.fixture
def bare_portal(seeded_bare_portal: SeededOrg, tmp_path: Path) -> Iterator[HubSpotCrm]:
    """A portal where `leadq setup` has not run: no leadq properties."""
    with HubSpotCrm.serving(seeded_bare_portal, tmp_path) as crm:
        yield crm


# ---- pulls --------------------------------------------------------------------------------------


def test_a_full_pull_carries_each_contacts_company_and_every_activity_in_batches(
    hubspot: HubSpotCrm,
) -> None:
    run = full_sync(hubspot, hubspot.connector())

    ids = [int(lead.id) for lead in run.pulled]
    companies = hubspot.running.store.associations("contacts", ids, "companies")
    assert {lead.id: lead.company.id if lead.company else None for lead in run.pulled} == {
        str(i): str(companies[i][0][0]) if i in companies else None for i in ids}
    stored_kinds = Counter(row.kind for i in ids for row in hubspot.running.store.activities_of(i))
    assert Counter(a.type for a in run.activities) == stored_kinds
    pages = hubspot.lead_pages(hubspot.log())
    company_reads = hubspot.requests_to("POST", "/crm/v3/objects/companies/batch/read")
    engagement_reads = hubspot.requests_to(
        "POST", re.compile(r"^/crm/v3/objects/(calls|emails|meetings|notes)/batch/read$"))
    event_pages = hubspot.requests_to("GET", "/events/v3/events/")
    events = sum(1 for a in run.activities
                 if a.type not in ("call", "email_reply", "meeting_booked"))
    company_searches = hubspot.requests_to("POST", "/crm/v3/objects/companies/search")
    assert company_reads <= pages
    assert engagement_reads <= 3 * pages
    assert company_searches <= pages
    assert event_pages == math.ceil(events / 1_000)
    assert len(hubspot.log()) == (
        pages + hubspot.write_batches(hubspot.log()) + company_reads + engagement_reads
        + event_pages + company_searches + hubspot.requests_to("GET", "/crm/v3/owners/")
        + hubspot.requests_to("GET", re.compile(r"^/crm/v3/properties/\w+$"))
    )


def test_an_incremental_pull_past_the_search_result_cap_returns_each_changed_contact_once(
    hubspot: HubSpotCrm,
) -> None:
    """HubSpot pages one search only up to 10,000 results; this portal caps it at 1,000."""
    hubspot.running.emulator.portal.settings.search_max_results = LEADS
    client = HubSpot(access_token=hubspot.running.access_token, host=hubspot.running.base_url)
    for batch in range(3):
        client.crm.contacts.batch_api.create({"inputs": [
            {"properties": {"email": f"new{batch}-{n}@example.org", "firstname": "New"}}
            for n in range(100)
        ]})
    connector = hubspot.connector()
    hubspot.running.emulator.log.clear()

    pages = []
    for page in connector.pull_changed(datetime(2000, 1, 1, tzinfo=UTC)):
        pages.append(page)  # each page written before the next, moving its contacts' times
        connector.write([LeadUpdate(lead_id=lead.id, changes={"leadq_score": 1})
                         for lead in page.leads])

    ids = [lead.id for page in pages for lead in page.leads]
    assert len(ids) == LEADS + 300
    assert len(set(ids)) == len(ids)
    assert set(ids) == hubspot.live_lead_ids()
    searches = hubspot.requests_to("POST", "/crm/v3/objects/contacts/search")
    assert searches == math.ceil(len(ids) / 200)
    assert all(entry.status < 400 for entry in hubspot.log())
    cursors = [page.cursor for page in pages]
    assert cursors == sorted(cursors)
    assert cursors[-1] == max(lead.updated_at for page in pages for lead in page.leads)


def test_contacts_sharing_one_modified_time_across_pages_are_each_returned_once(
    hubspot: HubSpotCrm,
) -> None:
    store = hubspot.running.store
    shared_ms = 1_790_000_000_000  # 2026-09-21, within the org's history
    tied = store.page("contacts", 0, 450)
    with store.transaction():
        for record in tied:
            store.rewrite_record(record.id, record.properties, shared_ms, 0)
    connector = hubspot.connector(overlap_seconds=0)

    pages = list(connector.pull_changed(datetime.fromtimestamp(shared_ms / 1000, UTC)))

    ids = [lead.id for page in pages for lead in page.leads]
    assert len(ids) == len(set(ids))
    assert {str(record.id) for record in tied} <= set(ids)


def test_without_the_events_api_activities_come_from_summary_properties_dated_by_the_latest(
    seeded_portal: SeededOrg, tmp_path: Path
) -> None:
    starter = PortalSettings(events_enabled=False)
    with HubSpotCrm.serving(seeded_portal, tmp_path, settings=starter) as portal:
        connector = portal.connector()
        leads = [lead for page in connector.pull_changed(None) for lead in page.leads]
        activities = connector.pull_activities(leads[:100], None) + \
            connector.pull_activities(leads[100:200], None)

        assert portal.requests_to("GET", "/events/v3/events/") == 1  # one 403, then no more
        kinds = Counter(a.type for a in activities)
        assert set(kinds) <= {"page_view", "form_submission", "content_download", "demo_request",
                              "webinar_registered", "email_open", "email_click", "bounce",
                              "unsubscribe", "call", "email_reply", "meeting_booked"}
        per_lead = Counter((a.lead_id, a.type) for a in activities
                           if a.type in ("page_view", "email_open", "email_click"))
        assert set(per_lead.values()) == {1}  # counts collapse to one
        lead = next(lead for lead in leads[:200] if (lead.id, "email_open") in per_lead)
        rows = portal.running.store.activities_of(int(lead.id))
        latest_open = max(row.occurred_ms for row in rows if row.kind == "email_open")
        opened = next(a for a in activities if a.lead_id == lead.id and a.type == "email_open")
        assert opened.occurred_at == datetime.fromtimestamp(latest_open / 1000, UTC)


def test_an_incremental_pull_after_new_activity_returns_the_changed_contacts_and_their_events(
    hubspot: HubSpotCrm,
) -> None:
    later = hubspot.org.spec.now + timedelta(days=2)
    simulated = hubspot.running.emulator.simulate_activity(40, later, seed=3)
    connector = hubspot.connector()

    pages = list(connector.pull_changed(later - timedelta(hours=1)))

    leads = [lead for page in pages for lead in page.leads]
    changed = {str(record.id) for record in hubspot.running.store.records_by_source_key(
        list({activity.person_key for activity in simulated})).values()}
    assert {lead.id for lead in leads} == changed
    fresh = connector.pull_activities(leads, later - timedelta(days=1))
    assert len(fresh) == len([a for a in simulated if a.occurred_at > later - timedelta(days=1)])


def test_the_events_window_is_read_once_and_later_calls_only_top_it_up(
    hubspot: HubSpotCrm,
) -> None:
    connector = hubspot.connector(events_refresh_seconds=0)
    leads = [lead for page in connector.pull_changed(None) for lead in page.leads]
    horizon = hubspot.org.spec.now - timedelta(days=30)
    connector.pull_activities(leads[:500], horizon)
    window_pages = hubspot.requests_to("GET", "/events/v3/events/")
    hubspot.running.emulator.simulate_activity(20, hubspot.org.spec.now + timedelta(hours=1),
                                               seed=8)

    activities = connector.pull_activities(leads, horizon)

    assert hubspot.requests_to("GET", "/events/v3/events/") == window_pages + 1
    engagements = {"call", "email_reply", "meeting_booked"}
    expected = Counter(
        row.kind for lead in leads for row in hubspot.running.store.activities_of(int(lead.id))
        if row.kind not in engagements and row.occurred_ms > horizon.timestamp() * 1000
    )
    assert Counter(a.type for a in activities if a.type not in engagements) == expected


def test_search_keeps_under_its_own_per_second_limit(hubspot: HubSpotCrm) -> None:
    hubspot.running.emulator.limits.search_window.max_requests = 5  # HubSpot's own limit
    connector = hubspot.connector(search_rate=4)  # leadq's default setting
    domains = [c.properties["domain"] for c in hubspot.running.store.page("companies", 0, 400)]

    list(connector.pull_changed(datetime(2000, 1, 1, tzinfo=UTC)))
    connector.account_owners(domains)

    expected = math.ceil(LEADS / 200) + math.ceil(len(set(domains)) / 100)
    assert hubspot.requests_to("POST", re.compile(r".*/search$")) == expected
    assert all(entry.status != 429 for entry in hubspot.log())
    assert connector.stats.throttled_seconds > 0


def test_from_settings_reads_the_hubspot_settings(hubspot: HubSpotCrm) -> None:
    settings = hubspot.running.leadq_settings(hubspot_rate_limit=150, read_page_size=50,
                                              overlap_seconds=60)

    connector = hubspot_connector(settings, output_properties=OUTPUT_NAMES)

    pages = list(connector.pull_changed(None))
    assert len(pages) == LEADS // 50
    assert connector.overlap_seconds == 60
    assert connector.stats.requests["read"] == LEADS // 50


# ---- owners and accounts ------------------------------------------------------------------------


def test_owners_are_read_in_one_listing_of_active_and_one_of_archived_owners(
    hubspot: HubSpotCrm,
) -> None:
    hubspot.connector().list_owners()

    assert hubspot.requests_to("GET", "/crm/v3/owners/") == 2


def test_account_owners_are_found_whatever_the_case_of_the_domain_in_searches_of_100(
    hubspot: HubSpotCrm,
) -> None:
    companies = hubspot.running.store.page("companies", 0, 1_000)
    owned = {c.properties["domain"]: c.properties["hubspot_owner_id"] for c in companies
             if c.properties.get("hubspot_owner_id")}
    domains = [*(c.properties["domain"] for c in companies[:230]), "no-such-company.example"]

    found = hubspot.connector().account_owners([d.upper() for d in domains])

    assert found == {d.upper(): owned[d] for d in domains if d in owned}
    assert hubspot.requests_to("POST", "/crm/v3/objects/companies/search") == 3
    assert hubspot.running.emulator.refusals == []  # no `"after": null` on a first page


def test_a_companys_people_are_its_associated_contacts_read_in_one_batch(
    hubspot: HubSpotCrm,
) -> None:
    companies = [c.id for c in hubspot.running.store.page("companies", 0, 1_000)][:40]
    linked = hubspot.running.store.associations("companies", companies, "contacts")
    expected = {str(contact_id) for pairs in linked.values() for contact_id, _ in pairs}

    people = hubspot.connector().people_of_companies([*map(str, companies), "999999999"])

    assert set(people) == expected and len(people) == len(expected) > 40
    assert hubspot.requests_to("POST", "/crm/v4/associations/companies/contacts/batch/read") == 1


# ---- writes -------------------------------------------------------------------------------------


def contact_at(portal: HubSpotCrm, stage: str, skip: int = 0) -> str:
    found = [contact_id for contact_id, properties in portal.stored_contacts().items()
             if properties.get("lifecyclestage") == stage]
    return found[skip]


def test_a_lifecycle_stage_is_never_moved_backwards(hubspot: HubSpotCrm) -> None:
    customer, stale, unknown, cleared = (contact_at(hubspot, "customer", n) for n in range(4))
    promoted = contact_at(hubspot, "lead")
    connector = hubspot.connector()
    sent: dict[str, list[dict[str, str]]] = {}
    hubspot.spy_on_writes(lambda contact_id, sent_now: sent.setdefault(contact_id, [])
                          .append(sent_now))

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

    stored = hubspot.stored_contacts()
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


def test_a_value_hubspot_refuses_fails_that_contact_alone_with_hubspots_reason(
    hubspot: HubSpotCrm,
) -> None:
    ids = list(hubspot.stored_contacts())[:150]
    updates = [LeadUpdate(lead_id=i, changes={"leadq_score": 5}) for i in ids]
    updates[120] = LeadUpdate(lead_id=ids[120], changes={"leadq_grade": "Z"})

    results = hubspot.connector().write(updates)

    assert {result.lead_id: result.error for result in results if not result.ok} == {
        ids[120]: "HubSpot refused the values: leadq_grade: Z was not one of the allowed "
                  "options: [A], [B], [C], [D], [F]",
    }
    stored = hubspot.stored_contacts()
    assert all(stored[i]["leadq_score"] == "5" for i in ids if i != ids[120])


def test_writing_output_properties_before_setup_is_a_missing_field_error_and_writes_nothing(
    bare_portal: HubSpotCrm,
) -> None:
    connector = bare_portal.connector()
    lead_id = next(iter(bare_portal.stored_contacts()))

    with pytest.raises(MissingFieldError) as missing:
        connector.write([LeadUpdate(lead_id=lead_id, changes={"leadq_score": 10,
                                                              "leadq_grade": "B"})])

    assert str(missing.value) == (
        "HubSpot has no contact properties leadq_grade, leadq_score: run `leadq setup` to create "
        "leadq's output properties, or create the properties in HubSpot (Settings → Properties) "
        "or fix the name in the scoring model; nothing was written"
    )
    assert bare_portal.write_batches(bare_portal.log()) == 0


def test_ensure_fields_creates_the_leadq_group_and_properties_once(
    bare_portal: HubSpotCrm,
) -> None:
    first = bare_portal.connector().ensure_fields(HUBSPOT_OUTPUTS)
    second = bare_portal.connector().ensure_fields(HUBSPOT_OUTPUTS)

    assert first.created == OUTPUT_NAMES and first.existing == []
    assert second.created == [] and second.existing == OUTPUT_NAMES
    store = bare_portal.running.store
    definitions = store.definitions("contacts")
    assert {definitions[name].group_name for name in OUTPUT_NAMES} == {"leadq"}
    assert definitions["leadq_grade"].option_values == ("A", "B", "C", "D", "F")
    assert not any(option.hidden for option in definitions["leadq_grade"].options)
    assert bare_portal.running.emulator.refusals == []  # each option says `hidden`
    assert definitions["leadq_scored_at"].type == "datetime"
    assert "leadq" in store.groups("contacts")


# ---- OAuth --------------------------------------------------------------------------------------


def oauth_connector(portal: HubSpotCrm, clock: Callable[[], float],
                    refresh_token: str | None = None) -> HubSpotConnector:
    running = portal.running
    app = OAuthApp(running.client_id, running.client_secret,
                   refresh_token or running.refresh_token)
    return portal.connector(access_token=None, oauth=app, clock=clock)


def statuses(portal: HubSpotCrm) -> list[tuple[str, int]]:
    return [(entry.path, entry.status) for entry in portal.log()]


def test_oauth_access_tokens_are_renewed_before_they_expire(hubspot: HubSpotCrm) -> None:
    clock = MovableClock()
    hubspot.running.emulator.clock = clock
    connector = oauth_connector(hubspot, clock)
    connector.list_owners()
    clock.offset = 1_800 - 120  # two minutes before the token expires

    connector.list_owners()

    renewed_first = [("/oauth/v1/token", 200), ("/crm/v3/owners/", 200), ("/crm/v3/owners/", 200)]
    assert statuses(hubspot) == renewed_first * 2  # renewed before it expired: never a 401
    assert connector.stats.requests["auth"] == 2


def test_an_oauth_token_that_expired_early_is_renewed_once_more_on_a_401(
    hubspot: HubSpotCrm,
) -> None:
    emulator_clock, our_clock = MovableClock(), MovableClock()
    hubspot.running.emulator.clock = emulator_clock
    connector = oauth_connector(hubspot, our_clock)
    connector.list_owners()
    emulator_clock.offset = 1_900  # HubSpot's clock runs ahead of ours

    owners = connector.list_owners()

    assert owners
    assert [status for path, status in statuses(hubspot) if path == "/crm/v3/owners/"].count(401) \
        == 1
    assert [path for path, _ in statuses(hubspot)].count("/oauth/v1/token") == 2


def test_a_refused_refresh_token_is_an_authentication_error_naming_the_settings(
    hubspot: HubSpotCrm,
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
