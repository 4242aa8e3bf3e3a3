"""Is a proposed rule stable across the cross-validation folds?

Each fold learns its own scorecard from 4/5 of the leads. A rule the final proposal holds is
stable when the folds agree on it: it is in at least 80% of them (4 of 5) with the same sign as
in the proposal, and in none with the other sign. A rule that comes and goes with the sample, or
whose points flip, says more about the sample than about the leads: the proposal leaves it out
(and learns the rest again without it). With fewer than two folds nothing is measured and every
rule stays.

A rule is matched across folds by the candidate (or model rule) it comes from, so values merged
into one `in` rule and the bins of a numeric field are followed one by one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MIN_FOLD_SHARE = 0.8  # a stable rule is in at least this share of the folds (4 of 5) …
# … and in no fold with the other sign

FoldPoints = Mapping[str, float]  # one fold's points per feature it kept (feature id → points)


@dataclass(frozen=True)
class Stability:
    """How the folds saw one rule: in how many with the proposal's sign, in how many with the
    other, and the points they gave it."""

    agreeing: int
    flipped: int
    folds: int
    low: float = math.nan
    high: float = math.nan

    @property
    def stable(self) -> bool:
        return self.agreeing >= math.ceil(MIN_FOLD_SHARE * self.folds) and self.flipped == 0

    @property
    def text(self) -> str:
        """'5/5 folds, points 12–15', '4/5 folds, points -9 to -6', '3/5 folds, points -4 to +2
        (sign flips)'."""
        shown = f"{self.agreeing}/{self.folds} folds"
        if math.isnan(self.low):
            return shown
        if self.flipped:
            return f"{shown}, points {self.low:+g} to {self.high:+g} (sign flips)"
        if self.low == self.high:
            return f"{shown}, points {self.low:g}"
        joint = " to " if self.low < 0 else "–"
        return f"{shown}, points {self.low:g}{joint}{self.high:g}"


def stability_of(features: Sequence[str], points: float, folds: Sequence[FoldPoints]) -> Stability:
    """How the folds saw the rule made of `features`, worth `points` in the proposal; a rule of
    several features (values merged into one) is as stable as its least stable one."""
    found = [_one(feature, points, folds) for feature in features]
    given = [p for feature in features for fold in folds if (p := fold.get(feature))]
    return Stability(
        agreeing=min(s.agreeing for s in found),
        flipped=max(s.flipped for s in found),
        folds=len(folds),
        low=min(given, default=math.nan),
        high=max(given, default=math.nan),
    )


def _one(feature: str, points: float, folds: Sequence[FoldPoints]) -> Stability:
    given = [p for fold in folds if (p := fold.get(feature))]
    agreeing = sum(1 for p in given if (p > 0) == (points > 0))
    return Stability(agreeing, len(given) - agreeing, len(folds))
