"""Every change a proposed model makes to the current one, with the evidence behind it: rules
added, re-weighted and removed, the fit and engagement maxima, grade thresholds, the MQL threshold
and the learned probability. `learn` prints them as a table and adds them to its report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from scoring.config import (
    FitRule,
    ScoringModel,
)
from scoring.engagement_config import (
    CountRule,
    EngagementRule,
)
from scoring.learn import Evidence
from scoring.reasons import is_every_lead
from scoring.scorecard import Scorecard


@dataclass(frozen=True)
class ProposedChange:
    """One change from the current model to the proposal."""

    kind: Literal["added", "changed", "removed"]
    what: str  # e.g. "fit rule senior_title", "grade A", "MQL threshold"
    label: str
    before: str
    after: str
    evidence: Evidence | None = None
    why: str = ""
    stability: str = ""  # across the cross-validation folds: "5/5 folds, points 12–15"


def compare(current: ScoringModel, card: Scorecard) -> list[ProposedChange]:
    """Every change from the current model to the proposal, with its evidence."""
    proposed = card.model
    changes = _rule_changes("fit rule", current.fit.rules, proposed.fit.rules, card)
    changes += _rule_changes(
        "engagement rule", current.engagement.rules, proposed.engagement.rules, card
    )
    changes += _setting_changes(current, proposed, card)
    return changes


def _rule_changes(
    what: str,
    before: Sequence[FitRule | EngagementRule | CountRule],
    after: Sequence[FitRule | EngagementRule | CountRule],
    card: Scorecard,
) -> list[ProposedChange]:
    old = {rule.id: rule for rule in before}
    new = {rule.id: rule for rule in after}
    changes = []
    for rule in after:
        evidence = card.evidence.get(rule.id)
        stability = card.stability[rule.id].text if rule.id in card.stability else ""
        if rule.id not in old:
            changes.append(
                ProposedChange(
                    "added",
                    f"{what} {rule.id}",
                    rule.label,
                    "—",
                    _points_of(rule),
                    evidence,
                    evidence.note if evidence else _why_added(rule),
                    stability,
                )
            )
        elif _points_of(old[rule.id]) != _points_of(rule):
            changes.append(
                ProposedChange(
                    "changed",
                    f"{what} {rule.id}",
                    rule.label,
                    _points_of(old[rule.id]),
                    _points_of(rule),
                    evidence,
                    evidence.note if evidence else "",
                    stability,
                )
            )
    for rule in before:
        if rule.id not in new:
            changes.append(
                ProposedChange(
                    "removed",
                    f"{what} {rule.id}",
                    rule.label,
                    _points_of(rule),
                    "—",
                    card.evidence.get(rule.id),
                    card.removed.get(rule.id, ""),
                    card.stability[rule.id].text if rule.id in card.stability else "",
                )
            )
    return changes


def _why_added(rule: FitRule | EngagementRule | CountRule) -> str:
    if isinstance(rule, FitRule) and is_every_lead(rule):
        return "every lead starts with these, so no lead's fit falls below 0 and ties there"
    return ""


def _points(value: float) -> str:
    return f"{value:+g}"


def _points_of(rule: FitRule | EngagementRule | CountRule) -> str:
    return rule.points_text if isinstance(rule, CountRule) else _points(rule.points)


def _setting_changes(
    current: ScoringModel, proposed: ScoringModel, card: Scorecard
) -> list[ProposedChange]:
    pairs: list[tuple[str, str, Any, Any]] = [
        ("fit max", "Most fit points", current.fit.max, proposed.fit.max),
        (
            "engagement max",
            "Most engagement points",
            current.engagement.max,
            proposed.engagement.max,
        ),
    ]
    for grade in ("A", "B", "C", "D"):
        pairs.append(
            (
                f"grade {grade}",
                f"Lowest fit for grade {grade}",
                getattr(current.fit.grades, grade),
                getattr(proposed.fit.grades, grade),
            )
        )
    changes = [
        ProposedChange("changed", what, label, f"{before:g}", f"{after:g}")
        for what, label, before, after in pairs
        if before != after
    ]
    changes.append(
        ProposedChange(
            "changed" if current.stages else "added",
            "MQL threshold",
            "Leads passed to sales",
            _stages_text(current),
            f"score ≥ {card.mql_threshold}",
            why=f"sales capacity: {card.capacity_text}",
        )
    )
    if proposed.predictive is not None:
        changes.append(
            ProposedChange(
                "changed" if current.predictive else "added",
                "predictive",
                f"Probability in {proposed.predictive.field}",
                "—" if current.predictive is None else "learned before",
                f"intercept {proposed.predictive.intercept:g}, "
                f"{proposed.predictive.points_per_logit:g} points per log-odds",
            )
        )
    return changes


def _stages_text(model: ScoringModel) -> str:
    if not model.stages:
        return "no stage rules"
    return "; ".join(stage.label or stage.stage for stage in model.stages)
