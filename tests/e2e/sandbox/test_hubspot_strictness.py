"""The HubSpot emulator refuses what HubSpot refuses: bodies and queries that do not fit the shapes
HubSpot's OpenAPI specs declare answer 400 VALIDATION_ERROR worded as HubSpot's parser words it;
each endpoint asks for the scope its spec names; the OAuth token answer is shaped as HubSpot's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.hubspot import RunningHubSpot, start_hubspot
from sandbox.orgs import OrgSpec, SynthOrg

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def hubspot() -> Iterator[RunningHubSpot]:
    with start_hubspot(org=SynthOrg(OrgSpec(leads=20, seed=3)), search_per_second=1_000) as running:
        yield running


def send(running: RunningHubSpot, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {running.access_token}"}
    return requests.request(method, f"{running.base_url}{path}", headers=headers, timeout=10,
                            **kwargs)


def refusal(response: requests.Response) -> str:
    """HubSpot's 400 for a body that does not fit: its message, after the body position."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "error"
    assert body["category"] == "VALIDATION_ERROR"
    assert body["correlationId"]
    message = str(body["message"])
    assert message.startswith("Invalid input JSON on line 1, column ")
    return message.split(": ", 1)[1]


ENUMERATION = {"name": "leadq_probe_grade", "label": "Grade", "type": "enumeration",
               "fieldType": "select", "groupName": "contactinformation"}


@pytest.mark.refused_by_hubspot
def test_a_property_option_without_hidden_is_refused(hubspot: RunningHubSpot) -> None:
    body = {**ENUMERATION, "options": [{"label": "A", "value": "A", "displayOrder": 0}]}
    message = refusal(send(hubspot, "POST", "/crm/v3/properties/contacts", json=body))
    assert message.startswith(
        "Cannot build OptionInput, some of required attributes are not set [hidden]")
    assert 'PropertyCreate["options"]->java.util.ArrayList[0]' in message


def test_a_property_whose_options_say_hidden_is_created(hubspot: RunningHubSpot) -> None:
    body = {**ENUMERATION, "name": "leadq_probe_label",
            "options": [{"label": "A", "value": "A", "displayOrder": 0, "hidden": False}]}
    response = send(hubspot, "POST", "/crm/v3/properties/contacts", json=body)
    assert response.status_code == 201
    assert response.json()["options"][0]["hidden"] is False


@pytest.mark.refused_by_hubspot
def test_a_property_without_a_field_type_is_refused_naming_it(hubspot: RunningHubSpot) -> None:
    body = {key: value for key, value in ENUMERATION.items() if key != "fieldType"}
    message = refusal(send(hubspot, "POST", "/crm/v3/properties/contacts", json=body))
    assert message.startswith(
        "Cannot build PropertyCreate, some of required attributes are not set [fieldType]")


@pytest.mark.refused_by_hubspot
def test_a_property_type_hubspot_does_not_know_is_refused(hubspot: RunningHubSpot) -> None:
    body = {**ENUMERATION, "type": "text"}
    message = refusal(send(hubspot, "POST", "/crm/v3/properties/contacts", json=body))
    assert 'from String "text": not one of the values accepted for Enum class' in message


@pytest.mark.refused_by_hubspot
def test_a_search_with_after_null_is_refused(hubspot: RunningHubSpot) -> None:
    message = refusal(send(hubspot, "POST", "/crm/v3/objects/companies/search",
                           json={"limit": 10, "after": None}))
    assert message.startswith(
        "Cannot deserialize value of type `java.lang.String` from Null value")
    assert 'PublicObjectSearchRequest["after"]' in message


def test_a_search_without_after_reads_the_first_page(hubspot: RunningHubSpot) -> None:
    response = send(hubspot, "POST", "/crm/v3/objects/companies/search", json={"limit": 10})
    assert response.status_code == 200
    assert response.json()["results"]


@pytest.mark.refused_by_hubspot
def test_a_search_field_hubspot_does_not_declare_is_refused(hubspot: RunningHubSpot) -> None:
    message = refusal(send(hubspot, "POST", "/crm/v3/objects/contacts/search",
                           json={"filterGroups": [], "offset": 200}))
    assert message.startswith('Unrecognized field "offset" (class PublicObjectSearchRequest), '
                              "not marked as ignorable")


@pytest.mark.refused_by_hubspot
def test_a_search_operator_hubspot_does_not_know_is_refused(hubspot: RunningHubSpot) -> None:
    body = {"filterGroups": [{"filters": [
        {"propertyName": "email", "operator": "STARTS_WITH", "value": "a"}]}]}
    message = refusal(send(hubspot, "POST", "/crm/v3/objects/contacts/search", json=body))
    assert 'from String "STARTS_WITH": not one of the values accepted' in message
    assert "NOT_HAS_PROPERTY" in message


@pytest.mark.refused_by_hubspot
def test_a_filter_value_sent_as_a_number_is_refused(hubspot: RunningHubSpot) -> None:
    body = {"filterGroups": [{"filters": [
        {"propertyName": "hs_analytics_num_page_views", "operator": "GT", "value": 3}]}]}
    message = refusal(send(hubspot, "POST", "/crm/v3/objects/contacts/search", json=body))
    assert message.startswith(
        "Cannot deserialize value of type `java.lang.String` from Integer value")


@pytest.mark.refused_by_hubspot
def test_a_batch_update_input_without_properties_is_refused(hubspot: RunningHubSpot) -> None:
    message = refusal(send(hubspot, "POST", "/crm/v3/objects/contacts/batch/update",
                           json={"inputs": [{"id": "1"}]}))
    assert message.startswith("Cannot build SimplePublicObjectBatchInput, some of required "
                              "attributes are not set [properties]")


@pytest.mark.refused_by_hubspot
def test_a_batch_read_of_ids_sent_as_numbers_is_refused(hubspot: RunningHubSpot) -> None:
    message = refusal(send(hubspot, "POST", "/crm/v3/objects/contacts/batch/read",
                           json={"inputs": [{"id": 1}], "properties": ["email"]}))
    assert "SimplePublicObjectId[\"id\"]" in message


@pytest.mark.refused_by_hubspot
def test_an_association_batch_read_without_inputs_is_refused(hubspot: RunningHubSpot) -> None:
    message = refusal(send(hubspot, "POST",
                           "/crm/v4/associations/contacts/companies/batch/read", json={}))
    assert message.startswith("Cannot build BatchInputPublicFetchAssociationsBatchRequest, "
                              "some of required attributes are not set [inputs]")


@pytest.mark.refused_by_hubspot
def test_a_property_group_without_a_label_is_refused(hubspot: RunningHubSpot) -> None:
    message = refusal(send(hubspot, "POST", "/crm/v3/properties/contacts/groups",
                           json={"name": "leadq_probe"}))
    assert message.startswith(
        "Cannot build PropertyGroupCreate, some of required attributes are not set [label]")


@pytest.mark.refused_by_hubspot
@pytest.mark.parametrize(("path", "wrong"), [
    ("/crm/v3/objects/contacts?limit=ten", "limit='ten': expected a integer"),
    ("/crm/v3/objects/contacts?archived=maybe", "archived='maybe': expected a boolean"),
    ("/crm/v3/objects/contacts?sort=email", "Unknown query parameter 'sort'"),
    ("/crm/v3/owners/?limit=5&limit=6", "Query parameter 'limit' takes one value"),
    ("/crm/v3/owners/1?idProperty=email", "idProperty='email': expected one of id, userId"),
])
def test_a_query_hubspot_does_not_declare_is_refused(
    hubspot: RunningHubSpot, path: str, wrong: str
) -> None:
    response = send(hubspot, "GET", path)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert wrong in response.json()["message"]


def test_the_events_api_asks_only_for_the_oauth_scope(hubspot: RunningHubSpot) -> None:
    granted = set(hubspot.credentials.granted_scopes)
    hubspot.credentials.granted_scopes.intersection_update({"oauth"})
    try:
        allowed = send(hubspot, "GET", "/events/v3/events/?objectType=contact&limit=1")
        hubspot.credentials.granted_scopes.clear()
        refused = send(hubspot, "GET", "/events/v3/events/?objectType=contact&limit=1")
    finally:
        hubspot.credentials.granted_scopes.update(granted)
    assert allowed.status_code == 200
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["context"]["requiredGranularScopes"] == ["oauth"]


def test_the_oauth_token_answer_is_shaped_as_hubspots(hubspot: RunningHubSpot) -> None:
    response = requests.post(f"{hubspot.base_url}/oauth/v1/token", timeout=5, data={
        "grant_type": "refresh_token", "client_id": hubspot.client_id,
        "client_secret": hubspot.client_secret, "refresh_token": hubspot.refresh_token})
    assert response.status_code == 200
    token = response.json()
    # oauth.json, AccessTokenResponse: these five are required; token_use is "access_token"
    assert {"access_token", "expires_in", "refresh_token", "token_type", "token_use"} <= set(token)
    assert token["token_use"] == "access_token"
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 1800


def test_an_answer_missing_a_field_hubspot_requires_is_found_by_the_answer_check() -> None:
    from sandbox.hubspot import response_shapes as answers
    from sandbox.hubspot.validation import answer_problem

    owner = {"id": "7", "type": "PERSON", "createdAt": "2026-01-01T00:00:00.000Z",
             "updatedAt": "2026-01-01T00:00:00.000Z", "archived": False}
    assert answer_problem(answers.PublicOwner, 200, json.dumps(owner)) == ""
    without_type = {key: value for key, value in owner.items() if key != "type"}
    assert "type: Field required" in answer_problem(answers.PublicOwner, 200,
                                                    json.dumps(without_type))
    assert "userId: Input should be a valid integer" in answer_problem(
        answers.PublicOwner, 200, json.dumps({**owner, "userId": "12"}))
    error = {"status": "error", "message": "x", "correlationId": "c"}
    assert "category: Field required" in answer_problem(answers.PublicOwner, 404,
                                                        json.dumps(error))


@pytest.mark.refused_by_hubspot
@pytest.mark.parametrize(("field", "value", "wrong"), [
    ("grant_type", "password", "grant_type='password': expected one of authorization_code"),
    ("access_type", "offline", "Unknown form field 'access_type'"),
])
def test_a_token_request_hubspot_does_not_declare_is_refused(
    hubspot: RunningHubSpot, field: str, value: str, wrong: str
) -> None:
    form = {"grant_type": "refresh_token", "client_id": hubspot.client_id,
            "client_secret": hubspot.client_secret, "refresh_token": hubspot.refresh_token,
            field: value}
    response = requests.post(f"{hubspot.base_url}/oauth/v1/token", timeout=5, data=form)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert wrong in response.json()["message"]


@pytest.mark.refused_by_hubspot
def test_an_in_filter_of_more_than_100_values_is_refused(hubspot: RunningHubSpot) -> None:
    values = [str(number) for number in range(101)]
    body = {"filterGroups": [{"filters": [
        {"propertyName": "hs_object_id", "operator": "NOT_IN", "values": values}]}]}
    response = send(hubspot, "POST", "/crm/v3/objects/contacts/search", json=body)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert "NOT_IN takes at most 100 values, got 101" in response.json()["message"]
    body["filterGroups"][0]["filters"][0]["values"] = values[:100]
    assert send(hubspot, "POST", "/crm/v3/objects/contacts/search", json=body).status_code == 200
