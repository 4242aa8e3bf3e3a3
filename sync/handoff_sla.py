"""The handoff task a newly assigned lead's owner gets, worked out from the model's `handoff:`
section alone (pure: the caller passes `now`): which SLA applies, when the task is due in working
time, its subject and body, and the marker line that lets leadq find its own task again.

Working time: an SLA of `4h` is four working hours, counted only inside the working hours of the
working days, in the model's time zone; `2d` is two working days' worth of working hours (with
09:00–17:00, 16 working hours). A lead handed off at night or on a weekend starts its clock when
the next working day starts.

The marker is the body's last line, `leadqhandoff lead=<id> owner=<id> grade=… label=… sla=…
due=…`: one word both CRMs can find (`leadqhandoff`) and the facts the handoff report needs, so
that no state store is needed to know which task belongs to which handoff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from connectors.records import FollowUpTask
from scoring.handoff_config import (
    WEEKDAYS,
    Handoff,
    SlaRule,
    WorkingHours,
)

TOKEN = "leadqhandoff"
_MARKER = re.compile(rf"^{TOKEN}(?P<pairs>(?: [a-z_]+=\S*)+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class HandoffFacts:
    """What leadq knows about a lead at the moment it hands the lead to its owner."""

    lead_id: str
    lead_kind: str
    name: str
    owner_id: str
    grade: str
    label: str
    score: int
    stage: str
    stage_rule: str | None
    hand_raiser: bool
    reasons: str


@dataclass(frozen=True)
class Marker:
    """The facts a handoff task's marker line carries."""

    lead_id: str
    owner_id: str
    grade: str
    label: str
    sla: str
    at: datetime | None  # when leadq handed the lead over
    due_at: datetime | None

    def line(self) -> str:
        return (f"{TOKEN} lead={self.lead_id} owner={self.owner_id} grade={self.grade} "
                f"label={self.label} sla={self.sla} at={_stamp(self.at)} due={_stamp(self.due_at)}")

    @classmethod
    def find(cls, body: str | None) -> Marker | None:
        """The marker of a task's body, if it has one."""
        found = _MARKER.search(body or "")
        if found is None:
            return None
        pairs = dict(pair.split("=", 1) for pair in found.group("pairs").split())
        if not pairs.get("lead") or not pairs.get("owner"):
            return None
        return cls(
            lead_id=pairs["lead"], owner_id=pairs["owner"], grade=pairs.get("grade", ""),
            label=pairs.get("label", ""), sla=pairs.get("sla", ""),
            at=_parsed(pairs.get("at", "")), due_at=_parsed(pairs.get("due", "")),
        )


def _stamp(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def _parsed(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def sla_for(handoff: Handoff, facts: HandoffFacts) -> SlaRule:
    """The first SLA rule whose every test matches (the last one has none)."""
    for rule in handoff.sla:
        if _matches(rule, facts):
            return rule
    return handoff.sla[-1]


def _matches(rule: SlaRule, facts: HandoffFacts) -> bool:
    return (
        (rule.grades is None or facts.grade in rule.grades)
        and (rule.labels is None or facts.label in rule.labels)
        and (rule.stage_rules is None or facts.stage_rule in rule.stage_rules)
        and (rule.hand_raiser is None or facts.hand_raiser == rule.hand_raiser)
    )


def working_hours_in(within: str, hours: WorkingHours) -> timedelta:
    """`4h` → 4 hours; `2d` → 2 working days of working hours."""
    amount = float(within[:-1])
    if within.endswith("h"):
        return timedelta(hours=amount)
    return amount * (_clock(hours.end) - _clock(hours.start))


def due_at(start: datetime, within: str, hours: WorkingHours) -> datetime:
    """The moment `within` working time after `start` (aware), in UTC."""
    zone = ZoneInfo(hours.timezone)
    left = working_hours_in(within, hours)
    cursor = start.astimezone(zone)
    working_days = {WEEKDAYS.index(day) for day in hours.days}
    opens, closes = _time(hours.start), _time(hours.end)
    for _ in range(3700):  # ten years of days: far beyond any SLA
        day = cursor.date()
        if day.weekday() in working_days:
            begin = max(cursor, datetime.combine(day, opens, zone))
            end = datetime.combine(day, closes, zone)
            if begin < end:
                if left <= end - begin:
                    return (begin + left).astimezone(UTC)
                left -= end - begin
        cursor = datetime.combine(day + timedelta(days=1), time(0), zone)
    raise ValueError(f"no working time for an SLA of {within}")


def follow_up(handoff: Handoff, facts: HandoffFacts, now: datetime) -> FollowUpTask:
    """The task to create for this handoff."""
    rule = sla_for(handoff, facts)
    due = due_at(now, rule.due_within, handoff.working_hours)
    local_due = due.astimezone(ZoneInfo(handoff.working_hours.timezone))
    marker = Marker(facts.lead_id, facts.owner_id, facts.grade, facts.label, rule.id, now, due)
    subject = handoff.subject.format(
        name=facts.name, grade=facts.grade, label=facts.label, score=facts.score,
        stage=facts.stage, stage_rule=facts.stage_rule or "", due=_shown(local_due),
    )
    body = "\n".join([
        f"Why now: {facts.reasons}" if facts.reasons else "Why now: qualified by leadq",
        f"Grade {facts.grade}, label {facts.label}, score {facts.score}. Due "
        f"{_shown(local_due)} ({_within_words(rule.due_within)}, SLA {rule.id}).",
        "",
        marker.line(),
    ])
    return FollowUpTask(
        lead_id=facts.lead_id, lead_kind="lead" if facts.lead_kind == "lead" else "contact",
        owner_id=facts.owner_id, subject=subject, body=body, due_at=due,
        due_day=local_due.date(), priority=rule.priority,
    )


def _within_words(within: str) -> str:
    amount, unit = within[:-1], within[-1]
    noun = "working hour" if unit == "h" else "working day"
    return f"{amount} {noun}{'' if amount in ('1', '1.0') else 's'}"


def _shown(moment: datetime) -> str:
    return moment.strftime("%a %d %b %H:%M %Z")


def _time(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


def _clock(text: str) -> timedelta:
    moment = _time(text)
    return timedelta(hours=moment.hour, minutes=moment.minute)
