"""The columns learn weighs: each one a rule (the model's own or a candidate) worth 1 point a
match, computed by the scoring engine itself as of each lead's cut-off (see `scoring.backtest`),
so what is learned is exactly what the model will compute."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from scoring.backtest import LabelledLeads, score_as_of_cutoffs
from scoring.config import (
    Fit,
    FitRule,
    ScoringModel,
)
from scoring.engagement_config import (
    CountRule,
    EngagementRule,
)
from scoring.model_types import (
    MOST,
)
from scoring.rule_names import Quantity


@dataclass(frozen=True)
class Feature:
    """One column of the learning matrix: an existing rule or a candidate one (points 1)."""

    id: str
    label: str
    kind: Literal["fit", "engagement"]
    source: str  # the field path, activity type or existing rule id it comes from
    existing: bool
    rule: FitRule | EngagementRule | CountRule
    exclusive: bool = False  # a value of a field whose kept values cover every lead
    unit_cap: float | None = None  # engagement: the most (decayed) activities counted
    quantity: Quantity | None = None  # a threshold on a number: how its bins are named


def existing_features(model: ScoringModel) -> list[Feature]:
    fit = [Feature(rule.id, rule.label, "fit", rule.id, True, rule) for rule in model.fit.rules]
    engagement = [
        Feature(rule.id, rule.label, "engagement", rule.id, True, rule, unit_cap=_unit_cap(rule))
        for rule in model.engagement.rules
    ]
    return fit + engagement


def _unit_cap(rule: EngagementRule | CountRule) -> float | None:
    """The most (decayed) activities an activity rule counts; a count rule scales as a whole."""
    if isinstance(rule, CountRule):
        return None
    return rule.cap / abs(rule.points) if rule.cap and rule.points else rule.cap



def unit_rule(feature: Feature) -> EngagementRule | CountRule:
    """An engagement feature's rule worth 1 point a matching activity, or (a count rule) 1 point
    at its strongest: learned points then scale it back (`CountRule.scaled_to`)."""
    rule = feature.rule
    if isinstance(rule, CountRule):
        return rule.scaled_to(1).model_copy(update={"group": None})
    return rule.model_copy(update={"points": 1, "cap": feature.unit_cap, "group": None})


def feature_model(model: ScoringModel, features: Sequence[Feature]) -> ScoringModel:
    """A model whose contributions are the features: every rule gives 1 point per match."""
    fit_rules = [f.rule.model_copy(update={"points": 1}) for f in features if f.kind == "fit"]
    engagement_rules = [unit_rule(f) for f in features if f.kind == "engagement"]
    huge = MOST  # never reached: each feature gives a few points at most
    return model.model_copy(
        update={
            "fit": Fit(max=huge, rules=fit_rules),  # type: ignore[list-item]
            "engagement": model.engagement.model_copy(
                update={"max": huge, "groups": [], "rules": engagement_rules}
            ),
            "stages": [],
            "predictive": None,
        }
    )


def feature_matrix(
    labelled: LabelledLeads, model: ScoringModel, features: Sequence[Feature]
) -> np.ndarray:
    """(leads × features): matches and decayed counts, each lead as of its cut-off."""
    scored = score_as_of_cutoffs(labelled, feature_model(model, features))
    fit_count = sum(1 for f in features if f.kind == "fit")
    engagement_count = len(features) - fit_count
    fit_part = scored.contributions[:, :fit_count]
    engagement_part = scored.contributions[:, fit_count + 1 : fit_count + 1 + engagement_count]
    matrix = np.zeros((len(labelled), len(features)))
    fit_columns = [i for i, f in enumerate(features) if f.kind == "fit"]
    engagement_columns = [i for i, f in enumerate(features) if f.kind == "engagement"]
    matrix[:, fit_columns] = fit_part
    matrix[:, engagement_columns] = engagement_part
    return matrix

