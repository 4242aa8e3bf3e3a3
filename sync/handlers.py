"""AWS Lambda entry points (Powertools), named in serverless.yml:

- `webhook` (HTTP API, payload 2.0): `POST /webhooks/hubspot`, `/webhooks/salesforce` (outbound
  messages) and `/webhooks/salesforce/callout` (signed Flow / Apex callouts). Verifies, dedupes and
  queues lead ids; never calls the CRM (sync/webhook_intake.py).
- `worker` (SQS, partial batch failures): one unit of work a message — rescore ids, rescore a
  company's people, forget ids (sync/work.py). A unit that fails (a connector error, writes that
  failed for a passing reason) is reported as a batch item failure: SQS delivers it again, and
  after the queue's last attempt moves it to the dead-letter queue.
- `schedule` (EventBridge, every 15 minutes): an incremental run; `rescore` (nightly): a full run
  (sync/scheduled.py).

`leadq serve` answers the same routes by handing each request to `webhook` as an API Gateway
event. Everything heavy (scoring, connectors, boto3 clients) is imported on first use, so a cold
import of this module stays small.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from sync.logs import logger, with_correlation_id
from sync.scheduled import ScheduledKind, run_scheduled
from sync.services import current_services
from sync.webhook_intake import answer_event
from sync.webhook_models import WebhookSource
from sync.work import WorkDone, perform

app = APIGatewayHttpResolver()


def _answer(source: WebhookSource) -> Response[str]:
    event = app.current_event
    with_correlation_id(event.request_context.request_id)
    answer = answer_event(source, event.raw_event, current_services(), app.lambda_context)
    return Response(status_code=answer.status, content_type=answer.content_type, body=answer.body)


@app.post("/webhooks/hubspot")
def hubspot_webhook() -> Response[str]:
    return _answer("hubspot")


@app.post("/webhooks/salesforce")
def salesforce_outbound_message() -> Response[str]:
    return _answer("salesforce_outbound")


@app.post("/webhooks/salesforce/callout")
def salesforce_callout() -> Response[str]:
    return _answer("salesforce_callout")


def webhook(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


class OutOfTimeError(RuntimeError):
    """Too little of the invocation is left to start this unit: SQS delivers it again."""


def _work_on(record: SQSRecord) -> WorkDone:
    with_correlation_id(record.message_id)
    services = current_services()
    if services.deadline.passed():
        raise OutOfTimeError("not started: the invocation's time is nearly up")
    return perform(record.body, services.workbench())


def _stop_retrying_at(context: Any, margin_seconds: float) -> float | None:
    """When, on the monotonic clock, this invocation's CRM calls must stop retrying: its
    timeout less the margin (None when run without a Lambda context)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return time.monotonic() + remaining() / 1000 - margin_seconds


def worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Each message's unit, within the invocation's time: past `LEADQ_WORKER_MARGIN_SECONDS`
    before the timeout no call is retried and no unit started, so the units that did not finish
    come back as batch item failures (and their leads' failed writes wait in the retry set)
    instead of the timeout failing the whole batch."""
    services = current_services()
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    deadline = _stop_retrying_at(context, services.settings.worker_margin_seconds)
    with services.deadline.until(deadline):
        answer = process_partial_response(
            event=event, record_handler=_work_on, processor=processor, context=context
        )
    return dict(answer)


def _scheduled(kind: ScheduledKind, event: dict[str, Any]) -> dict[str, Any]:
    with_correlation_id(str(event.get("id") or kind))
    services = current_services()
    fan_out = services.settings.fan_out
    outcome = run_scheduled(kind, services.runtime(), services.queue if fan_out else None, fan_out)
    return asdict(outcome)


def schedule(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _scheduled("incremental", event)


def rescore(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _scheduled("full", event)


__all__ = ["app", "logger", "rescore", "schedule", "webhook", "worker"]
