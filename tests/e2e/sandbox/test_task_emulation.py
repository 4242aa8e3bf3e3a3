"""Both emulators hold follow-up tasks the way their CRMs do, driven by the real clients: HubSpot's
tasks object (0-27) with its required due date, the task→contact association (204) and the
completion date stamped on completion; Salesforce's Task with a date-only ActivityDate and the
read-only IsClosed and CompletedDateTime that follow its status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hubspot import HubSpot
from hubspot.crm.objects.tasks import ApiException as TasksApiException
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sandbox.hubspot import RunningHubSpot, start_hubspot
from sandbox.salesforce import RunningSalesforce, start_salesforce

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def hubspot() -> Iterator[RunningHubSpot]:
    with start_hubspot(leads=20, seed=5) as running:
        yield running


@pytest.fixture(scope="module")
def salesforce() -> Iterator[RunningSalesforce]:
    with start_salesforce(leads=20, seed=5) as running:
        yield running


def hubspot_client(running: RunningHubSpot) -> HubSpot:
    return HubSpot(access_token=running.access_token, host=running.base_url)


def first_contact_and_owner(client: HubSpot) -> tuple[str, str]:
    contact = client.crm.contacts.basic_api.get_page(limit=1).results[0]
    owner = client.crm.owners.owners_api.get_page(limit=1).results[0]
    return contact.id, owner.id


def test_a_hubspot_task_is_created_associated_with_its_contact_and_found_from_the_contact(
    hubspot: RunningHubSpot,
) -> None:
    client = hubspot_client(hubspot)
    contact_id, owner_id = first_contact_and_owner(client)
    created = client.crm.objects.tasks.basic_api.create({
        "properties": {
            "hs_timestamp": "2026-12-07T13:00:00.000Z", "hs_task_subject": "Follow up",
            "hs_task_body": "Why: demo request", "hs_task_status": "NOT_STARTED",
            "hs_task_priority": "HIGH", "hubspot_owner_id": owner_id,
        },
        "associations": [{"to": {"id": contact_id}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}]}],
    })
    linked = client.crm.associations.v4.batch_api.get_page(
        "contacts", "tasks", {"inputs": [{"id": contact_id}]})
    assert [str(to.to_object_id) for to in linked.results[0].to] == [created.id]
    assert created.properties["hs_task_status"] == "NOT_STARTED"
    assert not created.properties.get("hs_task_completion_date")


def test_a_hubspot_task_without_a_due_date_is_refused(hubspot: RunningHubSpot) -> None:
    client = hubspot_client(hubspot)
    with pytest.raises(TasksApiException) as refused:
        client.crm.objects.tasks.basic_api.create({"properties": {"hs_task_subject": "No due"}})
    assert refused.value.status == 400
    assert "hs_timestamp" in refused.value.body


def test_completing_a_hubspot_task_stamps_its_completion_date_unless_one_is_given(
    hubspot: RunningHubSpot,
) -> None:
    client = hubspot_client(hubspot)
    due = {"hs_timestamp": "2026-12-07T13:00:00.000Z", "hs_task_subject": "Call back"}
    stamped = client.crm.objects.tasks.basic_api.create({"properties": due})
    dated = client.crm.objects.tasks.basic_api.create({"properties": due})
    client.crm.objects.tasks.basic_api.update(
        stamped.id, {"properties": {"hs_task_status": "COMPLETED"}})
    client.crm.objects.tasks.basic_api.update(dated.id, {"properties": {
        "hs_task_status": "COMPLETED", "hs_task_completion_date": "2026-12-08T09:30:00.000Z"}})
    read = client.crm.objects.tasks.batch_api.read({
        "inputs": [{"id": stamped.id}, {"id": dated.id}],
        "properties": ["hs_task_completion_date"]})
    dates = {task.id: task.properties["hs_task_completion_date"] for task in read.results}
    assert dates[dated.id].startswith("2026-12-08T09:30:00")
    assert dates[stamped.id]


def salesforce_client(running: RunningSalesforce) -> Salesforce:
    return Salesforce(username=running.username, password=running.password,
                      security_token=running.security_token, session=running.session())


def test_a_salesforce_task_closes_with_a_completion_time_and_reopens_without_one(
    salesforce: RunningSalesforce,
) -> None:
    sf = salesforce_client(salesforce)
    lead = sf.query("SELECT Id FROM Lead LIMIT 1")["records"][0]
    user = sf.query("SELECT Id FROM User WHERE IsActive = true LIMIT 1")["records"][0]
    created = sf.Task.create({"WhoId": lead["Id"], "OwnerId": user["Id"],
                              "Subject": "Follow up", "ActivityDate": "2026-12-07"})
    task_id = created["id"]
    fresh = sf.Task.get(task_id)
    assert (fresh["Status"], fresh["Priority"], fresh["IsClosed"]) == (
        "Not Started", "Normal", False)
    assert fresh["CompletedDateTime"] is None
    sf.Task.update(task_id, {"Status": "Completed"})
    closed = sf.Task.get(task_id)
    assert closed["IsClosed"] is True and closed["CompletedDateTime"]
    sf.Task.update(task_id, {"Status": "In Progress"})
    assert sf.Task.get(task_id)["CompletedDateTime"] is None


def test_a_salesforce_task_due_date_must_be_a_date_and_its_closure_is_read_only(
    salesforce: RunningSalesforce,
) -> None:
    sf = salesforce_client(salesforce)
    lead = sf.query("SELECT Id FROM Lead LIMIT 1")["records"][0]
    with pytest.raises(SalesforceMalformedRequest):
        sf.Task.create({"WhoId": lead["Id"], "ActivityDate": "2026-12-07T13:00:00Z"})
    with pytest.raises(SalesforceMalformedRequest):
        sf.Task.create({"WhoId": lead["Id"], "IsClosed": True})
