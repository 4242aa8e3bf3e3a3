"""The SQLite state file's schema, and the steps that bring an older file up to date."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from sync.packed_json import pack_json
from sync.state import AuditEntry, StateUnusableError
from sync.state_sqlite.audit import append_audit_rows
from sync.state_sqlite.written import written_values

SCHEMA_VERSION = 6
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

_MIGRATION_BATCH = 5_000  # old audit entries read at a time while moving them


def _compact_audit(connection: sqlite3.Connection) -> None:
    """Schema 5: move the audit's entries (one row per field before) into rows per lead and run,
    streaming in key order, and drop the old table."""
    _run_script(connection, _AUDIT_ROWS)
    entries = connection.execute("SELECT entry FROM audit ORDER BY lead_id, entry_key")
    while batch := entries.fetchmany(_MIGRATION_BATCH):
        append_audit_rows(connection, [AuditEntry.model_validate_json(entry) for (entry,) in batch])
    connection.execute("DROP TABLE audit")


def _pack_written_values(connection: sqlite3.Connection) -> None:
    """Schema 6: the values leadq last wrote, and new audit rows' fields, packed with a preset
    dictionary (sync/packed_json.py) — half the bytes; a leadq reading schema 5 could not read
    them. The stored values are packed here, a batch at a time in rowid order."""
    last = 0
    while batch := connection.execute(
        "SELECT rowid, field_values FROM written WHERE rowid > ? ORDER BY rowid LIMIT ?",
        (last, _MIGRATION_BATCH),
    ).fetchall():
        connection.executemany(
            "UPDATE written SET field_values = ? WHERE rowid = ?",
            [(pack_json(written_values(values)), rowid) for rowid, values in batch],
        )
        last = batch[-1][0]


Migration = str | Callable[[sqlite3.Connection], None]

_MIGRATIONS: tuple[tuple[int, Migration], ...] = (
    (1, _SCHEMA_1),
    (2, _RETRY_SET_AND_INTENDED_WRITES),
    (3, _DOCUMENTS_AND_LEDGER),
    (4, _WORK_CLAIMS),
    (5, _compact_audit),
    (6, _pack_written_values),
)
"""What brings a file to each schema version from the one before (a new file runs them all): a
script, or a function that moves data. A released version's step never changes: a change to the
schema is a new version."""


def create_or_upgrade(connection: sqlite3.Connection, path: Path) -> None:
    """Create a new file's tables, or upgrade an older file's in place (inside the caller's
    write transaction)."""
    found = _schema_version(connection)
    if found is not None and found > SCHEMA_VERSION:
        raise StateUnusableError(
            f"{path} holds state schema {found}, written by a newer leadq; "
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
