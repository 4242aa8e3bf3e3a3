"""Which learned columns a proposal keeps: not duplicates, not near-constant, worth a couple of
points, in line with their field's trend, and within the rule budget (a sparse fit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from scoring.conditions import FieldTest
from scoring.learn_candidates import MIN_SUPPORT_SHARE, NEARLY_ALL
from scoring.learn_features import Feature

SCORE_POINTS = 100  # a proposal's rule points add up to a score from 0 to 100
TAIL = 0.5  # the percent of leads whose fit is clamped to 0, or engagement to its maximum
MIN_RULE_POINTS = 2  # a rule worth less is noise on the scorecard: left out, and the rest refitted


def against_the_trend(features: Sequence[Feature], weights: np.ndarray) -> np.ndarray:
    """Thresholds on a count ("4 or more calls") whose weight runs against the rest of their
    field's: the points over a field's thresholds add up, so one against the trend makes more of
    the count worth less somewhere ("Visits 1 or more -9" beside "Visits 5 or more +20"). Left
    out, a count's points only rise (or only fall) with it. A number that counts nothing (an
    age, a rate, an index) keeps its shape: its bins may rise and fall ("Age 18–24" and "Age
    60+" above the ages between), as the leads show."""
    thresholds: dict[str, list[int]] = {}
    for index, feature in enumerate(features):
        when = getattr(feature.rule, "when", None)
        counted = feature.quantity is not None and feature.quantity.unit is not None
        if counted and not feature.existing and isinstance(when, FieldTest) and when.op == "gte":
            thresholds.setdefault(feature.source, []).append(index)
    against = np.zeros(len(features), dtype=bool)
    for members in thresholds.values():
        trend = np.sign(weights[members].sum())
        for index in members:
            against[index] = np.sign(weights[index]) == -trend != 0
    return against


def within_rule_budget(
    features: Sequence[Feature], matrix: np.ndarray, weights: np.ndarray, keep: np.ndarray,
    most: int,
) -> np.ndarray:
    """Of the kept candidates, the strongest (weight × spread across leads) that fit beside the
    model's kept rules in `most` rules: a scorecard a person can read (a sparse fit)."""
    shifted = shift_exclusive_groups(features, weights, matrix)
    strength = np.abs(shifted) * matrix.std(axis=0)
    candidates = [i for i, f in enumerate(features) if keep[i] and not f.existing]
    room = max(0, most - sum(1 for i, f in enumerate(features) if keep[i] and f.existing))
    allowed = np.ones(len(features), dtype=bool)
    for index in sorted(candidates, key=lambda i: -strength[i])[room:]:
        allowed[index] = False
    return allowed


def duplicate_columns(features: Sequence[Feature], matrix: np.ndarray) -> np.ndarray:
    """Candidates that match exactly the leads another rule matches (e.g. every company field
    is missing for the same leads): they would only split that rule's points. The model's own
    rules come first, then thresholds on numbers, then values: a threshold ("Price index 94+")
    also ranks values the leads learned from never had, a value ("Month is jun") does not."""
    seen: set[bytes] = set()
    duplicate = np.zeros(len(features), dtype=bool)
    for index in sorted(range(len(features)), key=lambda i: _keep_first(features[i])):
        key = np.ascontiguousarray(matrix[:, index]).tobytes()
        duplicate[index] = key in seen and not features[index].existing
        seen.add(key)
    return duplicate


def _keep_first(feature: Feature) -> int:
    return 0 if feature.existing else 1 if feature.quantity is not None else 2


def near_constant(features: Sequence[Feature], matrix: np.ndarray) -> np.ndarray:
    """Candidates matching nearly every lead or nearly none: their points would only cancel
    out against the others (and would become every lead's reason)."""
    share = (matrix > 0).mean(axis=0) if len(matrix) else np.zeros(len(features))
    candidate = np.array([not feature.existing for feature in features], dtype=bool)
    return candidate & ((share > NEARLY_ALL) | (share < MIN_SUPPORT_SHARE))


def matched_by_nearly_all(features: Sequence[Feature], matrix: np.ndarray) -> np.ndarray:
    """The model's own rules that nearly every lead matches: their points move every score
    alike, so they rank nothing, and they would be every lead's top reason in the CRM."""
    share = (matrix > 0).mean(axis=0) if len(matrix) else np.zeros(len(features))
    existing = np.array([feature.existing for feature in features], dtype=bool)
    return existing & (share > NEARLY_ALL)


def matched_by_too_few(
    features: Sequence[Feature], matrix: np.ndarray, support: int
) -> np.ndarray:
    """The model's own rules fewer leads match than a candidate needs (`support`): their
    points would rest on a handful of outcomes, as a candidate's would."""
    matched = (matrix > 0).sum(axis=0) if len(matrix) else np.zeros(len(features))
    existing = np.array([feature.existing for feature in features], dtype=bool)
    return existing & (matched < support)


def shift_exclusive_groups(
    features: Sequence[Feature], weights: np.ndarray, matrix: np.ndarray
) -> np.ndarray:
    """Values covering every lead: make the most common worth 0 (a constant shift of the odds).
    A value without a rule of its own (too rare to weigh, or new since) then scores like the
    typical lead, not like the weakest value."""
    shifted = weights.copy()
    for source in {f.source for f in features if f.exclusive}:
        members = [i for i, f in enumerate(features) if f.exclusive and f.source == source]
        matched = (matrix[:, members] > 0).sum(axis=0)
        shifted[members] -= shifted[members[int(np.argmax(matched))]]
    return shifted


def points_per_logit(features: Sequence[Feature], matrix: np.ndarray, weights: np.ndarray) -> float:
    """The one scale of every fold and of the final fit: from the fit of the lowest 0.5% of the
    leads (clamped to 0) to the highest fit, plus the engagement all but the top 0.5% stay
    under, is the score's 0–100, so a lead's score is the sum of its rule points."""
    fit_part, engagement_part = split_sums(features, matrix, weights)
    if not len(fit_part):
        return 10.0
    low = np.percentile(fit_part, TAIL)
    span = float(fit_part.max() - low + np.percentile(engagement_part, 100 - TAIL))
    return SCORE_POINTS / span if span > 1e-9 else 10.0


def split_sums(
    features: Sequence[Feature], matrix: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each lead's fit sum and its engagement sum (never below 0, as the model clamps it)."""
    fit = np.array([f.kind == "fit" for f in features], dtype=bool)
    fit_part = matrix[:, fit] @ weights[fit]
    engagement_part = np.maximum(matrix[:, ~fit] @ weights[~fit], 0)
    return fit_part, engagement_part


def worth_keeping(
    features: Sequence[Feature], matrix: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Rules worth at least MIN_RULE_POINTS on the scale the scorecard will use."""
    shifted = shift_exclusive_groups(features, weights, matrix)
    return np.abs(shifted * points_per_logit(features, matrix, shifted)) >= MIN_RULE_POINTS


def without(
    features: Sequence[Feature], matrix: np.ndarray, keep: np.ndarray
) -> tuple[list[Feature], np.ndarray]:
    """Drop features; a field that lost values no longer covers every lead (the dropped
    values get no points of the field, as its values without a rule do)."""
    dropped_sources = {f.source for f, kept in zip(features, keep, strict=True) if not kept}
    kept_features = [
        replace(f, exclusive=f.exclusive and f.source not in dropped_sources)
        for f, kept in zip(features, keep, strict=True)
        if kept
    ]
    return kept_features, matrix[:, keep]
