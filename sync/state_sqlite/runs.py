"""Run leases and run records in the SQLite state store."""

from __future__ import annotations

from datetime import datetime, timedelta

from sync.state import RunRecord, epoch_seconds, expiry_second, iso_utc, require_positive
from sync.state_sqlite.connections import SqliteFile


class SqliteRuns(SqliteFile):
    """Who holds a run's lease until when, and the record of each run."""

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
