"""One `leadq learn` run, from loaded outcomes to the proposal a person reviews.

Check there are enough outcomes, look for fields that leak them, learn a scorecard, estimate it
on leads it did not learn from, measure the current model the same way, and lay the proposal out
as a model YAML with those figures on top. Nothing is read or written here: the command does that.
"""

from __future__ import annotations

from dataclasses import dataclass

from scoring.backtest import BacktestResult, run_backtest
from scoring.config import ScoringModel
from scoring.crossvalidation import Estimate, estimate
from scoring.learn import Learner, LearnSettings, check_outcomes
from scoring.learn_candidates import unlearnable_fields
from scoring.learn_leaks import Suspect
from scoring.proposal_diff import ProposedChange, compare
from scoring.proposal_yaml import render_yaml
from scoring.scorecard import Capacity, Scorecard
from scoring.stable_proposal import propose_stable
from sync.outcomes import Loaded
from sync.user_errors import UserError


@dataclass(frozen=True)
class LearnRun:
    current: BacktestResult
    current_latest: BacktestResult | None
    estimate: Estimate
    card: Scorecard
    changes: list[ProposedChange]
    suspects: list[Suspect]
    yaml_text: str
    unlearnable: dict[str, str]  # fields learn never uses (leadq's outputs, CRM bookkeeping): why
    recency_half_life: float | None = None  # the weighting of recent leads learn used, if any


def learn_from(
    loaded: Loaded,
    model: ScoringModel,
    settings: LearnSettings,
    capacity: Capacity | None,
    folds: int,
    test_share: float | None,
) -> LearnRun:
    labelled = loaded.labelled
    settings = settings.keeping(model)
    check_outcomes(labelled, settings)
    learner = Learner(labelled, model, settings)
    suspects = learner.find_leaks(loaded.dated_values())
    try:
        estimated = estimate(learner, capacity, folds, test_share)
        card = propose_stable(learner, capacity, estimated.fold_points)
    except ValueError as error:  # a capacity per month without creation dates
        raise UserError(str(error)) from None
    current = run_backtest(labelled, model, notes=loaded.notes)
    current_latest = run_backtest(labelled, model, test_share) if test_share else None
    header = _yaml_header(loaded, model, estimated, current, current_latest)
    return LearnRun(
        current=current,
        current_latest=current_latest,
        estimate=estimated,
        card=card,
        changes=compare(model, card),
        suspects=suspects,
        yaml_text=render_yaml(card, header),
        unlearnable=unlearnable_fields(model, labelled.leads),
        recency_half_life=learner.settings.recency_half_life,
    )


def _yaml_header(
    loaded: Loaded,
    model: ScoringModel,
    estimated: Estimate,
    current: BacktestResult,
    current_latest: BacktestResult | None,
) -> list[str]:
    labelled = loaded.labelled
    lines = [
        f"Proposed by `leadq learn` from {loaded.source}: {len(labelled):,} leads, "
        f"{labelled.converted_count:,} converted ({labelled.base_rate:.1%}).",
        f"Based on {model.name!r} (version {model.version}). Review every change before use.",
        f"ROC AUC, current model: {current.auc:.3f} on all leads"
        + (f", {current_latest.auc:.3f} on the latest leads." if current_latest else "."),
    ]
    if estimated.mean_fold_auc is not None:
        lines.append(
            f"ROC AUC, this proposal on leads it did not learn from: "
            f"{estimated.mean_fold_auc:.3f} ({len(estimated.fold_aucs)}-fold)"
            + (
                f", {estimated.latest.auc:.3f} on the {estimated.latest.split}."
                if estimated.latest
                else "."
            )
        )
    return lines
