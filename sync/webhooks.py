"""Verify and parse CRM change notifications into the work they ask for. Pure: bytes, headers,
the signed URI, `now` and a config in; a `WebhookBatch` or a `Rejection` out. No I/O, no clock,
no state: dedupe keys are returned for the caller to check; nothing here raises on bad input.

Three endpoints:
- **HubSpot v3** (`parse_hubspot`): `X-HubSpot-Signature-v3` = base64(HMAC-SHA256(client secret,
  method + URI + body + timestamp)) with `X-HubSpot-Request-Timestamp` in epoch milliseconds; a JSON
  array of events. leadq's echoes (a change made by leadq's app, or a contact.propertyChange to one
  of leadq's output properties) are dropped; unknown subscription types are counted and ignored.
- **Salesforce outbound message** (`parse_outbound_message`): SOAP, parsed with defusedxml (no
  DTD, no entities); `OrganizationId` must be the configured org. Answer `outbound_ack()` only
  after the ids are queued: an unacknowledged message is delivered again.
- **Salesforce JSON callout** (`parse_callout`), for a Flow or Apex HTTP callout:
  `X-Leadq-Timestamp` (epoch seconds) and `X-Leadq-Signature` = hex(HMAC-SHA256(shared secret,
  timestamp + "." + body)); body `{"ids": ["00Q…", …], "deliveryId": "…"}` (1–200 ids of Leads or
  Contacts; `deliveryId` optional, e.g. the Flow's `{!$Flow.InterviewGuid}`).

Statuses: a body over the limit 413; a missing or unusable timestamp header, a body that is not the
documented shape 400; a missing, wrong or stale signature 401; a foreign Salesforce org 403. Bodies
are parsed only after the signature checks out, so an unauthenticated caller learns nothing
about what leadq would accept. A signed body of the wrong shape is refused whole (400) rather than
half-used: the sender retries, and the failure shows in its delivery log and in ours.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, NoReturn, TypeVar
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as parse_xml_safely
from hubspot.utils.signature import Signature
from pydantic import (
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)
from pydantic.alias_generators import to_camel

from sync.webhook_models import (
    CalloutConfig,
    HubSpotWebhookConfig,
    Notice,
    OutboundMessageConfig,
    Rejection,
    RejectionStatus,
    WebhookBatch,
    WebhookLimits,
    WebhookRequest,
)

HUBSPOT_SIGNATURE = "X-HubSpot-Signature-v3"
HUBSPOT_TIMESTAMP = "X-HubSpot-Request-Timestamp"
CALLOUT_SIGNATURE = "X-Leadq-Signature"
CALLOUT_TIMESTAMP = "X-Leadq-Timestamp"
MAX_CALLOUT_IDS = 200  # a Flow or Apex trigger handles records 200 at a time

SOAP_ENVELOPE_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
OUTBOUND_ACK_CONTENT_TYPE = "text/xml; charset=utf-8"
_OUTBOUND_ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENVELOPE_NS}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
).encode()

_DIGITS = re.compile(r"[0-9]{1,16}")
_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
SalesforceId = Annotated[str, Field(pattern=f"^{_SALESFORCE_ID.pattern}$")]
HubSpotId = Annotated[StrictInt, Field(gt=0)]
Parsed = TypeVar("Parsed")


class _Refused(Exception):  # noqa: N818 — internal: carries a Rejection to the public boundary
    def __init__(self, status: RejectionStatus, reason: str) -> None:
        super().__init__(reason)
        self.rejection = Rejection(status=status, reason=reason)


def _refuse(status: RejectionStatus, reason: str) -> NoReturn:
    raise _Refused(status, reason)


def _verdict(check: Callable[[], WebhookBatch]) -> WebhookBatch | Rejection:
    try:
        return check()
    except _Refused as refused:
        return refused.rejection


# ---- shared checks ---------------------------------------------------------------------------


def _check_size(request: WebhookRequest, limits: WebhookLimits) -> None:
    if len(request.body) > limits.max_body_bytes:
        _refuse(413, f"body over {limits.max_body_bytes} bytes")


def _timestamp_ms(request: WebhookRequest, header: str, ms_per_unit: int) -> int:
    text = request.header(header)
    if text is None:
        _refuse(400, f"no {header} header")
    if not _DIGITS.fullmatch(text):
        _refuse(400, f"{header} is not an epoch number")
    return int(text) * ms_per_unit


def _check_fresh(sent_ms: int, now: datetime, window: timedelta) -> None:
    """Both ways: a stale timestamp is a replay; a far-future one would keep a captured request
    replayable until its time comes (HubSpot's own check lets those through)."""
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    age_ms = round(now.timestamp() * 1000) - sent_ms
    window_ms = window // timedelta(milliseconds=1)
    if age_ms > window_ms:
        _refuse(401, "signature timestamp is stale")
    if -age_ms > window_ms:
        _refuse(401, "signature timestamp is in the future")


def _signature(request: WebhookRequest, header: str) -> bytes:
    text = request.header(header)
    if not text:
        _refuse(401, f"no {header} header")
    return text.encode("utf-8", "replace")


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        _refuse(400, "body is not UTF-8")


def _validated(adapter: TypeAdapter[Parsed], body: bytes, what: str) -> Parsed:
    try:
        return adapter.validate_json(body)
    except ValidationError as error:
        _refuse(400, f"{what}: {_first_problem(error)}")


def _first_problem(error: ValidationError) -> str:
    """Where and what, without echoing the offending value."""
    problem = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in problem["loc"]) or "body"
    return f"{where}: {problem['msg']}"


# ---- HubSpot v3 ------------------------------------------------------------------------------


class HubSpotEvent(BaseModel):
    """One webhook event (CRM_FACTS.md, "Webhooks (v3)"); fields a type does not use are absent."""

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        coerce_numbers_to_str=True,
        alias_generator=AliasGenerator(validation_alias=to_camel),
    )

    event_id: StrictInt | StrictStr
    subscription_type: str
    occurred_at: StrictInt
    portal_id: StrictInt | None = None
    object_id: HubSpotId | None = None
    property_name: str | None = None
    change_source: str | None = None
    source_id: str | None = None
    primary_object_id: HubSpotId | None = None
    new_object_id: HubSpotId | None = None
    merged_object_ids: tuple[HubSpotId, ...] = ()
    association_type: str | None = None
    from_object_id: HubSpotId | None = None
    to_object_id: HubSpotId | None = None

    @property
    def dedupe_key(self) -> str:
        """eventId is not guaranteed unique on its own (CRM_FACTS.md): with portal and time it is;
        a redelivery (a higher attemptNumber) keeps all three."""
        return f"hubspot:{self.portal_id or ''}:{self.event_id}:{self.occurred_at}"

    @property
    def occurred(self) -> datetime | None:
        try:
            return datetime.fromtimestamp(self.occurred_at / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None  # an absurd time orders first; the event still counts


_HUBSPOT_EVENTS = TypeAdapter(tuple[HubSpotEvent, ...])


def _required(event: HubSpotEvent, name: str) -> str:
    value = getattr(event, name)
    if value is None:
        _refuse(400, f"a {event.subscription_type} event without {to_camel(name)}")
    return str(value)


def _notice(event: HubSpotEvent, **work: tuple[str, ...]) -> Notice:
    return Notice(dedupe_key=event.dedupe_key, occurred_at=event.occurred, **work)


def _rescore_object(event: HubSpotEvent) -> Notice:
    return _notice(event, rescore=(_required(event, "object_id"),))


def _forget_object(event: HubSpotEvent) -> Notice:
    return _notice(event, forget=(_required(event, "object_id"),))


def _merge(event: HubSpotEvent) -> Notice:
    """The surviving contact is rescored (and a new one, if the merge made one: HubSpot documents
    `newObjectId` as possibly distinct); the merged-away ids are forgotten."""
    survivors = tuple(dict.fromkeys(
        str(object_id) for object_id in (event.primary_object_id, event.new_object_id)
        if object_id is not None
    ))
    if not survivors:
        _refuse(400, "a contact.merge event without primaryObjectId")
    merged = tuple(dict.fromkeys(
        str(object_id) for object_id in event.merged_object_ids if str(object_id) not in survivors
    ))
    return _notice(event, rescore=survivors, forget=merged)


def _association(event: HubSpotEvent) -> Notice:
    """The contact end of the association (added or removed) is rescored: its company may have
    changed. `CONTACT_TO_X` starts at the contact; an `X_TO_CONTACT` type ends at it."""
    kind = (event.association_type or "").upper()
    end = "to_object_id" if kind.endswith("_TO_CONTACT") and not kind.startswith("CONTACT_TO_") \
        else "from_object_id"
    return _notice(event, rescore=(_required(event, end),))


def _company_change(event: HubSpotEvent) -> Notice:
    return _notice(event, expand_companies=(_required(event, "object_id"),))


_HUBSPOT_HANDLERS: dict[str, Callable[[HubSpotEvent], Notice]] = {
    "contact.creation": _rescore_object,
    "contact.propertyChange": _rescore_object,
    "contact.restore": _rescore_object,
    "contact.deletion": _forget_object,
    "contact.privacyDeletion": _forget_object,
    "contact.merge": _merge,
    "contact.associationChange": _association,
    "company.propertyChange": _company_change,
}


def is_echo(event: HubSpotEvent, config: HubSpotWebhookConfig) -> bool:
    """leadq's own write coming back. The app id alone decides the source (HubSpot labels the same
    write `INTEGRATION` or `API`); a change to an output property is ours whoever made it."""
    if event.source_id is not None and event.source_id == config.app_id:
        return True
    return (
        event.subscription_type == "contact.propertyChange"
        and event.property_name in config.output_properties
    )


def _check_hubspot_signature(
    request: WebhookRequest, config: HubSpotWebhookConfig, now: datetime
) -> None:
    """Signed with the library's v3 computation. `Signature.is_valid` is not used because it reads
    the wall clock for the window; here the caller's `now` decides, both ways."""
    sent_ms = _timestamp_ms(request, HUBSPOT_TIMESTAMP, ms_per_unit=1)
    given = _signature(request, HUBSPOT_SIGNATURE)
    _check_fresh(sent_ms, now, config.window)
    expected = Signature.get_signature(
        config.client_secret.get_secret_value(),
        _text(request.body),
        "v3",
        http_uri=request.uri,
        http_method=request.method,
        timestamp=request.header(HUBSPOT_TIMESTAMP),
    )
    if not hmac.compare_digest(expected.encode(), given):
        _refuse(401, "signature does not match")


def _hubspot_batch(events: Iterable[HubSpotEvent], config: HubSpotWebhookConfig) -> WebhookBatch:
    notices: list[Notice] = []
    echoes = unknown = 0
    for event in events:
        handler = _HUBSPOT_HANDLERS.get(event.subscription_type)
        if handler is None:
            unknown += 1
        elif is_echo(event, config):
            echoes += 1
        else:
            notices.append(handler(event))
    return WebhookBatch(
        source="hubspot", notices=tuple(notices), echoes_dropped=echoes, unknown_ignored=unknown
    )


def parse_hubspot(
    request: WebhookRequest, config: HubSpotWebhookConfig, now: datetime
) -> WebhookBatch | Rejection:
    """A HubSpot v3 webhook delivery → the contacts to rescore, companies to expand, ids to forget.

    `request.uri` must be the URI HubSpot signed: `https://` + host + path (+ `?` + query).
    """

    def check() -> WebhookBatch:
        _check_size(request, config)
        _check_hubspot_signature(request, config, now)
        events = _validated(_HUBSPOT_EVENTS, request.body, "not a HubSpot event array")
        return _hubspot_batch(events, config)

    return _verdict(check)


# ---- Salesforce outbound messages ------------------------------------------------------------


def outbound_ack() -> bytes:
    """The SOAP answer that stops Salesforce redelivering: send it only once the ids are queued
    (content type `OUTBOUND_ACK_CONTENT_TYPE`)."""
    return _OUTBOUND_ACK


def _child(parent: Element, namespace: str, name: str) -> Element:
    found = parent.find(f"{{{namespace}}}{name}")
    if found is None:
        _refuse(400, f"outbound message without {name}")
    return found


def _local_text(parent: Element, name: str) -> str | None:
    """The text of the first child called `name` in any namespace (`sf:Id` in the sObject)."""
    for child in parent:
        if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == name:
            return (child.text or "").strip()
    return None


def _salesforce_id(text: str | None, what: str) -> str:
    if text is None or not _SALESFORCE_ID.fullmatch(text):
        _refuse(400, f"{what} is not a Salesforce id")
    return text


def _notifications(request: WebhookRequest) -> Element:
    try:
        root = parse_xml_safely(request.body, forbid_dtd=True)
    except DefusedXmlException:
        _refuse(400, "XML with a DTD or entities is refused")
    except (ParseError, ValueError, LookupError):  # LookupError: an unknown declared encoding
        _refuse(400, "not well-formed XML")
    if root.tag != f"{{{SOAP_ENVELOPE_NS}}}Envelope":
        _refuse(400, "not a SOAP envelope")
    return _child(_child(root, SOAP_ENVELOPE_NS, "Body"), OUTBOUND_NS, "notifications")


def _check_organization(notifications: Element, config: OutboundMessageConfig) -> None:
    """403, not 401: the message names its org and it is another one (a refreshed sandbox org, a
    message pointed at the wrong endpoint) — no credential the sender could fix by retrying. The
    15-character org id is compared, so a configured 15- or 18-character id both match."""
    given = _salesforce_id(_local_text(notifications, "OrganizationId"), "OrganizationId")
    if given[:15] != config.organization_id[:15]:
        _refuse(403, "outbound message from another Salesforce org")


def _outbound_notice(notification: Element) -> Notice:
    notification_id = _salesforce_id(_local_text(notification, "Id"), "a notification Id")
    record = _child(notification, OUTBOUND_NS, "sObject")
    record_id = _salesforce_id(_local_text(record, "Id"), "an sObject Id")
    return Notice(dedupe_key=f"salesforce:outbound:{notification_id}", rescore=(record_id,))


def parse_outbound_message(
    request: WebhookRequest, config: OutboundMessageConfig
) -> WebhookBatch | Rejection:
    """A Salesforce outbound message → one notice per notification (its record to rescore)."""

    def check() -> WebhookBatch:
        _check_size(request, config)
        notifications = _notifications(request)
        _check_organization(notifications, config)
        found = notifications.findall(f"{{{OUTBOUND_NS}}}Notification")
        notices = tuple(_outbound_notice(notification) for notification in found)
        return WebhookBatch(source="salesforce_outbound", notices=notices)

    return _verdict(check)


# ---- Salesforce JSON callouts ----------------------------------------------------------------


class CalloutBody(BaseModel):
    """What a Flow / Apex HTTP callout POSTs. Other keys are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ids: tuple[SalesforceId, ...] = Field(min_length=1, max_length=MAX_CALLOUT_IDS)
    delivery_id: str | None = Field(
        default=None, alias="deliveryId", min_length=1, max_length=200,
        description="Makes a redelivery recognisable: the same id, the same dedupe key",
    )


_CALLOUT_BODY = TypeAdapter(CalloutBody)


def callout_signature(secret: str, timestamp: str, body: bytes) -> str:
    """hex(HMAC-SHA256(secret, timestamp + "." + body)): what the callout sends in
    `X-Leadq-Signature` (Apex: `EncodingUtil.convertToHex(Crypto.generateMac('hmacSHA256', …))`)."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _check_callout_signature(request: WebhookRequest, config: CalloutConfig, now: datetime) -> None:
    sent_ms = _timestamp_ms(request, CALLOUT_TIMESTAMP, ms_per_unit=1000)
    given = _signature(request, CALLOUT_SIGNATURE).lower()
    _check_fresh(sent_ms, now, config.window)
    timestamp = request.header(CALLOUT_TIMESTAMP) or ""
    expected = callout_signature(config.secret.get_secret_value(), timestamp, request.body)
    if not hmac.compare_digest(expected.encode(), given):
        _refuse(401, "signature does not match")


def _callout_dedupe_key(request: WebhookRequest, body: CalloutBody) -> str:
    """The sender's delivery id; without one, the signed request itself, so that a replay inside
    the window counts once."""
    if body.delivery_id is not None:
        return f"salesforce:callout:{body.delivery_id}"
    digest = hashlib.sha256(request.body).hexdigest()
    return f"salesforce:callout:{request.header(CALLOUT_TIMESTAMP)}:{digest}"


def parse_callout(
    request: WebhookRequest, config: CalloutConfig, now: datetime
) -> WebhookBatch | Rejection:
    """A signed JSON callout from a Salesforce Flow or Apex → the ids to rescore."""

    def check() -> WebhookBatch:
        _check_size(request, config)
        _check_callout_signature(request, config, now)
        body = _validated(_CALLOUT_BODY, request.body, "not a leadq callout body")
        notice = Notice(
            dedupe_key=_callout_dedupe_key(request, body), rescore=tuple(dict.fromkeys(body.ids))
        )
        return WebhookBatch(source="salesforce_callout", notices=(notice,))

    return _verdict(check)
