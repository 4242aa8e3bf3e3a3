"""The retry set in the SQLite state store: leads whose write failed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sync.state import FailedWrite, from_iso, iso_utc
from sync.state_sqlite.connections import SqliteFile


class SqliteRetrySet(SqliteFile):
    """Failed writes per CRM, with their attempts, retried first by later runs."""

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
