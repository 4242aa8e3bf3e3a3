"""What crosses the webhook boundary: the request a handler received, the configuration that
authenticates it, and the verdict — the work a notification asks for, or a typed rejection.

All pydantic and frozen; `sync/webhooks.py` fills them. The handler owns everything stateful: it
checks the dedupe keys against the state store (`WebhookBatch.without`), queues the ids, and only
then answers (for Salesforce outbound messages, with `webhooks.outbound_ack()`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

MAX_BODY_BYTES = 1_048_576  # 1 MiB: HubSpot sends ≤ 100 events, Salesforce ≤ 100 notifications
FRESHNESS_WINDOW = timedelta(minutes=5)
_LONG_AGO = datetime.min.replace(tzinfo=UTC)

WebhookSource = Literal["hubspot", "salesforce_outbound", "salesforce_callout"]
RejectionStatus = Literal[400, 401, 403, 413]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WebhookLimits(_Frozen):
    """Limits every endpoint shares."""

    max_body_bytes: int = Field(default=MAX_BODY_BYTES, gt=0)
    window: timedelta = Field(
        default=FRESHNESS_WINDOW,
        description="How far a signed timestamp may be from `now`, either way",
    )


class HubSpotWebhookConfig(WebhookLimits):
    """HubSpot's v3 signature key and what marks leadq's own writes (its echoes)."""

    client_secret: SecretStr = Field(description="The app's client secret (signs webhooks)")
    app_id: str = Field(
        min_length=1,
        description="leadq's app id: events whose `sourceId` is this id are leadq's own writes",
    )
    output_properties: frozenset[str] = Field(
        default=frozenset(),
        description="leadq's output properties: a contact.propertyChange to one is an echo",
    )

    @field_validator("app_id", mode="before")
    @classmethod
    def _app_id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value


class OutboundMessageConfig(WebhookLimits):
    """Salesforce outbound messages carry no signature: the org id is what is checked."""

    organization_id: str = Field(pattern=r"^00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")


class CalloutConfig(WebhookLimits):
    """The shared secret a Salesforce Flow / Apex HTTP callout signs its JSON body with."""

    secret: SecretStr


class WebhookRequest(_Frozen):
    """One HTTP request as the handler received it. Header names are matched case-insensitively
    (API Gateway lowercases them); `uri` is the full URI the sender signed (HubSpot v3 signs
    `https://host/path?query`), `method` its method."""

    body: bytes
    headers: dict[str, str] = Field(default_factory=dict)
    uri: str = ""
    method: str = "POST"

    @field_validator("headers", mode="after")
    @classmethod
    def _lowercase_names(cls, headers: dict[str, str]) -> dict[str, str]:
        return {name.lower(): value for name, value in headers.items()}

    def header(self, name: str) -> str | None:
        value = self.headers.get(name.lower())
        return None if value is None else value.strip()


class Notice(_Frozen):
    """What one event (or notification, or callout) asks for, and the key that makes it count once.

    `rescore`: lead / contact ids to score again; `expand_companies`: companies whose contacts must
    be fetched (in batches) and scored again; `forget`: ids that no longer exist (deleted, merged
    away) and should stop being tracked.
    """

    dedupe_key: str
    occurred_at: datetime | None = None
    rescore: tuple[str, ...] = ()
    expand_companies: tuple[str, ...] = ()
    forget: tuple[str, ...] = ()


class WebhookBatch(_Frozen):
    """An authenticated, well-formed delivery: the notices it holds, leadq's echoes dropped."""

    source: WebhookSource
    notices: tuple[Notice, ...] = ()
    echoes_dropped: int = 0
    unknown_ignored: int = 0

    @property
    def dedupe_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(notice.dedupe_key for notice in self.notices))

    def without(self, seen: Collection[str]) -> WebhookBatch:
        """The batch less the notices whose dedupe key the caller has already processed."""
        fresh = tuple(notice for notice in self.notices if notice.dedupe_key not in seen)
        return self.model_copy(update={"notices": fresh})

    @property
    def lead_ids(self) -> tuple[str, ...]:
        """Ids to rescore: those whose latest notice does not forget them."""
        return tuple(lead_id for lead_id, keep in self._verdicts() if keep)

    @property
    def forget_ids(self) -> tuple[str, ...]:
        """Ids to stop tracking: those whose latest notice deleted or merged them away."""
        return tuple(lead_id for lead_id, keep in self._verdicts() if not keep)

    @property
    def company_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(
            company_id for notice in self.notices for company_id in notice.expand_companies
        ))

    def _verdicts(self) -> Iterator[tuple[str, bool]]:
        """Each id once (in order of time) with the verdict of its latest notice; at equal
        times keeping wins (rescoring a deleted lead finds nothing, while forgetting a live one
        would drop its tracking)."""
        entries = [
            (notice.occurred_at or _LONG_AGO, keep, lead_id)
            for notice in self.notices
            for keep, ids in ((False, notice.forget), (True, notice.rescore))
            for lead_id in ids
        ]
        verdicts: dict[str, bool] = {}
        for _, keep, lead_id in sorted(entries, key=lambda entry: entry[:2]):
            verdicts[lead_id] = keep
        return iter(verdicts.items())


class Rejection(_Frozen):
    """Why a request was refused, with the HTTP status to answer. `reason` names no secret and
    quotes nothing from the body, so it can be logged as is."""

    status: RejectionStatus
    reason: str
