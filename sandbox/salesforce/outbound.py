"""Outbound messages: when Leads change, a background thread POSTs SOAP `notifications` (at most
100 per message) to the configured endpoint and expects `<Ack>true</Ack>`; a message that is not
acknowledged is retried with exponential backoff a few times, then given up and recorded."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class OutboundSettings:
    endpoint_url: str
    organization_id: str
    instance_url: str
    api_version: str = "59.0"
    max_attempts: int = 4
    backoff_seconds: float = 0.2
    timeout_seconds: float = 5.0
    verify: bool | str = True


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
        self._in_flight = 0
        self._condition = threading.Condition()
        self._stopping = False
        self._numbers = itertools.count(1)
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
        """Block until every queued change has been delivered or given up."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._pending or self._in_flight:
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

    def _next_batch(self) -> list[str] | None:
        with self._condition:
            while not self._pending and not self._stopping:
                self._condition.wait()
            if self._stopping:
                return None
            batch = list(itertools.islice(self._pending, MAX_NOTIFICATIONS))
            for lead_id in batch:
                del self._pending[lead_id]
            self._in_flight += 1
            return batch

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._deliver(batch)
            finally:
                with self._condition:
                    self._in_flight -= 1
                    self._condition.notify_all()

    def _deliver(self, lead_ids: list[str]) -> None:
        records = self.read_leads(lead_ids)
        if not records:
            return
        notifications = [(make_id("04l", next(self._numbers)), record) for record in records]
        body = notifications_envelope(
            self.settings, self.action_id, self.session_id(), notifications
        )
        attempts, ok = 0, False
        while attempts < self.settings.max_attempts and not self._stopping:
            attempts += 1
            ok = self._post(body)
            if ok:
                break
            time.sleep(self.settings.backoff_seconds * 2 ** (attempts - 1))
        self.deliveries.append(
            OutboundDelivery(
                tuple(notification_id for notification_id, _ in notifications),
                tuple(str(record["Id"]) for record in records),
                attempts,
                ok,
            )
        )

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
