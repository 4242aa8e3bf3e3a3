"""Columnar views of a batch of leads and of their activities, read by compiled conditions.

Scoring works on a whole batch at once: each field a condition mentions is pulled out of the
records once into a numpy column (text factorised into codes + distinct values), and every rule
then runs as a few array operations. That is what lets one core score well over 100,000 leads a
second; a single lead is just a batch of one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any, NamedTuple

import numpy as np

from connectors.records import Activity, Company, Lead, parse_timestamp
from scoring.conditions import ActivityTest, Evaluator, FieldKind, normalise_text

SECONDS_PER_DAY = 86400.0

LEAD_FIELD_KINDS: dict[str, FieldKind] = {
    "id": "text",
    "kind": "text",
    "email": "text",
    "email_domain": "text",
    "first_name": "text",
    "last_name": "text",
    "name": "text",
    "title": "text",
    "country": "text",
    "state": "text",
    "source": "text",
    "owner_id": "text",
    "lifecycle_stage": "text",
    "lead_status": "text",
    "created_at": "time",
    "updated_at": "time",
}
COMPANY_FIELD_KINDS: dict[str, FieldKind] = {
    "id": "text",
    "name": "text",
    "domain": "text",
    "industry": "text",
    "employees": "number",
    "annual_revenue": "number",
    "country": "text",
    "owner_id": "text",
}
ACTIVITY_FIELD_KINDS: dict[str, FieldKind] = {
    "type": "text",
    "url": "text",
    "form": "text",
    "campaign": "text",
    "subject": "text",
    "occurred_at": "time",
}
BANT_CRITERIA = ("budget", "authority", "need", "timing")
SCORE_FIELD_KINDS: dict[str, FieldKind] = {
    "fit": "number",
    "engagement": "number",
    "score": "number",
    "grade": "text",
    "label": "text",
    "priority": "number",
    "bant.count": "number",
    **{f"bant.{name}": "flag" for name in BANT_CRITERIA},
}


def lead_field_kind(path: str) -> FieldKind | None:
    """The declared kind of a lead field path; None for custom fields (any kind)."""
    if path in LEAD_FIELD_KINDS:
        return LEAD_FIELD_KINDS[path]
    if path in SCORE_FIELD_KINDS:
        return SCORE_FIELD_KINDS[path]
    if path.startswith("company."):
        return COMPANY_FIELD_KINDS.get(path.removeprefix("company."))
    return None


def activity_field_kind(path: str) -> FieldKind | None:
    return ACTIVITY_FIELD_KINDS.get(path)


def is_known_lead_path(path: str) -> bool:
    if path in LEAD_FIELD_KINDS or path.startswith(("fields.", "company.fields.")):
        return len(path.rsplit(".", 1)[-1]) > 0
    return path.removeprefix("company.") in COMPANY_FIELD_KINDS and path.startswith("company.")


class TextColumn(NamedTuple):
    """Text factorised: a code per row and the distinct normalised values (None = missing)."""

    codes: np.ndarray
    distinct: list[str | None]

    def take(self, rows: np.ndarray) -> TextColumn:
        return TextColumn(self.codes[rows], self.distinct)

    def values(self) -> list[str | None]:
        return [self.distinct[code] for code in self.codes.tolist()]


def factorise(values: Sequence[Any]) -> TextColumn:
    """Factorise raw values, normalising each distinct value once rather than every row."""
    raw_index: dict[Any, int] = {}
    try:
        raw_codes = np.fromiter(
            (raw_index.setdefault(v, len(raw_index)) for v in values), np.int32, len(values)
        )
    except TypeError:  # an unhashable custom value (a list): compare its text
        return factorise([None if v is None else str(v) for v in values])
    return normalised(raw_codes, list(raw_index))


def normalised(codes: np.ndarray, vocabulary: Sequence[Any]) -> TextColumn:
    """Codes into `vocabulary` → codes into its distinct normalised texts."""
    final: dict[str | None, int] = {}
    remap = np.fromiter(
        (final.setdefault(normalise_text(v), len(final)) for v in vocabulary),
        np.int32,
        len(vocabulary),
    )
    return TextColumn(remap[codes] if len(vocabulary) else codes.astype(np.int32), list(final))


def to_number(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return np.nan
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).replace(",", "").strip())
    except ValueError:
        return np.nan


def to_epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        parsed = parse_timestamp(value)
    except (TypeError, ValueError):
        return np.nan
    return np.nan if parsed is None else parsed.timestamp()


def _lead_getter(path: str) -> Callable[[Sequence[Any]], list[Any]]:
    """Read one field path from a list of leads (or of companies, which may be None)."""
    if path.startswith("fields."):
        key = path.removeprefix("fields.")
        return lambda records: [r.fields.get(key) if r is not None else None for r in records]
    read = attrgetter(path)
    return lambda records: [read(r) if r is not None else None for r in records]


class _ColumnCache:
    """Builds each typed column once per batch, from a raw-value reader."""

    size: int
    now: float

    def __init__(self) -> None:
        self._text: dict[str, TextColumn] = {}
        self._number: dict[str, np.ndarray] = {}
        self._time: dict[str, np.ndarray] = {}
        self._computed: dict[str, np.ndarray] = {}

    def raw(self, path: str) -> Sequence[Any]:
        raise NotImplementedError

    def set_computed(self, path: str, values: np.ndarray, text: TextColumn | None = None) -> None:
        """Publish a computed column (fit, grade …) to the rules that read it; `text`, when
        given, is the same values already factorised."""
        self._computed[path] = values
        self._text.pop(path, None)
        self._number.pop(path, None)
        if text is not None:
            self._text[path] = text

    def text(self, path: str) -> TextColumn:
        if path not in self._text:
            source = self._computed.get(path)
            self._text[path] = factorise(source.tolist() if source is not None else self.raw(path))
        return self._text[path]

    def number(self, path: str) -> np.ndarray:
        if path not in self._number:
            source = self._computed.get(path)
            if source is not None and source.dtype.kind in "fiub":
                self._number[path] = source.astype(np.float64)
            else:
                values = source.tolist() if source is not None else self.raw(path)
                self._number[path] = np.fromiter(
                    (to_number(v) for v in values), dtype=np.float64, count=self.size
                )
        return self._number[path]

    def time(self, path: str) -> np.ndarray:
        if path not in self._time:
            self._time[path] = np.fromiter(
                (to_epoch(v) for v in self.raw(path)), dtype=np.float64, count=self.size
            )
        return self._time[path]


ACTIVITY_DETAILS = ("url", "form", "campaign", "subject")


class ActivityFrame(_ColumnCache):
    """All activities of a batch of leads: `lead_index` says whose each one is.

    Text columns (type, url, form, campaign, subject) arrive factorised, so a connector that
    reads activities in bulk can hand them over without a Python object per activity.
    """

    def __init__(
        self,
        lead_index: np.ndarray,
        occurred_at: np.ndarray,
        columns: dict[str, TextColumn],
        now: float = 0.0,
    ) -> None:
        super().__init__()
        self.size = len(lead_index)
        self.now = now
        self.lead_index = np.asarray(lead_index, dtype=np.int64)
        self.occurred_at = np.asarray(occurred_at, dtype=np.float64)
        self._text.update(columns)
        self._happened: tuple[float, np.ndarray] | None = None

    @classmethod
    def from_records(
        cls, activities: Iterable[Activity], lead_position: dict[str, int], now: float
    ) -> ActivityFrame:
        kept = [a for a in activities if a.lead_id in lead_position]
        columns = {
            name: factorise([getattr(a, name) for a in kept])
            for name in ("type", *ACTIVITY_DETAILS)
        }
        return cls(
            lead_index=np.fromiter(
                (lead_position[a.lead_id] for a in kept), dtype=np.int64, count=len(kept)
            ),
            occurred_at=np.fromiter(
                (a.occurred_at.timestamp() for a in kept), dtype=np.float64, count=len(kept)
            ),
            columns=columns,
            now=now,
        )

    def as_of(self, moment: float) -> ActivityFrame:
        """The same activities seen from an earlier `moment`: later ones have not happened."""
        return ActivityFrame(self.lead_index, self.occurred_at, dict(self._text), moment)

    def text(self, path: str) -> TextColumn:
        if path not in self._text:
            return TextColumn(np.zeros(self.size, dtype=np.int32), [None])
        return self._text[path]

    def raw(self, path: str) -> Sequence[Any]:
        if path == "occurred_at":
            return self.occurred_at.tolist()
        return self.text(path).values()

    def time(self, path: str) -> np.ndarray:
        return self.occurred_at if path == "occurred_at" else super().time(path)

    def rows_of_types(self, types: Iterable[str]) -> np.ndarray:
        """Rows of the activities of one of `types` that happened by `now`, in row order."""
        codes, distinct = self.text("type")
        wanted = {normalise_text(t) for t in types} - {None}
        lookup = np.fromiter((v in wanted for v in distinct), dtype=bool, count=len(distinct))
        if not lookup.any():
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(lookup[codes] & self._happened_by_now())

    def _happened_by_now(self) -> np.ndarray:
        """Which activities happened by `now` (the future has not happened yet)."""
        if self._happened is None or self._happened[0] != self.now:
            self._happened = (self.now, self.occurred_at <= self.now)
        return self._happened[1]

    def subset(self, rows: np.ndarray) -> ActivitySubset:
        return ActivitySubset(self, rows)


class ActivitySubset(_ColumnCache):
    """Some rows of an ActivityFrame, for evaluating a rule's `where` on its own activities."""

    def __init__(self, frame: ActivityFrame, rows: np.ndarray) -> None:
        super().__init__()
        self.frame = frame
        self.rows = rows
        self.size = len(rows)
        self.now = frame.now
        self.lead_index = frame.lead_index[rows]
        self.occurred_at = frame.occurred_at[rows]

    def text(self, path: str) -> TextColumn:
        return self.frame.text(path).take(self.rows)

    def raw(self, path: str) -> Sequence[Any]:
        return self.text(path).values()

    def time(self, path: str) -> np.ndarray:
        return self.occurred_at if path == "occurred_at" else super().time(path)

    def activity_count(self, test: ActivityTest) -> np.ndarray:
        raise ValueError("activity tests cannot be nested inside an activity's `where`")


ActivityCounter = Callable[[ActivityTest], np.ndarray]

class RawText(NamedTuple):
    """Values as a bulk reader read them (not normalised), factorised: codes into `values`."""

    codes: np.ndarray
    values: Sequence[Any]


LeadColumn = TextColumn | RawText | np.ndarray | Sequence[Any]


class LeadTable:
    """A batch of leads as columns, for connectors that read leads in bulk: no object per lead.

    `columns` maps a field path (`title`, `company.employees`, `fields.plan`) to its values: text
    factorised (a `TextColumn` of normalised text, or the `RawText` a reader read), numbers and
    times as float arrays (epoch seconds; NaN = missing), or plain values. A path without a column
    is missing for every lead. Any mapping will do: a reader may build columns when first asked.
    """

    def __init__(self, ids: Sequence[str], columns: Mapping[str, LeadColumn]) -> None:
        self.ids = list(ids)
        self.columns = columns

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_leads(cls, leads: Sequence[Lead], paths: Iterable[str]) -> LeadTable:
        """The given field paths of some lead records as columns."""
        companies = [lead.company for lead in leads]
        columns: dict[str, LeadColumn] = {}
        for path in paths:
            if path.startswith("company."):
                values = _lead_getter(path.removeprefix("company."))(companies)
            else:
                values = _lead_getter(path)(leads)
            columns[path] = _typed_column(values, lead_field_kind(path))
        return cls([lead.id for lead in leads], columns)


def _typed_column(values: Sequence[Any], kind: FieldKind | None) -> LeadColumn:
    if kind == "text":
        return factorise(values)
    if kind in ("number", "time"):
        convert = to_number if kind == "number" else to_epoch
        return np.fromiter(map(convert, values), np.float64, len(values))
    return values  # a custom field: typed by the rules that read it


class LeadFrame(_ColumnCache):
    """A batch of leads with their activities: lead records, or a `LeadTable` of columns."""

    def __init__(
        self,
        leads: Sequence[Lead] | LeadTable,
        activities: ActivityFrame,
        now: float,
        compile_where: Callable[[ActivityTest], Evaluator | None],
    ) -> None:
        super().__init__()
        self.table = leads if isinstance(leads, LeadTable) else None
        self.leads = leads
        self.ids = leads.ids if isinstance(leads, LeadTable) else [lead.id for lead in leads]
        self.size = len(leads)
        self.now = now
        self.activities = activities
        self._compile_where = compile_where
        self._activity_counts: dict[int, np.ndarray] = {}
        self._company_list: list[Company | None] | None = None

    def as_of(self, moment: float) -> LeadFrame:
        """The same leads scored from an earlier `moment` (a preview's past weeks): the columns
        read from the leads are shared, what depends on the time is computed again."""
        earlier = LeadFrame(self.leads, self.activities.as_of(moment), moment, self._compile_where)
        earlier._text.update(
            (path, column) for path, column in self._text.items() if path not in self._computed
        )
        earlier._number.update(
            (path, column) for path, column in self._number.items() if path not in self._computed
        )
        earlier._time.update(self._time)
        earlier._company_list = self._company_list
        return earlier

    def raw(self, path: str) -> Sequence[Any]:
        if self.table is not None:
            column = self.table.columns.get(path)
            if column is None:
                return [None] * self.size
            if isinstance(column, RawText):
                return [column.values[code] for code in column.codes.tolist()]
            if isinstance(column, np.ndarray):  # numbers or times: NaN is missing
                return [None if value != value else value for value in column.tolist()]
            return column.values() if isinstance(column, TextColumn) else column
        if path.startswith("company."):
            return _lead_getter(path.removeprefix("company."))(self._companies())  # type: ignore[arg-type]
        return _lead_getter(path)(self.leads)  # type: ignore[arg-type]

    def text(self, path: str) -> TextColumn:
        column = self._table_column(path)
        if path in self._computed or path in self._text:
            return super().text(path)
        if isinstance(column, TextColumn):
            return column
        if isinstance(column, RawText):
            self._text[path] = normalised(column.codes, column.values)
            return self._text[path]
        return super().text(path)

    def number(self, path: str) -> np.ndarray:
        return self._typed(path, to_number) if path not in self._number else self._number[path]

    def time(self, path: str) -> np.ndarray:
        return self._typed(path, to_epoch) if path not in self._time else self._time[path]

    def _typed(self, path: str, convert: Callable[[Any], float]) -> np.ndarray:
        """A number or time column: an array as given, text converted once per distinct value."""
        column = self._table_column(path)
        if path not in self._computed and self.table is not None and column is None:
            values = np.full(self.size, np.nan)  # no such column: missing for every lead
        elif path in self._computed or column is None or isinstance(column, list):
            return super().number(path) if convert is to_number else super().time(path)
        elif isinstance(column, TextColumn | RawText):
            distinct = column.distinct if isinstance(column, TextColumn) else column.values
            lookup = np.fromiter(map(convert, distinct), np.float64, len(distinct))
            values = lookup[column.codes] if len(lookup) else np.full(self.size, np.nan)
        else:
            values = np.asarray(column, dtype=np.float64)
        (self._number if convert is to_number else self._time)[path] = values
        return values

    def _table_column(self, path: str) -> LeadColumn | None:
        return self.table.columns.get(path) if self.table is not None else None

    def _companies(self) -> list[Company | None]:
        if self._company_list is None:
            self._company_list = [lead.company for lead in self.leads]
        return self._company_list

    def activity_count(self, test: ActivityTest) -> np.ndarray:
        key = id(test)
        if key not in self._activity_counts:
            self._activity_counts[key] = self._count_activities(test)
        return self._activity_counts[key]

    def _count_activities(self, test: ActivityTest) -> np.ndarray:
        rows = self._matching_rows(test)
        return np.bincount(self.activities.lead_index[rows], minlength=self.size)

    def latest_activity(self, test: ActivityTest) -> np.ndarray:
        """Each lead's most recent activity matching `test`: its row, or -1 when none does."""
        rows = self._matching_rows(test)
        leads = self.activities.lead_index[rows]
        order = rows[np.lexsort((self.activities.occurred_at[rows], leads))]  # by lead, then time
        sorted_leads = self.activities.lead_index[order]
        last = np.append(sorted_leads[1:] != sorted_leads[:-1], True) if len(order) else order > 0
        latest = np.full(self.size, -1, dtype=np.int64)
        latest[sorted_leads[last]] = order[last]
        return latest

    def _matching_rows(self, test: ActivityTest) -> np.ndarray:
        rows = self.activities.rows_of_types(test.activity)
        subset = self.activities.subset(rows)
        keep = np.ones(len(rows), dtype=bool)
        if test.within_days is not None:
            keep &= (self.now - subset.occurred_at) <= test.within_days * SECONDS_PER_DAY
        where = self._compile_where(test)
        if where is not None and len(rows):
            keep &= where(subset)
        return rows[keep]
