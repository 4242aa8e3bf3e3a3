"""Routing counters and assignments in the SQLite state store."""

from __future__ import annotations

import sqlite3
from datetime import date

from sync.state import AssignmentOutcome, RoutingSnapshot
from sync.state_sqlite.connections import SqliteFile


class SqliteRouting(SqliteFile):
    """Round-robin counters per pool, committed against the pool's version."""

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
