"""Cursors and named documents in the SQLite state store."""

from __future__ import annotations

from datetime import datetime

from sync.state import from_iso, iso_utc
from sync.state_sqlite.connections import SqliteFile


class SqliteCursors(SqliteFile):
    """Where each run's reading stopped, and named documents (e.g. the ledger's model)."""

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
