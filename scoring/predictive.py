"""The optional predictive score: a learned probability of converting, with its reasons.

A model with a `predictive` section turns the points its rules gave a lead into a probability:
`1 / (1 + exp(-(intercept + points / points_per_logit)))`. The points are summed before the fit
and engagement clamps, so two leads the clamps make equal still get different probabilities.
`leadq learn` fits `intercept` and `points_per_logit` on real outcomes. The reasons are the rules
that moved the odds most, each with its odds factor: `Requested a demo (×3.2 odds)`.

Pure: numpy over a scored batch, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.config import Predictive
from scoring.qualify import ScoredBatch


@dataclass(frozen=True)
class Prediction:
    probability: np.ndarray  # float per lead, 0–1
    reasons_text: np.ndarray  # object array: the top reasons of each lead as one line


def rule_points(contributions: np.ndarray, fit_rule_count: int) -> np.ndarray:
    """Each lead's points before the fit and engagement clamps (rules and group caps).

    `contributions` is laid out as ScoredBatch.contributions: fit rules, the fit clamp,
    engagement rules and group caps, the engagement clamp.
    """
    keep = np.ones(contributions.shape[1], dtype=bool)
    keep[[fit_rule_count, contributions.shape[1] - 1]] = False
    return contributions[:, keep].sum(axis=1)


def probability_of(points: np.ndarray, predictive: Predictive) -> np.ndarray:
    logit = predictive.intercept + points / predictive.points_per_logit
    return 1.0 / (1.0 + np.exp(-np.clip(logit, -500, 500)))


def predict(scored: ScoredBatch, predictive: Predictive, separator: str = "; ") -> Prediction:
    return Prediction(
        probability=probability_of(
            rule_points(scored.contributions, len(scored.compiled.model.fit.rules)), predictive
        ),
        reasons_text=_odds_reasons(scored, predictive, separator),
    )


def _odds_reasons(scored: ScoredBatch, predictive: Predictive, separator: str) -> np.ndarray:
    columns = scored.compiled.reason_columns.columns
    reasons = ~scored.compiled.reason_columns.not_a_reason
    rule_columns = np.flatnonzero(reasons)
    points = scored.contributions[:, rule_columns]
    top = min(predictive.reasons_top, points.shape[1])
    order = np.argsort(-np.abs(points), axis=1, kind="stable")[:, :top]
    chosen = np.take_along_axis(points, order, axis=1)
    logits = np.clip(chosen / predictive.points_per_logit, -50, 50)  # odds of e**50 at most
    factors = np.round(np.exp(logits), 1)
    lines = np.full(len(points), "", dtype=object)
    for row in range(len(points)):
        pieces = [
            f"{columns[rule_columns[column]].label} (×{factor:.1f} odds)"
            for column, factor, value in zip(order[row], factors[row], chosen[row], strict=True)
            if abs(value) >= 0.5 and factor != 1.0
        ]
        lines[row] = separator.join(pieces)
    return lines
