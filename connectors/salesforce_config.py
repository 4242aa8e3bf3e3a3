"""What the Salesforce connector needs to reach and log in to one org — its own small config,
so that connectors never import sync's settings.

sync/runtime.py builds a `SalesforceConfig` from the `LEADQ_SALESFORCE_*` settings. Errors name
those variables (`setting_name`), so a RevOps admin reads what to change; a unit test keeps each
name in step with sync/settings.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SETTING_PREFIX = "LEADQ_SALESFORCE_"
# The newest API version that still serves SOAP login() — the password login simple-salesforce
# uses. login() is unavailable from 65.0 and retired in Summer '27 (SOAP API guide, api-eol-soap);
# with JWT bearer or client credentials, 65.0 and later work too.
DEFAULT_API_VERSION = "64.0"
LAST_SOAP_LOGIN_VERSION = 64.0


def setting_name(name: str) -> str:
    """What a person sets for the config field `name`: "username" → LEADQ_SALESFORCE_USERNAME."""
    return f"{SETTING_PREFIX}{name.upper()}"


@dataclass(frozen=True)
class SalesforceConfig:
    """Where the org is, how to log in, what to read. Secrets stay out of `repr`."""

    login_url: str = "https://login.salesforce.com"
    api_version: str = DEFAULT_API_VERSION
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    session_id: str | None = field(default=None, repr=False)
    instance_url: str | None = None
    consumer_key: str | None = None
    consumer_secret: str | None = field(default=None, repr=False)
    private_key_file: Path | None = None
    ca_bundle: Path | None = None
    objects: tuple[str, ...] = ("Lead",)
    rate_limit: int = 100
    bulk_threshold: int = 50_000
    page_size: int | None = None  # None: Salesforce's largest page
    overlap_seconds: float = 300.0
