"""Reasons: which rules gave a lead its points, largest first, and the line written to the CRM."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from scoring.conditions import FieldTest
from scoring.config import (
    FitRule,
    ScoringModel,
)
from scoring.engagement import CapColumn, CountPoints
from scoring.engagement_config import (
    CountRule,
)

SHOWN = 0.005  # contributions smaller than this are noise, not reasons


class Reason(BaseModel):
    """One rule's contribution to a lead's points, as shown and explained."""

    model_config = ConfigDict(frozen=True)

    rule: str
    label: str
    points: float
    kind: Literal["fit", "engagement"]


@dataclass(frozen=True)
class ReasonColumn:
    rule: str
    label: str
    kind: Literal["fit", "engagement"]
    is_cap: bool = False
    label_when_raised: str | None = None  # for the floor at 0, which adds points
    members: tuple[int, ...] = ()  # a cap's: the columns whose total it caps
    every_lead: bool = False  # base points no lead can fail: a constant, never a CRM reason
    count: CountRule | None = None  # a count rule's: its reason names the lead's count


@dataclass(frozen=True)
class ReasonColumns:
    """What each column of a contributions matrix stands for."""

    columns: tuple[ReasonColumn, ...]

    @classmethod
    def for_model(cls, model: ScoringModel, group_caps: Sequence[CapColumn]) -> ReasonColumns:
        fit = [
            ReasonColumn(rule.id, rule.label, "fit", every_lead=is_every_lead(rule))
            for rule in model.fit.rules
        ]
        first_rule = len(fit) + 1  # engagement rules follow the fit rules and the fit clamp
        engagement = [
            ReasonColumn(
                r.id, r.label, "engagement", count=r if isinstance(r, CountRule) else None
            )
            for r in model.engagement.rules
        ]
        groups = [
            ReasonColumn(
                cap.id, cap.label, "engagement", True,
                members=tuple(first_rule + member for member in cap.members),
            )
            for cap in group_caps
        ]
        fit_columns = tuple(range(len(fit)))
        engagement_columns = tuple(range(first_rule, first_rule + len(engagement) + len(groups)))
        return cls(
            (
                *fit,
                _clamp_column("fit", "Fit", model.fit.max, fit_columns),
                *engagement,
                *groups,
                _clamp_column("engagement", "Engagement", model.engagement.max, engagement_columns),
            )
        )

    @property
    def is_cap(self) -> np.ndarray:
        return np.array([column.is_cap for column in self.columns], dtype=bool)

    @property
    def not_a_reason(self) -> np.ndarray:
        """Caps, and base points every lead gets: they explain no lead's score."""
        return np.array([c.is_cap or c.every_lead for c in self.columns], dtype=bool)

    def reasons(self, row: np.ndarray, counts: Mapping[int, float] | None = None) -> list[Reason]:
        """Every contribution of one lead, largest first; ties keep the model's rule order.
        `counts`: the lead's count per count-rule column, named in that rule's label."""
        order = np.argsort(-np.abs(row), kind="stable")
        counts = counts or {}
        return [
            Reason(
                rule=self.columns[i].rule,
                label=self._label(i, float(row[i]), counts.get(i)),
                points=round(float(row[i]), 2),
                kind=self.columns[i].kind,
            )
            for i in order.tolist()
            if abs(row[i]) >= SHOWN
        ]

    def _label(self, index: int, points: float, count: float | None = None) -> str:
        column = self.columns[index]
        if points > 0 and column.label_when_raised:
            return column.label_when_raised
        if column.count is not None and count is not None:
            return f"{column.label}: {quantity(count, column.count)}"
        return column.label


def quantity(count: float, rule: CountRule) -> str:
    """A count as a reason shows it: `12 visits`, `1 visit`, `2.5 minutes`, `1,200`."""
    if count != count:  # NaN: the lead has no count
        return "none"
    number = f"{count:,.0f}" if float(count).is_integer() else f"{round(count, 2):,}"
    unit = rule.unit if count == 1 else rule.plural
    return f"{number} {unit}" if unit else number


def is_every_lead(rule: FitRule) -> bool:
    """A rule no lead can fail (every lead has an id): a constant, not a reason."""
    when = rule.when
    return isinstance(when, FieldTest) and when.field == "id" and when.op == "exists"


def _clamp_column(
    kind: Literal["fit", "engagement"], name: str, maximum: float, members: tuple[int, ...]
) -> ReasonColumn:
    return ReasonColumn(
        rule=f"cap:{kind}",
        label=f"{name} capped at {maximum:g}",
        kind=kind,
        is_cap=True,
        label_when_raised=f"{name} cannot go below 0",
        members=members,
    )


def after_caps(contributions: np.ndarray, columns: ReasonColumns) -> np.ndarray:
    """Each rule's points once the caps above it are applied (group caps first, then the clamp of
    the fit or engagement total at its maximum), so a capped rule never shows more points than
    the lead got: a cap's cut is shared by the rules that gave points, in proportion to them, and
    the cap column ends at zero. The floor at 0 is left as it is: a penalty (a student, a
    competitor) shows in full even where it took away more than the lead had."""
    shown = contributions.astype(np.float64, copy=True)
    for index, column in enumerate(columns.columns):  # group caps come before their clamp
        if not column.is_cap or not column.members:
            continue
        capped = np.flatnonzero(shown[:, index] < 0)  # most leads are under every cap
        if not len(capped):
            continue
        members = shown[np.ix_(capped, column.members)]
        cut = shown[capped, index]
        gains = np.where(members > 0, members, 0.0)
        given = gains.sum(axis=1)
        scale = np.divide(given + cut, given, out=np.ones_like(given), where=given > 0)
        shown[np.ix_(capped, column.members)] = np.where(
            members > 0, gains * scale[:, None], members
        )
        shown[capped, index] -= np.where(given > 0, cut, 0.0)
    return shown


ELLIPSIS = "…"


def reasons_within(line: str, limit: int, separator: str) -> str:
    """A reasons line cut to at most `limit` characters on a reason boundary: the whole reasons
    that fit, then the separator and "…". A first reason longer than the limit alone is cut
    inside, ending with "…"."""
    if len(line) <= limit:
        return line
    if limit < len(ELLIPSIS):
        return ""
    boundary = line.rfind(separator, 0, limit - len(ELLIPSIS)) if separator else -1
    if boundary <= 0:
        return line[: limit - len(ELLIPSIS)] + ELLIPSIS
    return line[: boundary + len(separator)] + ELLIPSIS


def format_points(points: int) -> str:
    return f"{points:+d}"


def reasons_lines(
    contributions: np.ndarray,
    columns: ReasonColumns,
    top: int,
    separator: str,
    counts: Mapping[int, CountPoints] | None = None,
) -> np.ndarray:
    """The top rule contributions of every lead as one readable line each (an object array).

    Points are shown after caps (`after_caps`), so they add up to what the lead got; the caps
    themselves are left out of the line, base points every lead gets, and contributions that
    round to zero points. A count rule's piece names the lead's count (`counts`, by column):
    `Site visits: 12 visits (+20, capped)`. Lines
    are built column by column with numpy's object
    arithmetic: no Python container per lead, so a large batch does not wake the garbage collector.
    """
    size = contributions.shape[0]
    if size == 0 or contributions.shape[1] == 0:
        return np.full(size, "", dtype=object)
    points = np.rint(after_caps(contributions, columns)).astype(np.int64)
    points[:, columns.not_a_reason] = 0
    top = min(top, points.shape[1])
    chosen = np.argsort(-np.abs(points), axis=1, kind="stable")[:, :top]
    values = np.take_along_axis(points, chosen, axis=1)
    span = int(np.abs(values).max()) * 2 + 1
    keys = chosen * span + (values + span // 2)
    distinct, inverse = np.unique(keys, return_inverse=True)
    pieces = np.array(
        [_piece(columns, int(key) // span, int(key) % span - span // 2) for key in distinct],
        dtype=object,
    )[inverse.reshape(keys.shape)]
    shown = values != 0  # zeros sort last, so a shown piece always follows a shown piece
    for column, counted in (counts or {}).items():
        _name_counts(pieces, chosen == column, shown, values, columns.columns[column], counted)
    lines = np.where(shown[:, 0], pieces[:, 0], "").astype(object)
    for rank in range(1, top):
        lines = np.where(shown[:, rank], lines + separator + pieces[:, rank], lines)
    return lines


def _piece(columns: ReasonColumns, index: int, points: int) -> str:
    return f"{columns.columns[index].label} ({format_points(points)})"


def _name_counts(
    pieces: np.ndarray,
    chosen: np.ndarray,
    shown: np.ndarray,
    values: np.ndarray,
    column: ReasonColumn,
    counted: CountPoints,
) -> None:
    """Rewrite a count rule's pieces in place to name each lead's count (one text per distinct
    count, points and cut): `Site visits: 12 visits (+20, capped)`."""
    leads, ranks = np.nonzero(chosen & shown)
    if column.count is None or not len(leads):
        return
    keys = np.column_stack(
        [counted.count[leads], values[leads, ranks], counted.capped[leads]]
    ).astype(np.float64)
    distinct, inverse = np.unique(keys, axis=0, return_inverse=True)
    texts = np.array(
        [
            f"{column.label}: {quantity(count, column.count)} "
            f"({format_points(int(points))}{', capped' if capped else ''})"
            for count, points, capped in distinct.tolist()
        ],
        dtype=object,
    )
    pieces[leads, ranks] = texts[inverse.reshape(-1)]
