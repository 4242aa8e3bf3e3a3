"""Start a seeded HubSpot emulator on a loopback port: `start_hubspot(...)`."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.hubspot.app import HubSpotEmulator
from sandbox.hubspot.auth import AppCredentials
from sandbox.hubspot.portal import Portal, PortalSettings
from sandbox.hubspot.seed import DEFAULT_PORTAL_ID, SeedReport, seed_org
from sandbox.hubspot.store import HubSpotStore
from sandbox.hubspot.webhooks import WebhookSender, WebhookSubscription
from sandbox.leadq_settings import settings_from_environment
from sandbox.orgs import OrgSpec, SynthOrg
from sandbox.server import EmulatorServer
from sync.settings import Settings


@dataclass
class RunningHubSpot:
    """A started emulator and what a client needs to call it."""

    server: EmulatorServer
    emulator: HubSpotEmulator
    seed_report: SeedReport | None
    _temporary: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def store(self) -> HubSpotStore:
        return self.emulator.store

    @property
    def credentials(self) -> AppCredentials:
        return self.emulator.credentials

    @property
    def access_token(self) -> str:
        """The private-app token."""
        return self.credentials.private_app_token

    @property
    def app_id(self) -> int:
        return self.credentials.app_id

    @property
    def client_id(self) -> str:
        return self.credentials.client_id

    @property
    def client_secret(self) -> str:
        return self.credentials.client_secret

    @property
    def refresh_token(self) -> str:
        return self.credentials.refresh_token

    @property
    def portal_id(self) -> int:
        return self.credentials.portal_id

    def leadq_environment(self) -> dict[str, str]:
        """The LEADQ_* settings that point leadq at this portal (a private-app token; the client
        secret signs the webhooks `--notify` receives, which leadq serve verifies)."""
        return {
            "LEADQ_CRM": "hubspot",
            "LEADQ_HUBSPOT_BASE_URL": self.base_url,
            "LEADQ_HUBSPOT_ACCESS_TOKEN": self.access_token,
            "LEADQ_HUBSPOT_APP_ID": str(self.app_id),
            "LEADQ_HUBSPOT_CLIENT_SECRET": self.client_secret,
        }

    def leadq_settings(self, **overrides: Any) -> Settings:
        """leadq's settings for this portal, `overrides` (settings fields) on top."""
        return settings_from_environment(self.leadq_environment(), **overrides)

    def stop(self) -> None:
        self.server.stop()
        if self.emulator.webhooks is not None:
            self.emulator.webhooks.close()
        self.store.close()
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None

    def __enter__(self) -> RunningHubSpot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_hubspot(
    leads: int = 1000,
    seed: int = 7,
    port: int = 0,
    *,
    org: SynthOrg | None = None,
    db_path: Path | None = None,
    rate_limit: tuple[int, float] = (100, 10.0),
    webhook_url: str | None = None,
    settings: PortalSettings | None = None,
    search_per_second: int = 5,
) -> RunningHubSpot:
    """Seed a portal from a synthetic org (unless `db_path` already holds one) and serve it.

    Without `db_path` the portal lives in a temporary file removed by `stop()`.
    """
    org = org or SynthOrg(OrgSpec(leads=leads, seed=seed))
    temporary = None
    if db_path is None:
        temporary = tempfile.TemporaryDirectory(prefix="leadq-hubspot-")
        db_path = Path(temporary.name) / "portal.sqlite"
    store = HubSpotStore(db_path)
    settings = settings or PortalSettings(portal_id=DEFAULT_PORTAL_ID)
    report = seed_org(store, org, portal_id=settings.portal_id) if store.count("contacts") == 0 \
        else None
    emulator = HubSpotEmulator(
        Portal(store, settings, org=org),
        AppCredentials.generate(portal_id=settings.portal_id),
        rate_limit=rate_limit,
        search_per_second=search_per_second,
    )
    if webhook_url is not None:
        emulator.attach_webhooks(WebhookSender(WebhookSubscription(
            url=webhook_url,
            client_secret=emulator.credentials.client_secret,
            app_id=emulator.credentials.app_id,
            portal_id=settings.portal_id,
        )))
    server = EmulatorServer(emulator, port=port).start()
    return RunningHubSpot(server=server, emulator=emulator, seed_report=report,
                          _temporary=temporary)
