"""The SQLite state store: every capability of the state protocol on one file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sync.state import StateUnusableError
from sync.state_sqlite.audit import SqliteAudit
from sync.state_sqlite.cursors import SqliteCursors
from sync.state_sqlite.dedupe import SqliteDedupe
from sync.state_sqlite.ledger import SqliteLedger
from sync.state_sqlite.retry_set import SqliteRetrySet
from sync.state_sqlite.routing import SqliteRouting
from sync.state_sqlite.runs import SqliteRuns
from sync.state_sqlite.schema import create_or_upgrade
from sync.state_sqlite.work_queue import SqliteWorkQueue
from sync.state_sqlite.written import SqliteWritten


class SqliteStateStore(
    SqliteCursors,
    SqliteLedger,
    SqliteWritten,
    SqliteRouting,
    SqliteDedupe,
    SqliteRuns,
    SqliteWorkQueue,
    SqliteRetrySet,
    SqliteAudit,
):
    def __init__(self, path: str | Path, busy_timeout_ms: int = 30_000) -> None:
        super().__init__(path, busy_timeout_ms)
        try:
            with self._writing() as connection:
                create_or_upgrade(connection, self.path)
        except sqlite3.DatabaseError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_NOTADB:
                raise
            raise StateUnusableError(
                f"{self.path} is not a leadq state file (SQLite says: {error}); point "
                "LEADQ_STATE_URL at another file, or move this one away"
            ) from None
