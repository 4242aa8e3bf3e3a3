"""Field history in the emulators, read by the real clients, and by the connectors for learn:
HubSpot's `propertiesWithHistory` (newest first, 50 records a request), Salesforce's LeadHistory
(tracked fields only) and, in an org with planted fields, a rep's rating dated after the
conversion it reveals, each handoff (the stage reaching MQL) and a buying timeline sales note
after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException
from simple_salesforce import Salesforce

from connectors.base import Connector
from connectors.field_times import FieldTimes
from connectors.hubspot import HubSpotConnector
from connectors.records import Lead
from sandbox.hubspot import RunningHubSpot, start_hubspot
from sandbox.orgs import OrgSpec, SynthOrg
from sandbox.orgs.sales_fields import handed_off_at, planted_values
from sandbox.salesforce import RunningSalesforce, start_salesforce
from scoring.config import HUBSPOT_LIFECYCLE, SALESFORCE_LIFECYCLE
from scoring.leaks import handoff_stages
from scoring.loading import load_model
from sync.runtime import build_connector

pytestmark = pytest.mark.e2e

ORG = SynthOrg(OrgSpec(leads=300, seed=11, planted_fields=True))


@pytest.fixture(scope="module")
def hubspot() -> Iterator[RunningHubSpot]:
    with start_hubspot(org=ORG, rate_limit=(10_000, 10.0)) as running:
        yield running


def client_for(running: RunningHubSpot) -> HubSpot:
    return HubSpot(access_token=running.access_token, host=running.base_url)


def contact_ids(running: RunningHubSpot, count: int) -> list[str]:
    return [str(record.id) for record in running.store.page("contacts", 0, count)]


def by_key(running: RunningHubSpot) -> dict[str, str]:
    """Contact id → synthetic person key."""
    rows = running.store._rows("SELECT id, source_key FROM records WHERE type = 'contacts'")
    return {str(contact_id): key for contact_id, key in rows}


def test_a_batch_read_with_history_takes_at_most_50_contacts(hubspot: RunningHubSpot) -> None:
    client = client_for(hubspot)
    ids = contact_ids(hubspot, 51)
    body = {"inputs": [{"id": i} for i in ids], "properties": ["email"],
            "propertiesWithHistory": ["lifecyclestage"]}
    with pytest.raises(ApiException) as refused:
        client.crm.contacts.batch_api.read(body)
    assert refused.value.status == 400
    assert "maximum number of inputs supported in a batch request for property histories is 50" \
        in str(refused.value.body)
    body["inputs"] = body["inputs"][:50]
    assert len(client.crm.contacts.batch_api.read(body).results) == 50


def test_history_lists_every_written_value_newest_first_with_its_source(
    hubspot: RunningHubSpot,
) -> None:
    client = client_for(hubspot)
    contact_id = contact_ids(hubspot, 1)[0]
    original = client.crm.contacts.basic_api.get_by_id(contact_id, properties=["jobtitle"])
    client.crm.contacts.basic_api.update(contact_id, {"properties": {"jobtitle": "CFO"}})
    read = client.crm.contacts.basic_api.get_by_id(contact_id,
                                                   properties_with_history=["jobtitle"])
    history = read.properties_with_history["jobtitle"]
    assert [entry.value for entry in history] == ["CFO", original.properties["jobtitle"]]
    assert history[0].source_type == "INTEGRATION" and history[1].source_type == "IMPORT"
    assert history[0].timestamp > history[1].timestamp == original.created_at


def test_the_lifecycle_stage_history_holds_each_stage_entered_at_its_date(
    hubspot: RunningHubSpot,
) -> None:
    client = client_for(hubspot)
    keys = by_key(hubspot)
    converted = next(i for i in contact_ids(hubspot, 300)
                     if ORG.person(keys[i]).lifecycle_stage == "customer")
    read = client.crm.contacts.basic_api.get_by_id(converted,
                                                   properties_with_history=["lifecyclestage"])
    history = read.properties_with_history["lifecyclestage"]
    assert [entry.value for entry in history][:2] == ["customer", "opportunity"]
    assert history[0].timestamp == ORG.person(keys[converted]).outcome.at


def hubspot_learning_connector(hubspot: RunningHubSpot) -> tuple[HubSpotConnector, list[Lead]]:
    """leadq's HubSpot connector and the contacts learn reads through it."""
    connector = HubSpotConnector(access_token=hubspot.access_token, base_url=hubspot.base_url,
                                 rate_limit=10_000)
    return connector, [lead for page in connector.pull_history() for lead in page.leads]


def test_the_connector_dates_a_rating_reps_set_after_each_conversion(
    hubspot: RunningHubSpot,
) -> None:
    connector, leads = hubspot_learning_connector(hubspot)
    paths = ["fields.lead_quality", "fields.referral_partner", "company.industry"]
    times = connector.field_history(leads, paths).set_at
    assert connector.stats.requests["history"] == 6  # 300 contacts, 50 a request
    assert set(times) == {"fields.lead_quality", "fields.referral_partner"}
    keys = by_key(hubspot)
    for lead in leads:
        person = ORG.person(keys[lead.id])
        planted = planted_values(ORG.spec, person)
        rated = times["fields.lead_quality"].get(lead.id)
        if "lead_quality" in planted:
            assert rated is not None
            assert abs((rated - planted["lead_quality"].set_at).total_seconds()) < 0.001
            if person.outcome.converted:
                assert rated > person.outcome.at
        else:
            assert rated is None
        assert times["fields.referral_partner"][lead.id] == person.created_at


@pytest.fixture(scope="module")
def salesforce() -> Iterator[RunningSalesforce]:
    with start_salesforce(org=ORG) as running:
        yield running


def salesforce_client(running: RunningSalesforce) -> Salesforce:
    return Salesforce(username=running.username, password=running.password,
                      security_token=running.security_token, session=running.session())


def lead_keys(running: RunningSalesforce) -> dict[str, str]:
    """Lead id → synthetic person key."""
    rows = running.store.read("SELECT key, record_id FROM synth_keys WHERE sobject = 'Lead'")
    return {lead_id: key for key, lead_id in rows}


def learning_connector(running: RunningSalesforce) -> tuple[Connector, list[Lead]]:
    """leadq's Salesforce connector and the leads learn reads through it."""
    model = load_model("examples/sandbox.yaml")
    connector = build_connector(running.leadq_settings(), model, running.session())
    return connector, [lead for page in connector.pull_history() for lead in page.leads]


def test_lead_history_holds_a_converted_leads_status_change_at_its_conversion(
    salesforce: RunningSalesforce,
) -> None:
    client = salesforce_client(salesforce)
    rows = client.query_all("SELECT LeadId, Field, OldValue, NewValue, CreatedDate, CreatedById "
                            "FROM LeadHistory WHERE Field = 'Status'")["records"]
    converted = {row["Id"]: row["ConvertedDate"] for row in client.query_all(
        "SELECT Id, ConvertedDate FROM Lead WHERE IsConverted = true")["records"]}
    conversions = [row for row in rows if row["NewValue"] == "Closed - Converted"]
    assert {row["LeadId"] for row in conversions} == set(converted)
    for row in conversions:
        assert row["OldValue"] != row["NewValue"]
        assert row["CreatedDate"][:10] == converted[row["LeadId"]]
        assert row["CreatedById"].startswith("005")


def test_an_update_of_a_tracked_field_adds_a_row_and_an_untracked_one_none(
    salesforce: RunningSalesforce,
) -> None:
    client = salesforce_client(salesforce)
    lead = client.query("SELECT Id, Rating FROM Lead WHERE IsConverted = false LIMIT 1")[
        "records"][0]
    client.Lead.update(lead["Id"], {"Rating": "Hot", "Title": "Head of Data"})
    rows = client.query_all(f"SELECT Field, OldValue, NewValue FROM LeadHistory "
                            f"WHERE LeadId = '{lead['Id']}' AND Field IN ('Rating', 'Title')")
    assert [(r["Field"], r["OldValue"], r["NewValue"]) for r in rows["records"]] == [
        ("Rating", lead["Rating"], "Hot")]


def test_the_salesforce_connector_dates_the_rating_in_one_query(
    salesforce: RunningSalesforce,
) -> None:
    connector, leads = learning_connector(salesforce)
    times = connector.field_history(leads, ["fields.Lead_Quality__c", "title", "lead_status"]).set_at
    assert connector.stats.requests["history"] == 1
    keys = lead_keys(salesforce)
    rated = times["fields.Lead_Quality__c"]
    for lead in leads:
        person = ORG.person(keys[lead.id])
        planted = planted_values(ORG.spec, person).get("lead_quality")
        if planted is None:
            assert lead.id not in rated
        else:
            assert abs((rated[lead.id] - planted.set_at).total_seconds()) < 1
    converted = {lead.id for lead in leads if lead.fields.get("IsConverted")}
    assert converted <= set(times["lead_status"])  # and the statuses owners set
    assert "title" not in times  # not tracked: no history, no date


def test_without_read_access_to_lead_history_the_connector_dates_nothing_and_goes_on(
    salesforce: RunningSalesforce,
) -> None:
    connector, leads = learning_connector(salesforce)
    salesforce.emulator.queries.unreadable = frozenset({"leadhistory"})
    try:
        assert connector.field_history(leads, ["fields.Lead_Quality__c"]).set_at == {}
    finally:
        salesforce.emulator.queries.unreadable = frozenset()
    assert connector.stats.requests["history"] == 1


def test_a_lead_created_through_the_api_gets_one_created_row(
    salesforce: RunningSalesforce,
) -> None:
    client = salesforce_client(salesforce)
    created = client.Lead.create({"LastName": "Ng", "Company": "Ng Ltd", "Rating": "Warm"})
    rows = client.query_all(f"SELECT Field, OldValue, NewValue FROM LeadHistory "
                            f"WHERE LeadId = '{created['id']}'")["records"]
    assert [(r["Field"], r["OldValue"], r["NewValue"]) for r in rows] == [("created", None, None)]


def assert_handoffs_and_timelines_dated(times: FieldTimes, keys: dict[str, str], stage: str,
                                        timeline: str) -> None:
    """Every planted handoff dated by the stage's history, and the timeline sales noted first
    set after it, as the generator drew them."""
    handed = times.entered_at[stage]
    noted = times.first_set_at[timeline]
    checked = 0
    for lead_id, key in keys.items():
        person = ORG.person(key)
        handoff = handed_off_at(ORG.spec, person)
        if handoff is None:
            assert lead_id not in noted
            continue
        assert abs((handed[lead_id] - handoff).total_seconds()) < 1
        planted = planted_values(ORG.spec, person)["buying_timeline"]
        assert abs((noted[lead_id] - planted.set_at).total_seconds()) < 1
        assert noted[lead_id] > handed[lead_id]
        checked += 1
    assert checked >= 20


def test_the_hubspot_connector_dates_each_handoff_and_the_timeline_sales_noted_after_it(
    hubspot: RunningHubSpot,
) -> None:
    connector, leads = hubspot_learning_connector(hubspot)
    stage = "fields.lifecyclestage"
    times = connector.field_history(leads, ["fields.buying_timeline", stage],
                                    {stage: handoff_stages(HUBSPOT_LIFECYCLE)})
    assert connector.stats.requests["history"] == 6
    assert_handoffs_and_timelines_dated(times, by_key(hubspot), stage, "fields.buying_timeline")


def test_the_salesforce_connector_dates_each_leads_handoff_by_its_status_history(
    salesforce: RunningSalesforce,
) -> None:
    connector, leads = learning_connector(salesforce)
    stage = "fields.Status"
    times = connector.field_history(leads, ["fields.Buying_Timeline__c", stage],
                                    {stage: handoff_stages(SALESFORCE_LIFECYCLE)})
    assert connector.stats.requests["history"] == 1
    assert_handoffs_and_timelines_dated(times, lead_keys(salesforce), stage,
                                        "fields.Buying_Timeline__c")
