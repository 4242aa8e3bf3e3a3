"""The portal's behavioural events since some moment, by contact, spooled to a temporary file.

A full run reads every event of the portal for as far back as the model looks (HubSpot lists them
across all contacts, not per contact) and needs them again page by page of leads. Held in memory
they grew with the org (about 150 bytes an event: ~300 MB at 200,000 contacts); here they go to a
private temporary SQLite database that SQLite deletes when the window is closed, so a run's memory
stays flat — SQLite keeps only its page cache (a few MB) in memory.
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
    "CREATE TABLE events (event_id TEXT UNIQUE, contact TEXT NOT NULL, kind TEXT NOT NULL,"
    " occurred_us INTEGER NOT NULL, url TEXT, form TEXT, campaign TEXT, subject TEXT)",
    "CREATE INDEX events_by_contact ON events (contact)",
)

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
        for statement in _SCHEMA:
            self._db.execute(statement)

    def covers(self, since_ms: int | None) -> bool:
        return self.since_ms is None or (since_ms is not None and since_ms >= self.since_ms)

    def add_all(self, events: Iterable[Mapping[str, Any]]) -> None:
        rows = [row for event in events if (row := self._row(event)) is not None]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
            self._db.execute("COMMIT")

    def activities(self, contact_ids: Sequence[str]) -> list[Activity]:
        """The events of these contacts as activities, contact by contact in the order asked,
        each contact's in the order they were read."""
        found: defaultdict[str, list[Activity]] = defaultdict(list)
        unique = list(dict.fromkeys(contact_ids))
        with self._lock:
            for start in range(0, len(unique), _IN_CLAUSE_SIZE):
                chunk = unique[start : start + _IN_CLAUSE_SIZE]
                rows = self._db.execute(
                    "SELECT contact, kind, occurred_us, url, form, campaign, subject FROM events"
                    f" WHERE contact IN ({', '.join('?' * len(chunk))}) ORDER BY rowid",
                    chunk,
                )
                for contact, kind, occurred_us, url, form, campaign, subject in rows:
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


def _text(value: Any) -> str | None:
    return str(value) if value else None
