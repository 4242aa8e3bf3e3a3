"""The activity ledger: each lead's recent activity, kept compactly in the state store, so that a
steady-state run reads only the activity that is new and rescores a lead from what it kept.

What is kept per activity: its type, when it happened (to the millisecond) and only the details
the model's rules read (`url`, `form`, `campaign`, `subject` — `LedgerSpec.of(model)`), for as
long as the model looks back (its longest `within_days`, or `activity_days` when a rule decays
without one). A lead's activities are packed into one blob: a table of the distinct texts it
uses, then per activity the type's and details' places in that table and the time as a varint
delta from the one before, the whole compressed with zlib (`pack` / `unpack`).

How it is fed (sync/engine.py): a full run rebuilds it from everything the CRM holds; every
other run asks the CRM only for activity recorded since the ledger was last fed (`fed_since`,
with `FEED_OVERLAP` for late arrivals) and merges it in, duplicates (same type, time and
details) kept once. A model that reads details the ledger does not keep, or looks back further,
makes the ledger unusable: the next scheduled run rebuilds it and says so.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict

from connectors.records import Activity
from scoring.conditions import ActivityTest, Condition, FieldTest, walk
from scoring.config import ScoringModel

DETAILS: tuple[str, ...] = ("url", "form", "campaign", "subject")
FEED_OVERLAP = timedelta(hours=1)  # activity the CRM records late (HubSpot events: up to an hour)
FORMAT = 1
ActivityKey = tuple[str, int, tuple[str | None, ...]]


class LedgerSpec(BaseModel):
    """What a ledger keeps: the details rules read and how many days back."""

    model_config = ConfigDict(frozen=True)

    details: tuple[str, ...]
    days: float

    @classmethod
    def of(cls, model: ScoringModel, activity_days: float) -> LedgerSpec:
        tests = _activity_tests(model)
        wheres = [where for _, where in tests if where is not None]
        read = {
            leaf.field for where in wheres for leaf in walk(where) if isinstance(leaf, FieldTest)
        }
        windows = [days for days, _ in tests]
        days = activity_days if not windows or None in windows else max(
            day for day in windows if day is not None
        )
        return cls(details=tuple(d for d in DETAILS if d in read), days=min(days, activity_days))

    def covers(self, needed: LedgerSpec) -> bool:
        return set(needed.details) <= set(self.details) and needed.days <= self.days

    def lacks(self, needed: LedgerSpec) -> str:
        """Why a ledger kept for `self` cannot serve a model that needs `needed`."""
        missing = [d for d in needed.details if d not in self.details]
        if missing:
            return f"the model reads activity {', '.join(missing)}, which the ledger did not keep"
        return f"the model looks back {needed.days:g} days, the ledger kept {self.days:g}"


class LedgerState(BaseModel):
    """The ledger's own document in the state store."""

    spec: LedgerSpec
    complete: bool  # a full run finished filling it
    fed_since: AwareDatetime | None = None  # activity recorded from here on is not in it yet
    learned: dict[str, bool] = {}  # the connector's `learned`, kept for later runs


def ledger_document(crm: str) -> str:
    return f"{crm}:ledger"


def _activity_tests(model: ScoringModel) -> list[tuple[float | None, Condition | None]]:
    """(within_days, where) of every rule that reads activities."""
    tests: list[tuple[float | None, Condition | None]] = [
        (rule.within_days, rule.where) for rule in model.engagement.activity_rules
    ]
    for condition in model.conditions():
        tests += [
            (leaf.within_days, leaf.where)
            for leaf in walk(condition)
            if isinstance(leaf, ActivityTest)
        ]
    return tests


# ---- packing ------------------------------------------------------------------------------------


def pack(activities: Sequence[Activity], details: Sequence[str]) -> bytes:
    """One lead's activities as a compact blob (b"" for none)."""
    if not activities:
        return b""
    texts: dict[str, int] = {}

    def place(text: str | None) -> int:
        if text is None:
            return 0
        return texts.setdefault(text, len(texts) + 1)

    body = bytearray()
    previous = 0
    for activity in sorted(activities, key=_time_ms):
        moment = _time_ms(activity)
        _varint(body, place(activity.type))
        _varint(body, moment - previous)
        previous = moment
        for name in details:
            _varint(body, place(getattr(activity, name)))
    head = bytearray([FORMAT])
    _varint(head, len(details))
    _varint(head, len(texts))
    for text in texts:
        encoded = text.encode()
        _varint(head, len(encoded))
        head += encoded
    _varint(head, len(activities))
    return zlib.compress(bytes(head + body), 9)


def unpack(lead_id: str, packed: bytes, details: Sequence[str]) -> list[Activity]:
    if not packed:
        return []
    reader = _Reader(zlib.decompress(packed), 1)
    texts: list[str | None] = [None]
    stored_details = reader.number()
    for _ in range(reader.number()):
        length = reader.number()
        texts.append(reader.text(length))
    activities = []
    moment = 0
    for _ in range(reader.number()):
        kind = texts[reader.number()]
        moment += reader.number()
        values = [texts[reader.number()] for _ in range(stored_details)]
        activities.append(Activity(
            lead_id=lead_id, type=kind or "",
            occurred_at=datetime.fromtimestamp(moment / 1000, UTC),
            **dict(zip(details, values, strict=False)),
        ))
    return activities


class _Reader:
    def __init__(self, data: bytes, offset: int) -> None:
        self.data = data
        self.offset = offset

    def number(self) -> int:
        result = shift = 0
        while True:
            byte = self.data[self.offset]
            self.offset += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7

    def text(self, length: int) -> str:
        start = self.offset
        self.offset += length
        return self.data[start:self.offset].decode()


def _varint(out: bytearray, number: int) -> None:
    while number >= 0x80:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)


def _time_ms(activity: Activity) -> int:
    return round(activity.occurred_at.timestamp() * 1000)


# ---- merging ------------------------------------------------------------------------------------


def key_of(activity: Activity, details: Sequence[str]) -> ActivityKey:
    return activity.type, _time_ms(activity), tuple(getattr(activity, name) for name in details)


def merged(
    kept: Iterable[Activity], new: Iterable[Activity], details: Sequence[str], horizon: datetime
) -> list[Activity]:
    """`kept` and `new` together, each activity once, none older than `horizon`."""
    found: dict[ActivityKey, Activity] = {}
    for activity in [*kept, *new]:
        if activity.occurred_at > horizon:
            found.setdefault(key_of(activity, details), _trimmed(activity, details))
    return sorted(found.values(), key=_time_ms)


def _trimmed(activity: Activity, details: Sequence[str]) -> Activity:
    dropped = {name: None for name in DETAILS if name not in details and getattr(activity, name)}
    return activity.model_copy(update=dropped) if dropped else activity


def by_lead(activities: Iterable[Activity]) -> dict[str, list[Activity]]:
    grouped: dict[str, list[Activity]] = defaultdict(list)
    for activity in activities:
        grouped[activity.lead_id].append(activity)
    return grouped
