"""The audit log and the write-ahead audit in the SQLite state store."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sync.audit_rows import AuditRow, audit_rows, from_microseconds, microseconds, unpacked_fields
from sync.state import AuditEntry, IntendedWrites, intended_writes_key, require_positive
from sync.state_sqlite.connections import SqliteFile

AUDIT_COLUMNS = "lead_id, at_us, run_id, crm, model_version, actor, keep_until, fields"


class SqliteAudit(SqliteFile):
    """Audit rows (one per lead per run), intended writes recorded before a CRM call."""

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
            append_audit_rows(connection, applied)
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

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        with self._writing() as connection:
            append_audit_rows(connection, entries)

    def audit_for(self, lead_id: str, limit: int = 50) -> list[AuditEntry]:
        wanted = require_positive(limit)
        found: list[AuditEntry] = []
        with self._reading() as connection:
            rows = connection.execute(
                f"SELECT {AUDIT_COLUMNS} FROM audit_rows WHERE lead_id = ?"
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


def append_audit_rows(connection: sqlite3.Connection, entries: Sequence[AuditEntry]) -> None:
    """Add entries to their rows (one per lead and run): a field given again replaces its
    earlier entry, the row's other fields stay."""
    rows = [row.merged_over(_stored_audit_row(connection, row)) for row in audit_rows(entries)]
    connection.executemany(
        f"INSERT OR REPLACE INTO audit_rows ({AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
        f"SELECT {AUDIT_COLUMNS} FROM audit_rows WHERE lead_id = ? AND at_us = ? AND run_id = ?",
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
