"""The embedded state store: one SQLite file, safe for several threads and processes at once.

WAL mode lets readers proceed while one writer writes; `busy_timeout` makes a second writer wait
for the lock instead of failing. Every read-decide-write happens inside `BEGIN IMMEDIATE`, which
takes the write lock up front, so two processes can never both decide from the same state. Each
thread gets its own connection (SQLite connections must not be shared between threads).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sync.audit_rows import (
    AuditRow,
    audit_rows,
    from_microseconds,
    microseconds,
    unpacked_fields,
)
from sync.sqlite_checkpoints import WRITER_CHECKPOINT_PAGES, BackgroundCheckpoints
from sync.state import (
    AssignmentOutcome,
    AuditEntry,
    FailedWrite,
    FieldValues,
    IntendedWrites,
    QueuedWork,
    RoutingSnapshot,
    RunRecord,
    Scalar,
    StateUnusableError,
    WorkClaim,
    chunked,
    epoch_seconds,
    expiry_second,
    from_iso,
    intended_writes_key,
    iso_utc,
    require_aware,
    require_positive,
    validated_values,
)

SCHEMA_VERSION = 5
"""The state schema this leadq reads and writes. A file at an older version is upgraded in place
when it is opened (`_MIGRATIONS`); a file at a newer one is refused with a `StateStoreError`."""

_SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS written (
    crm TEXT NOT NULL, lead_id TEXT NOT NULL, field_values TEXT NOT NULL,
    run_id TEXT NOT NULL, written_at TEXT NOT NULL, PRIMARY KEY (crm, lead_id));
CREATE TABLE IF NOT EXISTS pools (pool TEXT PRIMARY KEY, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS owner_totals (
    pool TEXT NOT NULL, owner_id TEXT NOT NULL, assigned INTEGER NOT NULL,
    PRIMARY KEY (pool, owner_id));
CREATE TABLE IF NOT EXISTS owner_days (
    pool TEXT NOT NULL, day TEXT NOT NULL, owner_id TEXT NOT NULL, assigned INTEGER NOT NULL,
    PRIMARY KEY (pool, day, owner_id));
CREATE TABLE IF NOT EXISTS assignments (
    lead_id TEXT PRIMARY KEY, pool TEXT NOT NULL, owner_id TEXT NOT NULL, day TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dedupe (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS dedupe_by_expiry ON dedupe (expires_at);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    lead_id TEXT NOT NULL, entry_key TEXT NOT NULL, entry TEXT NOT NULL,
    PRIMARY KEY (lead_id, entry_key));
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at);
CREATE TABLE IF NOT EXISTS work_queue (
    id TEXT PRIMARY KEY, queued_at TEXT NOT NULL, payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS work_queue_in_order ON work_queue (queued_at, id);
"""

_RETRY_SET_AND_INTENDED_WRITES = """
CREATE TABLE IF NOT EXISTS retry_set (
    crm TEXT NOT NULL, lead_id TEXT NOT NULL, attempts INTEGER NOT NULL,
    first_failed_at TEXT NOT NULL, last_failed_at TEXT NOT NULL, error TEXT NOT NULL,
    run_id TEXT NOT NULL, PRIMARY KEY (crm, lead_id));
CREATE TABLE IF NOT EXISTS intended_writes (
    crm TEXT NOT NULL, intent_key TEXT NOT NULL, intended TEXT NOT NULL,
    PRIMARY KEY (crm, intent_key));
"""

_DOCUMENTS_AND_LEDGER = """
CREATE TABLE IF NOT EXISTS documents (name TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (
    crm TEXT NOT NULL, lead_id TEXT NOT NULL, packed BLOB NOT NULL,
    PRIMARY KEY (crm, lead_id)) WITHOUT ROWID;
"""

_WORK_CLAIMS = """
ALTER TABLE work_queue ADD COLUMN claimed_by TEXT;
ALTER TABLE work_queue ADD COLUMN claim_expires INTEGER NOT NULL DEFAULT 0;
"""

_AUDIT_ROWS = """
CREATE TABLE IF NOT EXISTS audit_rows (
    lead_id TEXT NOT NULL, at_us INTEGER NOT NULL, run_id TEXT NOT NULL, crm TEXT NOT NULL,
    model_version TEXT NOT NULL, actor TEXT NOT NULL, keep_until INTEGER, fields BLOB NOT NULL,
    PRIMARY KEY (lead_id, at_us, run_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS audit_rows_by_expiry ON audit_rows (keep_until)
    WHERE keep_until IS NOT NULL;
"""
"""Schema 5: the audit as one row per lead per run (sync/audit_rows.py); `at_us` is the run's
time and `keep_until` its end of retention, in microseconds since the epoch (NULL: kept for
good)."""


def _compact_audit(connection: sqlite3.Connection) -> None:
    """Schema 5: move the audit's entries (one row per field before) into rows per lead and run,
    streaming in key order, and drop the old table."""
    _run_script(connection, _AUDIT_ROWS)
    entries = connection.execute("SELECT entry FROM audit ORDER BY lead_id, entry_key")
    while batch := entries.fetchmany(_MIGRATION_BATCH):
        _append_audit(connection, [AuditEntry.model_validate_json(entry) for (entry,) in batch])
    connection.execute("DROP TABLE audit")


Migration = str | Callable[[sqlite3.Connection], None]

_MIGRATIONS: tuple[tuple[int, Migration], ...] = (
    (1, _SCHEMA_1),
    (2, _RETRY_SET_AND_INTENDED_WRITES),
    (3, _DOCUMENTS_AND_LEDGER),
    (4, _WORK_CLAIMS),
    (5, _compact_audit),
)
"""What brings a file to each schema version from the one before (a new file runs them all): a
script, or a function that moves data. A released version's step never changes: a change to the
schema is a new version."""

_CLAIMABLE = "SELECT id, queued_at, payload FROM work_queue WHERE (claimed_by IS NULL"

_MIGRATION_BATCH = 5_000  # old audit entries read at a time while moving them
_PURGE_EVERY = 256  # first_sighting calls between purges of expired dedupe keys
_IN_CLAUSE_SIZE = 500


class _ThreadConnection:
    """One thread's connection, closed when the thread ends (only that thread's local storage
    holds it), so that a threaded server does not keep one open per finished request thread.
    The store tracks it weakly to close it on `close()`."""

    __slots__ = ("__weakref__", "connection", "pid")

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.pid = os.getpid()

    def __del__(self, getpid: Callable[[], int] = os.getpid) -> None:
        # getpid is bound early: at interpreter exit the os module may already be gone.
        if self.pid == getpid():  # a forked child leaves its parent's connection alone
            self.connection.close()


class SqliteStateStore:
    def __init__(self, path: str | Path, busy_timeout_ms: int = 30_000) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._open: weakref.WeakSet[_ThreadConnection] = weakref.WeakSet()
        self._open_lock = threading.Lock()
        self._sightings = itertools.count(1)
        self._checkpoints = BackgroundCheckpoints(self._connect)
        self._create_private_file()
        try:
            self._create_schema()
        except sqlite3.DatabaseError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_NOTADB:
                raise
            raise StateUnusableError(
                f"{self.path} is not a leadq state file (SQLite says: {error}); point "
                "LEADQ_STATE_URL at another file, or move this one away"
            ) from None

    def _create_private_file(self) -> None:
        """A new state file is readable by its owner only (0600): it holds the audit log, and
        SQLite gives its journal and WAL files the same permissions."""
        if self.path.is_dir():
            raise StateUnusableError(
                f"{self.path} is a directory: LEADQ_STATE_URL must name a state file, "
                f"e.g. sqlite:///{self.path / 'leadq-state.db'}"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass
        except OSError as error:
            raise StateUnusableError(
                f"{self.path}: the state file cannot be created ({error.strerror})"
            ) from None

    # Connections and transactions

    def _connection(self) -> sqlite3.Connection:
        mine: _ThreadConnection | None = getattr(self._local, "connection", None)
        if mine is None or mine.pid != os.getpid():  # a forked child must not reuse the parent's
            mine = _ThreadConnection(self._connect())
            self._local.connection = mine
            with self._open_lock:
                self._open.add(mine)
        return mine.connection

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; every transaction here is explicit.
        connection = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout_ms / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        self._use_wal(connection)
        connection.execute("PRAGMA synchronous = NORMAL")  # durable across a killed process in WAL
        connection.execute(f"PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}")
        return connection

    def _use_wal(self, connection: sqlite3.Connection) -> None:
        # Switching a new file to WAL answers "database is locked" at once, without waiting,
        # while another process opening it at the same moment is mid-switch: retry until the
        # busy timeout. Once the file is in WAL mode (it stays so), this returns at once.
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        while True:
            try:
                connection.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction that holds the write lock from its first statement."""
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        self._checkpoints.written()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every statement in it sees the same snapshot."""
        connection = self._connection()
        connection.execute("BEGIN")
        try:
            yield connection
        finally:
            connection.execute("COMMIT")

    def _create_schema(self) -> None:
        """Create a new file's tables, or upgrade an older file's in place, in one transaction."""
        with self._writing() as connection:
            found = _schema_version(connection)
            if found is not None and found > SCHEMA_VERSION:
                raise StateUnusableError(
                    f"{self.path} holds state schema {found}, written by a newer leadq; "
                    f"this leadq reads schema {SCHEMA_VERSION}"
                )
            for version, step in _MIGRATIONS:
                if version > (found or 0):
                    if isinstance(step, str):
                        _run_script(connection, step)
                    else:
                        step(connection)
            if found != SCHEMA_VERSION:
                connection.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )

    def close(self) -> None:
        self._checkpoints.stop()
        with self._open_lock:
            still_open, self._open = list(self._open), weakref.WeakSet()
        for mine in still_open:
            mine.connection.close()
        self._local = threading.local()

    # Cursors

    def get_cursor(self, name: str) -> datetime | None:
        row = (
            self._connection()
            .execute("SELECT value FROM cursors WHERE name = ?", (name,))
            .fetchone()
        )
        return from_iso(row[0]) if row else None

    def advance_cursor(self, name: str, value: datetime) -> datetime:
        with self._writing() as connection:
            connection.execute(
                "INSERT INTO cursors (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE "
                "SET value = excluded.value WHERE excluded.value > cursors.value",
                (name, iso_utc(value)),
            )
            (stored,) = connection.execute(
                "SELECT value FROM cursors WHERE name = ?", (name,)
            ).fetchone()
        return from_iso(stored)

    # Named documents

    def read_document(self, name: str) -> str | None:
        row = (
            self._connection()
            .execute("SELECT body FROM documents WHERE name = ?", (name,))
            .fetchone()
        )
        return row[0] if row else None

    def write_document(self, name: str, text: str) -> None:
        with self._writing() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO documents (name, body) VALUES (?, ?)", (name, text)
            )

    # Activity ledger

    def ledger_of(self, crm: str, lead_ids: Iterable[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        with self._reading() as connection:
            for chunk in chunked(list(dict.fromkeys(lead_ids)), _IN_CLAUSE_SIZE):
                placeholders = ", ".join("?" * len(chunk))
                rows = connection.execute(
                    "SELECT lead_id, packed FROM ledger"
                    f" WHERE crm = ? AND lead_id IN ({placeholders})",
                    (crm, *chunk),
                ).fetchall()
                found.update({lead_id: bytes(packed) for lead_id, packed in rows})
        return found

    def record_ledger(self, crm: str, packed: Mapping[str, bytes]) -> None:
        with self._writing() as connection:
            connection.executemany(
                "DELETE FROM ledger WHERE crm = ? AND lead_id = ?",
                [(crm, lead_id) for lead_id, blob in packed.items() if not blob],
            )
            connection.executemany(
                "INSERT OR REPLACE INTO ledger (crm, lead_id, packed) VALUES (?, ?, ?)",
                [(crm, lead_id, blob) for lead_id, blob in packed.items() if blob],
            )

    def clear_ledger(self, crm: str) -> None:
        with self._writing() as connection:
            connection.execute("DELETE FROM ledger WHERE crm = ?", (crm,))

    # Values leadq last wrote

    def last_written(self, crm: str, lead_ids: Iterable[str]) -> dict[str, FieldValues]:
        unique_ids = list(dict.fromkeys(lead_ids))
        found: dict[str, FieldValues] = {}
        with self._reading() as connection:
            for chunk in chunked(unique_ids, _IN_CLAUSE_SIZE):
                found.update(_written_rows(connection, crm, chunk))
        return found

    def record_written(
        self, crm: str, values: Mapping[str, Mapping[str, Scalar]], run_id: str, at: datetime
    ) -> None:
        checked = validated_values(values)
        written_at = iso_utc(at)
        with self._writing() as connection:
            for chunk in chunked(list(checked), _IN_CLAUSE_SIZE):
                earlier = _written_rows(connection, crm, chunk)
                connection.executemany(
                    "INSERT OR REPLACE INTO written"
                    " (crm, lead_id, field_values, run_id, written_at) VALUES (?, ?, ?, ?, ?)",
                    [
                        (
                            crm,
                            lead_id,
                            json.dumps({**earlier.get(lead_id, {}), **checked[lead_id]}),
                            run_id,
                            written_at,
                        )
                        for lead_id in chunk
                    ],
                )

    def forget_leads(self, crm: str, lead_ids: Iterable[str]) -> None:
        unique_ids = list(dict.fromkeys(lead_ids))
        with self._writing() as connection:
            connection.executemany(
                "DELETE FROM written WHERE crm = ? AND lead_id = ?",
                [(crm, lead_id) for lead_id in unique_ids],
            )

    # Routing counters

    def routing_snapshot(self, pool: str, day: date) -> RoutingSnapshot:
        with self._reading() as connection:
            version = _pool_version(connection, pool)
            totals = connection.execute(
                "SELECT owner_id, assigned FROM owner_totals WHERE pool = ?", (pool,)
            ).fetchall()
            today = connection.execute(
                "SELECT owner_id, assigned FROM owner_days WHERE pool = ? AND day = ?",
                (pool, day.isoformat()),
            ).fetchall()
        return RoutingSnapshot(
            version=version, assigned_total=dict(totals), assigned_today=dict(today)
        )

    def commit_assignment(
        self, pool: str, lead_id: str, owner_id: str, day: date, expected_version: int
    ) -> AssignmentOutcome:
        with self._writing() as connection:
            existing = _assigned_owner(connection, lead_id)
            if existing is not None:
                return AssignmentOutcome(status="already_assigned", owner_id=existing)
            version = _pool_version(connection, pool)
            if version != expected_version:
                return AssignmentOutcome(status="conflict")
            _count_assignment(connection, pool, lead_id, owner_id, day.isoformat())
        return AssignmentOutcome(status="assigned", owner_id=owner_id, version=version + 1)

    def assignment_for(self, lead_id: str) -> str | None:
        return _assigned_owner(self._connection(), lead_id)

    # Webhook dedupe

    def first_sighting(self, key: str, now: datetime, ttl: timedelta) -> bool:
        expires_at = expiry_second(now, ttl)
        now_seconds = epoch_seconds(now)
        with self._writing() as connection:
            if next(self._sightings) % _PURGE_EVERY == 0:
                connection.execute("DELETE FROM dedupe WHERE expires_at <= ?", (now_seconds,))
            cursor = connection.execute(
                "INSERT INTO dedupe (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                "SET expires_at = excluded.expires_at WHERE dedupe.expires_at <= ?",
                (key, expires_at, now_seconds),
            )
            return cursor.rowcount == 1

    def seen_webhooks(self, keys: Iterable[str], now: datetime) -> set[str]:
        unique_keys = list(dict.fromkeys(keys))
        now_seconds = epoch_seconds(now)
        seen: set[str] = set()
        with self._reading() as connection:
            for chunk in chunked(unique_keys, _IN_CLAUSE_SIZE):
                placeholders = ", ".join("?" * len(chunk))
                rows = connection.execute(
                    f"SELECT key FROM dedupe WHERE key IN ({placeholders}) AND expires_at > ?",
                    (*chunk, now_seconds),
                ).fetchall()
                seen.update(key for (key,) in rows)
        return seen

    def remember_webhooks(self, keys: Iterable[str], now: datetime, ttl: timedelta) -> None:
        expires_at = expiry_second(now, ttl)
        with self._writing() as connection:
            if next(self._sightings) % _PURGE_EVERY == 0:
                connection.execute(
                    "DELETE FROM dedupe WHERE expires_at <= ?", (epoch_seconds(now),)
                )
            connection.executemany(
                "INSERT OR REPLACE INTO dedupe (key, expires_at) VALUES (?, ?)",
                [(key, expires_at) for key in dict.fromkeys(keys)],
            )

    # Run leases

    def acquire_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        with self._writing() as connection:
            cursor = connection.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "expires_at = excluded.expires_at "
                "WHERE leases.expires_at <= ? OR leases.holder = excluded.holder",
                (name, holder, expiry_second(now, ttl), epoch_seconds(now)),
            )
            return cursor.rowcount == 1

    def renew_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        with self._writing() as connection:
            cursor = connection.execute(
                "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ? AND expires_at > ?",
                (expiry_second(now, ttl), name, holder, epoch_seconds(now)),
            )
            return cursor.rowcount == 1

    def lease_holder(self, name: str, now: datetime) -> str | None:
        row = (
            self._connection()
            .execute(
                "SELECT holder FROM leases WHERE name = ? AND expires_at > ?",
                (name, epoch_seconds(now)),
            )
            .fetchone()
        )
        return row[0] if row else None

    def release_lease(self, name: str, holder: str) -> None:
        with self._writing() as connection:
            connection.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    # Work queued by `leadq serve`

    def enqueue_work(self, items: Sequence[QueuedWork], claim: WorkClaim | None = None) -> None:
        owner = claim.owner if claim else None
        until = math.ceil(epoch_seconds(claim.expires)) if claim else 0
        with self._writing() as connection:
            connection.executemany(
                "INSERT OR IGNORE INTO work_queue"
                " (id, queued_at, payload, claimed_by, claim_expires) VALUES (?, ?, ?, ?, ?)",
                [(item.id, iso_utc(item.queued_at), item.payload, owner, until) for item in items],
            )

    def queued_work(self, limit: int = 1000) -> list[QueuedWork]:
        rows = (
            self._connection()
            .execute(
                "SELECT id, queued_at, payload FROM work_queue ORDER BY queued_at, id LIMIT ?",
                (require_positive(limit),),
            )
            .fetchall()
        )
        return [
            QueuedWork(id=work_id, queued_at=from_iso(queued_at), payload=payload)
            for work_id, queued_at, payload in rows
        ]

    def finish_work(self, items: Iterable[QueuedWork]) -> None:
        with self._writing() as connection:
            connection.executemany(
                "DELETE FROM work_queue WHERE id = ?", [(item.id,) for item in items]
            )

    def claim_work(
        self, owner: str, now: datetime, ttl: timedelta, limit: int = 100,
        ids: Iterable[str] | None = None,
    ) -> list[QueuedWork]:
        wanted = None if ids is None else list(dict.fromkeys(ids))
        until, at = expiry_second(now, ttl), int(epoch_seconds(require_aware(now)))
        with self._writing() as connection:
            rows = _claimable(connection, owner, at, require_positive(limit), wanted)
            connection.executemany(
                "UPDATE work_queue SET claimed_by = ?, claim_expires = ? WHERE id = ?",
                [(owner, until, row[0]) for row in rows],
            )
        return [
            QueuedWork(id=work_id, queued_at=from_iso(queued_at), payload=payload)
            for work_id, queued_at, payload in rows
        ]

    def release_work(self, owner: str, items: Iterable[QueuedWork]) -> None:
        with self._writing() as connection:
            connection.executemany(
                "UPDATE work_queue SET claimed_by = NULL, claim_expires = 0"
                " WHERE id = ? AND claimed_by = ?",
                [(item.id, owner) for item in items],
            )

    # Retry set

    def record_failed_writes(
        self, crm: str, errors: Mapping[str, str], run_id: str, at: datetime
    ) -> None:
        failed_at = iso_utc(at)
        with self._writing() as connection:
            connection.executemany(
                "INSERT INTO retry_set (crm, lead_id, attempts, first_failed_at, last_failed_at,"
                " error, run_id) VALUES (?, ?, 1, ?, ?, ?, ?) ON CONFLICT (crm, lead_id) DO UPDATE"
                " SET attempts = attempts + (excluded.last_failed_at > retry_set.last_failed_at),"
                " last_failed_at = max(last_failed_at, excluded.last_failed_at),"
                " error = excluded.error, run_id = excluded.run_id",
                [
                    (crm, lead_id, failed_at, failed_at, error, run_id)
                    for lead_id, error in errors.items()
                ],
            )

    def failed_writes(self, crm: str) -> list[FailedWrite]:
        rows = (
            self._connection()
            .execute(
                "SELECT lead_id, attempts, first_failed_at, last_failed_at, error, run_id"
                " FROM retry_set WHERE crm = ? ORDER BY first_failed_at, lead_id",
                (crm,),
            )
            .fetchall()
        )
        return [
            FailedWrite(
                crm=crm,
                lead_id=lead_id,
                attempts=attempts,
                first_failed_at=from_iso(first),
                last_failed_at=from_iso(last),
                error=error,
                run_id=run_id,
            )
            for lead_id, attempts, first, last, error, run_id in rows
        ]

    def clear_failed_writes(self, crm: str, lead_ids: Iterable[str]) -> None:
        with self._writing() as connection:
            connection.executemany(
                "DELETE FROM retry_set WHERE crm = ? AND lead_id = ?",
                [(crm, lead_id) for lead_id in dict.fromkeys(lead_ids)],
            )

    # Write-ahead audit

    def record_intended_writes(self, intended: IntendedWrites) -> None:
        with self._writing() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO intended_writes (crm, intent_key, intended)"
                " VALUES (?, ?, ?)",
                (intended.crm, intended_writes_key(intended), intended.model_dump_json()),
            )

    def settle_intended_writes(
        self, intended: IntendedWrites, applied: Sequence[AuditEntry]
    ) -> None:
        with self._writing() as connection:
            _append_audit(connection, applied)
            connection.execute(
                "DELETE FROM intended_writes WHERE crm = ? AND intent_key = ?",
                (intended.crm, intended_writes_key(intended)),
            )

    def unsettled_intended_writes(self, crm: str) -> list[IntendedWrites]:
        rows = (
            self._connection()
            .execute(
                "SELECT intended FROM intended_writes WHERE crm = ? ORDER BY intent_key", (crm,)
            )
            .fetchall()
        )
        return [IntendedWrites.model_validate_json(intended) for (intended,) in rows]

    # Audit log

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        with self._writing() as connection:
            _append_audit(connection, entries)

    def audit_for(self, lead_id: str, limit: int = 50) -> list[AuditEntry]:
        wanted = require_positive(limit)
        found: list[AuditEntry] = []
        with self._reading() as connection:
            rows = connection.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audit_rows WHERE lead_id = ?"
                " ORDER BY at_us DESC, run_id DESC",
                (lead_id,),
            )
            while len(found) < wanted and (row := rows.fetchone()):
                found += _audit_row(row).entries()
        return found[:wanted]

    def prune_audit(self, now: datetime) -> int:
        with self._writing() as connection:
            cursor = connection.execute(
                "DELETE FROM audit_rows WHERE keep_until IS NOT NULL AND keep_until <= ?",
                (microseconds(now),),
            )
            return cursor.rowcount

    # Runs

    def record_run(self, run: RunRecord) -> None:
        with self._writing() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO runs (run_id, started_at, record) VALUES (?, ?, ?)",
                (run.run_id, iso_utc(run.started_at), run.model_dump_json()),
            )

    def recent_runs(self, limit: int = 20) -> list[RunRecord]:
        rows = (
            self._connection()
            .execute(
                "SELECT record FROM runs ORDER BY started_at DESC, run_id DESC LIMIT ?",
                (require_positive(limit),),
            )
            .fetchall()
        )
        return [RunRecord.model_validate_json(record) for (record,) in rows]


def _run_script(connection: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            connection.execute(statement)


def _schema_version(connection: sqlite3.Connection) -> int | None:
    """The file's schema version; None for a new, empty file."""
    has_meta = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    row = (
        connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if has_meta
        else None
    )
    return int(row[0]) if row else None


_AUDIT_COLUMNS = "lead_id, at_us, run_id, crm, model_version, actor, keep_until, fields"


def _append_audit(connection: sqlite3.Connection, entries: Sequence[AuditEntry]) -> None:
    """Add entries to their rows (one per lead and run): a field given again replaces its
    earlier entry, the row's other fields stay."""
    rows = [row.merged_over(_stored_audit_row(connection, row)) for row in audit_rows(entries)]
    connection.executemany(
        f"INSERT OR REPLACE INTO audit_rows ({_AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                row.lead_id,
                microseconds(row.at),
                row.run_id,
                row.crm,
                row.model_version,
                row.actor,
                microseconds(row.keep_until) if row.keep_until else None,
                row.packed_fields(),
            )
            for row in rows
        ],
    )


def _stored_audit_row(connection: sqlite3.Connection, row: AuditRow) -> AuditRow | None:
    stored = connection.execute(
        f"SELECT {_AUDIT_COLUMNS} FROM audit_rows WHERE lead_id = ? AND at_us = ? AND run_id = ?",
        (row.lead_id, microseconds(row.at), row.run_id),
    ).fetchone()
    return _audit_row(stored) if stored else None


def _audit_row(row: tuple[Any, ...]) -> AuditRow:
    lead_id, at_us, run_id, crm, model_version, actor, keep_until, fields = row
    return AuditRow(
        lead_id=lead_id,
        at=from_microseconds(at_us),
        run_id=run_id,
        crm=crm,
        model_version=model_version,
        actor=actor,
        keep_until=from_microseconds(keep_until) if keep_until is not None else None,
        fields=unpacked_fields(fields),
    )


def _written_rows(
    connection: sqlite3.Connection, crm: str, lead_ids: Sequence[str]
) -> dict[str, FieldValues]:
    placeholders = ", ".join("?" * len(lead_ids))
    rows = connection.execute(
        f"SELECT lead_id, field_values FROM written WHERE crm = ? AND lead_id IN ({placeholders})",
        (crm, *lead_ids),
    ).fetchall()
    return {lead_id: json.loads(values) for lead_id, values in rows}


def _pool_version(connection: sqlite3.Connection, pool: str) -> int:
    row = connection.execute("SELECT version FROM pools WHERE pool = ?", (pool,)).fetchone()
    return row[0] if row else 0


def _assigned_owner(connection: sqlite3.Connection, lead_id: str) -> str | None:
    row = connection.execute(
        "SELECT owner_id FROM assignments WHERE lead_id = ?", (lead_id,)
    ).fetchone()
    return row[0] if row else None


def _count_assignment(
    connection: sqlite3.Connection, pool: str, lead_id: str, owner_id: str, day: str
) -> None:
    connection.execute(
        "INSERT INTO assignments (lead_id, pool, owner_id, day) VALUES (?, ?, ?, ?)",
        (lead_id, pool, owner_id, day),
    )
    connection.execute(
        "INSERT INTO pools (pool, version) VALUES (?, 1) "
        "ON CONFLICT (pool) DO UPDATE SET version = version + 1",
        (pool,),
    )
    connection.execute(
        "INSERT INTO owner_totals (pool, owner_id, assigned) VALUES (?, ?, 1) "
        "ON CONFLICT (pool, owner_id) DO UPDATE SET assigned = assigned + 1",
        (pool, owner_id),
    )
    connection.execute(
        "INSERT INTO owner_days (pool, day, owner_id, assigned) VALUES (?, ?, ?, 1) "
        "ON CONFLICT (pool, day, owner_id) DO UPDATE SET assigned = assigned + 1",
        (pool, day, owner_id),
    )


def _claimable(
    connection: sqlite3.Connection, owner: str, at: int, limit: int, ids: list[str] | None
) -> list[tuple[str, str, str]]:
    """Queued items `owner` may claim at `at` (epoch seconds), oldest first: with `ids`, those
    of them nobody else holds; without, the ones nobody holds."""
    if ids is None:
        return connection.execute(
            f"{_CLAIMABLE} OR claim_expires <= ?) ORDER BY queued_at, id LIMIT ?", (at, limit)
        ).fetchall()
    rows: list[tuple[str, str, str]] = []
    for part in chunked(ids, _IN_CLAUSE_SIZE):
        marks = ", ".join("?" * len(part))
        rows += connection.execute(
            f"{_CLAIMABLE} OR claimed_by = ? OR claim_expires <= ?) AND id IN ({marks})",
            (owner, at, *part),
        ).fetchall()
    return sorted(rows, key=lambda row: (row[1], row[0]))[:limit]
