"""The small condition language of the scoring model, and its vectorised evaluation.

A condition is one of:
- a field test `{field: company.employees, op: between, value: [50, 1000]}`;
- an activity test `{activity: [demo_request], where: {...}, within_days: 30, min_count: 1}`
  (true when the lead has enough matching activities);
- `{all: [...]}`, `{any: [...]}`, `{not: ...}`.

Conditions never run code. They are compiled once and evaluated over a whole batch of leads (or
of activities, for an engagement rule's `where`) at a time: see `Columns` for what they read.

Semantics a RevOps admin can rely on:
- text comparisons (eq, ne, in, not_in, contains) ignore case and surrounding spaces;
  `matches` is a regular expression searched anywhere in the value, ignoring case, run by RE2:
  its time grows linearly with the text whatever the pattern, so patterns RE2 cannot run in
  linear time (backreferences, lookarounds) are refused when the model is loaded;
- a missing value (blank or absent) fails every test except `ne`, `not_in` and `missing`;
- `within_days: N` is true when the timestamp is at most N days before the run's `now`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal, Protocol

import numpy as np
import re2
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

FieldKind = Literal["text", "number", "time", "flag"]

Operator = Literal[
    "eq",
    "ne",
    "in",
    "not_in",
    "lt",
    "lte",
    "gt",
    "gte",
    "between",
    "contains",
    "matches",
    "exists",
    "missing",
    "within_days",
]

ORDERING_OPS = frozenset({"lt", "lte", "gt", "gte", "between"})
NO_VALUE_OPS = frozenset({"exists", "missing"})
LIST_OPS = frozenset({"in", "not_in"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldTest(_Strict):
    """Compare one field of the lead (or of the activity, inside `where`) with a value."""

    field: str = Field(min_length=1, description="Dotted path, e.g. title, company.employees")
    op: Operator = "eq"
    value: Any = None

    @model_validator(mode="after")
    def _value_fits_operator(self) -> FieldTest:
        problem = _value_problem(self.op, self.value)
        if problem:
            raise ValueError(problem)
        return self


def _value_problem(op: str, value: Any) -> str | None:
    if op in NO_VALUE_OPS:
        return None if value is None else f"op '{op}' takes no value"
    if value is None:
        return f"op '{op}' needs a value"
    if not all(_is_finite(v) for v in (value if isinstance(value, list) else [value])):
        return f"op '{op}' needs a finite number, not .nan or .inf"
    if isinstance(value, str) and not value.strip():
        return f"op '{op}' needs a value that is not blank; to test for blank use 'missing'"
    if op in LIST_OPS and not isinstance(value, list):
        return f"op '{op}' needs a list of values, e.g. [US, CA]"
    if op == "between":
        if not (isinstance(value, list) and len(value) == 2):
            return "op 'between' needs two values: [low, high]"
        if not all(_is_orderable(v) for v in value):
            return "op 'between' compares numbers or dates"
        return None
    if op in ORDERING_OPS and not _is_orderable(value):
        return f"op '{op}' compares numbers or dates"
    if op == "within_days" and not (isinstance(value, int | float) and value >= 0):
        return "op 'within_days' needs a number of days, e.g. 30"
    if op == "matches":
        return _pattern_problem(value)
    return None


def _pattern_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return "op 'matches' needs a regular expression"
    try:
        compile_pattern(value)
    except re2.error as refused:
        try:
            re.compile(value)
        except re.error as error:
            return f"not a valid regular expression: {error}"
        reason = refused.args[0].decode(errors="replace") if refused.args else "refused"
        return (
            f"RE2 cannot run this regular expression ({reason}): leadq runs patterns in "
            "linear time, so backreferences and lookarounds are not supported"
        )
    return None


def compile_pattern(pattern: str) -> re2._Regexp:
    """A `matches` pattern as RE2 runs it: searched anywhere, ignoring case, in linear time."""
    options = re2.Options()
    options.case_sensitive = False
    options.never_capture = True
    options.log_errors = False  # a refused pattern is reported once, as a model error
    return re2.compile(pattern, options)


def _is_finite(value: Any) -> bool:
    """False for a number that is NaN, infinite, or too large to be a float."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return True
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _is_orderable(value: Any) -> bool:
    return isinstance(value, int | float | date | datetime) and not isinstance(value, bool)


class ActivityTest(_Strict):
    """True when the lead has at least `min_count` matching activities."""

    activity: list[str] = Field(min_length=1, description="Activity types that count")
    where: Condition | None = None
    within_days: float | None = Field(default=None, ge=0, le=1_000_000, allow_inf_nan=False)
    min_count: int = Field(default=1, ge=1, le=1_000_000)

    @model_validator(mode="before")
    @classmethod
    def _one_type_is_a_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("activity"), str):
            return {**data, "activity": [data["activity"]]}
        return data


class AllOf(_Strict):
    all: list[Condition] = Field(min_length=1)


class AnyOf(_Strict):
    any: list[Condition] = Field(min_length=1)


class NotOf(_Strict):
    not_: Condition = Field(alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _condition_kind(data: Any) -> str | None:
    if isinstance(data, BaseModel):
        return {AllOf: "<all>", AnyOf: "<any>", NotOf: "<not>", ActivityTest: "<activity>"}.get(
            type(data), "<field>"
        )
    if not isinstance(data, dict):
        return None
    for key in ("all", "any", "not", "activity"):
        if key in data:
            return f"<{key}>"
    return "<field>"


Condition = Annotated[
    Annotated[AllOf, Tag("<all>")]
    | Annotated[AnyOf, Tag("<any>")]
    | Annotated[NotOf, Tag("<not>")]
    | Annotated[ActivityTest, Tag("<activity>")]
    | Annotated[FieldTest, Tag("<field>")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition",
        custom_error_message="must be a condition: {field, op, value}, {activity: ...}, "
        "{all: [...]}, {any: [...]} or {not: ...}",
    ),
]
ActivityTest.model_rebuild()
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


def walk(condition: Condition) -> list[FieldTest | ActivityTest]:
    """Every leaf of a condition, for reference checks."""
    if isinstance(condition, AllOf):
        return [leaf for part in condition.all for leaf in walk(part)]
    if isinstance(condition, AnyOf):
        return [leaf for part in condition.any for leaf in walk(part)]
    if isinstance(condition, NotOf):
        return walk(condition.not_)
    return [condition]


# --------------------------------------------------------------------------- evaluation


class Columns(Protocol):
    """What a condition reads: a batch of `size` rows with typed columns."""

    size: int
    now: float  # epoch seconds

    def text(self, path: str) -> tuple[np.ndarray, list[str | None]]:
        """Factorised lower-cased text: (codes per row, distinct values; None = missing)."""

    def number(self, path: str) -> np.ndarray:
        """float64 per row, NaN when missing or not a number."""

    def time(self, path: str) -> np.ndarray:
        """Epoch seconds per row, NaN when missing."""

    def activity_count(self, test: ActivityTest) -> np.ndarray:
        """How many activities of each row match `test` (only leads have activities)."""


Evaluator = Callable[[Columns], np.ndarray]
FieldKindOf = Callable[[str], FieldKind | None]


def compile_condition(condition: Condition, kind_of: FieldKindOf) -> Evaluator:
    """Turn a condition into a function from a batch of rows to a boolean array."""
    if isinstance(condition, AllOf):
        parts = [compile_condition(part, kind_of) for part in condition.all]
        return lambda cols: _reduce(np.logical_and, parts, cols)
    if isinstance(condition, AnyOf):
        parts = [compile_condition(part, kind_of) for part in condition.any]
        return lambda cols: _reduce(np.logical_or, parts, cols)
    if isinstance(condition, NotOf):
        inner = compile_condition(condition.not_, kind_of)
        return lambda cols: ~inner(cols)
    if isinstance(condition, ActivityTest):
        return lambda cols: cols.activity_count(condition) >= condition.min_count
    return _compile_field_test(condition, kind_of(condition.field))


def _reduce(
    combine: Callable[[np.ndarray, np.ndarray], np.ndarray],
    parts: Sequence[Evaluator],
    cols: Columns,
) -> np.ndarray:
    result = parts[0](cols)
    for part in parts[1:]:
        result = combine(result, part(cols))
    return result


def _compile_field_test(test: FieldTest, declared: FieldKind | None) -> Evaluator:
    op, value, path = test.op, test.value, test.field
    if op in NO_VALUE_OPS:
        want_present = op == "exists"
        return lambda cols: _present(cols, path) == want_present
    if op == "within_days":
        seconds = float(value) * 86400.0
        return lambda cols: (cols.now - cols.time(path)) <= seconds
    if op in ORDERING_OPS:
        return _compile_ordering(path, op, value, declared)
    if op in ("eq", "ne") and (isinstance(value, bool) or declared == "flag"):
        return _compile_flag(path, op, value)
    if op in ("eq", "ne") and _is_orderable(value) and declared != "text":
        return _compile_ordering(path, op, value, declared)
    return _compile_text(path, op, value)


def _compile_text(path: str, op: str, value: Any) -> Evaluator:
    if op == "matches":
        pattern = compile_pattern(str(value))
        return _text_test(path, lambda v: v is not None and pattern.search(v) is not None)
    if op in LIST_OPS:
        wanted = {normalise_text(item) for item in value}
        if op == "in":
            return _text_test(path, lambda v: v in wanted)
        return _text_test(path, lambda v: v not in wanted)
    needle = normalise_text(value)
    if op == "contains":
        return _text_test(path, lambda v: v is not None and needle in v)
    if op == "ne":
        return _text_test(path, lambda v: v != needle)
    return _text_test(path, lambda v: v == needle)


def _text_test(path: str, predicate: Callable[[str | None], bool]) -> Evaluator:
    return lambda cols: _text_predicate(cols, path, predicate)


def _text_predicate(
    cols: Columns, path: str, predicate: Callable[[str | None], bool]
) -> np.ndarray:
    codes, distinct = cols.text(path)
    lookup = np.fromiter((predicate(v) for v in distinct), dtype=bool, count=len(distinct))
    return lookup[codes] if len(distinct) else np.zeros(cols.size, dtype=bool)


def _present(cols: Columns, path: str) -> np.ndarray:
    """Which rows have a value: only the code of "missing" is looked for, so a column of
    distinct values (e-mail addresses) costs no test per value."""
    codes, distinct = cols.text(path)
    if None not in distinct:
        return np.ones(cols.size, dtype=bool)
    return codes != distinct.index(None)


def _compile_flag(path: str, op: str, value: Any) -> Evaluator:
    wanted = _as_flag(value)
    if op == "eq":
        return _text_test(path, lambda v: v is not None and _as_flag(v) == wanted)
    return _text_test(path, lambda v: v is None or _as_flag(v) != wanted)


def _as_flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "yes", "1", "y", "on"}:
        return True
    if text in {"false", "no", "0", "n", "off"}:
        return False
    return None


def _compile_ordering(path: str, op: str, value: Any, declared: FieldKind | None) -> Evaluator:
    """Numbers compare as written. A date written without a time stands for the whole day:
    `lte: 2026-10-01` includes the afternoon of October 1st, `between` includes both end days."""
    uses_time = declared == "time" or _is_date(value)
    bounds = sorted(value if op == "between" else [value], key=_time_value if uses_time else float)
    starts = [_time_value(v) if uses_time else float(v) for v in bounds]
    ends = [start + _span(v) for start, v in zip(starts, bounds, strict=True)]

    def read(cols: Columns) -> np.ndarray:
        return cols.time(path) if uses_time else cols.number(path)

    def at_most(x: np.ndarray, index: int) -> np.ndarray:
        return x < ends[index] if ends[index] > starts[index] else x <= starts[index]

    compare: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "lt": lambda x: x < starts[0],
        "lte": lambda x: at_most(x, 0),
        "gt": lambda x: ~at_most(x, 0) & ~np.isnan(x),
        "gte": lambda x: x >= starts[0],
        "between": lambda x: (x >= starts[0]) & at_most(x, -1),
        "eq": lambda x: (x >= starts[0]) & at_most(x, 0),
        "ne": lambda x: ~((x >= starts[0]) & at_most(x, 0)),
    }
    chosen = compare[op]
    return lambda cols: chosen(read(cols))


def _span(value: Any) -> float:
    """Seconds a model value covers: a whole day for a bare date, nothing for anything else."""
    return 86400.0 if isinstance(value, date) and not isinstance(value, datetime) else 0.0


def _is_date(value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(isinstance(v, date | datetime) for v in values)


def _time_value(value: Any) -> float:
    from connectors.records import parse_timestamp

    parsed = parse_timestamp(value)
    if parsed is None:
        raise ValueError(f"not a date: {value!r}")
    return parsed.timestamp()


def normalise_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip().lower()
    return text or None
