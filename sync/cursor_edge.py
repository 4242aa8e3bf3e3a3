"""What a run leaves behind its lead cursor, so that the next run re-reads nothing it handled.

An incremental pull stops where it began; leadq's own writes of the run land after that. When a
run ends it asks the CRM which leads changed since its cursor — ids and modified times only
(`Connector.changed_since`) — and sorts them: a lead it handled at that very time, or wrote in
this run (modified no later than `OWN_WRITE_TOLERANCE` after the CRM answered the write), is
*known*; anything else is someone else's change. The cursor moves past the known ones up to the
first unknown one (past all of them when there is none), and the run stores a `CursorEdge`:

- `seen`: the known leads at and just behind the new cursor with the modified time each was
  handled at — the next pull drops them (no company, activity or scoring work), so an overlap
  re-read costs at most its pages. At most `SEEN_LIMIT`: when more changes lie in the overlap
  window (after a full run), the window checked is cut to the newest `SEEN_LIMIT` of them, where
  late arrivals (seconds behind) land;
- `known_from` / `known_count`: how many changes the window behind the cursor holds that are all
  known. The next run asks the CRM to count that window (one request); the same count, less the
  known leads it finds changed again, means no late arrival (search indexing delay, a late
  commit) hides in it, and the overlap is skipped. A window of at most `WINDOW_READ_LIMIT` known
  changes (a connector's own `window_read_limit` where it names one: Salesforce reads a whole
  query page, 2,000, as cheaply as it counts) is simply read with the new changes (one request
  either way).

A run that wrote at most `UNCHECKED_WRITES` leads does not ask what changed since its cursor: it
leaves the cursor after the last lead it handled, with its writes in the edge (`written`), and
the next run's read — which it makes anyway — recognises them by the time they were answered.

An edge belongs to one cursor value: a run that moved the cursor without leaving an edge (killed
between pages) leaves the next run reading with the full overlap, as before.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict

from sync.state import StateStore

SEEN_LIMIT = 2_000  # leads kept in `seen`, the newest first (a document stays small)
UNCHECKED_WRITES = 100  # fewer writes are left for the next run's read to recognise
WINDOW_READ_LIMIT = 100  # a window behind the cursor this small is read, not counted
OWN_WRITE_TOLERANCE = timedelta(seconds=2)  # a CRM clock a little ahead of ours


class CursorEdge(BaseModel):
    """What the run that set `cursor` knew about the changes at and behind it."""

    model_config = ConfigDict(frozen=True)

    cursor: AwareDatetime
    seen: dict[str, AwareDatetime]
    known_from: AwareDatetime
    known_count: int
    written: dict[str, AwareDatetime] = {}  # writes left unchecked: lead → when they were answered


def edge_name(cursor_name: str) -> str:
    return f"{cursor_name}:edge"


def stored_edge(store: StateStore, cursor_name: str, cursor: datetime | None) -> CursorEdge | None:
    """The edge left with the cursor as it stands; None when there is none for this value."""
    text = store.read_document(edge_name(cursor_name))
    if cursor is None or text is None:
        return None
    edge = CursorEdge.model_validate_json(text)
    return edge if edge.cursor == cursor else None


@dataclass
class SettledCursor:
    cursor: datetime
    edge: CursorEdge
    unknown: int  # changes made by others while the run ran, left to the next run


def unchecked_edge(
    since: datetime,
    overlap: timedelta,
    handled: Mapping[str, datetime],
    written: Mapping[str, datetime],
) -> SettledCursor:
    """The cursor after the last lead the run handled, its few writes left for the next run's
    read to recognise."""
    cursor = max(since, max(handled.values(), default=since))
    return SettledCursor(cursor, _edge(cursor, since, overlap, handled.items(), written), 0)


def settle_cursor(
    changes: Iterable[tuple[str, datetime]],
    since: datetime,
    overlap: timedelta,
    handled: Mapping[str, datetime],
    written: Mapping[str, datetime],
) -> SettledCursor:
    """Where the cursor may go once a run that started reading at `since` ended, given the
    CRM's `changes` at or after `since` (id, modified time), what the run `handled` (lead →
    modified time) and what it `written` (lead → when the CRM answered the write). The changes
    stream: only the newest known ones the edge can name are kept, however many there are."""
    newest_known = _NewestKnown()
    first_unknown: datetime | None = None
    unknown = 0
    for lead_id, stamp in changes:
        answered = written.get(lead_id)
        if handled.get(lead_id) == stamp or (
            answered is not None and stamp <= answered + OWN_WRITE_TOLERANCE
        ):
            newest_known.add(lead_id, stamp)
        else:
            unknown += 1
            first_unknown = stamp if first_unknown is None else min(first_unknown, stamp)
    cursor = first_unknown if first_unknown is not None else max(since, newest_known.newest(since))
    return SettledCursor(
        cursor, _edge(cursor, since, overlap, newest_known.items(), {}), unknown
    )


class _NewestKnown:
    """The newest `SEEN_LIMIT + 1` known changes (by modified time, a lead counted once at its
    latest): all an edge can name, since it keeps only the newest of those behind its cursor."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, str]] = []
        self._stamps: dict[str, datetime] = {}
        self._order = itertools.count()

    def add(self, lead_id: str, stamp: datetime) -> None:
        earlier = self._stamps.get(lead_id)
        if earlier is not None:
            if earlier >= stamp:
                return
            self._heap = [entry for entry in self._heap if entry[2] != lead_id]
            heapq.heapify(self._heap)
        self._stamps[lead_id] = stamp
        heapq.heappush(self._heap, (stamp, next(self._order), lead_id))
        if len(self._heap) > SEEN_LIMIT + 1:
            _, _, dropped = heapq.heappop(self._heap)
            del self._stamps[dropped]

    def newest(self, default: datetime) -> datetime:
        return max((stamp for stamp, _, _ in self._heap), default=default)

    def items(self) -> list[tuple[str, datetime]]:
        return [(lead_id, stamp) for stamp, _, lead_id in self._heap]


def _edge(
    cursor: datetime,
    since: datetime,
    overlap: timedelta,
    known: Iterable[tuple[str, datetime]],
    written: Mapping[str, datetime],
) -> CursorEdge:
    known_from = max(cursor - overlap, since)
    behind = heapq.nlargest(  # bounded: `known` may hold every lead of the org
        SEEN_LIMIT + 1,
        ((lead_id, stamp) for lead_id, stamp in known if stamp >= known_from),
        key=lambda item: item[1],
    )
    if len(behind) > SEEN_LIMIT:  # check only as far back as `seen` can name what it holds
        known_from = max(known_from, behind[SEEN_LIMIT][1] + timedelta(milliseconds=1))
        behind = [(lead_id, stamp) for lead_id, stamp in behind if stamp >= known_from]
    return CursorEdge(
        cursor=cursor,
        seen=dict(behind),
        known_from=known_from,
        known_count=sum(1 for _, stamp in behind if stamp < cursor),
        written=dict(written),
    )


def recognised(edge: CursorEdge, lead_id: str, stamp: datetime) -> bool:
    """Whether the run that left `edge` handled this change: the lead at this modified time, or
    one of its unchecked writes."""
    if edge.seen.get(lead_id) == stamp:
        return True
    answered = edge.written.get(lead_id)
    return answered is not None and stamp <= answered + OWN_WRITE_TOLERANCE
