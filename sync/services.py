"""What the handlers run on, composed from the settings (secrets included): the state store, the
work queue, the webhook configurations, the idempotency layer, and — only for work that reads the
CRM — the runtime (model and connector). Each part is built on first use, so a webhook never
loads the scoring engine or logs in to the CRM.

The Lambda functions share one `Services` per process (`current_services`), rebuilt once it is
`MAX_AGE` old so that rotated secrets take effect; `leadq serve` and tests install their own
(`use_services`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sync.connect import connector_type
from sync.logs import hide_secrets
from sync.secrets import with_secrets
from sync.settings import Settings, load_settings, variable
from sync.state import StateStore
from sync.state_url import open_state_store
from sync.webhook_models import CalloutConfig, HubSpotWebhookConfig, OutboundMessageConfig
from sync.work import Workbench, WorkQueue

if TYPE_CHECKING:
    from connectors.retry import Deadline
    from sync.runtime import Runtime

DEDUPE_TTL = timedelta(hours=48)  # CRMs redeliver for up to 24 hours
IDEMPOTENCY_TTL = timedelta(hours=24)
MAX_AGE = timedelta(minutes=15)


class NotConfiguredError(RuntimeError):
    """A route or a handler needs a setting that is not set; the message names it."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Services:
    def __init__(
        self,
        settings: Settings,
        *,
        queue: WorkQueue | None = None,
        store: StateStore | None = None,
        clock: Callable[[], datetime] = utc_now,
        max_age: timedelta | None = None,
        connector_options: dict[str, Any] | None = None,
    ) -> None:
        """`queue` replaces the SQS queue and `store` the settings' state store (leadq serve's
        own); `connector_options` go to the connector (e.g. its retry settings)."""
        self.settings = settings
        self.clock = clock
        self.connector_options = connector_options or {}
        self._queue = queue
        self._runtime: Runtime | None = None
        if store is not None:
            self.__dict__["store"] = store  # the cached property, given
        self._expires = None if max_age is None else time.monotonic() + max_age.total_seconds()
        hide_secrets(settings)

    @classmethod
    def from_environment(cls) -> Services:
        """The Lambda functions' services: LEADQ_* settings and the secrets parameter."""
        return cls(with_secrets(load_settings()), max_age=MAX_AGE)

    @property
    def stale(self) -> bool:
        return self._expires is not None and time.monotonic() >= self._expires

    @cached_property
    def store(self) -> StateStore:
        return open_state_store(self.settings.state_url)

    @property
    def queue(self) -> WorkQueue:
        if self._queue is None:
            if not self.settings.queue_url:
                raise NotConfiguredError(f"set {variable('queue_url')}: the queue work goes to")
            from sync.sqs import SqsWorkQueue

            self._queue = SqsWorkQueue.connect(self.settings.queue_url)
        return self._queue

    # Webhook configurations

    @cached_property
    def hubspot(self) -> HubSpotWebhookConfig:
        secret, app_id = self.settings.hubspot_client_secret, self.settings.hubspot_app_id
        if secret is None or not app_id:
            raise NotConfiguredError(
                f"HubSpot webhooks need {variable('hubspot_client_secret')} (the app's client "
                f"secret signs them) and {variable('hubspot_app_id')} (marks leadq's own writes)"
            )
        return HubSpotWebhookConfig(
            client_secret=secret, app_id=app_id, output_properties=self._output_properties()
        )

    @cached_property
    def outbound(self) -> OutboundMessageConfig:
        organization = self.settings.salesforce_organization_id
        if not organization:
            raise NotConfiguredError(
                f"Salesforce outbound messages need {variable('salesforce_organization_id')}"
            )
        return OutboundMessageConfig(organization_id=organization)

    @cached_property
    def callout(self) -> CalloutConfig:
        if self.settings.webhook_secret is None:
            raise NotConfiguredError(
                f"Salesforce callouts need {variable('webhook_secret')} (the shared secret)"
            )
        return CalloutConfig(secret=self.settings.webhook_secret)

    def _output_properties(self) -> frozenset[str]:
        """leadq's output fields in this CRM: a change to one is leadq's own echo."""
        from scoring.loading import load_model
        from sync.plan import output_fields

        model = load_model(self.settings.model_path)
        field_name = connector_type(self.settings.crm).field_name
        return frozenset(output_fields(model, field_name).values())

    @cached_property
    def idempotency(self) -> Any | None:
        """Powertools' DynamoDB persistence layer on LEADQ_IDEMPOTENCY_TABLE (None when unset)."""
        table = self.settings.idempotency_table
        if not table:
            return None
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        return DynamoDBPersistenceLayer(table_name=table)

    # The CRM side

    @cached_property
    def deadline(self) -> Deadline:
        """When the connector's calls stop retrying (set by the worker for each invocation)."""
        from connectors.retry import Deadline

        return Deadline()

    def runtime(self) -> Runtime:
        """The model and the connector (opened once), its retries bounded by `deadline`."""
        if self._runtime is None:
            from sync.connect import retry_settings
            from sync.runtime import open_runtime

            retry = self.connector_options.get("retry") or retry_settings(self.settings)
            self._runtime = open_runtime(self.settings, **{
                **self.connector_options, "retry": replace(retry, deadline=self.deadline)})
        return self._runtime

    def workbench(self) -> Workbench:
        return Workbench(self.settings.crm, self.store, self.queue, self.runtime)

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
        if "store" in self.__dict__:
            self.store.close()


_lock = threading.Lock()
_current: list[Services] = []


def current_services() -> Services:
    """The services installed, else the environment's (rebuilt once stale)."""
    with _lock:
        if _current and _current[0].stale:
            _current.pop().close()
        if not _current:
            _current.append(Services.from_environment())
        return _current[0]


def use_services(services: Services | None) -> None:
    """Install `services` for every handler in this process (None: the environment's again)."""
    with _lock:
        while _current:
            _current.pop().close()
        if services is not None:
            _current.append(services)
