"""One `leadq learn` run, from loaded outcomes to the proposal a person reviews.

Check there are enough outcomes, look for fields that leak them, learn a scorecard, estimate it
on leads it did not learn from, measure the current model the same way, and lay the proposal out
as a model YAML with those figures on top. Nothing is read or written here: the command does that.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from scoring.backtest import BacktestResult, LabelledLeads, run_backtest
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
    learner = learner_for(labelled, model, settings)
    suspects = learner.find_leaks(loaded.dated_values())
    try:
        estimated = estimate(learner, capacity, folds, test_share)
        card = propose_stable(learner, capacity, folds=folds)
    except ValueError as error:  # a capacity per month without creation dates
        raise UserError(str(error)) from None
    if settings.fresh:
        card = _replacing_every_rule(card, model)
    current = run_backtest(labelled, model, notes=loaded.notes)
    current_latest = run_backtest(labelled, model, test_share) if test_share else None
    header = _yaml_header(loaded, model, estimated, current, current_latest, settings.fresh)
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


FRESH_REASON = "learned fresh (--fresh): the proposal does not build on the current rules"


def learner_for(labelled: LabelledLeads, model: ScoringModel, settings: LearnSettings) -> Learner:
    """Fresh: a learner that sees none of the model's rules (its stages, grades and mapping
    stay) and gives no new rule the id of a current one."""
    if not settings.fresh:
        return Learner(labelled, model, settings)
    current = {rule.id for rule in (*model.fit.rules, *model.engagement.rules)}
    bare = model.model_copy(
        update={
            "fit": model.fit.model_copy(update={"rules": []}),
            "engagement": model.engagement.model_copy(update={"rules": [], "groups": []}),
        }
    )
    return Learner(labelled, bare, settings, reserved=frozenset(current), current=model)


def _replacing_every_rule(card: Scorecard, model: ScoringModel) -> Scorecard:
    kept = {rule.id for rule in (*card.model.fit.rules, *card.model.engagement.rules)}
    gone = [r.id for r in (*model.fit.rules, *model.engagement.rules) if r.id not in kept]
    return replace(card, removed={**card.removed, **dict.fromkeys(gone, FRESH_REASON)})


def _yaml_header(
    loaded: Loaded,
    model: ScoringModel,
    estimated: Estimate,
    current: BacktestResult,
    current_latest: BacktestResult | None,
    fresh: bool = False,
) -> list[str]:
    labelled = loaded.labelled
    lines = [
        f"Proposed by `leadq learn` from {loaded.source}: {len(labelled):,} leads, "
        f"{labelled.converted_count:,} converted ({labelled.base_rate:.1%}).",
        f"Based on {model.name!r} (version {model.version}). Review every change before use.",
        *(["Learned fresh (--fresh): from the leads alone, not from the current rules."]
          if fresh else []),
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
