"""Connections and transactions of the SQLite state store.

WAL mode lets readers proceed while one writer writes; `busy_timeout` makes a second writer wait
for the lock instead of failing. Every read-decide-write happens inside `BEGIN IMMEDIATE`, which
takes the write lock up front, so two processes can never both decide from the same state. Each
thread gets its own connection (SQLite connections must not be shared between threads).
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sync.state import StateUnusableError
from sync.state_sqlite.checkpoints import WRITER_CHECKPOINT_PAGES, BackgroundCheckpoints

IN_CLAUSE_SIZE = 500


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


class SqliteFile:
    """One SQLite state file: its connections (one per thread) and transactions; each
    capability of the store (sync/state_sqlite/*.py) is a subclass that adds its methods."""

    def __init__(self, path: str | Path, busy_timeout_ms: int = 30_000) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._open: weakref.WeakSet[_ThreadConnection] = weakref.WeakSet()
        self._open_lock = threading.Lock()
        self._sightings = itertools.count(1)  # dedupe.py purges on every 256th
        self._checkpoints = BackgroundCheckpoints(self._connect)
        self._create_private_file()

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

    def close(self) -> None:
        self._checkpoints.stop()
        with self._open_lock:
            still_open, self._open = list(self._open), weakref.WeakSet()
        for mine in still_open:
            mine.connection.close()
        self._local = threading.local()
