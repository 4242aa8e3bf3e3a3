"""The proposal keeps only the rules the cross-validation folds agree on (`scoring.stability`).

Learn on every lead, look up each proposed rule in the folds' scorecards, leave out the unstable
ones and learn again from the rest — never from a rule the first fit did not keep — until every
rule left is stable. A rule of the current model left out this way is proposed for removal, with
its stability as the reason; a candidate left out is listed with its stability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from scoring.config import (
    FitRule,
)
from scoring.engagement_config import (
    EngagementRule,
)
from scoring.learn import Learner
from scoring.scorecard import Capacity, Scorecard, propose
from scoring.stability import FoldPoints, Stability, stability_of

MOST_ROUNDS = 6  # each round keeps fewer rules; in practice two or three settle it


def propose_stable(
    learner: Learner, capacity: Capacity | None, folds: Sequence[FoldPoints]
) -> Scorecard:
    """The proposal from every lead, without the rules that are not stable across `folds`
    (each fold's points per feature); with fewer than two folds, `propose` as it is."""
    card = propose(learner, capacity)
    if len(folds) < 2:
        return card
    first, model_rules = card, {rule.id for rule in learner.model.fit.rules}
    model_rules |= {rule.id for rule in learner.model.engagement.rules}
    left_out: dict[str, tuple[str, Stability]] = {}
    for _ in range(MOST_ROUNDS):
        stability = _stability(card, folds)
        unstable = {rule_id for rule_id, found in stability.items() if not found.stable}
        if not unstable:
            break
        labels = {rule.id: rule.label for rule in _rules(card)}
        left_out |= {rule_id: (labels[rule_id], stability[rule_id]) for rule_id in unstable}
        dropped = {f for rule_id in unstable for f in card.rule_features[rule_id]}
        card = propose(learner, capacity, only=set(card.learned_from) - dropped)
    return _with_stability(card, first, left_out, model_rules, folds)


def _stability(card: Scorecard, folds: Sequence[FoldPoints]) -> dict[str, Stability]:
    return {
        rule.id: stability_of(card.rule_features[rule.id], rule.points, folds)
        for rule in _rules(card)
        if rule.id in card.rule_features
    }


def _rules(card: Scorecard) -> list[FitRule | EngagementRule]:
    return [*card.model.fit.rules, *card.model.engagement.rules]


def _with_stability(
    card: Scorecard,
    first: Scorecard,
    left_out: dict[str, tuple[str, Stability]],
    model_rules: set[str],
    folds: Sequence[FoldPoints],
) -> Scorecard:
    """The final card with each rule's stability, the rules the first fit dropped still listed
    with why, and the unstable ones: model rules as removed, candidates as left out."""
    present = {rule.id for rule in _rules(card)}
    removed = {**first.removed, **card.removed}
    evidence = {**first.evidence, **card.evidence}
    unstable_candidates = {}
    for rule_id, (label, found) in left_out.items():
        if rule_id in present:
            continue
        if rule_id in model_rules:
            removed[rule_id] = f"not stable across the cross-validation folds: {found.text}"
        else:
            unstable_candidates[rule_id] = (label, found)
    removed = {rule_id: why for rule_id, why in removed.items() if rule_id not in present}
    stability = {rule_id: found for rule_id, (_, found) in left_out.items() if rule_id in removed}
    return replace(
        card,
        removed=removed,
        evidence=evidence,
        stability={**stability, **_stability(card, folds)},
        unstable=unstable_candidates,
    )
