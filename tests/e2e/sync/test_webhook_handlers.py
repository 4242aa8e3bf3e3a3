"""The Lambda handlers as AWS runs them: the real `sync.handlers` functions given API Gateway HTTP
API, SQS and EventBridge events, with DynamoDB state, the idempotency table, the SQS queue and the
secrets parameter on moto's server, and a HubSpot sandbox over HTTP as the CRM."""

from __future__ import annotations

import io
import json
import multiprocessing
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_events import DeployedAws, http_api_event, scheduled_event, sqs_event
from aws_lambda_powertools.utilities import parameters
from crm_sandboxes import EXAMPLES, Sandbox, sandbox
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInput
from moto_aws import moto_server

from connectors.retry import RetrySettings
from sandbox.hubspot.webhooks import sign_v3
from sandbox.salesforce.outbound import OutboundSettings, notifications_envelope
from sandbox.server import FaultPlan
from sync import handlers
from sync.secrets import with_secrets
from sync.services import Services, use_services
from sync.settings import load_settings
from sync.state_url import open_state_store
from sync.webhooks import CALLOUT_SIGNATURE, CALLOUT_TIMESTAMP, callout_signature

pytestmark = pytest.mark.e2e

BASE_URL = "https://leadq.example.com"
ORG_ID = "00D5g000004FakeEAA"
CALLOUT_SECRET = "flow-callout-shared-secret-9f2"
SENIOR = ("VP", "Vice President", "Director", "Head", "Chief", "CEO", "CFO", "COO", "CTO", "CRO")


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server(one_request_at_a_time=True) as endpoint:
        yield endpoint


@dataclass
class Deployment:
    box: Sandbox
    aws: DeployedAws

    def tracked(self, *lead_ids: str) -> dict[str, Any]:
        store = open_state_store(self.aws.state_url)
        try:
            return store.last_written("hubspot", lead_ids)
        finally:
            store.close()

    def contact_ids(self) -> list[str]:
        return sorted(self.box.state(), key=int)


@pytest.fixture
def deployed(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    """A HubSpot sandbox and a deployed stage: the functions' environment as serverless.yml sets
    it, the CRM credentials and webhook secrets only in the secrets parameter."""
    with sandbox("hubspot", 200, tmp_path, ending_now=True) as box:
        box.runtime().close()  # creates leadq's properties, as `leadq setup` does
        running = box.running
        aws = DeployedAws.create(moto_endpoint, secrets={
            "hubspot_access_token": running.access_token,
            "LEADQ_HUBSPOT_CLIENT_SECRET": running.client_secret,
            "webhook_secret": CALLOUT_SECRET,
        })
        environment = {
            "AWS_ENDPOINT_URL": moto_endpoint,
            "LEADQ_CRM": "hubspot",
            "LEADQ_MODEL_PATH": str(EXAMPLES / "sandbox.yaml"),
            "LEADQ_HUBSPOT_BASE_URL": running.base_url,
            "LEADQ_HUBSPOT_APP_ID": str(running.app_id),
            "LEADQ_HUBSPOT_RATE_LIMIT": "10000",
            "LEADQ_HUBSPOT_SEARCH_RATE": "1000",
            "LEADQ_SALESFORCE_ORGANIZATION_ID": ORG_ID,
            "LEADQ_MIN_SCORE_CHANGE": "1",
            "LEADQ_OVERLAP_SECONDS": "0",
            "LEADQ_STATE_URL": aws.state_url,
            "LEADQ_QUEUE_URL": aws.queue_url,
            "LEADQ_IDEMPOTENCY_TABLE": aws.idempotency_table,
            "LEADQ_SECRETS_PARAMETER": aws.secrets_parameter,
            "LEADQ_WEBHOOK_BASE_URL": BASE_URL,
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        parameters.clear_caches()
        use_services(None)
        try:
            yield Deployment(box, aws)
        finally:
            use_services(None)


# ---- requests as the CRMs send them -----------------------------------------------------------


def contact_event(box: Sandbox, kind: str, object_id: str, event_id: int,
                  **fields: Any) -> dict[str, Any]:
    return {
        "eventId": event_id, "subscriptionId": 4100, "portalId": box.running.portal_id,
        "appId": box.running.app_id, "occurredAt": int(time.time() * 1000) - 1000 + event_id,
        "subscriptionType": f"contact.{kind}", "attemptNumber": 0, "objectId": int(object_id),
        "changeSource": "CRM_UI", "sourceId": "userId:991", **fields,
    }


def title_changes(box: Sandbox, contact_ids: list[str]) -> list[dict[str, Any]]:
    return [contact_event(box, "propertyChange", contact_id, number, propertyName="jobtitle",
                          propertyValue="Director of Data")
            for number, contact_id in enumerate(contact_ids, start=1)]


def hubspot_delivery(box: Sandbox, events: list[dict[str, Any]], *, secret: str | None = None,
                     age_seconds: float = 1.0, base64_encoded: bool = False) -> dict[str, Any]:
    body = json.dumps(events).encode()
    timestamp = str(int((time.time() - age_seconds) * 1000))
    signature = sign_v3(secret or box.running.client_secret, "POST",
                        f"{BASE_URL}/webhooks/hubspot", body.decode(), int(timestamp))
    return http_api_event("/webhooks/hubspot", body, {
        "Content-Type": "application/json", "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Signature-Version": "v3", "X-HubSpot-Request-Timestamp": timestamp,
    }, base64_encoded=base64_encoded)


def outbound_delivery(lead_ids: list[str], org: str = ORG_ID) -> dict[str, Any]:
    settings = OutboundSettings(endpoint_url="http://127.0.0.1:1/webhooks/salesforce",
                                organization_id=org, instance_url="https://na1.example.com")
    notifications = [(f"04l5g0000{number:09d}", {"Id": lead_id})
                     for number, lead_id in enumerate(lead_ids, start=1)]
    body = notifications_envelope(settings, "04k5g0000000001AAA", None, notifications).encode()
    return http_api_event("/webhooks/salesforce", body, {
        "Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})


def callout_delivery(lead_ids: list[str]) -> dict[str, Any]:
    body = json.dumps({"ids": lead_ids, "deliveryId": "flow-interview-1"}).encode()
    timestamp = str(int(time.time()))
    return http_api_event("/webhooks/salesforce/callout", body, {
        "Content-Type": "application/json", CALLOUT_TIMESTAMP: timestamp,
        CALLOUT_SIGNATURE: callout_signature(CALLOUT_SECRET, timestamp, body)})


def queued(deployment: Deployment) -> list[dict[str, Any]]:
    return [json.loads(message["Body"]) for message in deployment.aws.take_messages()]


def work_through_the_queue(deployment: Deployment) -> dict[str, Any]:
    messages = deployment.aws.take_messages()
    assert messages
    return handlers.worker(sqs_event(messages, deployment.aws.queue_arn), None)


# ---- what reaches the CRM ---------------------------------------------------------------------


def test_a_signed_hubspot_batch_is_queued_and_the_worker_writes_the_scores_to_the_crm(
    deployed: Deployment,
) -> None:
    ids = deployed.contact_ids()[:5]
    before = deployed.box.state()

    answer = handlers.webhook(hubspot_delivery(deployed.box, title_changes(deployed.box, ids)),
                              None)
    messages = deployed.aws.take_messages()
    failures = handlers.worker(sqs_event(messages, deployed.aws.queue_arn), None)
    after = deployed.box.state()

    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["queued"] == 1
    assert [json.loads(m["Body"]) for m in messages] == [{"kind": "rescore", "ids": ids}]
    assert failures == {"batchItemFailures": []}
    assert all(before[i]["leadq_score"] is None and after[i]["leadq_score"] for i in ids)
    assert {i for i in after if after[i] != before[i]} == set(ids)
    assert set(deployed.tracked(*ids)) == set(ids)


def test_a_base64_encoded_body_is_decoded_before_its_signature_is_checked(
    deployed: Deployment,
) -> None:
    ids = deployed.contact_ids()[:2]
    event = hubspot_delivery(deployed.box, title_changes(deployed.box, ids), base64_encoded=True)

    assert handlers.webhook(event, None)["statusCode"] == 200
    assert queued(deployed) == [{"kind": "rescore", "ids": ids}]


def test_the_same_batch_delivered_twice_is_queued_once(deployed: Deployment) -> None:
    ids = deployed.contact_ids()[:3]
    events = title_changes(deployed.box, ids)
    delivery = hubspot_delivery(deployed.box, events)

    first = handlers.webhook(delivery, None)
    identical = handlers.webhook(delivery, None)
    retried = handlers.webhook(hubspot_delivery(
        deployed.box, [{**event, "attemptNumber": 1} for event in events]), None)

    assert identical == first  # answered from the idempotency record
    assert json.loads(retried["body"]) | {"notices": 3, "duplicates": 3, "queued": 0} == \
        json.loads(retried["body"])
    assert queued(deployed) == [{"kind": "rescore", "ids": ids}]


@pytest.mark.parametrize(("delivery", "status"), [
    ("forged signature", 401), ("stale timestamp", 401), ("another salesforce org", 403),
    ("declared length over 1 MiB", 413), ("malformed JSON", 400),
])
def test_a_refused_request_queues_nothing(deployed: Deployment, delivery: str,
                                          status: int) -> None:
    box = deployed.box
    events = title_changes(box, deployed.contact_ids()[:2])
    event = {
        "forged signature": lambda: hubspot_delivery(box, events, secret="not-the-app-secret"),
        "stale timestamp": lambda: hubspot_delivery(box, events, age_seconds=6 * 60),
        "another salesforce org": lambda: outbound_delivery(["00Q5g00000AbCdEEAZ"],
                                                            org="00D5g000009OthrAAA"),
        "declared length over 1 MiB": lambda: {**hubspot_delivery(box, events), "headers": {
            **hubspot_delivery(box, events)["headers"], "content-length": str(2**20 + 1)}},
        "malformed JSON": lambda: hubspot_delivery(box, [{"eventId": 1}]),
    }[delivery]()

    answer = handlers.webhook(event, None)

    assert answer["statusCode"] == status
    assert queued(deployed) == []


def test_leadqs_own_echoes_make_no_new_work(deployed: Deployment) -> None:
    box = deployed.box
    ids = deployed.contact_ids()[:2]
    ours = str(box.running.app_id)
    echoes = [
        contact_event(box, "propertyChange", ids[0], 1, propertyName="leadq_score",
                      propertyValue="71", changeSource="INTEGRATION", sourceId=ours),
        contact_event(box, "propertyChange", ids[1], 2, propertyName="lifecyclestage",
                      propertyValue="marketingqualifiedlead", changeSource="API", sourceId=ours),
        contact_event(box, "propertyChange", ids[1], 3, propertyName="leadq_grade",
                      propertyValue="B", changeSource="CRM_UI", sourceId="userId:991"),
    ]

    answer = handlers.webhook(hubspot_delivery(box, echoes), None)

    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["echoes"] == 3
    assert queued(deployed) == []


def test_a_merge_rescores_the_surviving_contact_and_forgets_the_merged_one(
    deployed: Deployment,
) -> None:
    box = deployed.box
    client = HubSpot(access_token=box.running.access_token, host=box.running.base_url)
    titles = {c.id: c.properties.get("jobtitle") or ""
              for c in client.crm.contacts.get_all(properties=["jobtitle"])}
    survivor, merged = [i for i in deployed.contact_ids()
                        if not any(word in titles[i] for word in SENIOR)][:2]
    handlers.webhook(hubspot_delivery(box, title_changes(box, [survivor, merged])), None)
    work_through_the_queue(deployed)
    scored = box.state()[survivor]["leadq_score"]
    client.crm.contacts.basic_api.update(
        survivor, SimplePublicObjectInput(properties={"jobtitle": "Chief Revenue Officer"}))
    merge = contact_event(box, "merge", survivor, 9, primaryObjectId=int(survivor),
                          mergedObjectIds=[int(merged)], newObjectId=int(survivor))
    del merge["objectId"]

    answer = handlers.webhook(hubspot_delivery(box, [merge]), None)
    messages = deployed.aws.take_messages()
    handlers.worker(sqs_event(messages, deployed.aws.queue_arn), None)

    assert answer["statusCode"] == 200
    assert sorted(json.loads(m["Body"])["kind"] for m in messages) == ["forget", "rescore"]
    assert float(box.state()[survivor]["leadq_score"]) > float(scored)
    assert set(deployed.tracked(survivor, merged)) == {survivor}


def test_a_salesforce_outbound_message_is_acknowledged_once_its_ids_are_queued(
    deployed: Deployment,
) -> None:
    leads = ["00Q5g00000AbCdEEAZ", "00Q5g00000AbCdFEAZ"]

    answer = handlers.webhook(outbound_delivery(leads), None)

    assert answer["statusCode"] == 200
    assert "<Ack>true</Ack>" in answer["body"]
    assert answer["headers"]["Content-Type"].startswith("text/xml")
    assert queued(deployed) == [{"kind": "rescore", "ids": leads}]


def test_a_signed_salesforce_callout_queues_its_ids(deployed: Deployment) -> None:
    leads = ["00Q5g00000AbCdEEAZ"]

    assert handlers.webhook(callout_delivery(leads), None)["statusCode"] == 200
    assert queued(deployed) == [{"kind": "rescore", "ids": leads}]


def test_a_company_change_rescores_its_contacts(deployed: Deployment) -> None:
    box = deployed.box
    companies = box.running.store.page("companies", 0, 50)
    linked = box.running.store.associations("companies", [c.id for c in companies], "contacts")
    company_id, pairs = next((company, pairs) for company, pairs in linked.items() if pairs)
    people = {str(contact_id) for contact_id, _ in pairs}
    change = {**contact_event(box, "propertyChange", str(company_id), 1,
                              propertyName="industry", propertyValue="Software"),
              "subscriptionType": "company.propertyChange"}

    handlers.webhook(hubspot_delivery(box, [change]), None)
    failures = work_through_the_queue(deployed)
    state = box.state()

    assert failures == {"batchItemFailures": []}
    assert {i for i in state if state[i]["leadq_score"] is not None} == people


def test_a_unit_whose_writes_fail_for_a_passing_reason_goes_back_to_the_queue(
    deployed: Deployment,
) -> None:
    box = deployed.box
    use_services(Services(with_secrets(load_settings()), connector_options={
        "retry": RetrySettings(max_attempts=2, initial_wait=0.01, max_wait=0.02)}))
    handlers.webhook(hubspot_delivery(box, title_changes(box, deployed.contact_ids()[:3])), None)
    box.emulator.faults = FaultPlan(record_failure=1.0)

    messages = deployed.aws.take_messages()
    failures = handlers.worker(sqs_event(messages, deployed.aws.queue_arn), None)

    assert failures == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}


@dataclass(frozen=True)
class LambdaContext:
    """What the worker reads of Lambda's context: the time left before its timeout."""

    ends_at: float

    def get_remaining_time_in_millis(self) -> int:
        return int((self.ends_at - time.monotonic()) * 1000)


def test_a_worker_near_its_timeout_stops_retrying_and_hands_its_units_back(
    deployed: Deployment, monkeypatch: pytest.MonkeyPatch,
) -> None:
    box = deployed.box
    ids = deployed.contact_ids()
    monkeypatch.setenv("LEADQ_WORKER_MARGIN_SECONDS", "40")
    use_services(None)  # the functions read their settings afresh
    handlers.webhook(hubspot_delivery(box, title_changes(box, ids[:3])), None)
    handlers.webhook(hubspot_delivery(box, title_changes(box, ids[3:6])[::-1]), None)
    messages = deployed.aws.take_messages()
    box.emulator.faults = FaultPlan(record_failure=1.0)  # every record of every write, each time
    box.emulator.log.clear()

    context = LambdaContext(ends_at=time.monotonic() + 40 + 4)  # 4 s before the margin
    failures = handlers.worker(sqs_event(messages, deployed.aws.queue_arn), context)

    writes = box.emulator.log.count("POST", "/batch/update")
    assert failures == {"batchItemFailures": [
        {"itemIdentifier": message["MessageId"]} for message in messages]}
    assert 0 < writes < RetrySettings().max_attempts  # the deadline stopped it, not the attempts
    store = open_state_store(deployed.aws.state_url)
    try:
        waiting = {failed.lead_id for failed in store.failed_writes("hubspot")}
    finally:
        store.close()
    assert waiting and waiting <= set(ids[:6])  # the leads it could not write wait for a retry


# ---- schedules --------------------------------------------------------------------------------


def test_the_schedule_runs_an_incremental_sync_and_the_nightly_rescore_a_full_one(
    deployed: Deployment,
) -> None:
    first = handlers.schedule(scheduled_event(), None)
    nightly = handlers.rescore(scheduled_event("leadq-rescore"), None)
    state = deployed.box.state()

    assert (first["kind"], first["pulled"]) == ("incremental", 200)
    assert first["written"] == len([i for i in state if state[i]["leadq_score"] is not None])
    assert (nightly["kind"], nightly["pulled"], nightly["written"]) == ("full", 200, 0)


def test_a_fanned_out_schedule_queues_each_page_for_the_workers(
    deployed: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADQ_FAN_OUT", "true")
    use_services(None)

    outcome = handlers.schedule(scheduled_event(), None)
    messages = deployed.aws.take_messages()
    ids = [lead_id for m in messages for lead_id in json.loads(m["Body"])["ids"]]
    again = handlers.schedule(scheduled_event(), None)

    assert (outcome["pulled"], outcome["queued"]) == (200, len(messages))
    assert sorted(ids, key=int) == deployed.contact_ids()
    assert again["pulled"] < 10  # the cursor moved past every page: only its own moment again


def test_a_fanned_out_schedule_queues_the_leads_due_for_a_retry(
    deployed: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADQ_FAN_OUT", "true")
    use_services(None)
    handlers.schedule(scheduled_event(), None)
    deployed.aws.take_messages()
    waiting = deployed.contact_ids()[:2]
    store = open_state_store(deployed.aws.state_url)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    store.record_failed_writes("hubspot", dict.fromkeys(waiting, "locked"), "run-1", an_hour_ago)
    store.close()

    outcome = handlers.schedule(scheduled_event(), None)
    ids = [lead_id for m in deployed.aws.take_messages() for lead_id in json.loads(m["Body"])["ids"]]

    assert set(waiting) <= set(ids)
    assert outcome["queued"] >= 1


def _run_worker(events: list[dict[str, Any]], results: Any) -> None:
    use_services(None)
    results.put(("worker", [handlers.worker(event, None) for event in events]))


def _run_schedule(results: Any) -> None:
    use_services(None)
    results.put(("schedule", handlers.schedule(scheduled_event(), None)))


def test_a_webhook_run_racing_a_scheduled_run_assigns_nobody_twice(deployed: Deployment) -> None:
    box = deployed.box
    ids = deployed.contact_ids()
    for start in range(0, len(ids), 50):
        handlers.webhook(hubspot_delivery(box, title_changes(box, ids[start:start + 50])), None)
    events = [sqs_event([message], deployed.aws.queue_arn)
              for message in deployed.aws.take_messages()]
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    racers = [context.Process(target=_run_worker, args=(events, results)),
              context.Process(target=_run_schedule, args=(results,))]
    for racer in racers:
        racer.start()
    finished = dict(results.get(timeout=300) for _ in racers)
    for racer in racers:
        racer.join(timeout=60)

    store = open_state_store(deployed.aws.state_url)
    owners_written: dict[str, set[str]] = defaultdict(set)
    for lead_id in ids:
        for entry in store.audit_for(lead_id):
            if entry.field == "hubspot_owner_id":
                owners_written[lead_id].add(str(entry.after))
    assigned = {lead_id: store.assignment_for(lead_id) for lead_id in owners_written}
    store.close()
    state = box.state()

    assert all(answer == {"batchItemFailures": []} for answer in finished["worker"])
    assert finished["schedule"]["pulled"] == len(ids)
    assert owners_written
    assert {lead_id: {assigned[lead_id]} for lead_id in owners_written} == owners_written
    assert all(state[lead_id]["hubspot_owner_id"] == assigned[lead_id]
               for lead_id in owners_written)


# ---- logs -------------------------------------------------------------------------------------

EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def test_no_log_line_of_a_webhook_and_its_work_holds_a_secret_or_an_email_address(
    deployed: Deployment, capfd: pytest.CaptureFixture[str]
) -> None:
    box = deployed.box
    ids = deployed.contact_ids()[:20]
    capfd.readouterr()
    log = io.StringIO()
    stream = handlers.logger.registered_handler.setStream(log)  # type: ignore[attr-defined]
    try:
        handlers.webhook(hubspot_delivery(box, title_changes(box, ids), secret="forged"), None)
        handlers.webhook(hubspot_delivery(box, title_changes(box, ids)), None)
        work_through_the_queue(deployed)
        handlers.schedule(scheduled_event(), None)
    finally:
        handlers.logger.registered_handler.setStream(stream)  # type: ignore[attr-defined]
    out, err = capfd.readouterr()
    out += log.getvalue()

    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert {"webhook refused", "webhook delivered", "work done", "scheduled run finished"} <= {
        line["message"] for line in lines}
    assert all(line.get("correlation_id") for line in lines)
    secrets = [box.running.access_token, box.running.client_secret, CALLOUT_SECRET]
    assert [secret for secret in secrets if secret in out + err] == []
    assert EMAIL_ADDRESS.findall(out + err) == []
