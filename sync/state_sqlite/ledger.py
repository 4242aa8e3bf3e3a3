"""The activity ledger in the SQLite state store: one packed row per lead."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sync.state import chunked
from sync.state_sqlite.connections import IN_CLAUSE_SIZE, SqliteFile


class SqliteLedger(SqliteFile):
    """Each lead's packed recent activity (sync/ledger.py packs it)."""

    def ledger_of(self, crm: str, lead_ids: Iterable[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        with self._reading() as connection:
            for chunk in chunked(list(dict.fromkeys(lead_ids)), IN_CLAUSE_SIZE):
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
