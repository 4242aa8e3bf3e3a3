"""What leadq remembers between runs, behind one protocol with two backends.

The store holds cursors (and the edge each run leaves behind its cursor, as a named document), each
lead's recent activity (the activity ledger), the values leadq last wrote to each lead (to
recognise its own webhook echoes and skip no-op writes), routing counters and daily counts, webhook
dedupe keys, run leases, an append-only audit log, run records, the work `leadq serve` has queued
but not yet done, the retry set (leads whose write failed for good, for the following runs to
write) and the intended writes (the audit entries of a CRM write, recorded before it is sent and
settled after).
Every operation that two runs could race on is atomic in the store itself, so callers never need a
lock of their own:

- a cursor only ever moves forward;
- an assignment commits only against the pool version it was decided from, and a lead is never
  assigned twice;
- a webhook key is seen for the first time exactly once per TTL;
- a lease has one holder at a time.

Backends, chosen by `open_state_store(url)`:

- ``sqlite:///relative/state.db`` or ``sqlite:////absolute/state.db`` (as SQLAlchemy spells
  them): one file, the embedded default (sync/state_sqlite/);
- ``dynamodb://table-name?region=eu-west-1`` (optionally ``&endpoint_url=http://…``): the
  deployed single-table store (sync/state_dynamodb/).

Time never comes from a clock here: callers pass `now`. Datetimes must be timezone-aware; they are
stored as ISO 8601 UTC strings with microseconds, so that text order is time order. Expiry times
(dedupe keys, leases) are whole epoch seconds rounded up, the unit DynamoDB's TTL understands; a
key or lease is expired once `now` reaches that second.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
)

Scalar = StrictBool | StrictInt | FiniteFloat | StrictStr | None
"""A JSON-able CRM value as leadq writes it: it round-trips exactly, type included."""

FieldValues = dict[str, Scalar]

T = TypeVar("T")

RunKind = Literal["incremental", "full", "ids"]
AssignmentStatus = Literal["assigned", "already_assigned", "conflict"]


class StateStoreError(RuntimeError):
    """The store could not do what was asked (a newer schema, a backend that keeps refusing)."""


class StateUnusableError(StateStoreError):
    """The state a URL names cannot be used as it is (not a state file, a directory, a newer
    schema, a table without a region): the message says what to fix."""


class RoutingSnapshot(BaseModel):
    """A pool's counters at one version: what routing decides from (a `PoolCounts`)."""

    model_config = ConfigDict(frozen=True)

    version: int
    assigned_total: dict[str, int] = Field(default_factory=dict)
    assigned_today: dict[str, int] = Field(default_factory=dict)


class AssignmentOutcome(BaseModel):
    """What `commit_assignment` did.

    - ``assigned``: this call assigned the lead; `version` is the pool's version after it.
    - ``already_assigned``: the lead already had an owner (`owner_id`); nothing changed.
    - ``conflict``: the pool moved since the snapshot; read it again and decide again.
    """

    model_config = ConfigDict(frozen=True)

    status: AssignmentStatus
    owner_id: str | None = None
    version: int | None = None


class AuditEntry(BaseModel):
    """One change leadq made to one field of one lead, and why. Never updated; deleted only once
    `keep_until` has passed (the audit retention; None keeps it for good).

    An entry is identified by (lead, at, run, field): appending the same entry again, as a retried
    append does, stores it once. Both backends store a lead's entries of one run as one row
    (sync/audit_rows.py).
    """

    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    run_id: str
    crm: str
    lead_id: str
    field: str
    before: Scalar = None
    after: Scalar = None
    reasons: str = ""
    model_version: str = ""
    actor: str = "leadq"
    keep_until: AwareDatetime | None = None


class RunRecord(BaseModel):
    """One sync run, for `leadq status` and reports.

    Recording a run again under the same `run_id` (when it finishes) replaces the earlier record;
    its `started_at` must stay the same.
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    kind: RunKind
    started_at: AwareDatetime
    finished_at: AwareDatetime | None = None
    status: str
    counts: dict[str, int] = Field(default_factory=dict)


class QueuedWork(BaseModel):
    """One unit of queued work, persisted before the webhook that asked for it is answered.

    `payload` is opaque to the store (the queue's own JSON); `id` names it for `finish_work`.
    Work comes back in the order it was queued (`queued_at`, then `id`).
    """

    model_config = ConfigDict(frozen=True)

    id: StrictStr = Field(min_length=1)
    queued_at: AwareDatetime
    payload: StrictStr


class WorkClaim(BaseModel):
    """Who holds queued work, until when (see `StateStore.claim_work`)."""

    model_config = ConfigDict(frozen=True)

    owner: StrictStr = Field(min_length=1)
    expires: AwareDatetime


class FailedWrite(BaseModel):
    """A lead in the retry set: its write failed for good in `attempts` runs since it was last
    written (or since a full run restarted the count). The newest failure's error is kept."""

    model_config = ConfigDict(frozen=True)

    crm: StrictStr
    lead_id: StrictStr = Field(min_length=1)
    attempts: StrictInt = Field(ge=1)
    first_failed_at: AwareDatetime
    last_failed_at: AwareDatetime
    error: StrictStr
    run_id: StrictStr


class IntendedWrites(BaseModel):
    """The audit entries one CRM write will make, recorded before the write is sent (a
    write-ahead log): a run killed between the write and its confirmation leaves them unsettled,
    and the next run settles them from what the CRM holds. `id` names the write in its CRM."""

    model_config = ConfigDict(frozen=True)

    id: StrictStr = Field(min_length=1)
    crm: StrictStr
    recorded_at: AwareDatetime
    writer: StrictStr = ""  # who sends the write (a run's holder name), for whoever settles it
    entries: tuple[AuditEntry, ...]


class StateStore(Protocol):
    """The state every run shares. Both backends pass tests/unit/sync/test_state_contract.py."""

    # Cursors
    def get_cursor(self, name: str) -> datetime | None: ...

    def advance_cursor(self, name: str, value: datetime) -> datetime:
        """Move the cursor to `value` unless it is already later; return the stored value."""
        ...

    # Named documents: small JSON a run leaves for the next (a cursor's edge, the ledger's state)
    def read_document(self, name: str) -> str | None:
        """The text last written under `name`; None when there is none."""
        ...

    def write_document(self, name: str, text: str) -> None:
        """Keep `text` under `name`, replacing what was there (at most 300,000 characters)."""
        ...

    # Activity ledger: each lead's recent activity, packed (sync/ledger.py)
    def ledger_of(self, crm: str, lead_ids: Iterable[str]) -> dict[str, bytes]:
        """The packed activity of each lead; leads with none kept are absent."""
        ...

    def record_ledger(self, crm: str, packed: Mapping[str, bytes]) -> None:
        """Replace the packed activity of these leads (empty bytes: keep nothing for the lead)."""
        ...

    def clear_ledger(self, crm: str) -> None:
        """Drop every lead's packed activity of one CRM (before a rebuild)."""
        ...

    # Values leadq last wrote, per lead
    def last_written(self, crm: str, lead_ids: Iterable[str]) -> dict[str, FieldValues]:
        """The values leadq last wrote to each lead; leads never written are absent."""
        ...

    def record_written(
        self, crm: str, values: Mapping[str, Mapping[str, Scalar]], run_id: str, at: datetime
    ) -> None:
        """Remember values written per lead: given fields replace earlier ones, others stay."""
        ...

    def forget_leads(self, crm: str, lead_ids: Iterable[str]) -> None:
        """Stop tracking leads that no longer exist (deleted, merged away): the values leadq last
        wrote to them are dropped. Their audit log and their assignment stay."""
        ...

    # Routing counters
    def routing_snapshot(self, pool: str, day: date) -> RoutingSnapshot: ...

    def commit_assignment(
        self, pool: str, lead_id: str, owner_id: str, day: date, expected_version: int
    ) -> AssignmentOutcome:
        """Assign atomically: an existing assignment wins; else refuse if the pool moved since
        `expected_version`; else count the owner (in all and on `day`) and bump the version."""
        ...

    def assignment_for(self, lead_id: str) -> str | None: ...

    # Webhook dedupe
    def first_sighting(self, key: str, now: datetime, ttl: timedelta) -> bool:
        """True the first time `key` is seen, False for a repeat until the TTL has passed."""
        ...

    def seen_webhooks(self, keys: Iterable[str], now: datetime) -> set[str]:
        """The keys among `keys` already recorded (by `remember_webhooks` or `first_sighting`)
        whose TTL has not passed. Records nothing: a webhook handler checks first, queues the
        work, and only then remembers, so that a failed queueing leaves the keys for the retry."""
        ...

    def remember_webhooks(self, keys: Iterable[str], now: datetime, ttl: timedelta) -> None:
        """Record keys as processed until `now + ttl` (a key recorded before gets this expiry)."""
        ...

    # Run leases
    def acquire_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take the lease if it is free, expired, or already this holder's (which extends it)."""
        ...

    def renew_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Extend the lease; only its holder can, and only before it expired."""
        ...

    def lease_holder(self, name: str, now: datetime) -> str | None:
        """Who holds the lease now (None when it is free or expired)."""
        ...

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up; a no-op for anyone but its holder."""
        ...

    # Work queued by `leadq serve`
    def enqueue_work(self, items: Sequence[QueuedWork], claim: WorkClaim | None = None) -> None:
        """Persist work (durable once this returns), claimed by `claim` if given (in the same
        write); queueing the same item again keeps it once."""
        ...

    def queued_work(self, limit: int = 1000) -> list[QueuedWork]:
        """Work not yet finished, oldest first, at most `limit` items."""
        ...

    def finish_work(self, items: Iterable[QueuedWork]) -> None:
        """Drop finished work; finishing an item already finished is a no-op."""
        ...

    def claim_work(
        self, owner: str, now: datetime, ttl: timedelta, limit: int = 100,
        ids: Iterable[str] | None = None,
    ) -> list[QueuedWork]:
        """Claim queued work for `owner` until `now + ttl` and return it, oldest first, at most
        `limit` items. Without `ids`: work nobody holds (never claimed, released, or its claim
        lapsed). With `ids`: those of the named items nobody else holds — `owner`'s own claims
        among them are renewed. Each item has one owner at a time, so two processes sharing
        the store never both take it."""
        ...

    def release_work(self, owner: str, items: Iterable[QueuedWork]) -> None:
        """Give `owner`'s claims on `items` back (anyone may claim them at once); items someone
        else holds are left alone."""
        ...

    # Retry set: leads whose write failed for good
    def record_failed_writes(
        self, crm: str, errors: Mapping[str, str], run_id: str, at: datetime
    ) -> None:
        """Put leads whose write failed for good (lead id → error) in the retry set; a lead
        already there counts one attempt more and keeps its first failure time — unless `at` is
        not later than its last failure: that is the same attempt, made by an overlapping run
        too, and only the error is updated."""
        ...

    def failed_writes(self, crm: str) -> list[FailedWrite]:
        """The retry set of one CRM, the earliest first failure first (then by lead id)."""
        ...

    def clear_failed_writes(self, crm: str, lead_ids: Iterable[str]) -> None:
        """Take leads out of the retry set (written at last, nothing left to write, gone from
        the CRM); leads not in it are ignored."""
        ...

    # Write-ahead audit: intended writes, settled after the CRM answered
    def record_intended_writes(self, intended: IntendedWrites) -> None:
        """Record a write's audit entries before it is sent (durable once this returns);
        recording the same write again keeps it once."""
        ...

    def settle_intended_writes(
        self, intended: IntendedWrites, applied: Sequence[AuditEntry]
    ) -> None:
        """The write's outcome: `applied` (the entries the CRM holds) join the audit log and the
        intended write is dropped; the rest were not applied. Settling again is harmless."""
        ...

    def unsettled_intended_writes(self, crm: str) -> list[IntendedWrites]:
        """Intended writes recorded and never settled (a run was killed, or lost the CRM, in
        between), the earliest recorded first."""
        ...

    # Audit log
    def append_audit(self, entries: Sequence[AuditEntry]) -> None: ...

    def audit_for(self, lead_id: str, limit: int = 50) -> list[AuditEntry]:
        """A lead's changes, newest first."""
        ...

    def prune_audit(self, now: datetime) -> int:
        """Delete the audit entries whose `keep_until` is not later than `now`; return how many
        rows went. DynamoDB's TTL does it there by itself (eventually), so it deletes nothing."""
        ...

    # Runs
    def record_run(self, run: RunRecord) -> None: ...

    def recent_runs(self, limit: int = 20) -> list[RunRecord]:
        """Runs, the most recently started first."""
        ...

    def close(self) -> None: ...


# Encodings both backends share, so that they order and expire things identically.

_FIELD_VALUES = TypeAdapter(dict[str, Scalar])


def validated_values(values: Mapping[str, Mapping[str, Scalar]]) -> dict[str, FieldValues]:
    """Refuse anything that would not round-trip exactly (NaN, infinities, objects)."""
    return {
        lead_id: _FIELD_VALUES.validate_python(dict(fields)) for lead_id, fields in values.items()
    }


def require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone; the state store only takes aware datetimes")
    return moment


def iso_utc(moment: datetime) -> str:
    """Fixed-width ISO 8601 in UTC, so that comparing the text compares the times."""
    return require_aware(moment).astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def epoch_seconds(moment: datetime) -> float:
    return require_aware(moment).timestamp()


def expiry_second(now: datetime, ttl: timedelta) -> int:
    """When something seen at `now` with `ttl` expires: whole epoch seconds, rounded up."""
    if ttl <= timedelta(0):
        raise ValueError(f"a TTL must be positive, got {ttl}")
    return math.ceil(epoch_seconds(now + ttl))


def failed_write_order(failed: FailedWrite) -> tuple[str, str]:
    """Where a lead stands in the retry set: the earliest first failure first."""
    return iso_utc(failed.first_failed_at), failed.lead_id


def intended_writes_key(intended: IntendedWrites) -> str:
    """An intended write's identity within its CRM, and its place in time order."""
    return f"{iso_utc(intended.recorded_at)}#{intended.id}"


def require_positive(limit: int) -> int:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return limit


def chunked(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
