"""WAL checkpoints off the writers' path, for the SQLite state store.

SQLite's automatic checkpoint runs inside the commit that takes the write-ahead log past 1,000
pages: that one write (a webhook being answered, say) waits for the checkpoint's copy and fsync,
tens of milliseconds on an ordinary disk. Here a background thread of the store runs the same
PASSIVE checkpoint (it never blocks readers or writers) at most every `interval` seconds after
something was written; the writers' own automatic checkpoint stays as a backstop at a higher mark
(`WRITER_CHECKPOINT_PAGES`), for a log the thread could not keep short.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable

WRITER_CHECKPOINT_PAGES = 10_000
CHECKPOINT_INTERVAL_SECONDS = 0.5


class BackgroundCheckpoints:
    """A thread that checkpoints the WAL after writes, started on the first write."""

    def __init__(self, connect: Callable[[], sqlite3.Connection],
                 interval: float = CHECKPOINT_INTERVAL_SECONDS) -> None:
        self._connect = connect
        self._interval = interval
        self._written = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def written(self) -> None:
        """Note that a transaction committed: a checkpoint is due within `interval`."""
        if self._thread is None:
            self._start()
        self._written.set()

    def stop(self) -> None:
        """Stop the thread after its last checkpoint (if one is due)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            self._written.set()
            thread.join(timeout=10)
            self._stopping.clear()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(target=self._run, name="leadq-sqlite-checkpoint",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        connection = self._connect()  # the thread's own, closed when the store closes
        try:
            while not self._stopping.is_set():
                self._written.wait()
                self._written.clear()
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self._stopping.wait(self._interval)
        finally:
            connection.close()
