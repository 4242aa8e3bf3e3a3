"""Contract tests of the HubSpot emulator, driven over loopback HTTP by the real hubspot-api-client
(and by `requests` where the client has no call, or where raw headers and bodies are checked)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
import urllib3
from clocks import MovableClock
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.owners import ApiException as OwnersApiException
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot.utils.signature import Signature
from werkzeug.wrappers import Request, Response

from sandbox.hubspot import RunningHubSpot, start_hubspot
from sandbox.hubspot.errors import ApiError
from sandbox.orgs import OrgSpec, SynthOrg
from sandbox.server import Emulator, EmulatorServer
from sync.webhook_models import HubSpotWebhookConfig, Notice, WebhookBatch, WebhookRequest
from sync.webhooks import parse_hubspot

pytestmark = pytest.mark.e2e

LEADS = 150
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
RATE_HEADERS = (
    "X-HubSpot-RateLimit-Max",
    "X-HubSpot-RateLimit-Remaining",
    "X-HubSpot-RateLimit-Interval-Milliseconds",
    "X-HubSpot-RateLimit-Daily",
    "X-HubSpot-RateLimit-Daily-Remaining",
)


@pytest.fixture(scope="module")
def org() -> SynthOrg:
    return SynthOrg(OrgSpec(leads=LEADS, seed=11))


@pytest.fixture
def hubspot(org: SynthOrg) -> Iterator[RunningHubSpot]:
    with start_hubspot(org=org, search_per_second=1_000) as running:
        yield running


def client_for(running: RunningHubSpot, token: str | None = None) -> HubSpot:
    return HubSpot(access_token=token or running.access_token, host=running.base_url)


@pytest.fixture
def client(hubspot: RunningHubSpot) -> HubSpot:
    return client_for(hubspot)


def raw(running: RunningHubSpot, method: str, path: str, token: str | None = None,
        **kwargs: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {token or running.access_token}"}
    return requests.request(method, f"{running.base_url}{path}", headers=headers, timeout=10,
                            **kwargs)  # type: ignore[arg-type]


def all_contacts(client: HubSpot, properties: list[str]) -> list:
    contacts, after = [], None
    while True:
        page = client.crm.contacts.basic_api.get_page(limit=100, after=after,
                                                      properties=properties)
        contacts.extend(page.results)
        if page.paging is None:
            return contacts
        after = page.paging.next.after


def search_ids(client: HubSpot, filters: list[dict], **extra: object) -> list[str]:
    found, after = [], None
    while True:
        body = {"filterGroups": [{"filters": filters}], "limit": 200, **extra}
        if after:
            body["after"] = after
        page = client.crm.contacts.search_api.do_search(body)
        found.extend(result.id for result in page.results)
        if page.paging is None:
            return found
        after = page.paging.next.after


def first_contact_id(client: HubSpot) -> str:
    return client.crm.contacts.basic_api.get_page(limit=1).results[0].id


def api_error_body(error: Exception) -> dict:
    return json.loads(error.body)  # type: ignore[attr-defined]


# ---- listing and reading --------------------------------------------------------------------------


def test_paging_with_after_reads_every_contact_once_in_one_request_per_page(
    hubspot: RunningHubSpot, client: HubSpot
) -> None:
    hubspot.emulator.log.clear()
    contacts = all_contacts(client, ["email"])
    assert len(contacts) == LEADS
    assert len({contact.id for contact in contacts}) == LEADS
    assert hubspot.emulator.log.count("GET", "/crm/v3/objects/contacts") == 2


def test_list_limit_above_100_is_refused_with_400(client: HubSpot) -> None:
    with pytest.raises(ContactsApiException) as raised:
        client.crm.contacts.basic_api.get_page(limit=101)
    assert raised.value.status == 400
    assert api_error_body(raised.value)["category"] == "VALIDATION_ERROR"


def test_every_property_value_is_a_string_with_dates_in_iso_milliseconds(client: HubSpot) -> None:
    names = ["createdate", "lastmodifieddate", "hs_analytics_num_page_views",
             "num_conversion_events", "hs_object_id", "hs_email_optout", "recent_conversion_date"]
    contacts = all_contacts(client, names)
    values = [value for contact in contacts for value in contact.properties.values()]
    assert all(value is None or isinstance(value, str) for value in values)
    assert all(ISO_MS.match(contact.properties["createdate"]) for contact in contacts)
    assert all(contact.properties["hs_analytics_num_page_views"].isdigit() for contact in contacts)
    assert {contact.properties["hs_object_id"] for contact in contacts} == {c.id for c in contacts}
    assert {contact.properties["hs_email_optout"] for contact in contacts} <= {"true", None}


def test_unknown_requested_properties_are_absent_and_unset_ones_are_null(
    hubspot: RunningHubSpot,
) -> None:
    response = raw(hubspot, "GET", "/crm/v3/objects/contacts",
                   params={"limit": 100, "properties": "email,no_such_property,website"})
    assert response.status_code == 200
    for result in response.json()["results"]:
        assert set(result["properties"]) == {"email", "website"}
        assert result["properties"]["website"] is None


def test_without_properties_the_default_contact_properties_come_back(client: HubSpot) -> None:
    contact = client.crm.contacts.basic_api.get_page(limit=1).results[0]
    assert set(contact.properties) == {"createdate", "email", "firstname", "hs_object_id",
                                       "lastmodifieddate", "lastname"}


def test_associations_parameter_returns_the_primary_and_unlabeled_company(
    client: HubSpot, org: SynthOrg
) -> None:
    page = client.crm.contacts.basic_api.get_page(limit=100, associations=["companies"],
                                                  properties=["email"])
    with_company = [contact for contact in page.results if contact.associations]
    expected = sum(1 for person in org.people(0, 100) if person.company_key)
    assert len(with_company) == expected
    types = [link.type for link in with_company[0].associations["companies"].results]
    assert types == ["contact_to_company", "contact_to_company_unlabeled"]


def test_get_by_email_with_id_property_finds_the_contact(client: HubSpot, org: SynthOrg) -> None:
    person = next(org.people(3, 4))
    contact = client.crm.contacts.basic_api.get_by_id(
        person.email.upper(), id_property="email", properties=["jobtitle", "lifecyclestage"]
    )
    assert contact.properties["jobtitle"] == person.title
    assert contact.properties["lifecyclestage"] == person.lifecycle_stage


def test_reading_an_unknown_contact_answers_404_object_not_found(client: HubSpot) -> None:
    with pytest.raises(ContactsApiException) as raised:
        client.crm.contacts.basic_api.get_by_id("999999999")
    assert raised.value.status == 404
    body = api_error_body(raised.value)
    assert body["category"] == "OBJECT_NOT_FOUND"
    assert body["status"] == "error" and body["correlationId"]


def test_companies_carry_industry_size_and_revenue_as_strings(client: HubSpot,
                                                              org: SynthOrg) -> None:
    company = next(org.companies(0, 1))
    page = client.crm.companies.basic_api.get_page(
        limit=1, properties=["name", "domain", "industry", "numberofemployees", "annualrevenue"]
    )
    properties = page.results[0].properties
    assert properties["name"] == company.name
    assert properties["numberofemployees"] == str(company.employees)
    assert properties["annualrevenue"] == str(round(company.annual_revenue))


# ---- writing ----------------------------------------------------------------------------------------


def test_patch_changes_the_value_and_moves_lastmodifieddate(client: HubSpot) -> None:
    contact_id = first_contact_id(client)
    before = client.crm.contacts.basic_api.get_by_id(contact_id, properties=["jobtitle"])
    updated = client.crm.contacts.basic_api.update(
        contact_id, {"properties": {"jobtitle": "VP Revenue"}}
    )
    assert updated.properties["jobtitle"] == "VP Revenue"
    assert updated.updated_at > before.updated_at
    again = client.crm.contacts.basic_api.get_by_id(contact_id, properties=["lastmodifieddate"])
    assert again.properties["lastmodifieddate"] == updated.properties["lastmodifieddate"]


def test_concurrent_writes_to_one_contact_keep_every_change(client: HubSpot) -> None:
    contact_id = first_contact_id(client)
    values = {"jobtitle": "CTO", "city": "Leeds", "website": "https://a.example", "phone": "+44 1",
              "state": "YK", "industry": "Software", "firstname": "Ada", "lastname": "Lovelace"}

    def write(name: str) -> None:
        client_copy = HubSpot(access_token=client.access_token,
                              host=client.config["host"])
        client_copy.crm.contacts.basic_api.update(contact_id, {"properties": {name: values[name]}})

    threads = [threading.Thread(target=write, args=(name,)) for name in values]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    read = client.crm.contacts.basic_api.get_by_id(contact_id, properties=list(values))
    assert read.properties == values


def test_writing_an_unknown_property_is_refused_naming_the_property(client: HubSpot) -> None:
    contact_id = first_contact_id(client)
    with pytest.raises(ContactsApiException) as raised:
        client.crm.contacts.basic_api.update(
            contact_id, {"properties": {"leadq_score": "80", "jobtitle": "CTO"}}
        )
    assert raised.value.status == 400
    body = api_error_body(raised.value)
    assert body["category"] == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in body["message"] and "leadq_score" in body["message"]
    unchanged = client.crm.contacts.basic_api.get_by_id(contact_id, properties=["jobtitle"])
    assert unchanged.properties["jobtitle"] != "CTO"


def test_writing_a_read_only_property_is_refused(client: HubSpot) -> None:
    with pytest.raises(ContactsApiException) as raised:
        client.crm.contacts.basic_api.update(
            first_contact_id(client), {"properties": {"hs_analytics_num_page_views": "99"}}
        )
    assert "READ_ONLY_VALUE" in api_error_body(raised.value)["message"]


def test_numbers_booleans_and_epoch_dates_are_stored_as_hubspot_strings(
    hubspot: RunningHubSpot, client: HubSpot
) -> None:
    for name, kind, field in (("leadq_score", "number", "number"),
                              ("leadq_is_mql", "bool", "booleancheckbox"),
                              ("leadq_scored_at", "datetime", "date")):
        client.crm.properties.core_api.create("contacts", {
            "name": name, "label": name, "type": kind, "fieldType": field,
            "groupName": "contactinformation",
        })
    contact_id = first_contact_id(client)
    response = raw(hubspot, "PATCH", f"/crm/v3/objects/contacts/{contact_id}", json={
        "properties": {"leadq_score": "87", "leadq_is_mql": "true",
                       "leadq_scored_at": "1767225600123"}
    })
    assert response.status_code == 200
    assert response.json()["properties"]["leadq_score"] == "87"
    assert response.json()["properties"]["leadq_is_mql"] == "true"
    assert response.json()["properties"]["leadq_scored_at"] == "2026-01-01T00:00:00.123Z"


@pytest.mark.refused_by_hubspot
def test_a_property_value_sent_as_a_json_number_is_refused(
    hubspot: RunningHubSpot, client: HubSpot
) -> None:
    contact_id = first_contact_id(client)
    response = raw(hubspot, "PATCH", f"/crm/v3/objects/contacts/{contact_id}",
                   json={"properties": {"hs_analytics_num_page_views": 87}})
    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert "Cannot deserialize value of type `java.lang.String` from Integer value" in (
        body["message"])


def test_an_invalid_option_is_refused(client: HubSpot) -> None:
    with pytest.raises(ContactsApiException) as raised:
        client.crm.contacts.basic_api.update(
            first_contact_id(client), {"properties": {"hs_lead_status": "HOT"}}
        )
    assert raised.value.status == 400
    assert "INVALID_OPTION" in api_error_body(raised.value)["message"]


def test_owner_ids_are_checked_against_the_portals_owners(client: HubSpot) -> None:
    contact_id = first_contact_id(client)
    owner_id = client.crm.owners.owners_api.get_page(limit=1).results[0].id
    with pytest.raises(ContactsApiException) as raised:
        client.crm.contacts.basic_api.update(contact_id,
                                             {"properties": {"hubspot_owner_id": "12345"}})
    assert "INVALID_OPTION" in api_error_body(raised.value)["message"]
    updated = client.crm.contacts.basic_api.update(
        contact_id, {"properties": {"hubspot_owner_id": owner_id}})
    assert updated.properties["hubspot_owner_id"] == owner_id


def test_creating_a_contact_with_a_taken_email_answers_409(client: HubSpot, org: SynthOrg) -> None:
    person = next(org.people(0, 1))
    with pytest.raises(ContactsApiException) as raised:
        client.crm.contacts.basic_api.create({"properties": {"email": person.email}})
    assert raised.value.status == 409
    assert api_error_body(raised.value)["category"] == "CONFLICT"


def test_a_created_contact_is_readable_with_its_company(client: HubSpot) -> None:
    company_id = client.crm.companies.basic_api.get_page(limit=1).results[0].id
    created = client.crm.contacts.basic_api.create({
        "properties": {"email": "new.person@example.org", "firstname": "New"},
        "associations": [{"to": {"id": company_id}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]}],
    })
    read = client.crm.contacts.basic_api.get_by_id(created.id, associations=["companies"])
    assert read.properties["email"] == "new.person@example.org"
    assert {link.id for link in read.associations["companies"].results} == {company_id}


# ---- the lifecycle stage ------------------------------------------------------------------------


def set_stage(client: HubSpot, contact_id: str, stage: str) -> str:
    updated = client.crm.contacts.basic_api.update(
        contact_id, {"properties": {"lifecyclestage": stage}}
    )
    return updated.properties["lifecyclestage"]


def test_a_backward_lifecycle_write_is_ignored_silently(client: HubSpot) -> None:
    contact_id = first_contact_id(client)
    assert set_stage(client, contact_id, "") is None
    assert set_stage(client, contact_id, "marketingqualifiedlead") == "marketingqualifiedlead"
    assert set_stage(client, contact_id, "lead") == "marketingqualifiedlead"
    read = client.crm.contacts.basic_api.get_by_id(contact_id, properties=["lifecyclestage"])
    assert read.properties["lifecyclestage"] == "marketingqualifiedlead"


def test_a_forward_lifecycle_write_is_applied(client: HubSpot) -> None:
    contact_id = first_contact_id(client)
    set_stage(client, contact_id, "")
    set_stage(client, contact_id, "lead")
    assert set_stage(client, contact_id, "salesqualifiedlead") == "salesqualifiedlead"


def test_the_lifecycle_moves_back_after_being_cleared_in_a_separate_request(
    client: HubSpot,
) -> None:
    contact_id = first_contact_id(client)
    set_stage(client, contact_id, "")
    set_stage(client, contact_id, "customer")
    assert set_stage(client, contact_id, "") is None
    assert set_stage(client, contact_id, "lead") == "lead"


def test_lifecycle_in_a_batch_update_follows_the_same_rule(client: HubSpot) -> None:
    contact_id = first_contact_id(client)
    set_stage(client, contact_id, "")
    set_stage(client, contact_id, "opportunity")
    client.crm.contacts.batch_api.update({"inputs": [
        {"id": contact_id, "properties": {"lifecyclestage": "marketingqualifiedlead"}}]})
    read = client.crm.contacts.basic_api.get_by_id(contact_id, properties=["lifecyclestage"])
    assert read.properties["lifecyclestage"] == "opportunity"


def test_entering_a_lifecycle_stage_stamps_its_became_date_and_keeps_the_earlier_ones(
    client: HubSpot,
) -> None:
    contact_id = first_contact_id(client)
    dates = ["hs_lifecyclestage_lead_date", "hs_lifecyclestage_opportunity_date"]
    set_stage(client, contact_id, "")
    set_stage(client, contact_id, "lead")
    entered_lead = client.crm.contacts.basic_api.get_by_id(contact_id, properties=dates)
    set_stage(client, contact_id, "opportunity")
    set_stage(client, contact_id, "lead")  # ignored: no new date either
    read = client.crm.contacts.basic_api.get_by_id(contact_id, properties=dates)

    lead_date = read.properties["hs_lifecyclestage_lead_date"]
    assert lead_date == entered_lead.properties["hs_lifecyclestage_lead_date"] is not None
    assert read.properties["hs_lifecyclestage_opportunity_date"] >= lead_date
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", lead_date)


# ---- batches --------------------------------------------------------------------------------------


def test_batch_read_of_missing_ids_answers_207_with_object_not_found(client: HubSpot) -> None:
    contact_id = first_contact_id(client)
    result = client.crm.contacts.batch_api.read({
        "inputs": [{"id": contact_id}, {"id": "999999998"}], "properties": ["email"],
    })
    assert type(result).__name__ == "BatchResponseSimplePublicObjectWithErrors"
    assert [record.id for record in result.results] == [contact_id]
    assert result.num_errors == 1
    assert result.errors[0].category == "OBJECT_NOT_FOUND"
    assert result.errors[0].context == {"ids": ["999999998"]}


def test_batch_read_by_email_returns_the_contacts(client: HubSpot, org: SynthOrg) -> None:
    emails = [person.email for person in org.people(0, 5)]
    result = client.crm.contacts.batch_api.read({
        "inputs": [{"id": email} for email in emails], "idProperty": "email",
        "properties": ["email"],
    })
    assert type(result).__name__ == "BatchResponseSimplePublicObject"
    assert sorted(record.properties["email"] for record in result.results) == sorted(emails)


def test_a_batch_of_more_than_100_inputs_is_refused_with_400(client: HubSpot) -> None:
    inputs = [{"id": str(number), "properties": {"jobtitle": "x"}} for number in range(101)]
    with pytest.raises(ContactsApiException) as raised:
        client.crm.contacts.batch_api.update({"inputs": inputs})
    assert raised.value.status == 400


def test_batch_update_answers_200_and_changes_every_record(client: HubSpot) -> None:
    ids = [contact.id for contact in client.crm.contacts.basic_api.get_page(limit=20).results]
    result = client.crm.contacts.batch_api.update({"inputs": [
        {"id": contact_id, "properties": {"hs_lead_status": "IN_PROGRESS"}} for contact_id in ids]})
    assert type(result).__name__ == "BatchResponseSimplePublicObject"
    read = client.crm.contacts.batch_api.read({"inputs": [{"id": i} for i in ids],
                                                "properties": ["hs_lead_status"]})
    assert {record.properties["hs_lead_status"] for record in read.results} == {"IN_PROGRESS"}


def test_injected_record_failures_answer_207_and_leave_those_records_unchanged(
    hubspot: RunningHubSpot, client: HubSpot
) -> None:
    ids = [contact.id for contact in client.crm.contacts.basic_api.get_page(limit=50).results]
    hubspot.emulator.faults.record_failure = 0.3
    result = client.crm.contacts.batch_api.update({"inputs": [
        {"id": contact_id, "properties": {"jobtitle": "Chief Scoring Officer"}}
        for contact_id in ids]})
    hubspot.emulator.faults.record_failure = 0.0
    assert type(result).__name__ == "BatchResponseSimplePublicObjectWithErrors"
    failed = {entry.context["ids"][0] for entry in result.errors}
    assert failed and len(failed) == result.num_errors
    assert {entry.category for entry in result.errors} == {"CONFLICT"}
    assert {record.id for record in result.results} == set(ids) - failed
    read = client.crm.contacts.batch_api.read({"inputs": [{"id": i} for i in ids],
                                                "properties": ["jobtitle"]})
    titles = {record.id: record.properties["jobtitle"] for record in read.results}
    assert all(titles[i] != "Chief Scoring Officer" for i in failed)
    assert all(titles[i] == "Chief Scoring Officer" for i in set(ids) - failed)


def test_batch_create_answers_201_and_refuses_a_taken_email_with_409(
    hubspot: RunningHubSpot, client: HubSpot, org: SynthOrg
) -> None:
    response = raw(hubspot, "POST", "/crm/v3/objects/contacts/batch/create", json={"inputs": [
        {"properties": {"email": f"batch{n}@example.org"}} for n in range(3)]})
    assert response.status_code == 201
    assert len(response.json()["results"]) == 3
    taken = next(org.people(0, 1)).email
    with pytest.raises(ContactsApiException) as raised:
        client.crm.contacts.batch_api.create({"inputs": [{"properties": {"email": taken}}]})
    assert raised.value.status == 409


def test_batch_upsert_by_email_updates_existing_contacts_and_creates_new_ones(
    client: HubSpot, org: SynthOrg
) -> None:
    existing = next(org.people(0, 1)).email
    result = client.crm.contacts.batch_api.upsert({"inputs": [
        {"id": existing, "idProperty": "email", "properties": {"jobtitle": "Head of RevOps"}},
        {"id": "fresh@example.org", "idProperty": "email", "properties": {"firstname": "Fresh"}},
    ]})
    by_new = {record.new: record for record in result.results}
    assert by_new[False].properties["jobtitle"] == "Head of RevOps"
    assert by_new[True].properties["email"] == "fresh@example.org"
    assert len(all_contacts(client, ["email"])) == LEADS + 1


def test_archived_contacts_leave_the_list_and_appear_with_archived_true(client: HubSpot) -> None:
    ids = [contact.id for contact in client.crm.contacts.basic_api.get_page(limit=3).results]
    client.crm.contacts.batch_api.archive({"inputs": [{"id": i} for i in ids]})
    assert len(all_contacts(client, ["email"])) == LEADS - 3
    archived = client.crm.contacts.basic_api.get_page(archived=True)
    assert [contact.id for contact in archived.results] == ids
    assert all(contact.archived for contact in archived.results)


# ---- search ---------------------------------------------------------------------------------------


def _number(name: str):
    return lambda properties: float(properties.get(name) or "nan")


SEARCH_CASES = [
    ({"propertyName": "country", "operator": "EQ", "value": "us"},
     lambda p: (p.get("country") or "").lower() == "us"),
    ({"propertyName": "country", "operator": "NEQ", "value": "US"},
     lambda p: (p.get("country") or "").lower() != "us"),
    ({"propertyName": "hs_analytics_num_page_views", "operator": "GT", "value": "5"},
     lambda p: float(p["hs_analytics_num_page_views"]) > 5),
    ({"propertyName": "hs_analytics_num_page_views", "operator": "LTE", "value": "2"},
     lambda p: float(p["hs_analytics_num_page_views"]) <= 2),
    ({"propertyName": "hs_analytics_num_page_views", "operator": "BETWEEN", "value": "3",
      "highValue": "10"},
     lambda p: 3 <= float(p["hs_analytics_num_page_views"]) <= 10),
    ({"propertyName": "hs_lead_status", "operator": "IN", "values": ["NEW", "OPEN"]},
     lambda p: p.get("hs_lead_status") in ("NEW", "OPEN")),
    ({"propertyName": "hs_lead_status", "operator": "NOT_IN", "values": ["NEW", "OPEN"]},
     lambda p: p.get("hs_lead_status") not in ("NEW", "OPEN")),
    ({"propertyName": "phone", "operator": "HAS_PROPERTY"}, lambda p: p.get("phone") is not None),
    ({"propertyName": "phone", "operator": "NOT_HAS_PROPERTY"}, lambda p: p.get("phone") is None),
    ({"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@hotmail.com"},
     lambda p: p["email"].endswith("@hotmail.com")),
    ({"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "westridgeconsulting.com"},
     lambda p: p["email"].endswith("@westridgeconsulting.com")),
    ({"propertyName": "email", "operator": "NOT_CONTAINS_TOKEN", "value": "*@hotmail.com"},
     lambda p: not p["email"].endswith("@hotmail.com")),
    ({"propertyName": "recent_conversion_date", "operator": "GTE",
      "value": "2026-10-01T00:00:00.000Z"},
     lambda p: (p.get("recent_conversion_date") or "") >= "2026-10-01T00:00:00.000Z"),
    ({"propertyName": "createdate", "operator": "LT", "value": "1780000000000"},
     lambda p: p["createdate"] < "2026-05-28T20:26:40.000Z"),
]


@pytest.mark.parametrize(("search_filter", "predicate"), SEARCH_CASES,
                         ids=[f"{case[0]['operator']}-{case[0]['propertyName']}"
                              for case in SEARCH_CASES])
def test_each_search_operator_selects_the_contacts_hubspot_would(
    client: HubSpot, search_filter: dict, predicate: object
) -> None:
    names = ["email", "country", "phone", "hs_lead_status", "hs_analytics_num_page_views",
             "recent_conversion_date", "createdate"]
    contacts = all_contacts(client, names)
    expected = {c.id for c in contacts if predicate(c.properties)}  # type: ignore[operator]
    found = search_ids(client, [search_filter])
    assert sorted(found, key=int) == sorted(expected, key=int)
    assert 0 < len(expected) < LEADS


def test_filter_groups_are_ored_and_filters_inside_a_group_anded(client: HubSpot) -> None:
    contacts = all_contacts(client, ["country", "hs_lead_status"])
    body = {"filterGroups": [
        {"filters": [{"propertyName": "country", "operator": "EQ", "value": "US"},
                     {"propertyName": "hs_lead_status", "operator": "EQ", "value": "NEW"}]},
        {"filters": [{"propertyName": "country", "operator": "EQ", "value": "GB"}]},
    ], "limit": 200}
    result = client.crm.contacts.search_api.do_search(body)
    expected = {
        c.id for c in contacts
        if (c.properties["country"] == "US" and c.properties["hs_lead_status"] == "NEW")
        or c.properties["country"] == "GB"
    }
    assert {record.id for record in result.results} == expected
    assert result.total == len(expected)


def test_search_dates_compare_the_same_as_epoch_ms_or_iso(client: HubSpot) -> None:
    moment = datetime(2026, 10, 15, tzinfo=UTC)
    as_ms = search_ids(client, [{"propertyName": "lastmodifieddate", "operator": "GTE",
                                 "value": str(int(moment.timestamp() * 1000))}])
    as_iso = search_ids(client, [{"propertyName": "lastmodifieddate", "operator": "GTE",
                                  "value": "2026-10-15T00:00:00Z"}])
    assert as_ms == as_iso and 0 < len(as_ms) < LEADS


def test_search_sorts_by_lastmodifieddate_and_pages_with_after_and_total(client: HubSpot) -> None:
    body = {"sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
            "properties": ["lastmodifieddate"], "limit": 40}
    first = client.crm.contacts.search_api.do_search(body)
    second = client.crm.contacts.search_api.do_search({**body, "after": first.paging.next.after})
    stamps = [r.properties["lastmodifieddate"] for r in first.results + second.results]
    assert stamps == sorted(stamps, reverse=True)
    assert first.total == LEADS
    assert set(r.id for r in first.results).isdisjoint(r.id for r in second.results)


def test_search_past_ten_thousand_results_is_refused_with_400(client: HubSpot) -> None:
    ok = client.crm.contacts.search_api.do_search({"limit": 200, "after": "9800"})
    assert ok.results == []
    with pytest.raises(ContactsApiException) as raised:
        client.crm.contacts.search_api.do_search({"limit": 10, "after": "9995"})
    assert raised.value.status == 400
    body = api_error_body(raised.value)
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"] == "There was a problem with the request."


def test_a_portal_can_cap_search_results_lower_so_tests_reach_the_cap_with_fewer_contacts(
    hubspot: RunningHubSpot, client: HubSpot
) -> None:
    hubspot.emulator.portal.settings.search_max_results = 100
    assert len(client.crm.contacts.search_api.do_search({"limit": 50, "after": "50"}).results) \
        == 50
    with pytest.raises(ContactsApiException) as raised:
        client.crm.contacts.search_api.do_search({"limit": 10, "after": "95"})
    assert raised.value.status == 400
    assert api_error_body(raised.value)["context"]["maxResults"] == ["100"]


def test_search_limit_above_200_is_refused_with_400(client: HubSpot) -> None:
    with pytest.raises(ContactsApiException) as raised:
        client.crm.contacts.search_api.do_search({"limit": 201})
    assert raised.value.status == 400


def test_search_past_its_per_second_limit_answers_429_without_rate_limit_headers(
    org: SynthOrg,
) -> None:
    with start_hubspot(org=org, search_per_second=5) as running:
        statuses, headers = [], []
        for _ in range(8):
            response = raw(running, "POST", "/crm/v3/objects/contacts/search", json={"limit": 1})
            statuses.append(response.status_code)
            headers.append(response.headers)
        assert statuses.count(200) == 5 and statuses.count(429) == 3
        refused = raw(running, "POST", "/crm/v3/objects/contacts/search", json={})
        assert refused.json()["errorType"] == "RATE_LIMIT"
        assert all("X-HubSpot-RateLimit-Max" not in h for h in headers)


def test_records_written_within_the_index_delay_are_not_yet_searchable(
    hubspot: RunningHubSpot, client: HubSpot
) -> None:
    portal, clock = hubspot.emulator.portal, MovableClock()
    portal.clock_ms = portal.writer.now_ms = clock.milliseconds
    portal.settings.search_index_delay_seconds = 0.4
    client.crm.contacts.basic_api.create({"properties": {"email": "late@example.org"}})
    by_email = [{"propertyName": "email", "operator": "EQ", "value": "late@example.org"}]
    assert search_ids(client, by_email) == []
    clock.advance(0.5)
    assert len(search_ids(client, by_email)) == 1


def test_searching_an_unknown_property_is_refused_with_400(client: HubSpot) -> None:
    with pytest.raises(ContactsApiException) as raised:
        search_ids(client, [{"propertyName": "nope", "operator": "EQ", "value": "1"}])
    assert raised.value.status == 400


# ---- properties -----------------------------------------------------------------------------------


def test_lifecycle_stage_and_lead_status_options_are_readable(client: HubSpot) -> None:
    stage = client.crm.properties.core_api.get_by_name("contacts", "lifecyclestage")
    status = client.crm.properties.core_api.get_by_name("contacts", "hs_lead_status")
    assert [option.value for option in stage.options] == [
        "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
        "customer", "evangelist", "other"]
    assert "ATTEMPTED_TO_CONTACT" in [option.value for option in status.options]
    names = {p.name for p in client.crm.properties.core_api.get_all("contacts").results}
    assert {"email", "hubspot_owner_id", "hs_analytics_num_page_views",
            "hs_email_last_open_date", "notes_last_contacted"} <= names


def test_creating_an_existing_property_answers_409_conflict(client: HubSpot) -> None:
    definition = {"name": "leadq_grade", "label": "Grade", "type": "string",
                  "fieldType": "text", "groupName": "contactinformation"}
    created = client.crm.properties.core_api.create("contacts", definition)
    assert created.name == "leadq_grade"
    with pytest.raises(PropertiesApiException) as raised:
        client.crm.properties.core_api.create("contacts", definition)
    assert raised.value.status == 409
    assert api_error_body(raised.value)["category"] == "CONFLICT"
    with pytest.raises(PropertiesApiException) as raised:
        client.crm.properties.core_api.create("contacts", {**definition, "name": "email"})
    assert raised.value.status == 409


def test_property_groups_are_created_listed_and_duplicates_answer_409(client: HubSpot) -> None:
    groups = client.crm.properties.groups_api
    groups.create("contacts", {"name": "leadq", "label": "leadq scoring"})
    assert "leadq" in {group.name for group in groups.get_all("contacts").results}
    with pytest.raises(PropertiesApiException) as raised:
        groups.create("contacts", {"name": "leadq", "label": "again"})
    assert raised.value.status == 409
    client.crm.properties.core_api.create("contacts", {
        "name": "leadq_reasons", "label": "Reasons", "type": "string", "fieldType": "textarea",
        "groupName": "leadq"})
    assert client.crm.properties.core_api.get_by_name("contacts", "leadq_reasons").group_name \
        == "leadq"


# ---- owners ---------------------------------------------------------------------------------------


def test_owners_are_listed_with_and_without_the_trailing_slash(
    hubspot: RunningHubSpot, client: HubSpot, org: SynthOrg
) -> None:
    active = [owner for owner in org.owners if owner.active]
    listed = client.crm.owners.owners_api.get_page(limit=100)
    assert sorted(o.email for o in listed.results) == sorted(o.email for o in active)
    assert hubspot.emulator.log.count("GET", "/crm/v3/owners/") == 1
    without_slash = raw(hubspot, "GET", "/crm/v3/owners")
    assert without_slash.status_code == 200
    assert len(without_slash.json()["results"]) == len(active)


def test_archived_owners_are_listed_only_with_archived_true(client: HubSpot,
                                                             org: SynthOrg) -> None:
    inactive = [owner.email for owner in org.owners if not owner.active]
    archived = client.crm.owners.owners_api.get_page(archived=True)
    assert [owner.email for owner in archived.results] == inactive
    assert all(owner.archived for owner in archived.results)


def test_the_queue_is_an_owner_of_type_queue_without_a_user(client: HubSpot,
                                                            org: SynthOrg) -> None:
    queue = next(owner for owner in org.owners if owner.kind == "queue")
    found = client.crm.owners.owners_api.get_page(email=queue.email).results
    assert [(owner.type, owner.user_id) for owner in found] == [("QUEUE", None)]


def test_owners_page_with_after_and_are_read_by_id(client: HubSpot) -> None:
    first = client.crm.owners.owners_api.get_page(limit=3)
    second = client.crm.owners.owners_api.get_page(limit=3, after=first.paging.next.after)
    assert {o.id for o in first.results}.isdisjoint(o.id for o in second.results)
    one = client.crm.owners.owners_api.get_by_id(int(second.results[0].id))
    assert one.email == second.results[0].email
    with pytest.raises(OwnersApiException) as raised:
        client.crm.owners.owners_api.get_by_id(1)
    assert raised.value.status == 404


def test_contacts_carry_owner_ids_not_user_ids(client: HubSpot) -> None:
    owner_ids = {o.id for o in client.crm.owners.owners_api.get_page().results}
    owner_ids |= {o.id for o in client.crm.owners.owners_api.get_page(archived=True).results}
    contacts = all_contacts(client, ["hubspot_owner_id"])
    assigned = {c.properties["hubspot_owner_id"] for c in contacts} - {None}
    assert assigned and assigned <= owner_ids


# ---- associations ---------------------------------------------------------------------------------


def test_v4_associations_of_a_contact_name_its_primary_company(client: HubSpot,
                                                               org: SynthOrg) -> None:
    person = next(p for p in org.people() if p.company_key)
    contact = client.crm.contacts.basic_api.get_by_id(person.email, id_property="email")
    found = client.crm.associations.v4.basic_api.get_page("contacts", contact.id, "companies")
    assert len(found.results) == 1
    type_ids = {(kind.type_id, kind.label) for kind in found.results[0].association_types}
    assert type_ids == {(1, "Primary"), (279, None)}
    company = client.crm.companies.basic_api.get_by_id(found.results[0].to_object_id,
                                                       properties=["name"])
    assert company.properties["name"] == person.company_name


def test_v4_batch_read_answers_207_for_contacts_without_a_company(client: HubSpot,
                                                                  org: SynthOrg) -> None:
    contacts = client.crm.contacts.basic_api.get_page(limit=100).results
    without = sum(1 for person in org.people(0, 100) if not person.company_key)
    result = client.crm.associations.v4.batch_api.get_page(
        "contacts", "companies", {"inputs": [{"id": c.id} for c in contacts]})
    assert len(result.results) == 100 - without
    assert result.num_errors == without > 0
    assert all(link.association_types for item in result.results for link in item.to)


def test_v4_batch_read_refuses_more_than_1000_ids(hubspot: RunningHubSpot) -> None:
    response = raw(hubspot, "POST", "/crm/v4/associations/contacts/companies/batch/read",
                   json={"inputs": [{"id": str(n)} for n in range(1001)]})
    assert response.status_code == 400


# ---- engagements and events -----------------------------------------------------------------------


def test_sales_activities_are_calls_emails_and_meetings_associated_with_the_contact(
    client: HubSpot, org: SynthOrg
) -> None:
    person = next(p for p in org.people() if any(a.type == "call" for a in p.activities))
    contact = client.crm.contacts.basic_api.get_by_id(person.email, id_property="email")
    links = client.crm.associations.v4.batch_api.get_page(
        "contacts", "calls", {"inputs": [{"id": contact.id}]})
    call_ids = [str(link.to_object_id) for link in links.results[0].to]
    calls = client.crm.objects.calls.batch_api.read(
        {"inputs": [{"id": i} for i in call_ids], "properties": ["hs_timestamp", "hs_call_title"]})
    stamps = sorted(call.properties["hs_timestamp"] for call in calls.results)
    expected = sorted(a.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
                      for a in person.activities if a.type == "call")
    assert stamps == expected


def test_engagements_are_searchable_by_hs_timestamp(client: HubSpot) -> None:
    result = client.crm.objects.calls.search_api.do_search({
        "filterGroups": [{"filters": [{"propertyName": "hs_timestamp", "operator": "GTE",
                                       "value": "2026-01-01T00:00:00Z"}]}],
        "properties": ["hs_timestamp"], "limit": 200})
    assert result.total > 0
    assert all(r.properties["hs_timestamp"] >= "2026-01-01" for r in result.results)


def test_a_note_created_for_a_contact_is_read_through_its_associations(client: HubSpot) -> None:
    contact_id = first_contact_id(client)
    note = client.crm.objects.notes.basic_api.create({
        "properties": {"hs_timestamp": "2026-11-02T09:30:00Z", "hs_note_body": "Asked for SSO"},
        "associations": [{"to": {"id": contact_id}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]}],
    })
    links = client.crm.associations.v4.batch_api.get_page(
        "contacts", "notes", {"inputs": [{"id": contact_id}]})
    assert [str(link.to_object_id) for link in links.results[0].to] == [note.id]
    read = client.crm.objects.notes.basic_api.get_by_id(note.id, properties=["hs_timestamp"])
    assert read.properties["hs_timestamp"] == "2026-11-02T09:30:00.000Z"


def events_of(running: RunningHubSpot, contact_id: str, **params: str) -> list[dict]:
    found, after = [], None
    while True:
        query = {"objectType": "contact", "objectId": contact_id, "limit": "50", **params}
        if after:
            query["after"] = after
        response = raw(running, "GET", "/events/v3/events", params=query)
        assert response.status_code == 200
        body = response.json()
        found.extend(body["results"])
        if "paging" not in body:
            return found
        after = body["paging"]["next"]["after"]


def test_events_of_a_contact_match_its_page_views_and_summary(
    hubspot: RunningHubSpot, client: HubSpot, org: SynthOrg
) -> None:
    person = max(org.people(), key=lambda p: sum(a.type == "page_view" for a in p.activities))
    contact = client.crm.contacts.basic_api.get_by_id(
        person.email, id_property="email", properties=["hs_analytics_num_page_views"])
    visits = events_of(hubspot, contact.id, eventType="e_visited_page")
    views = [a for a in person.activities if a.type in ("page_view", "pricing_page_view")]
    assert len(visits) == len(views) == int(contact.properties["hs_analytics_num_page_views"])
    assert {event["properties"]["hs_url"] for event in visits} == {a.url for a in views}
    occurred = [event["occurredAt"] for event in visits]
    assert occurred == sorted(occurred, reverse=True)


def test_conversion_and_email_summaries_agree_with_the_contacts_events(
    hubspot: RunningHubSpot, client: HubSpot, org: SynthOrg
) -> None:
    person = max(org.people(), key=lambda p: sum(a.type == "form_submission"
                                                 for a in p.activities))
    contact = client.crm.contacts.basic_api.get_by_id(
        person.email, id_property="email",
        properties=["num_conversion_events", "recent_conversion_date", "hs_email_open"])
    events = events_of(hubspot, contact.id)
    forms = [e for e in events if e["eventType"] == "e_submitted_form"]
    registrations = [e for e in events if e["eventType"].endswith("_webinar_registered")]
    opens = [e for e in events if e["eventType"] == "e_opened_email"]
    assert forms
    assert int(contact.properties["num_conversion_events"]) == len(forms) + len(registrations)
    assert contact.properties["recent_conversion_date"] == max(
        e["occurredAt"] for e in forms + registrations)
    assert int(contact.properties["hs_email_open"]) == len(opens)


def test_events_are_filtered_by_time_range_through_the_client(
    hubspot: RunningHubSpot, client: HubSpot, org: SynthOrg
) -> None:
    person = max(org.people(), key=lambda p: len(p.activities))
    contact_id = client.crm.contacts.basic_api.get_by_id(person.email, id_property="email").id
    every = events_of(hubspot, contact_id)
    middle = sorted(event["occurredAt"] for event in every)[len(every) // 2]
    after_middle = client.events.events_api.get_page(
        object_type="contact", object_id=int(contact_id), limit=1000,
        occurred_after=datetime.fromisoformat(middle))
    assert len(after_middle.results) == sum(1 for e in every if e["occurredAt"] > middle)


def test_the_events_api_answers_403_on_a_portal_without_enterprise(
    hubspot: RunningHubSpot, client: HubSpot
) -> None:
    hubspot.emulator.portal.settings.events_enabled = False
    response = client.api_request({"method": "GET", "path": "/events/v3/events",
                                   "qs": {"objectType": "contact"}, "base_url": hubspot.base_url})
    assert response.status_code == 403
    assert response.json()["category"] == "MISSING_SCOPES"


# ---- authentication and scopes ------------------------------------------------------------------


def test_a_wrong_token_answers_401_invalid_authentication(hubspot: RunningHubSpot) -> None:
    with pytest.raises(ContactsApiException) as raised:
        client_for(hubspot, "pat-na1-not-the-token").crm.contacts.basic_api.get_page()
    assert raised.value.status == 401
    assert api_error_body(raised.value)["category"] == "INVALID_AUTHENTICATION"


def test_an_oauth_token_works_until_it_expires(hubspot: RunningHubSpot) -> None:
    minted = client_for(hubspot).oauth.tokens_api.create(
        grant_type="refresh_token", client_id=hubspot.client_id,
        client_secret=hubspot.client_secret, refresh_token=hubspot.refresh_token)
    assert minted.expires_in == 1800
    oauth_client = client_for(hubspot, minted.access_token)
    _, _, headers = oauth_client.crm.contacts.basic_api.get_page_with_http_info(limit=1)
    assert "X-HubSpot-RateLimit-Max" in headers and "X-HubSpot-RateLimit-Daily" not in headers
    hubspot.emulator.clock = lambda: time.time() + 1801
    with pytest.raises(ContactsApiException) as raised:
        oauth_client.crm.contacts.basic_api.get_page(limit=1)
    assert raised.value.status == 401
    assert api_error_body(raised.value)["category"] == "EXPIRED_AUTHENTICATION"


def test_refreshing_with_a_wrong_client_secret_is_refused(hubspot: RunningHubSpot) -> None:
    response = requests.post(f"{hubspot.base_url}/oauth/v1/token", timeout=5, data={
        "grant_type": "refresh_token", "client_id": hubspot.client_id,
        "client_secret": "wrong", "refresh_token": hubspot.refresh_token})
    assert response.status_code == 400
    assert response.json()["status"] == "BAD_CLIENT_SECRET"


def test_a_missing_scope_answers_403_missing_scopes(hubspot: RunningHubSpot,
                                                     client: HubSpot) -> None:
    hubspot.credentials.granted_scopes.discard("crm.objects.contacts.write")
    client.crm.contacts.basic_api.get_page(limit=1)
    with pytest.raises(ContactsApiException) as raised:
        client.crm.contacts.basic_api.update(first_contact_id(client),
                                             {"properties": {"jobtitle": "x"}})
    assert raised.value.status == 403
    body = api_error_body(raised.value)
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.write"]


# ---- rate limits and faults ------------------------------------------------------------------------


def test_every_response_carries_the_rate_limit_headers_counting_down(client: HubSpot) -> None:
    _, _, first = client.crm.contacts.basic_api.get_page_with_http_info(limit=1)
    _, _, second = client.crm.owners.owners_api.get_page_with_http_info()
    assert all(name in first for name in RATE_HEADERS)
    assert first["X-HubSpot-RateLimit-Max"] == "100"
    assert first["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert int(second["X-HubSpot-RateLimit-Remaining"]) == \
        int(first["X-HubSpot-RateLimit-Remaining"]) - 1
    assert int(second["X-HubSpot-RateLimit-Daily-Remaining"]) == \
        int(first["X-HubSpot-RateLimit-Daily-Remaining"]) - 1


def test_requests_past_the_ten_second_limit_answer_429_with_hubspot_body(org: SynthOrg) -> None:
    with start_hubspot(org=org, rate_limit=(5, 10.0)) as running:
        client = client_for(running)
        for _ in range(5):
            client.crm.contacts.basic_api.get_page(limit=1)
        with pytest.raises(ContactsApiException) as raised:
            client.crm.contacts.basic_api.get_page(limit=1)
        assert raised.value.status == 429
        body = api_error_body(raised.value)
        assert body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert body["errorType"] == "RATE_LIMIT"
        assert body["message"] == "You have reached your ten_secondly_rolling limit."
        assert raised.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"


def test_an_injected_429_reaches_the_client_as_api_exception_with_the_body(
    hubspot: RunningHubSpot, client: HubSpot
) -> None:
    hubspot.emulator.faults.rate_limited = 1.0
    with pytest.raises(ContactsApiException) as raised:
        client.crm.contacts.basic_api.get_page(limit=1)
    assert raised.value.status == 429
    assert api_error_body(raised.value)["policyName"] == "TEN_SECONDLY_ROLLING"
    assert hubspot.emulator.log.entries()[-1].fault == "rate_limited"


def test_injected_server_errors_answer_502_and_503_with_json(hubspot: RunningHubSpot) -> None:
    hubspot.emulator.faults.server_error = 1.0
    responses = [raw(hubspot, "GET", "/crm/v3/objects/contacts") for _ in range(2)]
    assert sorted(response.status_code for response in responses) == [502, 503]
    assert all(response.json()["status"] == "error" for response in responses)


def test_a_dropped_connection_raises_a_connection_error(hubspot: RunningHubSpot,
                                                        client: HubSpot) -> None:
    hubspot.emulator.faults.dropped = 1.0
    with pytest.raises(urllib3.exceptions.HTTPError):
        client.crm.contacts.basic_api.get_page(limit=1)
    assert hubspot.emulator.log.count(status=0) >= 1


def test_the_request_log_records_method_path_and_status(hubspot: RunningHubSpot,
                                                        client: HubSpot) -> None:
    hubspot.emulator.log.clear()
    client.crm.contacts.basic_api.get_page(limit=1)
    with pytest.raises(ContactsApiException):
        client.crm.contacts.basic_api.get_by_id("424242424")
    entries = [(e.method, e.path, e.status) for e in hubspot.emulator.log.entries()]
    assert entries == [("GET", "/crm/v3/objects/contacts", 200),
                       ("GET", "/crm/v3/objects/contacts/424242424", 404)]


# ---- change notifications ---------------------------------------------------------------------------


class WebhookReceiver(Emulator):
    """A subscriber endpoint that records every delivery and answers with the given statuses."""

    def __init__(self, statuses: tuple[int, ...] = (), holds: bool = False) -> None:
        super().__init__()
        self.deliveries: list[tuple[str, str, dict[str, str]]] = []
        self.released = threading.Event()  # a holding subscriber answers once this is set
        if not holds:
            self.released.set()
        self._statuses = list(statuses)
        self._lock = threading.Lock()

    def dispatch(self, request: Request) -> Response:
        self.released.wait(timeout=10)
        with self._lock:
            self.deliveries.append((request.url, request.get_data(as_text=True),
                                    dict(request.headers)))
            status = self._statuses.pop(0) if self._statuses else 204
        return Response(status=status)

    def events(self) -> list[dict]:
        with self._lock:
            return [event for _, body, _ in self.deliveries for event in json.loads(body)]


@pytest.fixture
def receiver_and_hubspot(org: SynthOrg, request: pytest.FixtureRequest):
    receiver = WebhookReceiver(*getattr(request, "param", ()))
    receiver_server = EmulatorServer(receiver).start()
    url = f"{receiver_server.base_url}/webhooks/hubspot"
    try:
        with start_hubspot(org=org, webhook_url=url) as running:
            yield receiver, url, running
    finally:
        receiver_server.stop()


def test_an_api_write_sends_a_signed_webhook_naming_the_app(receiver_and_hubspot) -> None:
    receiver, url, running = receiver_and_hubspot
    client = client_for(running)
    contact_id = first_contact_id(client)
    client.crm.contacts.basic_api.update(contact_id, {"properties": {"jobtitle": "CRO"}})
    assert running.emulator.webhooks.flush(5)
    delivered_url, body, headers = receiver.deliveries[0]
    assert delivered_url == url
    assert Signature.is_valid(
        signature=headers["X-Hubspot-Signature-V3"], client_secret=running.client_secret,
        request_body=body, http_uri=url, http_method="POST", signature_version="v3",
        timestamp=headers["X-Hubspot-Request-Timestamp"])
    events = json.loads(body)
    assert isinstance(events, list)
    assert [(e["subscriptionType"], e["objectId"], e["propertyName"], e["propertyValue"])
            for e in events] == [("contact.propertyChange", int(contact_id), "jobtitle", "CRO")]
    assert events[0]["changeSource"] == "INTEGRATION"
    assert events[0]["sourceId"] == str(running.app_id)
    assert events[0]["portalId"] == running.portal_id and events[0]["attemptNumber"] == 0


def test_a_write_that_changes_nothing_sends_no_webhook(receiver_and_hubspot) -> None:
    receiver, _, running = receiver_and_hubspot
    client = client_for(running)
    contact = client.crm.contacts.basic_api.get_page(limit=1, properties=["jobtitle"]).results[0]
    client.crm.contacts.basic_api.update(
        contact.id, {"properties": {"jobtitle": contact.properties["jobtitle"]}})
    assert running.emulator.webhooks.flush(5)
    assert receiver.deliveries == []


def test_creation_and_deletion_send_their_own_events(receiver_and_hubspot) -> None:
    receiver, _, running = receiver_and_hubspot
    client = client_for(running)
    created = client.crm.contacts.basic_api.create({"properties": {"email": "w@example.org"}})
    client.crm.contacts.basic_api.archive(created.id)
    assert running.emulator.webhooks.flush(5)
    kinds = [(e["subscriptionType"], e.get("propertyName")) for e in receiver.events()]
    assert kinds == [("contact.creation", None), ("contact.propertyChange", "email"),
                     ("contact.deletion", None)]


def test_webhook_batches_hold_at_most_100_events(receiver_and_hubspot) -> None:
    receiver, _, running = receiver_and_hubspot
    client = client_for(running)
    ids = [c.id for c in client.crm.contacts.basic_api.get_page(limit=100).results]
    client.crm.contacts.batch_api.update({"inputs": [
        {"id": i, "properties": {"jobtitle": f"Title {i}", "hs_lead_status": "OPEN_DEAL"}}
        for i in ids]})
    assert running.emulator.webhooks.flush(5)
    sizes = [len(json.loads(body)) for _, body, _ in receiver.deliveries]
    assert max(sizes) <= 100 and len(sizes) >= 2
    changed_titles = {e["objectId"] for e in receiver.events() if e["propertyName"] == "jobtitle"}
    assert changed_titles == {int(i) for i in ids}


@pytest.mark.parametrize("receiver_and_hubspot", [((500, 503),)], indirect=True)
def test_a_failed_delivery_is_retried_with_the_next_attempt_number(receiver_and_hubspot) -> None:
    receiver, _, running = receiver_and_hubspot
    client = client_for(running)
    client.crm.contacts.basic_api.update(first_contact_id(client),
                                         {"properties": {"jobtitle": "Retry"}})
    assert running.emulator.webhooks.flush(10)
    attempts = [json.loads(body)[0]["attemptNumber"] for _, body, _ in receiver.deliveries]
    assert attempts == [0, 1, 2]
    assert [d.status for d in running.emulator.webhooks.deliveries()] == [500, 503, 204]


@pytest.mark.parametrize("receiver_and_hubspot", [((), True)], indirect=True)
def test_a_slow_subscriber_never_delays_the_api_response(receiver_and_hubspot) -> None:
    receiver, _, running = receiver_and_hubspot
    client = client_for(running)
    contact_id = first_contact_id(client)
    client.crm.contacts.basic_api.update(contact_id, {"properties": {"jobtitle": "Fast"}})
    assert receiver.deliveries == []  # the API answered while the subscriber had not
    receiver.released.set()
    assert running.emulator.webhooks.flush(5)
    assert len(receiver.deliveries) == 1


def test_simulated_activity_updates_summaries_and_notifies_as_automation(
    receiver_and_hubspot, org: SynthOrg
) -> None:
    receiver, _, running = receiver_and_hubspot
    client = client_for(running)
    now = org.spec.now + timedelta(days=1)
    simulated = running.emulator.simulate_activity(5, now, seed=3)
    assert running.emulator.webhooks.flush(5)
    touched = {activity.person_key for activity in simulated}
    emails = [org.person(key).email for key in touched]
    contacts = client.crm.contacts.batch_api.read({
        "inputs": [{"id": email} for email in emails], "idProperty": "email",
        "properties": ["lastmodifieddate", "hs_analytics_num_page_views"]}).results
    assert len(contacts) == len(touched)
    assert all(c.properties["lastmodifieddate"] >= now.strftime("%Y-%m-%dT%H:%M:%S")
               for c in contacts)
    events = receiver.events()
    assert {e["objectId"] for e in events} <= {int(c.id) for c in contacts}
    assert {e["changeSource"] for e in events} <= {"AUTOMATION", "CRM_UI"}
    views = ("page_view", "pricing_page_view")
    viewer = next(a.person_key for a in simulated if a.type in views)
    person = org.person(viewer)
    contact = client.crm.contacts.basic_api.get_by_id(
        person.email, id_property="email", properties=["hs_analytics_num_page_views"])
    expected = sum(a.type in views for a in person.activities) + sum(
        a.type in views for a in simulated if a.person_key == viewer)
    assert contact.properties["hs_analytics_num_page_views"] == str(expected)
    assert any(e["objectId"] == int(contact.id) and e["propertyValue"] == str(expected)
               and e["propertyName"] == "hs_analytics_num_page_views" for e in events)


def leadq_reads(receiver: WebhookReceiver, running: RunningHubSpot) -> list[WebhookBatch]:
    """What leadq's webhook parser makes of every delivery the receiver got (each must verify)."""
    config = HubSpotWebhookConfig(client_secret=running.client_secret, app_id="0")
    batches = []
    for url, body, headers in receiver.deliveries:
        request = WebhookRequest(body=body.encode(), headers=headers, uri=url)
        parsed = parse_hubspot(request, config, datetime.now(UTC))
        assert isinstance(parsed, WebhookBatch), parsed
        batches.append(parsed)
    return batches


def notices(receiver: WebhookReceiver, running: RunningHubSpot) -> list[Notice]:
    return [notice for batch in leadq_reads(receiver, running) for notice in batch.notices]


def events_of_type(receiver: WebhookReceiver, subscription_type: str) -> list[dict]:
    return [e for e in receiver.events() if e["subscriptionType"] == subscription_type]


COMMON_EVENT_FIELDS = {"eventId", "subscriptionId", "portalId", "appId", "occurredAt",
                       "subscriptionType", "attemptNumber", "changeSource"}


def test_archiving_contacts_in_a_batch_sends_deletions_leadq_forgets(receiver_and_hubspot) -> None:
    receiver, _, running = receiver_and_hubspot
    client = client_for(running)
    ids = [c.id for c in client.crm.contacts.basic_api.get_page(limit=2).results]
    client.crm.contacts.batch_api.archive({"inputs": [{"id": i} for i in ids]})
    assert running.emulator.webhooks.flush(5)
    deletions = events_of_type(receiver, "contact.deletion")
    assert [(e["objectId"], e["changeFlag"]) for e in deletions] == [
        (int(i), "DELETED") for i in ids]
    assert [n.forget for n in notices(receiver, running)] == [(i,) for i in ids]


def test_a_restored_contact_is_listed_again_and_sends_a_restore_event(receiver_and_hubspot) -> None:
    receiver, _, running = receiver_and_hubspot
    client = client_for(running)
    contact_id = first_contact_id(client)
    client.crm.contacts.basic_api.archive(contact_id)
    running.emulator.restore_contact(int(contact_id))
    assert running.emulator.webhooks.flush(5)
    assert client.crm.contacts.basic_api.get_by_id(contact_id).id == contact_id
    restore = events_of_type(receiver, "contact.restore")
    assert len(restore) == 1
    assert restore[0]["objectId"] == int(contact_id) and restore[0]["changeSource"] == "CRM_UI"
    assert set(restore[0]) >= COMMON_EVENT_FIELDS
    assert [n.rescore for n in notices(receiver, running) if n.rescore] == [(contact_id,)]


def test_restoring_a_contact_whose_email_was_taken_meanwhile_is_refused(
    receiver_and_hubspot,
) -> None:
    _, _, running = receiver_and_hubspot
    client = client_for(running)
    contact = client.crm.contacts.basic_api.get_page(limit=1, properties=["email"]).results[0]
    client.crm.contacts.basic_api.archive(contact.id)
    client.crm.contacts.basic_api.create({"properties": {"email": contact.properties["email"]}})
    with pytest.raises(ApiError) as refused:
        running.emulator.restore_contact(int(contact.id))
    assert refused.value.status == 409


def test_merging_contacts_keeps_the_primary_archives_the_other_and_sends_a_merge_event(
    receiver_and_hubspot,
) -> None:
    receiver, _, running = receiver_and_hubspot
    client = client_for(running)
    primary = client.crm.contacts.basic_api.create({"properties": {"email": "keep@example.org"}})
    merged = client.crm.contacts.basic_api.create(
        {"properties": {"email": "gone@example.org", "jobtitle": "VP Sales"}})
    answer = raw(running, "POST", "/crm/v3/objects/contacts/merge",
                 json={"primaryObjectId": primary.id, "objectIdToMerge": merged.id})
    assert answer.status_code == 200 and answer.json()["id"] == primary.id
    survivor = client.crm.contacts.basic_api.get_by_id(primary.id, properties=["email", "jobtitle"])
    assert survivor.properties["email"] == "keep@example.org"
    assert survivor.properties["jobtitle"] == "VP Sales"  # a blank on the primary is filled
    archived = client.crm.contacts.basic_api.get_by_id(merged.id, archived=True)
    assert archived.archived
    assert running.emulator.webhooks.flush(5)
    [merge] = events_of_type(receiver, "contact.merge")
    assert set(merge) >= COMMON_EVENT_FIELDS
    assert (merge["objectId"], merge["primaryObjectId"], merge["mergedObjectIds"],
            merge["newObjectId"]) == (int(primary.id), int(primary.id), [int(merged.id)],
                                      int(primary.id))
    assert events_of_type(receiver, "contact.deletion") == []
    assert notices(receiver, running)[-1].forget == (merged.id,)


def test_merging_an_unknown_contact_answers_404(receiver_and_hubspot) -> None:
    _, _, running = receiver_and_hubspot
    answer = raw(running, "POST", "/crm/v3/objects/contacts/merge",
                 json={"primaryObjectId": first_contact_id(client_for(running)),
                       "objectIdToMerge": "424242424"})
    assert answer.status_code == 404


def test_associating_a_contact_with_a_company_sends_an_event_for_each_side(
    receiver_and_hubspot,
) -> None:
    receiver, _, running = receiver_and_hubspot
    client = client_for(running)
    contact = client.crm.contacts.basic_api.create({"properties": {"email": "a@example.org"}})
    company_id = client.crm.companies.basic_api.get_page(limit=1).results[0].id
    created = client.crm.associations.v4.basic_api.create_default(
        "contacts", contact.id, "companies", company_id)
    assert created.results[0].association_spec.association_type_id == 279
    linked = client.crm.associations.v4.basic_api.get_page("contacts", contact.id, "companies")
    assert [result.to_object_id for result in linked.results] == [company_id]
    assert running.emulator.webhooks.flush(5)
    sides = [(e["subscriptionType"], e["associationType"], e["fromObjectId"], e["toObjectId"],
              e["associationRemoved"]) for e in receiver.events()
             if e["subscriptionType"].endswith(".associationChange")]
    assert sides == [
        ("contact.associationChange", "CONTACT_TO_COMPANY", int(contact.id), int(company_id),
         False),
        ("company.associationChange", "COMPANY_TO_CONTACT", int(company_id), int(contact.id),
         False),
    ]
    assert (contact.id,) in [n.rescore for n in notices(receiver, running)]


def test_a_company_update_sends_company_property_changes_leadq_expands(
    receiver_and_hubspot,
) -> None:
    receiver, _, running = receiver_and_hubspot
    client = client_for(running)
    company_ids = [c.id for c in client.crm.companies.basic_api.get_page(limit=2).results]
    client.crm.companies.basic_api.update(company_ids[0], {"properties": {"city": "Lyon"}})
    client.crm.companies.batch_api.update({"inputs": [
        {"id": company_ids[1], "properties": {"industry": "Robotics"}}]})
    assert running.emulator.webhooks.flush(5)
    changes = [(e["objectId"], e["propertyName"], e["propertyValue"])
               for e in events_of_type(receiver, "company.propertyChange")]
    assert changes == [(int(company_ids[0]), "city", "Lyon"),
                       (int(company_ids[1]), "industry", "Robotics")]
    assert [n.expand_companies for n in notices(receiver, running)] == [
        (company_ids[0],), (company_ids[1],)]


def test_a_replayed_delivery_arrives_byte_for_byte_and_dedupes_to_the_same_keys(
    receiver_and_hubspot,
) -> None:
    receiver, _, running = receiver_and_hubspot
    client = client_for(running)
    client.crm.contacts.basic_api.update(first_contact_id(client),
                                         {"properties": {"jobtitle": "Twice"}})
    webhooks = running.emulator.webhooks
    assert webhooks.flush(5)
    replayed = webhooks.replay(webhooks.deliveries()[0])
    assert replayed.succeeded
    (_, first_body, first_headers), (_, second_body, second_headers) = receiver.deliveries
    assert second_body == first_body
    signed = ("X-Hubspot-Signature-V3", "X-Hubspot-Request-Timestamp")
    assert [second_headers[name] for name in signed] == [first_headers[name] for name in signed]
    first, second = leadq_reads(receiver, running)
    assert [n.dedupe_key for n in first.notices] == [n.dedupe_key for n in second.notices]


# ---- seeding --------------------------------------------------------------------------------------


def test_the_seeded_portal_holds_every_person_company_and_owner(hubspot: RunningHubSpot,
                                                                org: SynthOrg) -> None:
    report = hubspot.seed_report
    assert report is not None
    assert (report.contacts, report.companies, report.owners) == (
        LEADS, org.company_count, len(org.owners))
    assert report.activities == sum(len(p.activities) for p in org.people())
    kinds = {p.kind for p in org.people()}
    assert kinds == {"lead", "contact"}
    assert hubspot.store.count("contacts") == LEADS
