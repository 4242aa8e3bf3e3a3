"""The scheduled runs: `incremental` every 15 minutes, `full` nightly (so decay shows).

In process (the default), a run is the engine's, under its run lease: a tick that finds the lease
held by a run still going skips, and the next tick carries on from the cursor.

Fanned out (`LEADQ_FAN_OUT=true`, for orgs too large for one function's time limit): the run
holds the same lease, reads the changed leads page by page, and queues each page's ids as
`rescore` units for the workers, which score and write them in parallel (as many at once as the
worker's reserved concurrency allows). An incremental run's cursor moves past a page only once
the queue took its ids, so a run cut short resumes where it stopped; the ids themselves are
scored later, by the workers, and a page read twice is only scored twice. An incremental run
queues the leads of the retry set that are due first.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from sync.logs import logger
from sync.work import WorkQueue, units

if TYPE_CHECKING:
    from sync.engine import SyncEngine
    from sync.runtime import Runtime

ScheduledKind = Literal["incremental", "full"]


@dataclass(frozen=True)
class ScheduledRun:
    kind: ScheduledKind
    skipped: bool = False
    run_id: str | None = None
    pulled: int = 0
    written: int = 0
    failed: int = 0
    queued: int = 0


def run_scheduled(
    kind: ScheduledKind, runtime: Runtime, queue: WorkQueue | None, fan_out: bool
) -> ScheduledRun:
    from sync.engine import RunInProgressError

    try:
        if fan_out:
            if queue is None:
                raise ValueError("a fanned-out run needs a queue")
            outcome = fan_out_run(kind, runtime, queue)
        else:
            report = runtime.engine().run(kind)
            outcome = ScheduledRun(kind, False, report.run_id, report.pulled, report.written,
                                   len(report.failed))
    except RunInProgressError:
        logger.info("scheduled run skipped: another one holds the lease", extra={"kind": kind})
        return ScheduledRun(kind, skipped=True)
    logger.info("scheduled run finished", extra=asdict(outcome))
    return outcome


def fan_out_run(kind: ScheduledKind, runtime: Runtime, queue: WorkQueue) -> ScheduledRun:
    from sync.engine import LEASE, RunInProgressError, lease_holder_name
    from sync.state import RunRecord

    engine = runtime.engine()
    store = engine.store
    ttl = engine.options.lease_ttl
    run_id = uuid.uuid4().hex[:12]
    holder = lease_holder_name(run_id)
    started = datetime.now(UTC)
    if not store.acquire_lease(LEASE, holder, started, ttl):
        raise RunInProgressError("another scheduled sync is running")
    pulled = queued = 0
    status = "failed"
    try:
        if kind == "incremental":  # the retry set's due leads, which may be on no page
            retrying = units("rescore", _due_retries(engine, started))
            queue.send(retrying)
            queued += len(retrying)
        since = store.get_cursor(engine.cursor_name) if kind == "incremental" else None
        if since is not None and engine.scope_grew():
            since = None  # e.g. Contacts added to a Lead sync: every lead is read once
        for page in runtime.connector.pull_changed(since):
            work = units("rescore", [lead.id for lead in page.leads])
            queue.send(work)
            pulled, queued = pulled + len(page.leads), queued + len(work)
            if kind == "incremental" and page.cursor is not None:
                store.advance_cursor(engine.cursor_name, page.cursor)
            if not store.renew_lease(LEASE, holder, datetime.now(UTC), ttl):
                raise RunInProgressError("this fan-out lost its lease; the next run resumes")
        engine.record_scope()
        status = "queued"
    finally:
        store.release_lease(LEASE, holder)
        store.record_run(RunRecord(
            run_id=run_id, kind=kind, started_at=started, finished_at=datetime.now(UTC),
            status=status, counts={"pulled": pulled, "queued": queued},
        ))
    return ScheduledRun(kind, False, run_id, pulled, queued=queued)


def _due_retries(engine: SyncEngine, now: datetime) -> list[str]:
    from sync.retry_set import RetrySet

    retry_set = RetrySet.load(engine.store, engine.connector.crm, engine.options.retry)
    return retry_set.due(now, engine.options.retries_per_run)
