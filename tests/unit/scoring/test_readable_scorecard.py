"""What a RevOps admin reads in a proposal: numeric bins named with their units, points that rise
(or fall) with the value, a score that is the sum of the rule points on one 0–100 scale, and
only rules the cross-validation folds agree on, each with its stability."""

from __future__ import annotations

import re

import numpy as np
import pytest
from learn_data import HAND_MODEL, synthetic_leads, with_fields

from scoring.backtest import LabelledLeads, score_as_of_cutoffs
from scoring.conditions import AllOf, FieldTest
from scoring.config import FitRule
from scoring.crossvalidation import estimate
from scoring.learn import Learner
from scoring.proposal_diff import compare
from scoring.proposal_yaml import render_yaml
from scoring.scorecard import Scorecard, propose
from scoring.stability import Stability
from scoring.stable_proposal import propose_stable


def counts(rng: np.random.Generator, converted: bool) -> dict[str, str]:
    """Visits, calls and age that all rise with conversion."""
    return {
        "visits": str(rng.poisson(9 if converted else 3)),
        "campaign": str(rng.poisson(6 if converted else 2)),
        "age": str(int(rng.normal(55 if converted else 40, 12))),
    }


@pytest.fixture(scope="module")
def numeric() -> LabelledLeads:
    return with_fields(synthetic_leads(), 23, counts)


@pytest.fixture(scope="module")
def card(numeric: LabelledLeads) -> Scorecard:
    units = HAND_MODEL.learn.model_copy(update={"units": {"fields.campaign": "calls this campaign"}})
    return propose(Learner(numeric, HAND_MODEL.model_copy(update={"learn": units})), None)


def bins_of(card: Scorecard, path: str) -> list[FitRule]:
    """The proposal's rules on one numeric field, from the lowest values up."""
    found = []
    for rule in card.model.fit.rules:
        tests = rule.when.all if isinstance(rule.when, AllOf) else [rule.when]
        if all(isinstance(t, FieldTest) and t.field == path for t in tests):
            found.append(rule)
    return sorted(found, key=lambda rule: low_end(rule))


def low_end(rule: FitRule) -> float:
    first = rule.when.all[0] if isinstance(rule.when, AllOf) else rule.when
    assert isinstance(first, FieldTest) and first.op == "gte"
    return float(first.value)


def test_numeric_bins_are_named_with_their_units(card: Scorecard) -> None:
    visits = [rule.label for rule in bins_of(card, "fields.visits")]
    calls = [rule.label for rule in bins_of(card, "fields.campaign")]
    ages = [rule.label for rule in bins_of(card, "fields.age")]
    assert len(visits) >= 2 and len(calls) >= 2 and len(ages) >= 2, (visits, calls, ages)
    assert re.fullmatch(r"\d+\+ visits", visits[-1])  # the unit read from the field's name
    assert all(re.fullmatch(r"\d+(–\d+)? visits?", label) for label in visits[:-1]), visits
    assert re.fullmatch(r"\d+\+ calls this campaign", calls[-1])  # the unit from learn.units
    assert re.fullmatch(r"Age \d+\+", ages[-1])  # no unit: the field's name first
    assert all(re.fullmatch(r"Age \d+(–\d+)?", label) for label in ages[:-1]), ages


def test_a_leads_bin_points_rise_with_the_value_and_each_bin_holds_its_own_leads(
    card: Scorecard, numeric: LabelledLeads
) -> None:
    for path in ("fields.visits", "fields.campaign", "fields.age"):
        points = [rule.points for rule in bins_of(card, path)]
        assert points == sorted(points) and points[0] > 0, (path, points)
    scored = score_as_of_cutoffs(numeric, card.model)
    names = [rule.id for rule in card.model.fit.rules]
    visit_bins = [names.index(rule.id) for rule in bins_of(card, "fields.visits")]
    matched = scored.contributions[:, visit_bins] != 0
    assert matched.sum(axis=1).max() == 1  # a lead is in one bin of a field at most


def test_no_proposed_rule_matches_nearly_every_lead_or_nearly_none(
    card: Scorecard, numeric: LabelledLeads
) -> None:
    for rule in card.model.fit.rules:
        if rule.id == "base":  # the base points: never a lead's reason
            continue
        share = card.evidence[rule.id].leads / len(numeric)
        assert 0.005 <= share <= 0.99, (rule.label, share)


def test_a_learned_leads_score_is_the_sum_of_its_points_on_one_0_to_100_scale() -> None:
    labelled = synthetic_leads()
    card = propose(Learner(labelled, HAND_MODEL), None)
    model = card.model
    assert model.engagement.rules and model.score.engagement_weight > 0
    assert model.fit.max + model.engagement.max == 100
    assert (model.score.fit_weight, model.score.engagement_weight) == (
        model.fit.max, model.engagement.max)  # fmt: skip
    scored = score_as_of_cutoffs(labelled, model)
    assert np.array_equal(scored.score, np.rint(scored.fit + scored.engagement))
    assert all(float(rule.points).is_integer() for rule in model.fit.rules)


def test_each_rule_shows_how_stable_it_was_across_the_folds_in_the_diff_and_the_file() -> None:
    labelled = synthetic_leads()
    learner = Learner(labelled, HAND_MODEL)
    folds = estimate(learner, None, 5, None).fold_points
    card = propose_stable(learner, None, folds)
    gold = card.stability["gold"]
    assert gold.stable and gold.text.startswith("5/5 folds, points ")
    changes = {change.what: change for change in compare(HAND_MODEL, card)}
    assert changes["fit rule gold"].stability == gold.text
    assert f"; {gold.text}\n    - {{id: gold, " in render_yaml(card)


def test_a_rule_the_folds_disagree_on_is_left_out_and_listed_with_its_stability() -> None:
    labelled = synthetic_leads()
    learner = Learner(labelled, HAND_MODEL)
    everywhere = propose(learner, None).feature_points
    assert {"gold", "tier_bronze", "demo"} <= set(everywhere)
    bronze_in_three = [
        {k: v for k, v in everywhere.items() if k != "tier_bronze" or fold < 3}
        for fold in range(5)
    ]
    folds = [{**fold, "gold": -4.0} if index == 0 else fold
             for index, fold in enumerate(bronze_in_three)]  # fmt: skip
    card = propose_stable(learner, None, folds)
    rules = [rule.id for rule in card.model.fit.rules]
    assert "tier_bronze" not in rules and "gold" not in rules
    label, bronze = card.unstable["tier_bronze"]
    assert (label, bronze.agreeing, bronze.folds) == ("Tier is bronze", 3, 5)
    assert bronze.text.startswith("3/5 folds, points -")
    gold = {change.what: change for change in compare(HAND_MODEL, card)}["fit rule gold"]
    assert gold.kind == "removed"
    assert gold.why.startswith(
        "not stable across the cross-validation folds: 4/5 folds, points -4 to +")
    assert gold.why.endswith("(sign flips)") and gold.stability in gold.why
    assert card.stability["demo"].text == f"5/5 folds, points {everywhere['demo']:g}"


def test_stability_reads_as_folds_and_a_range_of_points() -> None:
    assert Stability(5, 0, 5, 12, 15).text == "5/5 folds, points 12–15"
    assert Stability(4, 0, 5, -9, -6).text == "4/5 folds, points -9 to -6"
    assert Stability(4, 0, 5, -9, -6).stable and not Stability(3, 0, 5, 2, 3).stable
    flipping = Stability(4, 1, 5, -2, 5)
    assert flipping.text == "4/5 folds, points -2 to +5 (sign flips)" and not flipping.stable
