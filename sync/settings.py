"""Which CRM, its credentials, the state backend and the limits: from the environment, a `.env`
file or a secrets directory (one file per setting, as Docker and Kubernetes mount them).

Every setting is an environment variable named `LEADQ_<FIELD>` (e.g. `LEADQ_HUBSPOT_ACCESS_TOKEN`);
errors name the variable to set.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import (
    Field,
    FilePath,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from connectors.salesforce_config import DEFAULT_API_VERSION
from sync.state_url import state_location

ENV_PREFIX = "LEADQ_"
LARGEST = 1_000_000_000  # no count or rate setting needs more; more overflows times and limiters
YEAR_SECONDS = 365 * 86_400
WEB_ADDRESS_EXAMPLES = {
    "salesforce_login_url": "https://login.salesforce.com",
    "salesforce_instance_url": "https://acme.my.salesforce.com",
    "webhook_base_url": "https://abc123.execute-api.eu-west-1.amazonaws.com",
    "queue_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/leadq-work",
}


class SettingsError(ValueError):
    """A missing or wrong setting; the message names the variable to set."""


def variable(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    crm: Literal["hubspot", "salesforce"] = "hubspot"
    model_path: Path = Field(default=Path("scoring.yaml"), description="The scoring model YAML")
    state_url: str = Field(
        default="sqlite:///leadq-state.db",
        description="sqlite:///path.db or dynamodb://table?region=…&endpoint_url=…",
    )

    hubspot_base_url: str = "https://api.hubapi.com"
    hubspot_access_token: SecretStr | None = None
    hubspot_client_id: str | None = None
    hubspot_client_secret: SecretStr | None = None
    hubspot_refresh_token: SecretStr | None = None
    hubspot_app_id: str | None = Field(
        default=None, description="Recognises our own webhook echoes"
    )
    hubspot_rate_limit: int = Field(
        default=100, gt=0, le=LARGEST, description="Requests per 10 seconds"
    )
    hubspot_search_rate: int = Field(
        default=4, gt=0, le=LARGEST, description="Search requests per second"
    )
    hubspot_integration_owner_id: str | None = None

    salesforce_instance_url: str | None = None
    salesforce_login_url: str = "https://login.salesforce.com"
    salesforce_username: str | None = None
    salesforce_password: SecretStr | None = None
    salesforce_security_token: SecretStr | None = None
    salesforce_session_id: SecretStr | None = None
    salesforce_consumer_key: str | None = None
    salesforce_consumer_secret: SecretStr | None = None
    salesforce_private_key_file: FilePath | None = None
    salesforce_api_version: str = DEFAULT_API_VERSION
    salesforce_objects: Annotated[list[Literal["Lead", "Contact"]], NoDecode] = Field(
        default=["Lead"], description="Lead, Contact or both: Lead,Contact or a JSON list"
    )
    salesforce_ca_bundle: FilePath | None = Field(
        default=None, description="Extra CA (sandbox only)"
    )
    salesforce_rate_limit: int = Field(
        default=100, gt=0, le=LARGEST, description="Requests per 10 seconds"
    )
    salesforce_bulk_threshold: int = Field(default=50_000, gt=0, le=LARGEST)
    salesforce_integration_user_id: str | None = None
    salesforce_organization_id: str | None = None

    retry_budget_seconds: float = Field(
        default=120.0, gt=0,
        description="How long one CRM call may keep being retried (429s, 5xx, dropped connections)",
    )
    worker_margin_seconds: float = Field(
        default=40.0, ge=0,
        description="The Lambda worker stops retrying this long before its timeout: one more "
        "request (5 s connect + 30 s read) and recording the outcome still fit",
    )

    min_score_change: int = Field(
        default=3, ge=0, le=LARGEST, description="Smaller score moves are not written"
    )
    read_page_size: int = Field(default=100, gt=0, le=LARGEST)
    overlap_seconds: int = Field(
        default=300, ge=0, le=YEAR_SECONDS, description="Re-read window behind the cursor"
    )
    audit_retention_days: int = Field(
        default=365, ge=0, le=36_500, description="Days an audit row is kept (0: for good)"
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="Signs Salesforce Flow / Apex callouts (X-Leadq-Signature)"
    )

    # Webhooks, the queue and the schedules (sync/handlers.py, leadq serve)
    queue_url: str | None = Field(default=None, description="The SQS queue webhooks feed")
    idempotency_table: str | None = Field(
        default=None, description="DynamoDB table of Powertools idempotency records"
    )
    webhook_base_url: str | None = Field(
        default=None,
        description="The public URL the CRM calls (HubSpot signs it); default: the request's host",
    )
    secrets_parameter: str | None = Field(
        default=None,
        description="SSM parameter or Secrets Manager secret: a JSON object of secret settings",
    )
    fan_out: bool = Field(
        default=False,
        description="Scheduled runs queue each page of lead ids for the workers to score",
    )
    serve_claim_seconds: int = Field(
        default=60, ge=3, le=86_400,
        description="leadq serve: how long queued work a process took stays its own unless renewed"
        " (another process sharing the state takes it over after a crash once this lapses)",
    )

    @field_validator("state_url")
    @classmethod
    def _a_state_url(cls, url: str) -> str:
        state_location(url)
        return url

    @field_validator(
        "hubspot_base_url",
        "salesforce_login_url",
        "salesforce_instance_url",
        "webhook_base_url",
        "queue_url",
    )
    @classmethod
    def _a_web_address(cls, url: str | None, info: ValidationInfo) -> str | None:
        parts = urlsplit(url) if url is not None else None
        if parts is not None and (parts.scheme not in ("http", "https") or not parts.hostname):
            example = WEB_ADDRESS_EXAMPLES.get(info.field_name or "", "https://api.hubapi.com")
            raise ValueError(f"must be an http:// or https:// URL, e.g. {example}")
        try:
            _ = parts.port if parts is not None else None  # urlsplit checks the port when asked
        except ValueError:
            raise ValueError("the port must be a number from 1 to 65535") from None
        return url

    @field_validator("hubspot_access_token", "salesforce_session_id")
    @classmethod
    def _a_header_token(cls, token: SecretStr | None) -> SecretStr | None:
        """Sent in an HTTP header: a token the CRM issued is printable ASCII without spaces."""
        if token is not None and not re.fullmatch(r"[!-~]+", token.get_secret_value()):
            raise ValueError(
                "must be the token as the CRM issued it: letters, digits and punctuation, "
                "no spaces or other characters"
            )
        return token

    @field_validator("salesforce_objects", mode="before")
    @classmethod
    def _objects_listed(cls, value: Any) -> Any:
        """`Lead,Contact` (or `Lead, Contact`) as well as the JSON list `["Lead", "Contact"]`."""
        if isinstance(value, str):
            text = value.strip()
            try:
                value = json.loads(text) if text.startswith("[") else text.split(",")
            except json.JSONDecodeError:
                raise ValueError("write Lead, Contact or both, e.g. Lead,Contact") from None
        if isinstance(value, list):
            value = list(dict.fromkeys(str(name).strip() for name in value if str(name).strip()))
            if not value:
                raise ValueError("name Lead, Contact or both, e.g. Lead,Contact")
        return value

    def require_credentials(self) -> None:
        """Raise SettingsError naming what to set when the chosen CRM cannot be reached."""
        if self.crm == "hubspot":
            self._require_hubspot()
        else:
            self._require_salesforce()

    def _require_hubspot(self) -> None:
        if self.hubspot_access_token:
            return
        oauth = ("hubspot_client_id", "hubspot_client_secret", "hubspot_refresh_token")
        if all(getattr(self, name) for name in oauth):
            return
        raise SettingsError(
            f"HubSpot needs credentials: set {variable('hubspot_access_token')} (a private-app "
            f"token), or {', '.join(variable(n) for n in oauth)} for a public app"
        )

    def _require_salesforce(self) -> None:
        if self.salesforce_session_id and self.salesforce_instance_url:
            return
        if self.salesforce_username and self.salesforce_password:
            return
        if self.salesforce_consumer_key and (
            self.salesforce_consumer_secret or self.salesforce_private_key_file
        ):
            return
        raise SettingsError(
            "Salesforce needs credentials: set "
            f"{variable('salesforce_username')}, {variable('salesforce_password')} and "
            f"{variable('salesforce_security_token')}; or {variable('salesforce_consumer_key')} "
            f"with {variable('salesforce_consumer_secret')} (client credentials) or "
            f"{variable('salesforce_private_key_file')} (JWT); or "
            f"{variable('salesforce_session_id')} with {variable('salesforce_instance_url')}"
        )


def load_settings(env_file: Path | None = None, secrets_dir: Path | None = None) -> Settings:
    """Read settings, turning validation errors into one line naming the variable. An env file
    given by name must be there (the default `.env` may be absent) and be UTF-8 text."""
    if env_file is not None and not env_file.is_file():
        problem = "is a directory" if env_file.is_dir() else "no such file"
        raise SettingsError(f"--env-file {env_file}: {problem}")
    try:
        return Settings(_env_file=env_file or ".env", _secrets_dir=secrets_dir)  # type: ignore[call-arg]
    except ValidationError as error:
        first = error.errors()[0]
        name = variable(str(first["loc"][0])) if first["loc"] else ENV_PREFIX
        message = first["msg"].removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
        shown = _shown_input(str(first["loc"][0]) if first["loc"] else "", first.get("input"))
        raise SettingsError(f"{name}: {message} ({shown})") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{env_file or '.env'}: not UTF-8 text; save it as UTF-8") from None


def _shown_input(field: str, given: Any) -> str:
    """What a wrong setting held, for its error line; a secret's value is never shown."""
    if field in Settings.model_fields and SecretStr in get_args(
        Settings.model_fields[field].annotation
    ):
        return f"got {len(str(given))} characters, not shown: it is a secret"
    return f"got {given!r}"
