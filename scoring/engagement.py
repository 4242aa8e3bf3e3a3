"""Engagement: is this person showing buying intent now? Decayed activity points with caps, and
points for counts carried on the lead (visits, page views) for CRMs and files without events."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.conditions import Evaluator, compile_condition
from scoring.config import (
    ScoringModel,
)
from scoring.engagement_config import (
    CountRule,
    Decay,
    EngagementRule,
)
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
            compile_condition(rule.where, activity_field_kind)
            if isinstance(rule, EngagementRule) and rule.where
            else None
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
        return self.scored(frame).contributions

    def scored(self, frame: LeadFrame) -> EngagementPoints:
        """The contributions, with what each count rule counted."""
        matrix = np.zeros((frame.size, len(self.rules) + len(self.group_caps)), dtype=np.float64)
        counts: dict[int, CountPoints] = {}
        for column, rule in enumerate(self.rules):
            if isinstance(rule, CountRule):
                counts[column] = self.counted(frame, column)
                matrix[:, column] = counts[column].points
            else:
                matrix[:, column] = self._rule_points(frame, column)
        for offset, group in enumerate(self.group_caps):
            total = matrix[:, list(group.members)].sum(axis=1)
            matrix[:, len(self.rules) + offset] = np.clip(total, -group.cap, group.cap) - total
        return EngagementPoints(matrix, counts)

    def counted(self, frame: LeadFrame, column: int) -> CountPoints:
        """What count rule `column` gives each lead, from the number on the lead."""
        rule = self.rules[column]
        assert isinstance(rule, CountRule)
        count = frame.number(rule.field)
        present = ~np.isnan(count)
        if rule.bins is None:
            raw = np.where(present, count, 0.0) * (rule.points_per or 0.0)
        else:
            raw = np.zeros(frame.size)
            for found in reversed(rule.bins):  # the highest bin reached wins
                raw = np.where(present & (count >= found.gte), found.points, raw)
        if rule.last_activity is not None:
            raw = raw * self._count_freshness(frame, rule)
        points = np.clip(raw, -rule.cap, rule.cap) if rule.cap is not None else raw
        return CountPoints(count=count, points=points, capped=np.abs(raw) > np.abs(points))

    def _count_freshness(self, frame: LeadFrame, rule: CountRule) -> np.ndarray:
        """The share of a count's points left by the age of its lead's latest activity: decayed
        (no date: nothing to decay), and none when older than `within_days` (or undated)."""
        assert rule.last_activity is not None
        latest = frame.time(rule.last_activity)
        dated = ~np.isnan(latest)
        age_days = np.maximum(frame.now - np.where(dated, latest, frame.now), 0.0) / SECONDS_PER_DAY
        share = decay_factor(age_days, self.model.engagement.decay) if rule.decay else 1.0
        share = np.broadcast_to(share, age_days.shape)
        if rule.within_days is not None:
            share = np.where(dated & (age_days <= rule.within_days), share, 0.0)
        return share

    def matches(self, frame: LeadFrame, column: int) -> RuleMatches:
        """The activities rule `column` counts, with each one's points after decay."""
        rule, where = self.rules[column], self._where[column]
        assert isinstance(rule, EngagementRule)
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
        assert isinstance(rule, EngagementRule)
        found = self.matches(frame, column)
        if rule.once:
            per_lead = _once_per_lead(found.lead_index, found.points, frame.size, rule.points)
        else:
            per_lead = np.bincount(found.lead_index, weights=found.points, minlength=frame.size)
        if rule.cap is not None:
            per_lead = np.clip(per_lead, -rule.cap, rule.cap)
        return per_lead


@dataclass(frozen=True)
class CountPoints:
    """A count rule's result per lead: the count (NaN: none on the lead), the points it gave,
    and whether its cap cut them."""

    count: np.ndarray
    points: np.ndarray
    capped: np.ndarray


@dataclass(frozen=True)
class EngagementPoints:
    contributions: np.ndarray  # (leads, rules + groups)
    counts: dict[int, CountPoints]  # by rule column: what each count rule counted


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
