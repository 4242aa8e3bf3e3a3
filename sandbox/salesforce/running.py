"""Start a seeded Salesforce emulator on a loopback port over TLS, ready for simple-salesforce.

How simple-salesforce reaches it: REST calls go to `https://{instance}/services/data/...`, and
the instance comes from the login answer (`serverUrl` / `instance_url`), which the emulator sets
to itself, so every REST call lands on 127.0.0.1:PORT over TLS verified against a throwaway CA.
The login itself is the one thing simple-salesforce always sends to
`https://{domain}.salesforce.com/...`; `RunningSalesforce.session()` therefore mounts a transport
adapter for the Salesforce login hosts on the session it returns, which forwards those requests
to the emulator. Nothing in the library is patched: a connector keeps `domain="login"` (or
"test", or a My Domain) exactly as in production and only receives a different `session=`.
Session-id logins (`instance_url=` + `session_id=`) need no adapter at all.
"""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from connectors.salesforce_config import DEFAULT_API_VERSION
from sandbox.leadq_settings import settings_from_environment
from sandbox.orgs import OrgSpec, SynthOrg
from sandbox.salesforce.app import Identity, SalesforceEmulator, utc_now
from sandbox.salesforce.assignment import AssignmentRule
from sandbox.salesforce.bulk import BulkQueries
from sandbox.salesforce.context import Org
from sandbox.salesforce.field_history import org_tracking
from sandbox.salesforce.outbound import (
    OUTBOUND_FIELDS,
    OutboundMessenger,
    OutboundRetry,
    OutboundSettings,
)
from sandbox.salesforce.queries import QueryEngine
from sandbox.salesforce.schema import build_schema
from sandbox.salesforce.seed import SeedSummary, seed_baseline, seed_org
from sandbox.salesforce.sessions import Credentials
from sandbox.salesforce.store import SalesforceStore
from sandbox.salesforce.values import render
from sandbox.salesforce.writes import RecordWriter
from sandbox.server import EmulatorServer, RollingWindowLimit, TlsFiles
from sync.settings import Settings

MY_DOMAIN = "leadq-sandbox.my"
LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com", f"{MY_DOMAIN}.salesforce.com")
API_VERSION = DEFAULT_API_VERSION
# Outbound retries in a sandbox: Salesforce's first 15-second interval takes 0.2 s, a day 19 min.
DEMO_OUTBOUND_TIME_SCALE = 0.2 / 15


class LoginHostAdapter(HTTPAdapter):
    """Sends requests addressed to a Salesforce login host to the emulator instead (same path
    and query), as a hosts-file entry would; TLS is still verified, against the sandbox CA."""

    def __init__(self, target_base_url: str) -> None:
        super().__init__()
        self.target = urlsplit(target_base_url)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        original = urlsplit(request.url or "")
        rerouted = request.copy()
        rerouted.url = urlunsplit(
            (self.target.scheme, self.target.netloc, original.path, original.query, "")
        )
        return super().send(rerouted, **kwargs)


def sandbox_session(base_url: str, ca_pem: Path) -> requests.Session:
    """A requests session that trusts the sandbox CA and reaches the login hosts through it.

    `trust_env` is off: with it on, requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the
    environment override `session.verify`, and proxy variables could route loopback traffic away.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_pem)
    adapter = LoginHostAdapter(base_url)
    for host in LOGIN_HOSTS:
        session.mount(f"https://{host}/", adapter)
    return session


SalesforceLogin = Literal["password", "session"]


@dataclass
class RunningSalesforce:
    """A started emulator, its credentials and the means to reach it."""

    emulator: SalesforceEmulator
    server: EmulatorServer
    tls: TlsFiles
    credentials: Credentials
    organization_id: str
    seed_summary: SeedSummary | None
    messenger: OutboundMessenger | None = None
    _workdir: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def instance_url(self) -> str:
        return self.server.base_url

    @property
    def ca_pem(self) -> Path:
        return self.tls.ca_pem

    @property
    def store(self) -> SalesforceStore:
        return self.emulator.store

    @property
    def username(self) -> str:
        return self.credentials.username

    @property
    def password(self) -> str:
        return self.credentials.password

    @property
    def security_token(self) -> str:
        return self.credentials.security_token

    @property
    def consumer_key(self) -> str:
        return self.credentials.consumer_key

    @property
    def consumer_secret(self) -> str:
        return self.credentials.consumer_secret

    @property
    def my_domain(self) -> str:
        """The `domain=` for client-credentials logins (simple-salesforce refuses login/test)."""
        return MY_DOMAIN

    def leadq_environment(self, login: SalesforceLogin = "password") -> dict[str, str]:
        """The LEADQ_* settings that point leadq at this org. A password login works only
        through this process's `session()` (simple-salesforce sends logins to
        *.salesforce.com, which that session forwards here); another process needs `session`."""
        if login == "password":
            credentials = {
                "LEADQ_SALESFORCE_USERNAME": self.username,
                "LEADQ_SALESFORCE_PASSWORD": self.password,
                "LEADQ_SALESFORCE_SECURITY_TOKEN": self.security_token,
            }
        else:
            credentials = {
                "LEADQ_SALESFORCE_INSTANCE_URL": self.instance_url,
                "LEADQ_SALESFORCE_SESSION_ID": self.emulator.open_session(),
            }
        return {
            "LEADQ_CRM": "salesforce",
            **credentials,
            "LEADQ_SALESFORCE_CA_BUNDLE": str(self.ca_pem),
            "LEADQ_SALESFORCE_ORGANIZATION_ID": self.organization_id,
        }

    def leadq_settings(
        self, login: SalesforceLogin = "password", **overrides: Any
    ) -> Settings:
        """leadq's settings for this org, `overrides` (settings fields) on top."""
        return settings_from_environment(self.leadq_environment(login), **overrides)

    def session(self) -> requests.Session:
        return sandbox_session(self.base_url, self.ca_pem)

    def connection_details(self) -> dict[str, str]:
        """What a person needs to point a client at the sandbox (for the CLI to print)."""
        return {
            "base_url": self.base_url,
            "instance_url": self.instance_url,
            "ca_pem": str(self.ca_pem),
            "username": self.username,
            "password": self.password,
            "security_token": self.security_token,
            "consumer_key": self.consumer_key,
            "consumer_secret": self.consumer_secret,
            "my_domain": self.my_domain,
            "organization_id": self.organization_id,
        }

    @cached_property
    def jwt_private_key_pem(self) -> str:
        """A private key whose public half the emulator trusts for JWT bearer logins."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.credentials.jwt_public_key_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def send_outbound_to(
        self, url: str, time_scale: float = DEMO_OUTBOUND_TIME_SCALE
    ) -> OutboundMessenger:
        """From now on, POST an outbound message to `url` (loopback only) when Leads change;
        unacknowledged ones are retried on Salesforce's schedule times `time_scale`."""
        self.stop_outbound()
        self.messenger = OutboundMessenger(
            OutboundSettings(
                endpoint_url=url,
                organization_id=self.organization_id,
                instance_url=self.instance_url,
                api_version=API_VERSION,
                retry=OutboundRetry(time_scale=time_scale),
            ),
            lambda lead_ids: lead_notification_fields(self.store, lead_ids),
            self.emulator.outbound_session_id,
        )
        self.emulator.writer.lead_listeners.append(self.messenger.enqueue)
        return self.messenger

    def stop_outbound(self) -> None:
        if self.messenger is None:
            return
        self.emulator.writer.lead_listeners.remove(self.messenger.enqueue)
        self.messenger.stop()
        self.messenger = None

    def stop(self) -> None:
        self.server.stop()
        self.stop_outbound()
        self.emulator.org.bulk.close()
        self.emulator.queries.close()
        self.store.close()
        if self._workdir is not None:
            self._workdir.cleanup()

    def __enter__(self) -> RunningSalesforce:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def lead_notification_fields(store: SalesforceStore, lead_ids: list[str]) -> list[dict[str, Any]]:
    lead = store.sobject("Lead")
    fields = [field for name in OUTBOUND_FIELDS if (field := lead.get_field(name)) is not None]
    rows = store.fetch(lead, lead_ids, fields)
    return [
        {field.name: render(field, rows[lead_id][field.name]) for field in fields}
        for lead_id in lead_ids
        if lead_id in rows
    ]


def build_emulator(
    store: SalesforceStore,
    credentials: Credentials,
    *,
    daily_limit: int,
    session_ttl_seconds: float,
    rolling_limit: RollingWindowLimit | None,
) -> SalesforceEmulator:
    baseline = seed_baseline(store, utc_now(), credentials.username)
    writer = RecordWriter(store, utc_now, lambda: baseline.integration_user_id)
    queries = QueryEngine(store, store.schema, lambda: utc_now().date())
    bulk = BulkQueries(queries, utc_now, store.path.parent)
    emulator = SalesforceEmulator(
        Org(store, writer, queries, utc_now, lambda: emulator.faults.record_fails(), bulk),
        credentials,
        Identity(baseline.organization_id, baseline.integration_user_id),
        daily_limit=daily_limit,
        session_ttl_seconds=session_ttl_seconds,
        rolling_limit=rolling_limit,
    )
    return emulator


def queue_assignment_rule(store: SalesforceStore) -> AssignmentRule | None:
    """The default active rule: every auto-assigned Lead goes to the first queue."""
    row = store.read_one('SELECT "Id" FROM "Group" WHERE "Type" = \'Queue\' ORDER BY rowid LIMIT 1')
    return AssignmentRule([str(row[0])], name="Inbound leads to the queue") if row else None


def new_credentials(username: str) -> Credentials:
    return Credentials(
        username=username,
        password=f"sandbox-{secrets.token_hex(6)}",
        security_token=secrets.token_hex(12),
        consumer_key=f"3MVG9{secrets.token_hex(20)}",
        consumer_secret=secrets.token_hex(32).upper(),
    )


def start_salesforce(
    leads: int = 1000,
    seed: int = 7,
    port: int = 0,
    *,
    org: SynthOrg | None = None,
    db_path: Path | None = None,
    outbound_url: str | None = None,
    custom_fields: bool = True,
    daily_limit: int = 100_000,
    session_ttl_seconds: float = 7200.0,
    rolling_limit: RollingWindowLimit | None = None,
    outbound_time_scale: float = DEMO_OUTBOUND_TIME_SCALE,
) -> RunningSalesforce:
    """Seed an org (unless `db_path` already holds one), serve it over TLS and return the handle.

    `outbound_url` (loopback only) receives an outbound message whenever a Lead changes.
    """
    workdir = tempfile.TemporaryDirectory(prefix="leadq-salesforce-")
    synth = org or SynthOrg(OrgSpec(leads=leads, seed=seed))
    planted = synth.spec.planted_fields
    store = SalesforceStore(build_schema(custom_fields, planted, synth.spec.activity_counts),
                            db_path or Path(workdir.name) / "org.db")
    already_seeded = store.count(store.sobject("Lead"), include_deleted=True) > 0
    credentials = new_credentials("integration@leadq-sandbox.example")
    emulator = build_emulator(
        store, credentials, daily_limit=daily_limit, session_ttl_seconds=session_ttl_seconds,
        rolling_limit=rolling_limit,
    )
    summary = None if already_seeded else seed_org(store, synth)
    emulator.synth_org = synth
    emulator.writer.assignment_rule = queue_assignment_rule(store)
    emulator.writer.field_tracking = org_tracking(planted)
    tls = TlsFiles.create(Path(workdir.name))
    server = EmulatorServer(emulator, port=port, tls=tls).start()
    running = RunningSalesforce(
        emulator, server, tls, credentials, emulator.identity.organization_id, summary,
        _workdir=workdir,
    )
    if outbound_url:
        running.send_outbound_to(outbound_url, outbound_time_scale)
    return running
