"""One sync run: pull → score → route → diff → write → checkpoint → report.

Kinds: `incremental` (leads changed since the cursor), `full` (every lead: after a model change,
and nightly so that decay shows), `ids` (the leads a webhook named). Scheduled runs hold a lease so
two never overlap; id runs may overlap safely (assignments are atomic in the store, writes are
idempotent diffs).

The cursor advances only after a page's writes succeeded or their failures were put in the retry
set (sync/retry_set.py), so a run killed at any point leaves a cursor that has not passed an
unwritten lead: the next run redoes that page, finds the leads already written (no diff) and
carries on. Incremental and id runs retry the leads of the retry set that are due first; a full run
handles every lead anyway.

Every write is audited ahead (sync/write_ahead.py): its audit entries are recorded before it is
sent and settled after, and a run first settles the writes an earlier run left unsettled, from
what the CRM holds.

Memory stays flat in the size of the org: a run holds one page at a time, and its report keeps
counters and a bounded sample of the changes and assignments (`CHANGES_KEPT`,
`ASSIGNMENTS_KEPT`); every change streams to the audit log and, through `RunWatch`, to whoever
shows it (`leadq sync --dry-run` prints them as they come).
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from connectors.base import ChangeWindow, Connector, LeadPage, task_desk, window_read_limit
from connectors.records import Lead, LeadUpdate
from scoring.config import ScoringModel
from scoring.frame import ActivityFrame, LeadFrame
from scoring.qualify import ScoredBatch, compile_model, score_frame
from scoring.routing import RoutingDecision
from sync.cursor_edge import (
    UNCHECKED_WRITES,
    WINDOW_READ_LIMIT,
    CursorEdge,
    edge_name,
    recognised,
    settle_cursor,
    stored_edge,
    unchecked_edge,
)
from sync.handoff import HandoffReport, Handoffs, slack_notice
from sync.handoff_sla import HandoffFacts
from sync.ledger import LedgerSpec
from sync.ledger_run import LedgerRun
from sync.plan import FieldChange, Planner, Result, is_promotion
from sync.retry_set import RetryPolicy, RetrySet, Waiting
from sync.routing_run import Assignment, RoutingRun
from sync.run_identity import died_here, lease_holder_name
from sync.spooled_times import SpooledTimes
from sync.state import AuditEntry, RunRecord, StateStore, chunked
from sync.write_ahead import SettledFromCrm, WriteAhead

RunKind = Literal["incremental", "full", "ids"]
LEASE = "scheduled-sync"
IDS_PER_READ = 100
CHANGES_KEPT = 100  # changes a run report keeps as a sample; all of them are counted
ASSIGNMENTS_KEPT = 100  # likewise for owner assignments


def lead_cursor(crm: str) -> str:
    """The name of the cursor incremental runs of a CRM read leads from."""
    return f"{crm}:leads"


def scope_name(cursor: str) -> str:
    """The document naming what a lead cursor covers (sync/engine.py `scope_grew`)."""
    return f"{cursor}:scope"


class RunInProgressError(RuntimeError):
    """Another scheduled run holds the lease."""


@dataclass(frozen=True)
class EngineOptions:
    min_score_change: int = 3
    activity_days: int = 365
    lease_ttl: timedelta = timedelta(minutes=15)
    integration_owner_ids: frozenset[str] = frozenset()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    retries_per_run: int = 1000  # due leads beyond it wait for the next run, oldest first
    settle_after: timedelta = timedelta(minutes=15)  # another live run's unsettled write
    overlap: timedelta = timedelta(seconds=300)  # the connectors' re-read behind the cursor
    audit_retention: timedelta | None = None  # how long audit rows are kept (None: for good)


@dataclass
class PlannedChange:
    lead_id: str
    lead_name: str
    field: str
    before: object
    after: object
    why: str


def _ignore(_items: Sequence[object]) -> None:
    return None


@dataclass(frozen=True)
class RunWatch:
    """Who sees a run's changes (planned in a dry run, else written) and owner assignments as
    they happen, a page at a time: the report keeps only a sample of them."""

    changes: Callable[[Sequence[PlannedChange]], None] = _ignore
    assignments: Callable[[Sequence[Assignment]], None] = _ignore


@dataclass
class RunReport:
    run_id: str
    kind: RunKind
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None = None
    pulled: int = 0
    scored: int = 0
    changed: int = 0
    written: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    failed_transiently: list[str] = field(default_factory=list)  # worth another run soon
    retried: int = 0  # leads of the retry set this run tried again
    waiting: list[Waiting] = field(default_factory=list)  # the retry set after the run
    settled_from_crm: SettledFromCrm = field(default_factory=SettledFromCrm)
    assigned: int = 0  # owners assigned (`assignments` keeps the first ASSIGNMENTS_KEPT)
    assignments: list[Assignment] = field(default_factory=list)
    fields_changed: int = 0  # field changes planned (dry run) or written
    promoted: int = 0  # of which stage promotions
    changes: list[PlannedChange] = field(default_factory=list)  # the first CHANGES_KEPT of them
    grades: Counter[str] = field(default_factory=Counter)
    stages: Counter[str] = field(default_factory=Counter)
    requests: dict[str, int] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)

    seconds: float = 0.0  # how long the run took, on the real clock whatever `now` it scored at
    not_found: list[str] = field(default_factory=list)  # ids an id run asked for, not in the CRM
    ledger: str = ""  # why this run rebuilt the activity ledger, when it did
    handoffs: HandoffReport = field(default_factory=HandoffReport)  # follow-up tasks (handoff:)

    def counts(self) -> dict[str, int]:
        return {
            "pulled": self.pulled,
            "scored": self.scored,
            "changed": self.changed,
            "written": self.written,
            "failed": len(self.failed),
            "assigned": self.assigned,
            "requests": sum(self.requests.values()),
            "retries": sum(self.retries.values()),
            "retried": self.retried,
            "waiting_for_retry": len(self.waiting),
            "given_up": len(self.given_up),
            "tasks_created": self.handoffs.created,
        }

    @property
    def given_up(self) -> list[Waiting]:
        return [waiting for waiting in self.waiting if waiting.next_attempt_at is None]

    def add_changes(self, changes: Sequence[PlannedChange]) -> None:
        """Count changes, and keep them while the sample has room."""
        self.fields_changed += len(changes)
        self.promoted += sum(is_promotion(change.why) for change in changes)
        self.changes += changes[: max(CHANGES_KEPT - len(self.changes), 0)]

    def add_assignments(self, assignments: Sequence[Assignment]) -> None:
        self.assigned += len(assignments)
        self.assignments += assignments[: max(ASSIGNMENTS_KEPT - len(self.assignments), 0)]


ProgressCallback = Callable[[int], None]
# Sees each batch as scored (the leads, their frame, the scores): `leadq preview` keeps totals.
BatchObserver = Callable[[Sequence[Lead], LeadFrame, ScoredBatch], None]


class SyncEngine:
    def __init__(
        self,
        connector: Connector,
        store: StateStore,
        model: ScoringModel,
        options: EngineOptions | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:

        self.connector = connector
        self.store = store
        self.model = model
        self.compiled = compile_model(model)
        self.options = options or EngineOptions()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.planner = Planner(
            model,
            connector.crm,
            self.options.min_score_change,
            field_name=connector.field_name,
            text_limit=connector.text_limit,
        )
        self.routing = RoutingRun(
            connector, store, model.routing, self.options.integration_owner_ids, self.clock
        )
        self._plans: dict[str, list[FieldChange]] = {}  # changes planned per lead, until written
        self._retry_set = RetrySet(store, connector.crm, self.options.retry)  # loaded per run
        self._write_ahead = WriteAhead(store, connector.crm, "")  # per run, named after it
        self._write_numbers = itertools.count(1)
        # per run, on disk (sync/spooled_times.py), so that memory does not grow with the org:
        self._handled = SpooledTimes()  # lead → the modified time this run handled
        self._written_at = SpooledTimes()  # lead → when the CRM answered our write
        self._read_from: datetime | None = None  # the cursor an incremental pull started at
        self._edge: CursorEdge | None = None  # what the run before left behind that cursor
        self.ledger_spec = LedgerSpec.of(model, self.options.activity_days)
        self._ledger: LedgerRun | None = None  # per run
        self._page_cursor: datetime | None = None  # the last page's cursor
        self._observer: BatchObserver | None = None
        self._watch = RunWatch()
        desk = task_desk(connector)
        self.handoffs = (
            Handoffs(desk, model.handoff, slack_notice(model.handoff))
            if model.handoff is not None and desk is not None
            else None
        )
        self._handing_off: list[HandoffFacts] = []  # this page's newly assigned leads

    @property
    def cursor_name(self) -> str:
        return lead_cursor(self.connector.crm)

    def run(
        self,
        kind: RunKind = "incremental",
        ids: Sequence[str] = (),
        dry_run: bool = False,
        progress: ProgressCallback | None = None,
        observer: BatchObserver | None = None,
        watch: RunWatch | None = None,
    ) -> RunReport:
        now = self.clock()
        self._observer = observer
        self._watch = watch or RunWatch()
        started = time.monotonic()
        report = RunReport(run_id=uuid.uuid4().hex[:12], kind=kind, dry_run=dry_run, started_at=now)
        self.routing.begin()
        requests_before = Counter(self.connector.stats.requests)
        retries_before = Counter(self.connector.stats.retries)
        scheduled = kind != "ids" and not dry_run
        holder = lease_holder_name(report.run_id)
        if scheduled and not self._take_lease(holder, datetime.now(UTC)):
            raise RunInProgressError("another scheduled sync is running; try again when it ends")
        status = "failed"
        try:
            self._begin(holder)
            self._ledger = LedgerRun.begin(
                self.store, self.connector, self.ledger_spec, kind, dry_run, datetime.now(UTC)
            )
            if self._ledger.note:
                report.ledger = self._ledger.note
                kind = "full"  # a model that needs more than the ledger kept: every lead again
            if not dry_run:
                report.settled_from_crm = self._settle_interrupted_writes()
            for page in self._run_pages(kind, ids, now, report):
                self._handle_page(page, now, report, advance=kind != "ids" and not dry_run)
                if scheduled and not self.store.renew_lease(
                    LEASE, holder, datetime.now(UTC), self.options.lease_ttl
                ):
                    raise RunInProgressError(
                        "this run lost its lease to another scheduled sync; stopped after the "
                        "last page it finished (the next run carries on from there)"
                    )
                if progress:
                    progress(report.pulled)
            if scheduled and (report.pulled or self._written_at):
                self._settle_cursor()
            if scheduled:
                self.record_scope()
            if not dry_run and self.options.audit_retention:
                self.store.prune_audit(now)
            self._ledger.finish()
            status = "succeeded" if not report.failed else "succeeded with failures"
        finally:
            report.finished_at = self.clock()
            report.seconds = time.monotonic() - started
            report.requests = dict(Counter(self.connector.stats.requests) - requests_before)
            report.retries = dict(Counter(self.connector.stats.retries) - retries_before)
            report.waiting = self._retry_set.waiting(after_writes=not dry_run)
            if not dry_run:
                self.store.record_run(
                    RunRecord(
                        run_id=report.run_id,
                        kind=kind,
                        started_at=report.started_at,
                        finished_at=report.finished_at,
                        status=status,
                        counts=report.counts(),
                    )
                )
            if scheduled:
                self.store.release_lease(LEASE, holder)
            self._handled.close()  # their temporary files go now, not at the next run
            self._written_at.close()
        return report

    def _take_lease(self, holder: str, now: datetime) -> bool:
        """Take the run lease; a lease left by a dead process on this machine is taken over."""
        ttl = self.options.lease_ttl
        if self.store.acquire_lease(LEASE, holder, now, ttl):
            return True
        current = self.store.lease_holder(LEASE, now)
        if current is not None and died_here(current):
            self.store.release_lease(LEASE, current)
            return self.store.acquire_lease(LEASE, holder, now, ttl)
        return False

    def _begin(self, holder: str) -> None:
        """A run's own state: the retry set as it finds it, its write-ahead log, its writes."""
        self._retry_set = RetrySet.load(self.store, self.connector.crm, self.options.retry)
        self._write_ahead = WriteAhead(self.store, self.connector.crm, holder)
        self._write_numbers = itertools.count(1)
        self._handled.close()
        self._written_at.close()
        self._handled, self._written_at = SpooledTimes(), SpooledTimes()
        self._read_from = self._page_cursor = None
        self._edge = None

    def scope_grew(self) -> bool:
        """Whether the connector now covers what the cursor did not (an object newly added to
        the sync, whose records the cursor says nothing about). A cursor from before scopes were
        recorded is taken to cover the current scope."""
        recorded = self.store.read_document(scope_name(self.cursor_name))
        if recorded is None:
            return False
        return not set(self.connector.cursor_scope) <= set(json.loads(recorded))

    def record_scope(self) -> None:
        """After a full or incremental run: the cursor covers the connector's scope now."""
        self.store.write_document(
            scope_name(self.cursor_name), json.dumps(sorted(self.connector.cursor_scope))
        )

    def _settle_cursor(self) -> None:
        """Move the cursor past what this run handled and wrote, up to the first change someone
        else made meanwhile, and leave the edge the next run reads from (sync/cursor_edge.py)."""
        since = self._read_from or self._page_cursor
        if since is None:
            return
        overlap = self.options.overlap
        if len(self._written_at) <= UNCHECKED_WRITES:
            settled = unchecked_edge(since, overlap, self._handled, self._written_at)
        else:
            changes = self.connector.changed_since(since)
            settled = settle_cursor(changes, since, overlap, self._handled, self._written_at)
        if self.store.advance_cursor(self.cursor_name, settled.cursor) == settled.cursor:
            self.store.write_document(
                edge_name(self.cursor_name), settled.edge.model_dump_json()
            )

    def _run_pages(
        self, kind: RunKind, ids: Sequence[str], now: datetime, report: RunReport
    ) -> Iterator[LeadPage]:
        """The leads due in the retry set first, then the run's own."""
        retried = self._due_retries(kind, ids, now)
        report.retried = len(retried)
        yield from self._retry_pages(retried, report.dry_run)
        yield from self._pages(kind, ids, set(retried), report)

    def _settle_interrupted_writes(self) -> SettledFromCrm:
        """Settle the writes earlier runs recorded but never settled, from what the CRM holds."""
        interrupted = self._write_ahead.interrupted(datetime.now(UTC), self.options.settle_after)
        if not interrupted:
            return SettledFromCrm()
        lead_ids = [entry.lead_id for intended in interrupted for entry in intended.entries]
        current = [lead for page in self._read_pages(lead_ids) for lead in page.leads]
        return self._write_ahead.settle_from_crm(interrupted, current)

    def _due_retries(self, kind: RunKind, ids: Sequence[str], now: datetime) -> list[str]:
        """The leads of the retry set this run tries first: none in a full run, which handles
        every lead anyway, nor those an id run was asked for."""
        if kind == "full":
            return []
        asked = set(ids)
        due = self._retry_set.due(now, self.options.retries_per_run)
        return [lead_id for lead_id in due if lead_id not in asked]

    def _retry_pages(self, lead_ids: list[str], dry_run: bool) -> Iterator[LeadPage]:
        found: set[str] = set()
        for page in self._read_pages(lead_ids):
            found.update(lead.id for lead in page.leads)
            yield page
        if not dry_run:  # gone from the CRM (deleted, merged away): nothing left to write
            self._retry_set.handled(set(lead_ids) - found)

    def _pages(
        self, kind: RunKind, ids: Sequence[str], skip: set[str], report: RunReport
    ) -> Iterator[LeadPage]:
        """The run's own pages; leads in `skip` (just retried) are not handled twice. The ids
        an id run asked for that the CRM does not have go into `report.not_found`."""
        if kind == "ids":
            found: set[str] = set()
            for page in self._read_pages(ids):
                found.update(lead.id for lead in page.leads)
                yield page
            report.not_found = [lead_id for lead_id in dict.fromkeys(ids) if lead_id not in found]
            return
        since = self.store.get_cursor(self.cursor_name) if kind == "incremental" else None
        if since is not None and self.scope_grew():
            since = None  # e.g. Contacts added to a Lead sync: read every lead once
        edge = stored_edge(self.store, self.cursor_name, since)
        self._read_from, self._edge = since, edge
        if edge is None:
            yield from self._changed_pages(ChangeWindow(since), skip)
            return
        self._handled.update(edge.seen)
        if edge.known_count <= window_read_limit(self.connector, WINDOW_READ_LIMIT):
            # as cheap to read as to count
            yield from self._changed_pages(ChangeWindow(edge.known_from, overlap=False), skip)
            return
        yield from self._changed_pages(ChangeWindow(since, overlap=False), skip)
        if edge.known_from < edge.cursor and self._late_arrivals(edge):
            yield from self._changed_pages(
                ChangeWindow(edge.known_from, overlap=False, until=edge.cursor), skip
            )

    def _recognised(self, lead_id: str, stamp: datetime) -> bool:
        """A change the run before handled (sync/cursor_edge.py); one of its own writes is
        remembered as handled at its new modified time."""
        if self._edge is None or not recognised(self._edge, lead_id, stamp):
            return False
        self._handled[lead_id] = stamp
        return True

    def _changed_pages(self, window: ChangeWindow, skip: set[str]) -> Iterator[LeadPage]:
        if self._edge is not None:
            window = replace(window, known=self._recognised)
        for page in self.connector.pull_changed(window):
            if skip:
                page = LeadPage([lead for lead in page.leads if lead.id not in skip], page.cursor)
            yield page

    def _late_arrivals(self, edge: CursorEdge) -> bool:
        """Whether the window behind the cursor holds a change the last run did not know: the
        CRM counts it (one request) against what the edge knew, less the known leads this run
        found changed again (they left the window)."""
        left = sum(
            1
            for lead_id, stamp in edge.seen.items()
            if edge.known_from <= stamp < edge.cursor and self._handled.get(lead_id) != stamp
        )
        found = self.connector.count_changed(edge.known_from, edge.cursor)
        return found != edge.known_count - left

    def _read_pages(self, lead_ids: Sequence[str]) -> Iterator[LeadPage]:
        for chunk in chunked(list(dict.fromkeys(lead_ids)), IDS_PER_READ):
            yield LeadPage(self.connector.read_leads(chunk), None)

    def _handle_page(self, page: LeadPage, now: datetime, report: RunReport, advance: bool) -> None:
        leads = page.leads
        report.pulled += len(leads)
        self._handled.update(
            (lead.id, stamp) for lead in leads if (stamp := self.connector.stamp_of(lead))
        )
        self._page_cursor = page.cursor or self._page_cursor
        if leads:
            plans = self._plan(leads, now, report)
            updates = [update for update in plans if update is not None]
            report.changed += len(updates)
            if report.dry_run:
                self._show_changes(report, self._described(leads, [u.lead_id for u in updates]))
                report.handoffs.planned += len(self._handing_off)
            else:
                held = self._hand_off(now, report)
                updates = [update for update in updates if update.lead_id not in held]
                failed = self._write(leads, updates, now, report) if updates else set()
                self._retry_set.handled([lead.id for lead in leads], failed | set(held))
            self._plans.clear()
            self._handing_off = []
        if advance and page.cursor is not None:
            self.store.advance_cursor(self.cursor_name, page.cursor)

    def _plan(self, leads: list[Lead], now: datetime, report: RunReport) -> list[LeadUpdate | None]:
        assert self._ledger is not None
        activities = self._ledger.activities(leads, now)
        position = {lead.id: index for index, lead in enumerate(leads)}
        frame = LeadFrame(
            leads,
            ActivityFrame.from_records(activities, position, now.timestamp()),
            now.timestamp(),
            self.compiled.where_of,
        )
        scored = score_frame(frame, self.compiled)
        if self._observer is not None:
            self._observer(leads, frame, scored)
        report.scored += len(leads)
        report.grades.update(scored.grade.tolist())
        report.stages.update(scored.stage.tolist())
        written = self.store.last_written(self.connector.crm, [lead.id for lead in leads])
        routed = self.routing.route(
            leads, frame, scored, self.planner.shown_stage, report.dry_run
        )
        if routed.assignments:
            report.add_assignments(routed.assignments)
            self._watch.assignments(routed.assignments)
        routing = routed.decisions
        recycle = self.planner.lifecycle.recycle_status
        status_field = self.planner.lifecycle.status_field
        updates = []
        results = Result.all_of(scored)
        for index, lead in enumerate(leads):
            recycled = bool(status_field and written.get(lead.id, {}).get(status_field) == recycle)
            plan = self.planner.plan(
                lead,
                results[index],
                now,
                routing.get(lead.id),
                recycled_by_us=recycled,
            )
            self._plans[lead.id] = plan.changes
            updates.append(plan.update(lead.kind))
            self._note_handoff(lead, results[index], routing.get(lead.id))
        return updates

    def _note_handoff(self, lead: Lead, result: Result, decision: RoutingDecision | None) -> None:
        """Remember a lead this page hands to a person (not a queue) for the first time."""
        if self.handoffs is None or decision is None or decision.owner_id is None:
            return
        if decision.owner_id == lead.owner_id:
            return
        owner = self.routing.directory().find(decision.owner_id)
        if owner is None or owner.kind == "queue":
            return
        self._handing_off.append(HandoffFacts(
            lead_id=lead.id, lead_kind=lead.kind, name=lead.name or lead.id,
            owner_id=decision.owner_id, grade=result.grade, label=result.label,
            score=result.score, stage=result.stage, stage_rule=result.stage_rule,
            hand_raiser=result.hand_raiser, reasons=result.reasons,
        ))

    def _hand_off(self, now: datetime, report: RunReport) -> dict[str, str]:
        """Create this page's follow-up tasks; the leads whose task is missing, with why (their
        owner is not written this run: they wait in the retry set)."""
        if self.handoffs is None or not self._handing_off:
            return {}
        names = {
            fact.owner_id: self.routing.owner_name(fact.owner_id) for fact in self._handing_off
        }
        done = self.handoffs.hand_off(self._handing_off, now, names)
        report.handoffs.add(done)
        held = {lead_id: f"follow-up task not created: {error}"
                for lead_id, error in done.failed.items()}
        if held:
            report.failed += list(held.items())
            self._retry_set.record_failures(held, report.run_id, now, report.kind == "full")
        return held

    def _write(
        self, leads: list[Lead], updates: list[LeadUpdate], now: datetime, report: RunReport
    ) -> set[str]:
        """Write one CRM batch at a time, recording each before the next: if a later batch fails
        for good, what earlier ones wrote is still remembered and audited. Returns the leads
        whose write failed (now in the retry set)."""
        size = self.connector.write_batch_size
        failed: set[str] = set()
        for start in range(0, len(updates), size):
            failed |= self._write_batch(leads, updates[start : start + size], now, report)
        return failed

    def _write_batch(
        self, leads: list[Lead], updates: list[LeadUpdate], now: datetime, report: RunReport
    ) -> set[str]:
        planned = self._described(leads, [update.lead_id for update in updates])
        intended = self._write_ahead.record(
            f"{report.run_id}-{next(self._write_numbers)}",
            datetime.now(UTC),
            [self._audit_entry(change, now, report.run_id) for change in planned],
        )
        results = self.connector.write(updates)
        answered = datetime.now(UTC)
        self._written_at.update((result.lead_id, answered) for result in results if result.ok)
        by_lead = {update.lead_id: update for update in updates}
        ok = [result.lead_id for result in results if result.ok]
        report.written += len(ok)
        report.failed += [(r.lead_id, r.error or "failed") for r in results if not r.ok]
        report.failed_transiently += [r.lead_id for r in results if not r.ok and r.transient]
        self.store.record_written(
            self.connector.crm,
            {lead_id: _scalars(by_lead[lead_id].changes) for lead_id in ok},
            report.run_id,
            now,
        )
        self._write_ahead.settle(intended, ok)
        written = set(ok)
        self._show_changes(report, [change for change in planned if change.lead_id in written])
        failures = {r.lead_id: r.error or "failed" for r in results if not r.ok}
        if failures:
            restart = report.kind == "full"  # a full run starts the count afresh
            self._retry_set.record_failures(failures, report.run_id, now, restart)
        return set(failures)

    def _show_changes(self, report: RunReport, changes: list[PlannedChange]) -> None:
        report.add_changes(changes)
        self._watch.changes(changes)

    def _audit_entry(self, change: PlannedChange, now: datetime, run_id: str) -> AuditEntry:
        return AuditEntry(
            at=now,
            run_id=run_id,
            crm=self.connector.crm,
            lead_id=change.lead_id,
            field=change.field,
            before=_scalar(change.before),
            after=_scalar(change.after),
            reasons=change.why,
            model_version=self.compiled.version,
            keep_until=now + retention if (retention := self.options.audit_retention) else None,
        )

    def _described(self, leads: list[Lead], lead_ids: list[str]) -> list[PlannedChange]:
        names = {lead.id: lead.name or lead.id for lead in leads}
        return [
            PlannedChange(
                lead_id, names[lead_id], change.field, change.before, change.after, change.why
            )
            for lead_id in lead_ids
            for change in self._plans.get(lead_id, [])
        ]


def _scalar(value: object) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _scalars(values: dict[str, object]) -> dict[str, str | int | float | bool | None]:
    return {name: _scalar(value) for name, value in values.items()}
