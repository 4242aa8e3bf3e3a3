"""The webhook routes through `sync.handlers.webhook` with a real SQLite state store and `leadq
serve`'s durable queue: whatever the body, headers and encoding, the answer is never a 5xx, and
nothing is queued unless the request was genuine."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_events import http_api_event
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sandbox.hubspot.webhooks import sign_v3
from sync import handlers
from sync.serve import StoredWorkQueue
from sync.services import Services, use_services, utc_now
from sync.settings import Settings
from sync.state_url import open_state_store
from sync.webhooks import CALLOUT_SIGNATURE, CALLOUT_TIMESTAMP, callout_signature

EXAMPLES = Path(__file__).parents[2] / "examples"
CLIENT_SECRET = "hubspot-client-secret-7c1e"
CALLOUT_SECRET = "callout-shared-secret-1a2b"
# `python -m benchmarks webhook` runs this fuzz with 10,000 examples; CI runs 300
FUZZ_EXAMPLES = int(os.environ.get("LEADQ_FUZZ_EXAMPLES", "300"))
PATHS = ("/webhooks/hubspot", "/webhooks/salesforce", "/webhooks/salesforce/callout")


@pytest.fixture(scope="module")
def queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoredWorkQueue]:
    state = tmp_path_factory.mktemp("routes") / "state.db"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, crm="hubspot", model_path=EXAMPLES / "sandbox.yaml",
        state_url=f"sqlite:///{state}", hubspot_client_secret=CLIENT_SECRET,
        hubspot_app_id="1234567", salesforce_organization_id="00D5g000004FakeEAA",
        webhook_secret=CALLOUT_SECRET, webhook_base_url="https://leadq.example.com",
    )
    store = open_state_store(settings.state_url)
    work = StoredWorkQueue(store, utc_now, retry_pause=1.0)
    use_services(Services(settings, queue=work, store=store))
    yield work
    use_services(None)


def signed_headers(path: str, body: bytes) -> dict[str, str]:
    if path == "/webhooks/hubspot":
        stamp = int(time.time() * 1000)
        signature = sign_v3(CLIENT_SECRET, "POST", f"https://leadq.example.com{path}",
                            body.decode("utf-8", "replace"), stamp)
        return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": str(stamp)}
    if path == "/webhooks/salesforce/callout":
        stamp = str(int(time.time()))
        return {CALLOUT_TIMESTAMP: stamp,
                CALLOUT_SIGNATURE: callout_signature(CALLOUT_SECRET, stamp, body)}
    return {"Content-Type": "text/xml"}


header_values = st.text(max_size=40).filter(lambda text: "\x00" not in text)
events = st.fixed_dictionaries({
    "eventId": st.one_of(st.integers(), st.text(max_size=8)),
    "occurredAt": st.one_of(st.integers(), st.none(), st.floats()),
    "subscriptionType": st.sampled_from(["contact.creation", "contact.merge",
                                         "contact.associationChange", "company.propertyChange",
                                         "contact.deletion", "deal.creation"]),
    "objectId": st.one_of(st.integers(), st.text(max_size=5), st.none()),
}, optional={"mergedObjectIds": st.lists(st.integers()),
             "primaryObjectId": st.integers(),
             "associationType": st.text(max_size=20)})
bodies = st.one_of(
    st.binary(max_size=300),
    st.lists(events, max_size=5).map(lambda items: json.dumps(items).encode()),
    st.text(max_size=200).map(lambda text: f"<?xml version='1.0'?><a>{text}</a>".encode(
        "utf-8", "surrogatepass")),
)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    path=st.sampled_from(PATHS),
    body=bodies,
    signed=st.booleans(),
    extra=st.dictionaries(st.sampled_from(["content-length", "x-hubspot-request-timestamp",
                                           "x-leadq-timestamp", "x-hubspot-signature-v3",
                                           "content-type"]), header_values, max_size=3),
    base64_encoded=st.booleans(),
    mangle_base64=st.booleans(),
)
@example(path=PATHS[0], body=b"", signed=False, extra={"content-length": "²"},  # a Unicode digit
         base64_encoded=False, mangle_base64=False)
def test_no_request_gets_a_server_error(
    queue: StoredWorkQueue, path: str, body: bytes, signed: bool, extra: dict[str, str],
    base64_encoded: bool, mangle_base64: bool,
) -> None:
    headers = {**(signed_headers(path, body) if signed else {}), **extra}
    event: dict[str, Any] = http_api_event(path, body, {}, base64_encoded=True)
    event["headers"].update({name.lower(): value for name, value in headers.items()})
    if not base64_encoded:
        event["isBase64Encoded"] = False
        event["body"] = body.decode("utf-8", "surrogateescape")
    elif mangle_base64:
        event["body"] = base64.b64encode(body).decode()[:-1] + "*"

    answer = handlers.webhook(event, None)

    assert answer["statusCode"] in (200, 400, 401, 403, 413)


def test_an_unsigned_request_queues_nothing(queue: StoredWorkQueue) -> None:
    body = b'[{"eventId": 1, "occurredAt": 1, "subscriptionType": "contact.creation", "objectId": 5}]'
    waiting = queue.waiting

    answers = [handlers.webhook(http_api_event(path, body, {}), None)["statusCode"]
               for path in PATHS]

    assert answers == [400, 400, 400]
    assert queue.waiting == waiting
