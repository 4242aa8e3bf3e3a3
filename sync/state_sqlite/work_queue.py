"""Work queued by `leadq serve`, and its claims, in the SQLite state store."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sync.state import (
    QueuedWork,
    WorkClaim,
    chunked,
    epoch_seconds,
    expiry_second,
    from_iso,
    iso_utc,
    require_aware,
    require_positive,
)
from sync.state_sqlite.connections import IN_CLAUSE_SIZE, SqliteFile

_CLAIMABLE = "SELECT id, queued_at, payload FROM work_queue WHERE (claimed_by IS NULL"


class SqliteWorkQueue(SqliteFile):
    """Queued units of work, claimed by one worker at a time until the claim expires."""

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
    for part in chunked(ids, IN_CLAUSE_SIZE):
        marks = ", ".join("?" * len(part))
        rows += connection.execute(
            f"{_CLAIMABLE} OR claimed_by = ? OR claim_expires <= ?) AND id IN ({marks})",
            (owner, at, *part),
        ).fetchall()
    return sorted(rows, key=lambda row: (row[1], row[0]))[:limit]
