"""The work webhooks and scheduled runs hand to the workers, and doing it.

A unit of work is one of three kinds, with at most 100 ids (one CRM batch read):

- ``rescore``: lead / contact ids to score again (an ids run);
- ``companies``: companies whose people to score again (read in batches, then rescored);
- ``forget``: ids that no longer exist (deleted, merged away): their tracked values are dropped.

It travels as JSON: an SQS message body (the Lambda `worker`) or a row of `leadq serve`'s durable
queue. Heavy modules (the engine, the connectors) are imported only by the runtime a caller passes
in, so that importing this module stays cheap for the webhook handler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from sync.logs import logger
from sync.webhook_models import WebhookBatch

if TYPE_CHECKING:
    from sync.runtime import Runtime
    from sync.state import StateStore

WorkKind = Literal["rescore", "companies", "forget"]
MAX_IDS_PER_UNIT = 100


class Work(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: WorkKind
    ids: tuple[str, ...] = Field(min_length=1, max_length=MAX_IDS_PER_UNIT)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> Work:
        """The unit a message body holds; raises pydantic's ValidationError for anything else."""
        return cls.model_validate_json(text)


class WorkQueue(Protocol):
    def send(self, work: Sequence[Work]) -> None:
        """Queue every unit durably, or raise `QueueError` (then some may have been queued)."""
        ...


class QueueError(RuntimeError):
    """The queue did not take the work: the caller must not count it as queued."""


class RetryLaterError(RuntimeError):
    """The work half failed for a reason that passes (a locked record, a rate limit): do it again
    later. The leads already written are found unchanged then and cost no write."""


def units(kind: WorkKind, ids: Iterable[str]) -> list[Work]:
    """`ids` (each once, in order) as units of at most 100."""
    unique = list(dict.fromkeys(ids))
    return [
        Work(kind=kind, ids=tuple(unique[start : start + MAX_IDS_PER_UNIT]))
        for start in range(0, len(unique), MAX_IDS_PER_UNIT)
    ]


def work_for(batch: WebhookBatch) -> list[Work]:
    """What a verified webhook delivery asks the workers to do."""
    return [
        *units("forget", batch.forget_ids),
        *units("rescore", batch.lead_ids),
        *units("companies", batch.company_ids),
    ]


@dataclass(frozen=True)
class WorkDone:
    kind: WorkKind
    ids: int
    scored: int = 0
    written: int = 0
    queued: int = 0  # units queued for a company with more than 100 people
    run_id: str | None = None


@dataclass(frozen=True)
class Workbench:
    """What doing work needs: the CRM's name, the state store, the queue (for a company's many
    people) and the runtime, opened only when a unit needs the CRM."""

    crm: str
    store: StateStore
    queue: WorkQueue
    runtime: Callable[[], Runtime]


def do_work(work: Work, bench: Workbench) -> WorkDone:
    """Do one unit. Raises `RetryLaterError` when some writes failed transiently, and lets
    connector errors through: either way the unit stays queued for another attempt."""
    if work.kind == "forget":
        bench.store.forget_leads(bench.crm, work.ids)
        return WorkDone(work.kind, len(work.ids))
    runtime = bench.runtime()
    lead_ids: Sequence[str] = work.ids
    if work.kind == "companies":
        lead_ids = runtime.connector.people_of_companies(work.ids)
        if len(lead_ids) > MAX_IDS_PER_UNIT:
            fanned = units("rescore", lead_ids)
            bench.queue.send(fanned)
            return WorkDone(work.kind, len(work.ids), queued=len(fanned))
    if not lead_ids:
        return WorkDone(work.kind, len(work.ids))
    report = runtime.engine().run("ids", lead_ids)
    if report.failed_transiently:
        raise RetryLaterError(
            f"{len(report.failed_transiently)} of {len(lead_ids)} leads failed for a passing "
            f"reason in run {report.run_id}"
        )
    return WorkDone(work.kind, len(work.ids), report.scored, report.written, run_id=report.run_id)


def perform(payload: str, bench: Workbench) -> WorkDone:
    """Do the unit a queued message holds, logging what was done (counts and ids' number, never
    a lead's details). A body that is not a unit raises, like a failed unit: the message goes
    back to the queue and, after its last attempt, to the dead-letter queue."""
    work = Work.from_json(payload)
    try:
        done = do_work(work, bench)
    except Exception:
        logger.exception("work failed; it stays queued", extra={"kind": work.kind,
                                                                "ids": len(work.ids)})
        raise
    logger.info("work done", extra=asdict(done))
    return done
