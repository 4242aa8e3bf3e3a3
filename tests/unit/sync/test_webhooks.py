"""Webhook verification and parsing: genuinely signed requests (signed here the way HubSpot and the
callout contract document, never with leadq's own code), forgeries, replays, echoes, every HubSpot
subscription type leadq registers, Salesforce outbound messages as the emulator sends them, hostile
XML, and fuzzed bodies and headers that must only ever produce a typed rejection."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.hubspot.webhooks import sign_v3 as emulator_sign_v3
from sandbox.salesforce.outbound import OutboundSettings, acknowledged, notifications_envelope
from sync.webhook_models import (
    CalloutConfig,
    HubSpotWebhookConfig,
    OutboundMessageConfig,
    Rejection,
    WebhookBatch,
    WebhookRequest,
)
from sync.webhooks import outbound_ack, parse_callout, parse_hubspot, parse_outbound_message

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
URI = "https://leadq.example.com/webhooks/hubspot"
CLIENT_SECRET = "7c1e2f40-hubspot-app-secret"
APP_ID = 1_234_567
PORTAL_ID = 62515
HUBSPOT = HubSpotWebhookConfig(
    client_secret=CLIENT_SECRET,
    app_id=APP_ID,
    output_properties=frozenset({"leadq_score", "leadq_grade", "leadq_reasons"}),
)
ORG_ID = "00D5g000004FakeEAA"
OUTBOUND = OutboundMessageConfig(organization_id=ORG_ID)
CALLOUT_SECRET = "flow-callout-shared-secret"
CALLOUT = CalloutConfig(secret=CALLOUT_SECRET)
LEAD_A, LEAD_B = "00Q5g00000AbCdEEAZ", "00Q5g00000AbCdFEAZ"


# ---- building signed requests -----------------------------------------------------------------


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's documented v3 signature: base64(HMAC-SHA256(secret, method+uri+body+timestamp))."""
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def event(subscription_type: str, event_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 100 + event_id,
        "portalId": PORTAL_ID,
        "appId": APP_ID,
        "occurredAt": NOW_MS - 60_000 + event_id,
        "subscriptionType": subscription_type,
        "attemptNumber": 0,
        "changeSource": "CRM_UI",
        "sourceId": "userId:991",
        **fields,
    }


def hubspot_request(
    body: bytes | list[dict[str, Any]],
    *,
    sent_at: datetime = NOW - timedelta(seconds=2),
    secret: str = CLIENT_SECRET,
    signed_uri: str = URI,
    headers: dict[str, str] | None = None,
) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    timestamp = str(int(sent_at.timestamp() * 1000))
    signed = {
        "X-HubSpot-Signature-v3": hubspot_signature(secret, "POST", signed_uri, raw, timestamp),
        "X-HubSpot-Signature-Version": "v3",
        "X-HubSpot-Request-Timestamp": timestamp,
        "Content-Type": "application/json",
    }
    return WebhookRequest(body=raw, headers=signed if headers is None else headers, uri=URI)


def accepted(result: WebhookBatch | Rejection) -> WebhookBatch:
    assert isinstance(result, WebhookBatch), result
    return result


def refused(result: WebhookBatch | Rejection, status: int) -> Rejection:
    assert isinstance(result, Rejection), result
    assert result.status == status, result
    return result


# ---- HubSpot: what a signed batch asks for ----------------------------------------------------


def test_a_signed_batch_of_contact_changes_names_the_contacts_to_rescore() -> None:
    batch = accepted(parse_hubspot(hubspot_request([
        event("contact.creation", 1, objectId=501, changeFlag="NEW"),
        event("contact.propertyChange", 2, objectId=502, propertyName="jobtitle",
              propertyValue="VP Sales"),
        event("contact.restore", 3, objectId=503),
    ]), HUBSPOT, NOW))

    assert batch.lead_ids == ("501", "502", "503")
    assert batch.forget_ids == () and batch.company_ids == ()
    assert batch.echoes_dropped == 0 and batch.unknown_ignored == 0


def test_the_emulators_signed_delivery_is_accepted() -> None:
    body = json.dumps([event("contact.creation", 1, objectId=7)], separators=(",", ":"))
    timestamp = NOW_MS - 1_000
    request = WebhookRequest(
        body=body.encode(),
        headers={
            "X-HubSpot-Signature-v3": emulator_sign_v3(CLIENT_SECRET, "POST", URI, body, timestamp),
            "X-HubSpot-Request-Timestamp": str(timestamp),
        },
        uri=URI,
    )

    assert accepted(parse_hubspot(request, HUBSPOT, NOW)).lead_ids == ("7",)


def test_header_names_are_matched_whatever_their_case() -> None:
    request = hubspot_request([event("contact.creation", 1, objectId=5)])
    lowered = request.model_copy(update={"headers": {
        name.lower(): value for name, value in request.headers.items()
    }})

    assert accepted(parse_hubspot(lowered, HUBSPOT, NOW)).lead_ids == ("5",)


def test_a_merge_rescores_the_surviving_contact_and_forgets_the_merged_ones() -> None:
    batch = accepted(parse_hubspot(hubspot_request([
        event("contact.merge", 1, objectId=900, primaryObjectId=900, mergedObjectIds=[901, 902],
              newObjectId=900, numberOfPropertiesMoved=12),
    ]), HUBSPOT, NOW))

    assert batch.lead_ids == ("900",)
    assert batch.forget_ids == ("901", "902")


def test_a_merge_into_a_new_record_rescores_both_survivors() -> None:
    batch = accepted(parse_hubspot(hubspot_request([
        event("contact.merge", 1, primaryObjectId=900, mergedObjectIds=[901], newObjectId=950),
    ]), HUBSPOT, NOW))

    assert set(batch.lead_ids) == {"900", "950"}
    assert batch.forget_ids == ("901",)


def test_deletions_forget_contacts_and_the_latest_event_wins_whatever_the_order_delivered() -> None:
    restored_later = event("contact.restore", 2, objectId=700, occurredAt=NOW_MS - 1_000)
    deleted_first = event("contact.deletion", 1, objectId=700, occurredAt=NOW_MS - 5_000)
    privacy = event("contact.privacyDeletion", 3, objectId=701)

    batch = accepted(parse_hubspot(hubspot_request([restored_later, deleted_first, privacy]),
                                   HUBSPOT, NOW))

    assert batch.lead_ids == ("700",)
    assert batch.forget_ids == ("701",)


def test_an_association_change_rescores_the_contact_at_either_end() -> None:
    batch = accepted(parse_hubspot(hubspot_request([
        event("contact.associationChange", 1, associationType="CONTACT_TO_COMPANY",
              fromObjectId=301, toObjectId=8001, associationRemoved=False,
              isPrimaryAssociation=True),
        event("contact.associationChange", 2, associationType="COMPANY_TO_CONTACT",
              fromObjectId=8002, toObjectId=302, associationRemoved=True),
    ]), HUBSPOT, NOW))

    assert batch.lead_ids == ("301", "302")
    assert batch.company_ids == ()


def test_a_company_property_change_asks_for_that_companys_contacts() -> None:
    batch = accepted(parse_hubspot(hubspot_request([
        event("company.propertyChange", 1, objectId=8001, propertyName="numberofemployees",
              propertyValue="250"),
    ]), HUBSPOT, NOW))

    assert batch.company_ids == ("8001",)
    assert batch.lead_ids == ()


def test_unknown_subscription_types_are_counted_and_ignored() -> None:
    batch = accepted(parse_hubspot(hubspot_request([
        event("deal.creation", 1, objectId=1),
        event("object.propertyChange", 2, objectId=2, objectTypeId="0-1"),
        event("contact.creation", 3, objectId=3),
    ]), HUBSPOT, NOW))

    assert batch.unknown_ignored == 2
    assert batch.lead_ids == ("3",)


# ---- HubSpot: echoes and duplicates ------------------------------------------------------------


def test_leadqs_own_writes_coming_back_are_dropped_as_echoes() -> None:
    batch = accepted(parse_hubspot(hubspot_request([
        # written by leadq's app: any property, the app id as a string or a number
        event("contact.propertyChange", 1, objectId=11, propertyName="lifecyclestage",
              propertyValue="marketingqualifiedlead", changeSource="INTEGRATION",
              sourceId=str(APP_ID)),
        event("contact.propertyChange", 2, objectId=12, propertyName="hubspot_owner_id",
              propertyValue="77", changeSource="API", sourceId=APP_ID),
        # leadq's output property, even when a person typed it
        event("contact.propertyChange", 3, objectId=13, propertyName="leadq_score",
              propertyValue="88"),
    ]), HUBSPOT, NOW))

    assert batch.echoes_dropped == 3
    assert batch.notices == ()


def test_changes_by_people_and_other_apps_are_not_echoes() -> None:
    batch = accepted(parse_hubspot(hubspot_request([
        event("contact.propertyChange", 1, objectId=21, propertyName="lifecyclestage",
              propertyValue="lead", changeSource="CRM_UI", sourceId="userId:991"),
        event("contact.propertyChange", 2, objectId=22, propertyName="jobtitle",
              propertyValue="CTO", changeSource="INTEGRATION", sourceId="7654321"),
        # a company property named like one of leadq's contact outputs is not leadq's
        event("company.propertyChange", 3, objectId=23, propertyName="leadq_score",
              propertyValue="1"),
    ]), HUBSPOT, NOW))

    assert batch.echoes_dropped == 0
    assert batch.lead_ids == ("21", "22")
    assert batch.company_ids == ("23",)


def test_a_redelivered_event_carries_the_same_dedupe_key() -> None:
    first = event("contact.propertyChange", 41, objectId=5, propertyName="jobtitle")
    retry = {**first, "attemptNumber": 3}

    once = accepted(parse_hubspot(hubspot_request([first]), HUBSPOT, NOW))
    again = accepted(parse_hubspot(
        hubspot_request([retry], sent_at=NOW - timedelta(seconds=1)), HUBSPOT, NOW
    ))
    other = accepted(parse_hubspot(hubspot_request([event("contact.creation", 42, objectId=5)]),
                                   HUBSPOT, NOW))

    assert once.dedupe_keys == again.dedupe_keys
    assert len(once.dedupe_keys) == 1
    assert other.dedupe_keys != once.dedupe_keys


def test_the_caller_drops_notices_it_has_already_processed() -> None:
    batch = accepted(parse_hubspot(hubspot_request([
        event("contact.creation", 1, objectId=1),
        event("contact.creation", 2, objectId=2),
    ]), HUBSPOT, NOW))
    seen = {batch.dedupe_keys[0]}

    fresh = batch.without(seen)

    assert fresh.lead_ids == ("2",)
    assert fresh.dedupe_keys == (batch.dedupe_keys[1],)


# ---- HubSpot: refusals ------------------------------------------------------------------------


def test_a_signature_made_with_another_secret_is_refused_as_401() -> None:
    forged = hubspot_request([event("contact.creation", 1, objectId=1)], secret="guessed")

    refused(parse_hubspot(forged, HUBSPOT, NOW), 401)


def test_a_body_changed_after_signing_is_refused_as_401() -> None:
    request = hubspot_request([event("contact.creation", 1, objectId=1)])
    tampered = WebhookRequest(body=request.body.replace(b"1", b"2"), headers=request.headers,
                              uri=URI)

    refused(parse_hubspot(tampered, HUBSPOT, NOW), 401)


def test_a_signature_over_another_uri_is_refused_as_401() -> None:
    request = hubspot_request([event("contact.creation", 1, objectId=1)],
                              signed_uri="https://attacker.example/webhooks/hubspot")

    refused(parse_hubspot(request, HUBSPOT, NOW), 401)


@pytest.mark.parametrize(("offset", "why"), [
    (timedelta(minutes=-5, seconds=-1), "stale"),
    (timedelta(hours=-3), "stale"),
    (timedelta(minutes=5, seconds=1), "future"),
    (timedelta(days=400), "future"),
])
def test_a_timestamp_outside_five_minutes_is_refused_as_401(offset: timedelta, why: str) -> None:
    request = hubspot_request([event("contact.creation", 1, objectId=1)], sent_at=NOW + offset)

    assert why in refused(parse_hubspot(request, HUBSPOT, NOW), 401).reason


@pytest.mark.parametrize("offset", [timedelta(minutes=-4, seconds=-59), timedelta(minutes=4)])
def test_a_timestamp_inside_five_minutes_either_way_is_accepted(offset: timedelta) -> None:
    request = hubspot_request([event("contact.creation", 1, objectId=1)], sent_at=NOW + offset)

    assert accepted(parse_hubspot(request, HUBSPOT, NOW)).lead_ids == ("1",)


def test_a_request_without_a_signature_is_refused_as_401() -> None:
    request = hubspot_request([event("contact.creation", 1, objectId=1)])
    unsigned = {k: v for k, v in request.headers.items() if k != "x-hubspot-signature-v3"}

    refused(parse_hubspot(request.model_copy(update={"headers": unsigned}), HUBSPOT, NOW), 401)


@pytest.mark.parametrize("timestamp", [None, "", "soon", "1.7e12", "-5", "١٢٣"])
def test_a_missing_or_unreadable_timestamp_is_refused_as_400(timestamp: str | None) -> None:
    request = hubspot_request([event("contact.creation", 1, objectId=1)])
    headers = {k: v for k, v in request.headers.items() if k != "x-hubspot-request-timestamp"}
    if timestamp is not None:
        headers["X-HubSpot-Request-Timestamp"] = timestamp

    refused(parse_hubspot(request.model_copy(update={"headers": headers}), HUBSPOT, NOW), 400)


@pytest.mark.parametrize("body", [
    b"not json",
    b'{"eventId": 1}',
    b"[1, 2, 3]",
    b'[{"subscriptionType": "contact.creation", "objectId": 1, "occurredAt": 1}]',
    b'[{"eventId": 1, "subscriptionType": "contact.creation", "occurredAt": 1}]',
    b'[{"eventId": 1, "subscriptionType": "contact.merge", "occurredAt": 1}]',
    b'[{"eventId": 1, "subscriptionType": "contact.creation", "occurredAt": 1, "objectId": "x"}]',
    b'[{"eventId": 1, "subscriptionType": "contact.creation", "occurredAt": 1, "objectId": -4}]',
    "[\"caf\xe9\"]".encode("latin-1"),
    b"[" * 5_000 + b"]" * 5_000,
])
def test_a_signed_body_that_is_not_a_usable_event_array_is_refused_as_400(body: bytes) -> None:
    refused(parse_hubspot(hubspot_request(body), HUBSPOT, NOW), 400)


def test_an_oversized_body_is_refused_as_413_before_anything_else() -> None:
    huge = b"[" + b" " * HUBSPOT.max_body_bytes + b"]"

    refused(parse_hubspot(WebhookRequest(body=huge, uri=URI), HUBSPOT, NOW), 413)
    refused(parse_hubspot(hubspot_request(huge), HUBSPOT, NOW), 413)


def test_a_rejection_reason_quotes_neither_the_secret_nor_the_body() -> None:
    body = b'[{"eventId": 1, "subscriptionType": "contact.creation", "occurredAt": 1, ' \
           b'"objectId": "jane.doe@example.com"}]'

    reason = refused(parse_hubspot(hubspot_request(body), HUBSPOT, NOW), 400).reason

    assert "jane.doe" not in reason and CLIENT_SECRET not in reason
    assert "objectId" in reason or "object_id" in reason


# ---- Salesforce outbound messages -------------------------------------------------------------


def outbound_body(*lead_ids: str, org: str = ORG_ID, first_number: int = 1) -> bytes:
    """The SOAP envelope exactly as the Salesforce emulator sends it."""
    settings = OutboundSettings(endpoint_url="http://127.0.0.1:1/webhooks/salesforce",
                                organization_id=org, instance_url="https://na1.example.com")
    notifications = [
        (f"04l5g0000{first_number + i:09d}", {"Id": lead_id, "Email": "x@example.com"})
        for i, lead_id in enumerate(lead_ids)
    ]
    return notifications_envelope(settings, "04k5g0000000001AAA", None, notifications).encode()


def outbound(body: bytes) -> WebhookRequest:
    return WebhookRequest(body=body, headers={"Content-Type": "text/xml; charset=utf-8",
                                              "SOAPAction": '""'})


def test_an_outbound_message_from_the_configured_org_names_its_leads() -> None:
    batch = accepted(parse_outbound_message(outbound(outbound_body(LEAD_A, LEAD_B)), OUTBOUND))

    assert batch.lead_ids == (LEAD_A, LEAD_B)
    assert batch.dedupe_keys == ("salesforce:outbound:04l5g0000000000001",
                                 "salesforce:outbound:04l5g0000000000002")


def test_a_redelivered_outbound_message_carries_the_same_dedupe_keys() -> None:
    once = accepted(parse_outbound_message(outbound(outbound_body(LEAD_A)), OUTBOUND))
    again = accepted(parse_outbound_message(outbound(outbound_body(LEAD_A)), OUTBOUND))
    later = accepted(parse_outbound_message(outbound(outbound_body(LEAD_A, first_number=9)),
                                            OUTBOUND))

    assert once.dedupe_keys == again.dedupe_keys
    assert later.dedupe_keys != once.dedupe_keys


def test_an_outbound_message_from_another_org_is_refused_as_403() -> None:
    foreign = outbound_body(LEAD_A, org="00D5g000009OtheEAA")

    refused(parse_outbound_message(outbound(foreign), OUTBOUND), 403)


def test_a_configured_15_character_org_id_matches_the_18_character_one_messages_carry() -> None:
    config = OutboundMessageConfig(organization_id=ORG_ID[:15])

    assert accepted(parse_outbound_message(outbound(outbound_body(LEAD_A)), config)).lead_ids \
        == (LEAD_A,)


def test_the_ack_is_the_answer_salesforce_expects() -> None:
    response = requests.Response()
    response.status_code = 200
    response._content = outbound_ack()

    assert acknowledged(response)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound">
<OrganizationId>&lol9;</OrganizationId></notifications></soapenv:Body></soapenv:Envelope>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE notifications [<!ENTITY org SYSTEM "file:///etc/hostname">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound">
<OrganizationId>&org;</OrganizationId></notifications></soapenv:Body></soapenv:Envelope>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "external-entity"])
def test_xml_with_a_dtd_or_entities_is_refused_as_400_without_expanding_them(body: bytes) -> None:
    rejection = refused(parse_outbound_message(outbound(body), OUTBOUND), 400)

    assert "DTD" in rejection.reason
    assert "lollol" not in rejection.reason


@pytest.mark.parametrize("body", [
    b"",
    b"<notifications",
    b"<a>not soap</a>",
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"/>',
    outbound_body(LEAD_A).replace(b"OrganizationId", b"OrgId"),
    outbound_body(LEAD_A).replace(LEAD_A.encode(), b"not-an-id"),
    outbound_body(LEAD_A).replace(b"<Id>", b"<Ident>").replace(b"</Id>", b"</Ident>"),
    outbound_body(LEAD_A).replace(b'encoding="UTF-8"', b'encoding="no-such-codec"'),
])
def test_a_malformed_outbound_message_is_refused_as_400(body: bytes) -> None:
    rejection = refused(parse_outbound_message(outbound(body), OUTBOUND), 400)

    assert "DTD" not in rejection.reason


def test_an_oversized_outbound_message_is_refused_as_413() -> None:
    padded = outbound_body(LEAD_A) + b" " * OUTBOUND.max_body_bytes

    refused(parse_outbound_message(outbound(padded), OUTBOUND), 413)


# ---- Salesforce JSON callouts -----------------------------------------------------------------


def callout_request(
    payload: dict[str, Any] | bytes,
    *,
    sent_at: datetime = NOW - timedelta(seconds=3),
    secret: str = CALLOUT_SECRET,
    headers: dict[str, str] | None = None,
) -> WebhookRequest:
    """Signed as the callout contract says: hex(HMAC-SHA256(secret, timestamp + "." + body))."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    timestamp = str(int(sent_at.timestamp()))
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    signed = {"X-Leadq-Timestamp": timestamp, "X-Leadq-Signature": signature.hexdigest(),
              "Content-Type": "application/json"}
    return WebhookRequest(body=body, headers=signed if headers is None else headers)


def test_a_signed_callout_names_the_records_to_rescore() -> None:
    batch = accepted(parse_callout(callout_request({"ids": [LEAD_A, LEAD_B, LEAD_A]}), CALLOUT,
                                   NOW))

    assert batch.lead_ids == (LEAD_A, LEAD_B)
    assert batch.source == "salesforce_callout"


def test_an_uppercase_hex_signature_is_accepted() -> None:
    request = callout_request({"ids": [LEAD_A]})
    headers = {**request.headers,
               "x-leadq-signature": request.headers["x-leadq-signature"].upper()}

    accepted(parse_callout(request.model_copy(update={"headers": headers}), CALLOUT, NOW))


@pytest.mark.parametrize(("change", "status"), [
    ({"secret": "wrong"}, 401),
    ({"sent_at": NOW - timedelta(minutes=6)}, 401),
    ({"sent_at": NOW + timedelta(minutes=6)}, 401),
    ({"headers": {"X-Leadq-Timestamp": str(int(NOW.timestamp()))}}, 401),
    ({"headers": {"X-Leadq-Signature": "00" * 32}}, 400),
])
def test_a_forged_stale_future_unsigned_or_undated_callout_is_refused(
    change: dict[str, Any], status: int
) -> None:
    refused(parse_callout(callout_request({"ids": [LEAD_A]}, **change), CALLOUT, NOW), status)


def test_a_redelivered_callout_counts_once_by_its_delivery_id() -> None:
    payload = {"ids": [LEAD_A], "deliveryId": "a1b2c3-interview"}

    once = accepted(parse_callout(callout_request(payload), CALLOUT, NOW))
    resigned = accepted(parse_callout(callout_request(payload, sent_at=NOW), CALLOUT, NOW))

    assert once.dedupe_keys == resigned.dedupe_keys


def test_without_a_delivery_id_a_replayed_request_counts_once_and_a_new_one_does_not() -> None:
    request = callout_request({"ids": [LEAD_A]})

    once = accepted(parse_callout(request, CALLOUT, NOW))
    replayed = accepted(parse_callout(request, CALLOUT, NOW + timedelta(seconds=30)))
    new = accepted(parse_callout(callout_request({"ids": [LEAD_A]}, sent_at=NOW), CALLOUT, NOW))

    assert once.dedupe_keys == replayed.dedupe_keys
    assert new.dedupe_keys != once.dedupe_keys


@pytest.mark.parametrize("payload", [
    b"ids=00Q5g00000AbCdEEAZ",
    {"ids": []},
    {"ids": "00Q5g00000AbCdEEAZ"},
    {"ids": ["not an id"]},
    {"ids": ["x" + LEAD_A]},
    {"ids": [LEAD_A] * 201},
    {"leadIds": [LEAD_A]},
])
def test_a_signed_callout_of_the_wrong_shape_is_refused_as_400(payload: Any) -> None:
    refused(parse_callout(callout_request(payload), CALLOUT, NOW), 400)


def test_an_oversized_callout_is_refused_as_413() -> None:
    refused(parse_callout(callout_request(b" " * (CALLOUT.max_body_bytes + 1)), CALLOUT, NOW), 413)


# ---- fuzzing: bad input only ever yields a typed rejection ------------------------------------

FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
HEADER_NAMES = st.sampled_from([
    "X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp", "X-Leadq-Timestamp",
    "X-Leadq-Signature", "Content-Type", "x-hubspot-signature-v3",
])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)
EVENT_FIELDS = ["eventId", "subscriptionType", "occurredAt", "portalId", "objectId",
                "propertyName", "changeSource", "sourceId", "primaryObjectId", "newObjectId",
                "mergedObjectIds", "associationType", "fromObjectId", "toObjectId"]
SUBSCRIPTION_TYPES = ["contact.creation", "contact.propertyChange", "contact.restore",
                      "contact.deletion", "contact.privacyDeletion", "contact.merge",
                      "contact.associationChange", "company.propertyChange", "deal.creation"]
odd_values = json_values | st.sampled_from([*SUBSCRIPTION_TYPES, str(APP_ID), "leadq_score",
                                            "COMPANY_TO_CONTACT", [1, 2], [0]]) \
    | st.integers(min_value=-(2**70), max_value=2**70)
plausible_events = st.builds(
        lambda kind, event_id, ids, overrides: {
            **event(kind, event_id, objectId=ids[0], primaryObjectId=ids[1],
                    mergedObjectIds=ids[2:], fromObjectId=ids[0], toObjectId=ids[1]),
            **overrides,
        },
        st.sampled_from(SUBSCRIPTION_TYPES),
        st.integers(min_value=0, max_value=50),
        st.lists(st.integers(min_value=1, max_value=20), min_size=2, max_size=4),
        st.dictionaries(st.sampled_from(EVENT_FIELDS), odd_values, max_size=1),
)
fuzzed_events = st.lists(
    st.one_of(plausible_events, plausible_events, plausible_events,
              st.dictionaries(st.sampled_from(EVENT_FIELDS), odd_values)),
    max_size=5,
).map(lambda events: json.dumps(events).encode())
fuzzed_headers = st.dictionaries(HEADER_NAMES | st.text(max_size=10), st.text(max_size=60),
                                 max_size=4)


def assert_typed(result: object) -> None:
    assert isinstance(result, WebhookBatch | Rejection), result
    if isinstance(result, Rejection):
        assert result.status in (400, 401, 403, 413)


@FUZZ
@given(
    body=st.one_of(fuzzed_events, fuzzed_events, st.binary(max_size=300),
                   json_values.map(lambda v: json.dumps(v).encode())),
    headers=fuzzed_headers,
    sign=st.sampled_from([True, True, True, False]),
    skew=st.integers(min_value=-400_000, max_value=400_000),  # ms
)
def test_fuzzed_hubspot_bodies_and_headers_yield_a_batch_or_a_typed_rejection(
    body: bytes, headers: dict[str, str], sign: bool, skew: int
) -> None:
    if sign:
        headers = {**headers, **hubspot_request(
            body, sent_at=NOW + timedelta(milliseconds=skew)).headers}

    assert_typed(parse_hubspot(WebhookRequest(body=body, headers=headers, uri=URI), HUBSPOT, NOW))


xml_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
outbound_bodies = st.lists(st.sampled_from([LEAD_A, LEAD_B]), max_size=3).map(
    lambda ids: outbound_body(*ids))
spliced_outbound = st.tuples(
    outbound_bodies, st.integers(min_value=0, max_value=1_500), st.integers(0, 8),
    st.sampled_from(["", "<", ">", "&lol;", "]]>", "\x00", "<Id>", "</sObject>", ORG_ID]) | xml_text,
).map(lambda s: s[0][: s[1]] + s[3].encode() + s[0][s[1] + s[2]:])


@FUZZ
@given(
    body=st.binary(max_size=300) | outbound_bodies | spliced_outbound
    | st.sampled_from([BILLION_LAUGHS, XXE]),
    headers=fuzzed_headers,
)
def test_fuzzed_outbound_messages_yield_a_batch_or_a_typed_rejection(
    body: bytes, headers: dict[str, str]
) -> None:
    assert_typed(parse_outbound_message(WebhookRequest(body=body, headers=headers), OUTBOUND))


@FUZZ
@given(
    body=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode())
    | st.lists(st.sampled_from([LEAD_A, LEAD_B, "", "x" * 18]), max_size=3).map(
        lambda ids: json.dumps({"ids": ids}).encode()),
    headers=fuzzed_headers,
    sign=st.booleans(),
    skew=st.integers(min_value=-400, max_value=400),  # s
)
def test_fuzzed_callouts_yield_a_batch_or_a_typed_rejection(
    body: bytes, headers: dict[str, str], sign: bool, skew: int
) -> None:
    if sign:
        headers = {**headers, **callout_request(body, sent_at=NOW + timedelta(seconds=skew)).headers}

    assert_typed(parse_callout(WebhookRequest(body=body, headers=headers), CALLOUT, NOW))
