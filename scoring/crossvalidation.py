"""How well learning generalises: learn on some leads, measure on leads the learned model never
saw — k stratified folds (each lead scored by the fold model that left it out) and, optionally,
learning on the earlier leads and measuring on the latest. Each of those proposals is learned as
the final one is, the stability filter included (`scoring.stable_proposal`, with folds of its own
leads): what is measured is the proposal as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scoring.backtest import (
    BacktestResult,
    ScoredLeads,
    measure,
    score_as_of_cutoffs,
    split_text,
    stratified_folds,
    time_ordered_split,
)
from scoring.config import ScoringModel
from scoring.conversion_measures import roc_auc
from scoring.learn import Learner
from scoring.scorecard import Capacity
from scoring.stable_proposal import propose_stable


@dataclass(frozen=True)
class Estimate:
    """How well learning generalises, measured on leads the learned model never saw."""

    fold_aucs: list[float]
    out_of_fold: BacktestResult | None  # each lead scored by the fold model that left it out
    latest: BacktestResult | None  # learned on the earlier leads, measured on the latest

    @property
    def mean_fold_auc(self) -> float | None:
        return float(np.mean(self.fold_aucs)) if self.fold_aucs else None


def estimate(
    learner: Learner, capacity: Capacity | None, folds: int, test_share: float | None
) -> Estimate:
    labelled = learner.labelled
    fold_aucs: list[float] = []
    pooled: list[tuple[np.ndarray, ScoredLeads]] = []
    last_model = learner.model
    for train, test in stratified_folds(labelled.converted, folds) if folds >= 2 else []:
        card = propose_stable(learner, capacity, train, folds)
        scored = score_as_of_cutoffs(labelled.subset(test), card.model)
        fold_aucs.append(roc_auc(labelled.converted[test], scored.score))
        pooled.append((test, scored))
        last_model = card.model
    out_of_fold = (
        measure(labelled, _pooled(pooled, len(labelled)), _per_fold_threshold(last_model))
        if pooled
        else None
    )
    latest = None
    if test_share is not None:
        earlier, later = time_ordered_split(labelled, test_share)
        card = propose_stable(learner, capacity, earlier, folds)
        recent = labelled.subset(later)
        split = split_text(labelled, test_share, len(later))
        latest = measure(recent, score_as_of_cutoffs(recent, card.model), card.model, split)
    return Estimate(fold_aucs, out_of_fold, latest)


def _pooled(parts: Sequence[tuple[np.ndarray, ScoredLeads]], size: int) -> ScoredLeads:
    names = ("score", "fit", "engagement", "grade", "label", "stage", "stage_rule")
    columns: dict[str, np.ndarray] = {}
    for name in names:
        first = getattr(parts[0][1], name)
        column = np.empty(size, dtype=first.dtype)
        for rows, scored in parts:
            column[rows] = getattr(scored, name)
        columns[name] = column
    probability = None
    if all(scored.probability is not None for _, scored in parts):
        probability = np.empty(size)
        for rows, scored in parts:
            probability[rows] = scored.probability
    return ScoredLeads(**columns, contributions=np.zeros((size, 0)), probability=probability)


def _per_fold_threshold(model: ScoringModel) -> ScoringModel:
    if not model.stages:
        return model
    first = model.stages[0].model_copy(update={"label": "Learned MQL threshold (per fold)"})
    return model.model_copy(update={"stages": [first, *model.stages[1:]]})
