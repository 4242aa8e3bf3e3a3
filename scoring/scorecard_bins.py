"""A numeric field's learned thresholds as the bins a person reads: "1–2 calls this campaign",
"3+ calls this campaign", each worth the points its leads get.

Learn weighs cumulative thresholds ("3 or more"), whose points add up; on a count,
`scoring.learn_selection` keeps only thresholds in line with its trend, so the sums rise (or
fall) with it, while another number's bins may rise and fall. Here each stretch between two
thresholds becomes one rule worth that sum: a lead matches one bin of a field, so it scores
exactly as under the thresholds, with one reason for the field. Below the lowest threshold a
lead gets no points for the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scoring.conditions import AllOf, FieldTest
from scoring.config import (
    FitRule,
)
from scoring.learn_features import Feature
from scoring.model_types import (
    shortened,
)
from scoring.rule_names import field_slug, number_words, unique_id


@dataclass(frozen=True)
class NumericBin:
    """One bin of a numeric field: its rule, the leads in it, and the threshold it starts at."""

    rule: FitRule
    matched: np.ndarray  # the training leads in this bin
    weight: float  # the learned log-odds of a lead in it, against one below every threshold
    starts_at: str  # the id of the threshold feature the bin starts at


def is_threshold(feature: Feature) -> bool:
    return feature.quantity is not None and not feature.existing


def numeric_bins(
    features: Sequence[Feature],
    matrix: np.ndarray,
    points: np.ndarray,
    weights: np.ndarray,
    source: str,
    taken: set[str],
) -> list[NumericBin]:
    """The bins of the field `source`, from its thresholds' points (a threshold worth 0 points
    joins the bin below it; a bin worth 0 points is no rule)."""
    members = [i for i, f in enumerate(features) if is_threshold(f) and f.source == source]
    members.sort(key=lambda i: _low(features[i]))
    starts = [i for i in members if points[i] != 0]
    bins = []
    for position, index in enumerate(starts):
        following = starts[position + 1] if position + 1 < len(starts) else None
        up_to = members[: members.index(index) + 1]
        total = float(points[up_to].sum())
        if total == 0:
            continue
        weight = float(weights[up_to].sum())
        matched = matrix[:, index] > 0
        if following is not None:
            matched &= ~(matrix[:, following] > 0)
        end = None if following is None else features[following]
        rule = _bin_rule(features[index], end, total, taken)
        bins.append(NumericBin(rule, matched, weight, features[index].id))
    return bins


def _low(feature: Feature) -> float:
    return float(feature.rule.when.value)  # type: ignore[union-attr]


def _bin_rule(start: Feature, end: Feature | None, points: float, taken: set[str]) -> FitRule:
    quantity = start.quantity
    assert quantity is not None
    low = _low(start)
    if end is None:
        return start.rule.model_copy(update={"points": points})  # type: ignore[return-value]
    high = _low(end)
    last = high - 1 if quantity.whole else high
    words = "_to_".join(number_words(v) for v in dict.fromkeys((low, last)))
    return FitRule(
        id=unique_id(f"{field_slug(start.source)}_{words}", taken),
        label=shortened(quantity.from_to(low, high)),
        when=AllOf(
            all=[
                FieldTest(field=start.source, op="gte", value=low),
                FieldTest(field=start.source, op="lt", value=high),
            ]
        ),
        points=points,
    )
