"""Signed v3 change notifications, delivered from a background thread like HubSpot's webhooks.

Changes become events (`contact.creation`, `contact.propertyChange` per property,
`contact.deletion`, `contact.restore`, `contact.merge`, `contact.associationChange`, and the same
for companies when subscribed) and are POSTed as JSON arrays of at most 100 to the subscriber URL
with

    X-HubSpot-Signature-v3     base64(HMAC-SHA256(client secret, method + URI + body + timestamp))
    X-HubSpot-Request-Timestamp  epoch milliseconds

A delivery that fails (connection error, timeout, any status ≥ 300) is retried with exponential
backoff, `attemptNumber` counting up and a fresh signature each time, until `max_attempts`.
Publishing never blocks the API response that caused the change. Only loopback URLs are accepted.
`replay(delivery)` sends a past request again byte for byte (body and headers), as a duplicate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import queue
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from sandbox.hubspot.schema import OBJECT_TYPES
from sandbox.hubspot.writes import ChangeSource, RecordChange

MAX_EVENTS_PER_REQUEST = 100
_CHANGE_FLAGS = {"creation": "NEW", "deletion": "DELETED"}
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class WebhookSubscription:
    url: str
    client_secret: str
    app_id: int
    portal_id: int
    object_types: frozenset[str] = frozenset({"contacts", "companies"})
    properties: frozenset[str] | None = None  # None: a propertyChange subscription for each

    def __post_init__(self) -> None:
        host = urlsplit(self.url).hostname
        if host not in _LOOPBACK_HOSTS:
            raise ValueError(f"the sandbox only delivers webhooks to loopback, not {host!r}")

    def wants(self, change: RecordChange) -> bool:
        if change.object_type not in self.object_types:
            return False
        if change.kind != "propertyChange" or self.properties is None:
            return True
        return change.property_name in self.properties


@dataclass(frozen=True)
class Delivery:
    """One POST attempt: what was sent and how the subscriber answered (None: no answer)."""

    status: int | None
    attempt: int
    body: str
    headers: dict[str, str]
    events: list[dict[str, Any]] = field(repr=False)

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def sign_v3(client_secret: str, method: str, uri: str, body: str, timestamp_ms: int) -> str:
    message = f"{method}{uri}{body}{timestamp_ms}".encode()
    digest = hmac.new(client_secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def subscription_id(subscription_type: str, property_name: str | None) -> int:
    return 100_000 + zlib.crc32(f"{subscription_type}:{property_name or ''}".encode()) % 900_000


class WebhookSender:
    def __init__(
        self,
        subscription: WebhookSubscription,
        *,
        max_attempts: int = 4,
        first_backoff_seconds: float = 0.2,
        linger_seconds: float = 0.05,
        timeout_seconds: float = 5.0,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.subscription = subscription
        self.max_attempts = max_attempts
        self.first_backoff_seconds = first_backoff_seconds
        self.linger_seconds = linger_seconds
        self.timeout_seconds = timeout_seconds
        self.clock_ms = clock_ms
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._event_ids = itertools.count(1)
        self._deliveries: list[Delivery] = []
        self._pending = 0
        self._settled = threading.Condition()
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="hubspot-webhooks", daemon=True)
        self._thread.start()

    # ---- the producer side ----------------------------------------------------------------------

    def publish(self, changes: list[RecordChange], source: ChangeSource) -> None:
        events = [self._event(change, source) for change in changes
                  if self.subscription.wants(change)]
        if not events:
            return
        with self._settled:
            self._pending += len(events)
        for event in events:
            self._queue.put(event)

    def _event(self, change: RecordChange, source: ChangeSource) -> dict[str, Any]:
        subscription_type = f"{OBJECT_TYPES[change.object_type].singular}.{change.kind}"
        event: dict[str, Any] = {
            "eventId": next(self._event_ids),
            "subscriptionId": subscription_id(subscription_type, change.property_name),
            "portalId": self.subscription.portal_id,
            "appId": self.subscription.app_id,
            "occurredAt": change.occurred_ms,
            "subscriptionType": subscription_type,
            "attemptNumber": 0,
        }
        if change.kind != "associationChange":  # an association event names both ends instead
            event["objectId"] = change.object_id
        event["changeSource"] = source.change_source
        if source.source_id is not None:
            event["sourceId"] = source.source_id
        if change.kind == "propertyChange":
            event["propertyName"] = change.property_name
            event["propertyValue"] = change.property_value
        elif change.kind in _CHANGE_FLAGS:
            event["changeFlag"] = _CHANGE_FLAGS[change.kind]
        event.update(change.details)
        return event

    def deliveries(self) -> list[Delivery]:
        with self._settled:
            return list(self._deliveries)

    def replay(self, delivery: Delivery) -> Delivery:
        """POST a past delivery again, byte for byte (same body, signature and timestamp)."""
        return self._send(delivery.body, delivery.headers, delivery.attempt, delivery.events)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every published event was delivered or given up; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._settled:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._settled.wait(remaining)
        return True

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        self._session.close()

    # ---- the delivery thread --------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first, *self._more(MAX_EVENTS_PER_REQUEST - 1)]
            stop = None in batch
            events = [event for event in batch if event is not None]
            self._deliver(events)
            with self._settled:
                self._pending -= len(events)
                self._settled.notify_all()
            if stop:
                return

    def _more(self, room: int) -> list[dict[str, Any] | None]:
        """Events arriving within the linger time, so one burst of changes is one request."""
        batch: list[dict[str, Any] | None] = []
        deadline = time.monotonic() + self.linger_seconds
        while len(batch) < room:
            remaining = deadline - time.monotonic()
            try:
                event = self._queue.get(timeout=max(remaining, 0.0)) if remaining > 0 else (
                    self._queue.get_nowait())
            except queue.Empty:
                break
            batch.append(event)
            if event is None:
                break
        return batch

    def _deliver(self, events: list[dict[str, Any]]) -> None:
        for attempt in range(self.max_attempts):
            if attempt:
                time.sleep(self.first_backoff_seconds * 2 ** (attempt - 1))
            sent = [{**event, "attemptNumber": attempt} for event in events]
            if self._post(sent, attempt).succeeded:
                return

    def _post(self, events: list[dict[str, Any]], attempt: int) -> Delivery:
        body = json.dumps(events, separators=(",", ":"))
        timestamp = self.clock_ms()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (leadq sandbox)",
            "X-HubSpot-Signature-v3": sign_v3(
                self.subscription.client_secret, "POST", self.subscription.url, body, timestamp
            ),
            "X-HubSpot-Signature-Version": "v3",
            "X-HubSpot-Request-Timestamp": str(timestamp),
        }
        return self._send(body, headers, attempt, events)

    def _send(self, body: str, headers: dict[str, str], attempt: int,
              events: list[dict[str, Any]]) -> Delivery:
        try:
            response = self._session.post(
                self.subscription.url, data=body.encode(), headers=headers,
                timeout=self.timeout_seconds,
            )
            status: int | None = response.status_code
        except requests.RequestException:
            status = None
        delivery = Delivery(status, attempt, body, headers, events)
        with self._settled:
            self._deliveries.append(delivery)
        return delivery
