"""Speed-to-lead figures from leadq's handoff tasks as the CRM holds them (pure: the caller reads
the CRM and passes `now`).

One handoff is one marked task (sync/handoff_sla.py): handed over at the marker's `at`, due at its
`due`. Its task is **on time** when completed at or before the due moment, **late** when completed
after it, **open** while not completed (and **overdue** once open past due). The **first touch** is
the first call, e-mail sent or meeting the CRM records for the lead at or after the handoff; its
delay is measured in hours on the clock (not in working hours). **Accepted** and **rejected** come
from the lead's status (sync/handoff_dispositions.py).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from connectors.records import Activity, CrmTask
from sync.handoff_dispositions import Disposition
from sync.handoff_sla import Marker

TOUCHES = frozenset({"call", "email_sent", "meeting_booked", "meeting_attended"})


@dataclass(frozen=True)
class Handoff:
    """One handoff and what became of it."""

    lead_id: str
    owner: str  # the owner's display name
    grade: str
    at: datetime
    due_at: datetime
    completed_at: datetime | None
    first_touch: datetime | None
    disposition: Disposition

    def state(self, now: datetime) -> str:
        if self.completed_at is None:
            return "overdue" if now > self.due_at else "open"
        return "on_time" if self.completed_at <= self.due_at else "late"


@dataclass
class Tally:
    handed_off: int = 0
    on_time: int = 0
    late: int = 0
    open: int = 0
    overdue: int = 0  # of the open ones
    hours_to_touch: list[float] = field(default_factory=list)
    accepted: int = 0
    rejected: int = 0

    def add(self, handoff: Handoff, now: datetime) -> None:
        self.handed_off += 1
        state = handoff.state(now)
        if state == "on_time":
            self.on_time += 1
        elif state == "late":
            self.late += 1
        else:
            self.open += 1
            self.overdue += state == "overdue"
        if handoff.first_touch is not None:
            self.hours_to_touch.append((handoff.first_touch - handoff.at).total_seconds() / 3600)
        self.accepted += handoff.disposition == "accepted"
        self.rejected += handoff.disposition == "rejected"

    @property
    def median_hours_to_touch(self) -> float | None:
        return statistics.median(self.hours_to_touch) if self.hours_to_touch else None


@dataclass
class HandoffFigures:
    since: datetime
    now: datetime
    total: Tally = field(default_factory=Tally)
    by_owner: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_grade: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))

    def add(self, handoff: Handoff) -> None:
        for tally in (self.total, self.by_owner[handoff.owner], self.by_grade[handoff.grade]):
            tally.add(handoff, self.now)


def handoffs_of(
    tasks: Iterable[CrmTask],
    owner_names: Mapping[str, str],
    first_touches: Mapping[str, Sequence[Activity]],
    dispositions: Mapping[str, Disposition],
) -> list[Handoff]:
    """One Handoff per marked task (the oldest, should a handoff have two)."""
    found: dict[tuple[str, str], tuple[CrmTask, Marker]] = {}
    for task in tasks:
        marker = Marker.find(task.body)
        if marker is None or marker.at is None or marker.due_at is None:
            continue
        key = (marker.lead_id, marker.owner_id)
        if key not in found or marker.at < (found[key][1].at or marker.at):
            found[key] = (task, marker)
    return [
        Handoff(
            lead_id=marker.lead_id,
            owner=owner_names.get(marker.owner_id, marker.owner_id),
            grade=marker.grade or "?",
            at=marker.at,
            due_at=marker.due_at,
            completed_at=(task.completed_at or marker.at) if task.closed else None,
            first_touch=first_touch(first_touches.get(marker.lead_id, ()), marker.at),
            disposition=dispositions.get(marker.lead_id, "undecided"),
        )
        for task, marker in found.values()
        if marker.at is not None and marker.due_at is not None
    ]


def first_touch(activities: Iterable[Activity], after: datetime) -> datetime | None:
    touches = [a.occurred_at for a in activities if a.type in TOUCHES and a.occurred_at >= after]
    return min(touches, default=None)
