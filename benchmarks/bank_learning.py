"""`python -m benchmarks bank`: learn on the UCI bank-marketing data (`duration` excluded), built
on the hand-written rules and fresh (`--fresh`), measured three ways: stratified 5-fold (mean
and pooled), on the chronologically latest 20% (learned on the earlier 80%), and on validation
windows inside the earlier 80% only — learned on the first 64%, measured on the next 16%, and
three rolling windows (learned on the first 50/60/70%, measured on the next 10%) — where learn's
choices are made without looking at the latest 20%. Every figure measures the proposal as
learn writes it, its stability filter included. About three minutes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.measure import Measurement
from scoring.backtest import LabelledLeads, score_as_of_cutoffs, time_ordered_split
from scoring.conversion_measures import roc_auc
from scoring.learn import Learner, LearnSettings
from scoring.loading import load_model
from scoring.stable_proposal import propose_stable
from sync.learn_run import learn_from, learner_for
from sync.outcomes import CsvOutcomes

ROOT = Path(__file__).parents[1]
MODEL = ROOT / "examples" / "bank-marketing.yaml"
DATA = ROOT.parent / "shared" / "data" / "bank-additional-full.csv"
ROLLING = (0.5, 0.6, 0.7)


def bank_benchmarks() -> list[Measurement]:
    model = load_model(MODEL)
    loaded = CsvOutcomes(DATA, "y").labelled(model, None)
    found = []
    for fresh in (False, True):
        settings = replace(LearnSettings().keeping(model), fresh=fresh)
        run = learn_from(loaded, model, settings, None, 5, 0.2)
        name = "bank data, learned fresh" if fresh else "bank data, built on the hand-written rules"
        estimated = run.estimate
        folds = estimated.mean_fold_auc or 0.0
        pooled = estimated.out_of_fold.auc if estimated.out_of_fold else 0.0
        latest = estimated.latest.auc if estimated.latest else 0.0
        rules = len(run.card.model.fit.rules) + len(run.card.model.engagement.rules)
        learner = learner_for(loaded.labelled, model, settings)
        learner.find_leaks()
        found += [
            Measurement(name, "ROC AUC, 5-fold mean", folds, "AUC", "≥ 0.79", folds >= 0.79,
                        f"{folds:.3f} (pooled {pooled:.3f}); {rules} rules"),
            Measurement(name, "ROC AUC, latest 20%", latest, "AUC", "≥ 0.74", latest >= 0.74,
                        f"{latest:.3f}"),
            *validation(name, learner),
        ]
    return found


def validation(name: str, learner: Learner) -> list[Measurement]:
    labelled = learner.labelled
    earlier, _ = time_ordered_split(labelled, 0.2)
    inner, held = time_ordered_split(labelled.subset(earlier), 0.2)
    first = measured(learner, earlier[inner], earlier[held])
    rolling = [measured(learner, *window(labelled, share)) for share in ROLLING]
    shown = ", ".join(f"{auc:.3f}" for auc in rolling)
    return [
        Measurement(name, "ROC AUC, validation (first 64% → next 16%)", first, "AUC", "", None,
                    f"{first:.3f}"),
        Measurement(name, "ROC AUC, rolling validation (mean of 3)", float(np.mean(rolling)),
                    "AUC", "", None, f"{shown} (learned on the first 50/60/70%)"),
    ]


def window(labelled: LabelledLeads, share: float) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(labelled.order, kind="stable")
    start, end = round(len(order) * share), round(len(order) * (share + 0.1))
    return np.sort(order[:start]), np.sort(order[start:end])


def measured(learner: Learner, train: np.ndarray, test: np.ndarray) -> float:
    card = propose_stable(learner, None, train)  # as learn writes it: stability filter too
    leads = learner.labelled.subset(test)
    return roc_auc(leads.converted, score_as_of_cutoffs(leads, card.model).score)
