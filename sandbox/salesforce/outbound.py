"""Outbound messages: when Leads change, a background thread POSTs SOAP `notifications` (at most
100 per message) to the configured endpoint and expects `<Ack>true</Ack>`.

A message that is not acknowledged is sent again, unchanged, as Salesforce does: the intervals
double from `OutboundRetry.first_interval_seconds` up to two hours apart, and the message is dropped
once it is 24 hours old (CRM_FACTS.md). Those are Salesforce seconds; `time_scale` turns them into
real ones (1/86,400 lives a whole day in a second). Messages waiting for a retry do not hold up
new ones. Each settled message is recorded with its attempts and the intervals it waited.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import requests

from sandbox.salesforce.ids import make_id

MAX_NOTIFICATIONS = 100
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
ENTERPRISE_SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
OUTBOUND_FIELDS = (
    "Id", "Email", "FirstName", "LastName", "Company", "Status", "OwnerId", "IsConverted",
    "LastModifiedDate", "SystemModstamp",
)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class OutboundDelivery:
    """One outbound message as finally settled."""

    notification_ids: tuple[str, ...]
    lead_ids: tuple[str, ...]
    attempts: int
    acknowledged: bool
    retry_intervals: tuple[float, ...] = ()  # Salesforce seconds waited before each retry


@dataclass(frozen=True)
class OutboundRetry:
    """Salesforce's schedule for an unacknowledged message (the first interval is not documented;
    the two-hour cap and the 24-hour life are)."""

    first_interval_seconds: float = 15.0
    max_interval_seconds: float = 2 * 3600.0
    give_up_after_seconds: float = 24 * 3600.0
    time_scale: float = 1.0  # real seconds per Salesforce second

    def intervals(self) -> Iterator[float]:
        """The waits before each retry, in Salesforce seconds, while the message is alive."""
        elapsed, interval = 0.0, self.first_interval_seconds
        while elapsed + interval <= self.give_up_after_seconds:
            yield interval
            elapsed += interval
            interval = min(interval * 2, self.max_interval_seconds)


@dataclass(frozen=True)
class OutboundSettings:
    endpoint_url: str
    organization_id: str
    instance_url: str
    api_version: str = "59.0"
    retry: OutboundRetry = field(default_factory=OutboundRetry)
    timeout_seconds: float = 5.0
    verify: bool | str = True


@dataclass
class _Message:
    """One built message and how its delivery is going."""

    body: str
    notification_ids: tuple[str, ...]
    lead_ids: tuple[str, ...]
    intervals: Iterator[float]
    attempts: int = 0
    waited: tuple[float, ...] = ()

    def settled(self, acknowledged: bool) -> OutboundDelivery:
        return OutboundDelivery(self.notification_ids, self.lead_ids, self.attempts,
                                acknowledged, self.waited)


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"the sandbox only sends outbound messages to loopback, not {host!r}")


def soap_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text.endswith("+0000") and "T" in text:
        return text[:-5] + "Z"
    return text


def notifications_envelope(
    settings: OutboundSettings,
    action_id: str,
    session_id: str | None,
    notifications: Sequence[tuple[str, dict[str, Any]]],
) -> str:
    org = settings.organization_id
    base = settings.instance_url
    session = (
        f"<SessionId>{escape(session_id)}</SessionId>" if session_id
        else '<SessionId xsi:nil="true"/>'
    )
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
        "<soapenv:Body>",
        f'<notifications xmlns="{OUTBOUND_NS}">',
        f"<OrganizationId>{org}</OrganizationId>",
        f"<ActionId>{action_id}</ActionId>",
        session,
        f"<EnterpriseUrl>{base}/services/Soap/c/{settings.api_version}/{org}</EnterpriseUrl>",
        f"<PartnerUrl>{base}/services/Soap/u/{settings.api_version}/{org}</PartnerUrl>",
    ]
    for notification_id, record in notifications:
        parts.append(f"<Notification><Id>{notification_id}</Id>")
        parts.append(f'<sObject xsi:type="sf:Lead" xmlns:sf="{ENTERPRISE_SOBJECT_NS}">')
        for name, value in record.items():
            if value is None:
                parts.append(f'<sf:{name} xsi:nil="true"/>')
            else:
                parts.append(f"<sf:{name}>{escape(soap_value(value))}</sf:{name}>")
        parts.append("</sObject></Notification>")
    parts.append("</notifications></soapenv:Body></soapenv:Envelope>")
    return "".join(parts)


def acknowledged(response: requests.Response) -> bool:
    if response.status_code != 200:
        return False
    try:
        root = ElementTree.fromstring(response.content)
    except ElementTree.ParseError:
        return False
    return any(
        element.tag.rsplit("}", 1)[-1] == "Ack" and (element.text or "").strip() == "true"
        for element in root.iter()
    )


class OutboundMessenger:
    """Queues changed Lead ids and delivers them from one background thread."""

    def __init__(
        self,
        settings: OutboundSettings,
        read_leads: Callable[[list[str]], list[dict[str, Any]]],
        session_id: Callable[[], str | None] = lambda: None,
    ) -> None:
        check_loopback(settings.endpoint_url)
        self.settings = settings
        self.read_leads = read_leads
        self.session_id = session_id
        self.action_id = make_id("04k", 1)
        self.deliveries: list[OutboundDelivery] = []
        self._pending: dict[str, None] = {}
        self._retries: list[tuple[float, int, _Message]] = []  # (due, order, message), a heap
        self._in_flight = 0
        self._condition = threading.Condition()
        self._stopping = False
        self._numbers = itertools.count(1)
        self._order = itertools.count()
        self._http = requests.Session()
        self._http.trust_env = False
        self._thread = threading.Thread(target=self._run, name="outbound-messages", daemon=True)
        self._thread.start()

    def enqueue(self, lead_ids: Sequence[str]) -> None:
        with self._condition:
            for lead_id in lead_ids:
                self._pending[lead_id] = None
            self._condition.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued change has been acknowledged or given up."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._pending or self._retries or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
        return True

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        self._thread.join(timeout=5)
        self._http.close()

    def _next_work(self) -> _Message | list[str] | None:
        """A message whose retry is due, else the next changed leads; None once stopping."""
        with self._condition:
            while not self._stopping:
                if self._retries and self._retries[0][0] <= time.monotonic():
                    self._in_flight += 1
                    return heapq.heappop(self._retries)[2]
                if self._pending:
                    batch = list(itertools.islice(self._pending, MAX_NOTIFICATIONS))
                    for lead_id in batch:
                        del self._pending[lead_id]
                    self._in_flight += 1
                    return batch
                due = self._retries[0][0] - time.monotonic() if self._retries else None
                self._condition.wait(due)
            return None

    def _run(self) -> None:
        while (work := self._next_work()) is not None:
            try:
                message = work if isinstance(work, _Message) else self._message(work)
                if message is not None:
                    self._attempt(message)
            finally:
                with self._condition:
                    self._in_flight -= 1
                    self._condition.notify_all()

    def _message(self, lead_ids: list[str]) -> _Message | None:
        records = self.read_leads(lead_ids)
        if not records:
            return None
        notifications = [(make_id("04l", next(self._numbers)), record) for record in records]
        body = notifications_envelope(
            self.settings, self.action_id, self.session_id(), notifications
        )
        return _Message(
            body,
            tuple(notification_id for notification_id, _ in notifications),
            tuple(str(record["Id"]) for record in records),
            self.settings.retry.intervals(),
        )

    def _attempt(self, message: _Message) -> None:
        message.attempts += 1
        if self._post(message.body):
            self._settle(message.settled(True))
            return
        interval = next(message.intervals, None)
        if interval is None:
            self._settle(message.settled(False))
            return
        message.waited += (interval,)
        due = time.monotonic() + interval * self.settings.retry.time_scale
        with self._condition:
            heapq.heappush(self._retries, (due, next(self._order), message))

    def _settle(self, delivery: OutboundDelivery) -> None:
        with self._condition:
            self.deliveries.append(delivery)

    def _post(self, body: str) -> bool:
        try:
            response = self._http.post(
                self.settings.endpoint_url,
                data=body.encode(),
                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
                timeout=self.settings.timeout_seconds,
                verify=self.settings.verify,
            )
        except requests.RequestException:
            return False
        return acknowledged(response)
