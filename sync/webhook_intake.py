"""From a webhook request to queued work and an answer: what every webhook route does, whether API
Gateway or `leadq serve` received the request.

1. Refuse a body over 1 MiB by its declared Content-Length (413) before decoding it.
2. Verify and parse (sync/webhooks.py): a typed rejection becomes its status; an unexpected
   exception in parsing is a 400, logged — bad input never gets a 5xx.
3. Deliver once: with an idempotency table, Powertools idempotency keyed on the source and the
   body's hash answers an identical redelivery from its record (an identical one still in flight
   gets 409). Then the notices whose dedupe keys the state store has already seen are dropped,
   the rest become work on the queue, and only once the queue took it are their keys remembered
   (for 48 hours): a failed send (503) leaves them for the CRM's retry.
4. Answer: JSON counts, or for a Salesforce outbound message the SOAP Ack — sent only now, after
   the ids are queued.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sync.logs import logger
from sync.services import DEDUPE_TTL, IDEMPOTENCY_TTL, NotConfiguredError, Services
from sync.webhook_models import (
    MAX_BODY_BYTES,
    Rejection,
    WebhookBatch,
    WebhookRequest,
    WebhookSource,
)
from sync.webhooks import (
    OUTBOUND_ACK_CONTENT_TYPE,
    outbound_ack,
    parse_callout,
    parse_hubspot,
    parse_outbound_message,
)
from sync.work import QueueError, work_for

JSON = "application/json"
_LENGTH = re.compile(r"[0-9]{1,15}")
IN_PROGRESS_EXPIRY_MS = 10_000


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str = JSON

    @classmethod
    def of(cls, status: int, **fields: object) -> Answer:
        return cls(status, json.dumps(fields, separators=(",", ":")))


def oversized(headers: Mapping[str, str]) -> Answer | None:
    """413 when the declared Content-Length is over the limit (or not a length: 400)."""
    declared = next((value for name, value in headers.items()
                     if name.lower() == "content-length"), None)
    if declared is None:
        return None
    if not _LENGTH.fullmatch(declared.strip()):
        return Answer.of(400, error="Content-Length is not a number")
    if int(declared) > MAX_BODY_BYTES:
        return Answer.of(413, error=f"body over {MAX_BODY_BYTES} bytes")
    return None


def request_from_event(event: Mapping[str, Any], base_url: str | None) -> WebhookRequest | Answer:
    """An API Gateway HTTP API (payload 2.0) event as the request the CRM signed. The signed URI
    is `base_url` (LEADQ_WEBHOOK_BASE_URL) + the raw path and query; without one, the scheme
    (`x-forwarded-proto`) and host API Gateway saw."""
    headers = {str(name): str(value) for name, value in (event.get("headers") or {}).items()}
    refused = oversized(headers)
    if refused is not None:
        return refused
    raw = event.get("body") or ""
    try:
        body = base64.b64decode(raw, validate=True) if event.get("isBase64Encoded") \
            else str(raw).encode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return Answer.of(400, error="body is not decodable")
    context = event.get("requestContext") or {}
    method = str((context.get("http") or {}).get("method") or "POST")
    lowered = {name.lower(): value for name, value in headers.items()}
    base = base_url or (
        f"{lowered.get('x-forwarded-proto', 'https')}://{context.get('domainName', '')}"
    )
    query = event.get("rawQueryString") or ""
    uri = base.rstrip("/") + str(event.get("rawPath") or "") + (f"?{query}" if query else "")
    return WebhookRequest(body=body, headers=headers, uri=uri, method=method)


class OutsideLambda:
    """The Lambda context's remaining time, for `leadq serve`: Powertools lets another attempt
    take over a delivery left in progress once this much time has passed."""

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return IN_PROGRESS_EXPIRY_MS


def answer_event(
    source: WebhookSource, event: Mapping[str, Any], services: Services, lambda_context: Any
) -> Answer:
    """The answer to an API Gateway HTTP API event posted to `source`'s route."""
    try:
        request = request_from_event(event, services.settings.webhook_base_url)
    except Exception:
        logger.exception("webhook request could not be read", extra={"source": source})
        return Answer.of(400, error="the request could not be read")
    if isinstance(request, Answer):
        return request
    return answer_webhook(source, request, services, lambda_context)


def answer_webhook(
    source: WebhookSource, request: WebhookRequest, services: Services, lambda_context: Any = None
) -> Answer:
    try:
        verdict = _verdict(source, request, services)
    except NotConfiguredError as error:
        logger.error("webhook route not configured", extra={"source": source, "why": str(error)})
        return Answer.of(503, error="this endpoint is not configured")
    except Exception:
        logger.exception("webhook could not be parsed", extra={"source": source})
        return Answer.of(400, error="the request could not be parsed")
    if isinstance(verdict, Rejection):
        logger.warning(
            "webhook refused",
            extra={"source": source, "status": verdict.status, "why": verdict.reason},
        )
        return Answer.of(verdict.status, error=verdict.reason)
    return _deliver_once(source, request.body, verdict, services, lambda_context or OutsideLambda())


def _verdict(
    source: WebhookSource, request: WebhookRequest, services: Services
) -> WebhookBatch | Rejection:
    if source == "hubspot":
        return parse_hubspot(request, services.hubspot, services.clock())
    if source == "salesforce_outbound":
        return parse_outbound_message(request, services.outbound)
    return parse_callout(request, services.callout, services.clock())


def _deliver_once(
    source: WebhookSource,
    body: bytes,
    batch: WebhookBatch,
    services: Services,
    lambda_context: Any,
) -> Answer:
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
    )

    delivery = {"source": source, "body_sha256": hashlib.sha256(body).hexdigest()}
    try:
        if services.idempotency is None:
            return deliver(batch, services)
        delivered_once = _idempotent_delivery(services, lambda_context)
        return Answer(**delivered_once(delivery=delivery, batch=batch))
    except IdempotencyAlreadyInProgressError:
        return Answer.of(409, error="the same delivery is being handled")
    except (QueueError, NotConfiguredError) as error:
        logger.error("webhook work could not be queued", extra={"source": source,
                                                                 "why": str(error)})
        return Answer.of(503, error="the work could not be queued; deliver again")


def _idempotent_delivery(services: Services, lambda_context: Any) -> Any:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    def answered_before(response: Any, record: Any) -> Any:
        logger.info("webhook answered from its idempotency record", extra={"queued": 0})
        return response

    config = IdempotencyConfig(
        expires_after_seconds=int(IDEMPOTENCY_TTL.total_seconds()), response_hook=answered_before
    )
    config.register_lambda_context(lambda_context)

    @idempotent_function(
        data_keyword_argument="delivery", persistence_store=services.idempotency, config=config
    )
    def delivered_once(delivery: dict[str, str], batch: WebhookBatch) -> dict[str, Any]:
        return asdict(deliver(batch, services))

    return delivered_once


def deliver(batch: WebhookBatch, services: Services) -> Answer:
    """Queue the work of the notices not seen before, then remember their keys."""
    now = services.clock()
    store = services.store
    fresh = batch.without(store.seen_webhooks(batch.dedupe_keys, now))
    work = work_for(fresh)
    if work:
        services.queue.send(work)
    if fresh.dedupe_keys:
        store.remember_webhooks(fresh.dedupe_keys, now, DEDUPE_TTL)
    counts = {
        "notices": len(batch.notices),
        "duplicates": len(batch.notices) - len(fresh.notices),
        "echoes": batch.echoes_dropped,
        "ignored": batch.unknown_ignored,
        "queued": len(work),
        "rescore": len(fresh.lead_ids),
        "companies": len(fresh.company_ids),
        "forget": len(fresh.forget_ids),
    }
    logger.info("webhook delivered", extra={"source": batch.source, **counts})
    if batch.source == "salesforce_outbound":
        return Answer(200, outbound_ack().decode(), OUTBOUND_ACK_CONTENT_TYPE)
    return Answer.of(200, **counts)
