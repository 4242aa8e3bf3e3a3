"""A run's lead → time marks, kept in a private temporary SQLite file instead of in memory.

A sync remembers, for every lead it handles, the modified time it handled and, for every lead it
writes, when the CRM answered: what its cursor settles from (sync/cursor_edge.py). Held in dicts
they grew with the org (about 150 bytes a lead each: ~60 MB for both at 200,000 leads); here each
is a table in a temporary database that SQLite deletes when it is closed, so a run's memory stays
flat — SQLite keeps only its page cache (a couple of MB) in memory, and a few thousand marks may
never leave it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def _microseconds(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def _moment(microseconds: int) -> datetime:
    return EPOCH + microseconds * MICROSECOND


class SpooledTimes(MutableMapping[str, datetime]):
    """Lead id → an aware time, to the microsecond, in a temporary file; iterated in the order
    the ids were first set."""

    def __init__(self, pairs: Iterable[tuple[str, datetime]] | Mapping[str, datetime] = ()) -> None:
        # "": a private temporary database on disk, deleted when the connection closes
        self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute(
            "CREATE TABLE times (lead_id TEXT PRIMARY KEY, at_us INTEGER NOT NULL)"
        )
        self._count = 0
        self.update(pairs)

    def __getitem__(self, lead_id: str) -> datetime:
        with self._lock:
            row = self._db.execute(
                "SELECT at_us FROM times WHERE lead_id = ?", (lead_id,)
            ).fetchone()
        if row is None:
            raise KeyError(lead_id)
        return _moment(row[0])

    def __setitem__(self, lead_id: str, moment: datetime) -> None:
        self.update([(lead_id, moment)])

    def __delitem__(self, lead_id: str) -> None:
        with self._lock:
            deleted = self._db.execute("DELETE FROM times WHERE lead_id = ?", (lead_id,)).rowcount
            self._count -= deleted
        if not deleted:
            raise KeyError(lead_id)

    def __iter__(self) -> Iterator[str]:
        return (lead_id for lead_id, _ in self.items())

    def __len__(self) -> int:
        return self._count

    def update(  # type: ignore[override]
        self, pairs: Iterable[tuple[str, datetime]] | Mapping[str, datetime] = (), /, **_: Any
    ) -> None:
        """Set many at once, in one transaction (a time set again replaces the earlier one)."""
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        rows = [(lead_id, _microseconds(moment)) for lead_id, moment in items]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._count += self._db.executemany(
                "INSERT OR IGNORE INTO times (lead_id, at_us) VALUES (?, ?)", rows
            ).rowcount
            self._db.executemany(
                "UPDATE times SET at_us = ?2 WHERE lead_id = ?1 AND at_us != ?2", rows
            )
            self._db.execute("COMMIT")

    def items(self) -> Iterator[tuple[str, datetime]]:  # type: ignore[override]
        """Every (id, time), read a page at a time: the whole set is never in memory."""
        last = -1
        while True:
            with self._lock:
                page = self._db.execute(
                    "SELECT rowid, lead_id, at_us FROM times WHERE rowid > ? ORDER BY rowid"
                    " LIMIT 1000",
                    (last,),
                ).fetchall()
            if not page:
                return
            for _, lead_id, at_us in page:
                yield lead_id, _moment(at_us)
            last = page[-1][0]

    def values(self) -> Iterator[datetime]:  # type: ignore[override]
        return (moment for _, moment in self.items())

    def newest(self) -> datetime | None:
        """The latest time held; None when empty."""
        with self._lock:
            (at_us,) = self._db.execute("SELECT max(at_us) FROM times").fetchone()
        return None if at_us is None else _moment(at_us)

    def close(self) -> None:
        with self._lock:
            self._db.close()
