"""The portal's behavioural events since some moment, by contact, spooled to a temporary file.

A full run reads every event of the portal for as far back as the model looks (HubSpot lists them
across all contacts, not per contact) and needs them again page by page of leads. Held in memory
they grew with the org (about 150 bytes an event: ~300 MB at 200,000 contacts); here they go to a
private temporary SQLite database that SQLite deletes when the window is closed, so a run's memory
stays flat — SQLite keeps only its page cache (a few MB) in memory.

A full run loads about a million events at 100,000 contacts before it reads any back, so the file
keeps no index while it is loaded: the index by contact is built in one pass at the first read
(kept up to date after that), and an event read again (a window topped up over its last minutes)
is dropped when read back rather than by a unique index every insert would pay for. The file is
private and deleted on close, so it keeps no rollback journal either.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.records import Activity, parse_timestamp

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
_IN_CLAUSE_SIZE = 500
_SCHEMA = (
    "PRAGMA journal_mode = OFF",  # a private temporary file: nothing to roll back or recover
    "PRAGMA synchronous = OFF",
    "CREATE TABLE events (event_id TEXT, contact TEXT NOT NULL, kind TEXT NOT NULL,"
    " occurred_us INTEGER NOT NULL, url TEXT, form TEXT, campaign TEXT, subject TEXT)",
)
_INDEX = "CREATE INDEX IF NOT EXISTS events_by_contact ON events (contact)"

EventKind = Callable[[str, Mapping[str, Any]], str]


class EventWindow:
    """The portal's events since `since_ms` (None: all). An event id seen again is kept once."""

    def __init__(self, since_ms: int | None, kind_of: EventKind) -> None:
        self.since_ms = since_ms
        self.types_seen: set[str] = set()
        self.newest: datetime | None = None
        self.loaded_at = 0.0
        self._kind_of = kind_of
        # "": a private temporary database on disk, deleted when the connection closes
        self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._indexed = False  # built at the first read, after the bulk of the events is in
        for statement in _SCHEMA:
            self._db.execute(statement)

    def covers(self, since_ms: int | None) -> bool:
        return self.since_ms is None or (since_ms is not None and since_ms >= self.since_ms)

    def add_all(self, events: Iterable[Mapping[str, Any]]) -> None:
        rows = [row for event in events if (row := self._row(event)) is not None]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def activities(self, contact_ids: Sequence[str]) -> list[Activity]:
        """The events of these contacts as activities, contact by contact in the order asked,
        each contact's in the order they were first read."""
        found: defaultdict[str, list[Activity]] = defaultdict(list)
        unique = list(dict.fromkeys(contact_ids))
        repeated = _Repeats()
        with self._lock:
            if not self._indexed:
                self._db.execute(_INDEX)
                self._indexed = True
            for start in range(0, len(unique), _IN_CLAUSE_SIZE):
                chunk = unique[start : start + _IN_CLAUSE_SIZE]
                rows = self._db.execute(
                    "SELECT event_id, contact, kind, occurred_us, url, form, campaign, subject"
                    f" FROM events WHERE contact IN ({', '.join('?' * len(chunk))})"
                    " ORDER BY rowid",
                    chunk,
                )
                for event_id, contact, kind, occurred_us, url, form, campaign, subject in rows:
                    if repeated(event_id):
                        continue
                    found[contact].append(
                        Activity(lead_id=contact, type=kind,
                                 occurred_at=EPOCH + occurred_us * MICROSECOND, url=url,
                                 form=form, campaign=campaign, subject=subject)
                    )
        return [activity for contact in contact_ids for activity in found.get(contact, ())]

    def contacts(self) -> list[str]:
        """Every contact with an event in the window."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT contact FROM events").fetchall()
        return [contact for (contact,) in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _row(self, event: Mapping[str, Any]) -> tuple[Any, ...] | None:
        occurred = parse_timestamp(event.get("occurredAt"))
        if occurred is None:
            return None
        properties = event.get("properties") or {}
        kind = self._kind_of(str(event.get("eventType") or ""), properties)
        self.types_seen.add(kind)
        if self.newest is None or occurred > self.newest:
            self.newest = occurred
        return (
            str(event.get("id") or "") or None,  # no id: nothing to tell a repeat by
            str(event.get("objectId")),
            kind,
            (occurred - EPOCH) // MICROSECOND,
            _text(properties.get("hs_url")),
            _text(properties.get("hs_form_title")),
            _text(properties.get("hs_email_campaign_name") or properties.get("hs_campaign")),
            _text(properties.get("hs_email_subject")),
        )


class _Repeats:
    """Whether an event id was seen before (an event without an id is never a repeat)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, event_id: str | None) -> bool:
        if event_id is None:
            return False
        if event_id in self._seen:
            return True
        self._seen.add(event_id)
        return False


def _text(value: Any) -> str | None:
    return str(value) if value else None
