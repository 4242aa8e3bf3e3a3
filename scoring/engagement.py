"""Engagement: is this person showing buying intent now? Decayed activity points with caps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.conditions import Evaluator, compile_condition
from scoring.config import Decay, ScoringModel
from scoring.frame import SECONDS_PER_DAY, LeadFrame, activity_field_kind

DAYS_PER_MONTH = 365.25 / 12


def decay_factor(age_days: np.ndarray, decay: Decay) -> np.ndarray:
    """What share of its points an activity keeps at a given age.

    A half-life halves the points every `half_life_days`; `percent_per_month` (HubSpot's style)
    takes that share of the original points away per month, linearly, down to zero.
    """
    if decay.half_life_days is not None:
        return np.exp2(-age_days / decay.half_life_days)
    if decay.percent_per_month is not None:
        return np.clip(1.0 - decay.percent_per_month / 100.0 * age_days / DAYS_PER_MONTH, 0, 1)
    return np.ones_like(age_days)


@dataclass(frozen=True)
class CapColumn:
    id: str
    label: str
    members: tuple[int, ...]  # rule columns the cap applies to
    cap: float


class EngagementScorer:
    def __init__(self, model: ScoringModel) -> None:
        self.model = model
        self.rules = model.engagement.rules
        self._where: list[Evaluator | None] = [
            compile_condition(rule.where, activity_field_kind) if rule.where else None
            for rule in self.rules
        ]
        self.group_caps = [
            CapColumn(
                id=f"cap:{group.id}",
                label=f"{group.label or group.id} capped at {group.cap:g}",
                members=tuple(i for i, rule in enumerate(self.rules) if rule.group == group.id),
                cap=group.cap,
            )
            for group in model.engagement.groups
        ]

    def contributions(self, frame: LeadFrame) -> np.ndarray:
        """Points each rule, then each group cap, gives each lead: (leads, rules + groups)."""
        matrix = np.zeros((frame.size, len(self.rules) + len(self.group_caps)), dtype=np.float64)
        for column in range(len(self.rules)):
            matrix[:, column] = self._rule_points(frame, column)
        for offset, group in enumerate(self.group_caps):
            total = matrix[:, list(group.members)].sum(axis=1)
            matrix[:, len(self.rules) + offset] = np.clip(total, -group.cap, group.cap) - total
        return matrix

    def matches(self, frame: LeadFrame, column: int) -> RuleMatches:
        """The activities rule `column` counts, with each one's points after decay."""
        rule, where = self.rules[column], self._where[column]
        activities = frame.activities
        rows = activities.rows_of_types(rule.activity)
        subset = activities.subset(rows)
        age_days = np.maximum(frame.now - subset.occurred_at, 0.0) / SECONDS_PER_DAY
        keep = np.ones(len(rows), dtype=bool)
        if rule.within_days is not None:
            keep &= age_days <= rule.within_days
        if where is not None and len(rows):
            keep &= where(subset)
        factor = decay_factor(age_days[keep], self.model.engagement.decay) if rule.decay else 1.0
        return RuleMatches(
            rows=rows[keep],
            lead_index=subset.lead_index[keep],
            age_days=age_days[keep],
            points=rule.points * np.broadcast_to(factor, age_days[keep].shape),
        )

    def _rule_points(self, frame: LeadFrame, column: int) -> np.ndarray:
        rule = self.rules[column]
        found = self.matches(frame, column)
        if rule.once:
            per_lead = _once_per_lead(found.lead_index, found.points, frame.size, rule.points)
        else:
            per_lead = np.bincount(found.lead_index, weights=found.points, minlength=frame.size)
        if rule.cap is not None:
            per_lead = np.clip(per_lead, -rule.cap, rule.cap)
        return per_lead


@dataclass(frozen=True)
class RuleMatches:
    rows: np.ndarray  # rows of the batch's ActivityFrame
    lead_index: np.ndarray
    age_days: np.ndarray
    points: np.ndarray


def _once_per_lead(leads: np.ndarray, points: np.ndarray, size: int, sign: float) -> np.ndarray:
    """Only the strongest (most recent, least decayed) matching activity counts."""
    best = np.zeros(size)
    if sign >= 0:
        np.maximum.at(best, leads, points)
    else:
        np.minimum.at(best, leads, points)
    return best
