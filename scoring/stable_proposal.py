"""The proposal keeps only the rules the cross-validation folds agree on (`scoring.stability`).

Learn on the leads, then weigh the proposal's own rules again on each fold's share of them (4/5
by default, stratified), each fold from those leads alone: a rule whose points the folds do not
agree on is left out, and the rest weighed again on every lead — never a rule the first fit did
not keep — until every rule left is stable. A rule of the current model left out this way is
proposed for removal, with its stability as the reason; a candidate left out is listed with its
stability. The folds weigh the rules as they are (no new candidates, no support bar of their
own), so a rule is judged by its points, not by whether a smaller sample would have offered it.

`scoring.crossvalidation` runs all of this on each of its folds too, so what it measures is the
proposal as written, stability filter included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from scoring.backtest import stratified_folds
from scoring.config import (
    FitRule,
)
from scoring.engagement_config import (
    EngagementRule,
)
from scoring.learn import Learner
from scoring.learn_features import Feature
from scoring.scorecard import Capacity, Scorecard, feature_points, proposed
from scoring.stability import FoldPoints, Stability, stability_of

MOST_ROUNDS = 6  # each round keeps fewer rules; in practice two or three settle it
FOLDS = 5

FoldsOf = Callable[[Sequence[Feature]], list[FoldPoints]]  # features → each fold's points


def propose_stable(
    learner: Learner,
    capacity: Capacity | None,
    rows: np.ndarray | None = None,
    folds: int = FOLDS,
) -> Scorecard:
    """The proposal learned on `rows` (default: every lead) without the rules its `folds` do not
    agree on; with fewer than two folds, the proposal as learned."""
    rows = np.arange(len(learner.labelled)) if rows is None else rows
    shares = stratified_folds(learner.labelled.converted[rows], folds) if folds >= 2 else []
    inner = [rows[train] for train, _ in shares]

    def points_in_folds(features: Sequence[Feature]) -> list[FoldPoints]:
        return [feature_points(learner.learn(fold, features), learner.model) for fold in inner]

    return stable_proposal(learner, capacity, rows, points_in_folds if inner else None)


def stable_proposal(
    learner: Learner,
    capacity: Capacity | None,
    rows: np.ndarray,
    folds_of: FoldsOf | None,
) -> Scorecard:
    """Learn on `rows`, then leave out what `folds_of` (the points each fold gives the features
    it is handed) shows unstable, round by round."""
    learned = learner.learn(rows)
    card = proposed(learner, learned, capacity)
    if folds_of is None:
        return card
    first, model_rules = card, {rule.id for rule in learner.today.fit.rules}
    model_rules |= {rule.id for rule in learner.today.engagement.rules}
    left_out: dict[str, tuple[str, Stability]] = {}
    folds = folds_of(learned.features)
    for _ in range(MOST_ROUNDS):
        stability = _stability(card, folds)
        unstable = {rule_id for rule_id, found in stability.items() if not found.stable}
        if not unstable:
            break
        labels = {rule.id: rule.label for rule in _rules(card)}
        left_out |= {rule_id: (labels[rule_id], stability[rule_id]) for rule_id in unstable}
        dropped = {f for rule_id in unstable for f in card.rule_features[rule_id]}
        learned = learner.learn(rows, [f for f in learned.features if f.id not in dropped])
        card = proposed(learner, learned, capacity)
        folds = folds_of(learned.features)
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
