"""What a RevOps admin reads in a proposal: numeric bins named with their units, a count's points
that rise (or fall) with it while other numbers keep their shape, values weighed against the most
common one, a score that is the sum of the rule points on one 0–100 scale, and only rules the
cross-validation folds agree on, each with its stability."""

from __future__ import annotations

import re

import numpy as np
import pytest
from builders import NOW, make_lead
from learn_data import HAND_MODEL, synthetic_leads, with_fields

from scoring.backtest import LabelledLeads, score_as_of_cutoffs, time_ordered_split
from scoring.conditions import AllOf, FieldTest
from scoring.config import FitRule
from scoring.conversion_measures import roc_auc
from scoring.crossvalidation import estimate
from scoring.learn import Learner
from scoring.proposal_diff import compare
from scoring.proposal_yaml import render_yaml
from scoring.qualify import score_batch
from scoring.scorecard import Scorecard, propose
from scoring.stability import Stability
from scoring.stable_proposal import propose_stable, stable_proposal


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
    card = propose_stable(learner, None)
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
    card = stable_proposal(learner, None, np.arange(len(labelled)), lambda features: folds)
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


def shaped(rng: np.random.Generator, converted: bool) -> dict[str, str]:
    """The young and the old convert most (an age shaped like a U); so do leads called once or
    seven times or more, with few between (calls, a count, zigzag)."""
    ends = converted and rng.random() < 0.7
    age = rng.choice([rng.normal(22, 2), rng.normal(66, 3)]) if ends else rng.normal(44, 7)
    calls = rng.choice([1, rng.integers(7, 12)]) if ends else rng.integers(1, 12)
    return {"age": str(int(age)), "calls": str(int(calls))}


def test_an_age_keeps_the_shape_its_leads_show_while_a_count_only_rises_or_falls() -> None:
    labelled = with_fields(synthetic_leads(), 29, shaped)
    card = propose(Learner(labelled, HAND_MODEL), None)
    ages = [rule.points for rule in bins_of(card, "fields.age")]
    calls = [rule.points for rule in bins_of(card, "fields.calls")]
    # below the lowest age bin (the youngest) a lead gets no points: the middle ages are worth
    # less than both ends, as the leads say (an age counts nothing: nothing forces it one way)
    assert min(ages) < 0 and min(ages) < ages[-1], ages
    assert calls in (sorted(calls), sorted(calls, reverse=True)), calls  # more calls: one way


def plans(rng: np.random.Generator, converted: bool) -> dict[str, str]:
    """Premium converts, trial does not, standard (most leads) in between; legacy is rare."""
    roll = rng.random()
    premium, trial = (0.45, 0.05) if converted else (0.15, 0.30)
    plan = "legacy" if roll < 0.004 else "premium" if roll < premium else (
        "trial" if roll < premium + trial else "standard"
    )
    return {"plan": plan}


def test_a_value_without_a_rule_of_its_own_scores_like_the_most_common_not_the_weakest() -> None:
    labelled = with_fields(synthetic_leads(), 31, plans)
    card = propose(Learner(labelled, HAND_MODEL), None)
    plan_rules = {
        rule.when.value: rule.points  # type: ignore[union-attr]
        for rule in card.model.fit.rules
        if isinstance(rule.when, FieldTest) and rule.when.field == "fields.plan"
    }
    assert set(plan_rules) == {"premium", "trial"}, plan_rules  # standard is the reference
    assert plan_rules["premium"] > 0 > plan_rules["trial"]
    # so a rare plan (legacy) or one no lead had yet (enterprise) scores as standard does
    leads = [make_lead(plan, fields={"tier": "silver", "colour": "blue", "plan": plan})
             for plan in ("standard", "legacy", "enterprise", "trial")]  # fmt: skip
    fits = score_batch(leads, [], card.model, NOW).fit.tolist()
    assert fits[0] == fits[1] == fits[2] > fits[3], fits


def june(rng: np.random.Generator, converted: bool) -> dict[str, str]:
    """June converts most; a price index set monthly is 96 in June only, 90–92.5 otherwise."""
    month = rng.choice(["may", "jun", "jul", "aug"], p=[0.2, 0.4, 0.2, 0.2] if converted
                       else [0.3, 0.1, 0.3, 0.3])  # fmt: skip
    index = 96.0 if month == "jun" else round(float(rng.uniform(90, 92.5)), 2)
    return {"month": str(month), "price_index": f"{index}"}


def test_a_threshold_is_kept_over_a_value_that_matches_the_same_leads() -> None:
    labelled = with_fields(synthetic_leads(), 37, june)
    card = propose(Learner(labelled, HAND_MODEL), None)
    labels = [rule.label for rule in card.model.fit.rules]
    assert "Price index 96+" in labels  # it also ranks an index no lead learned from had
    assert "Month is jun" not in labels, labels


def rating(rng: np.random.Generator, converted: bool) -> dict[str, str]:
    """A rating from 1 to 5 (five values) that rises with conversion."""
    return {"rating": str(int(np.clip(rng.normal(3.6 if converted else 2.4, 1.0), 1, 5)))}


def test_a_number_with_a_handful_of_values_is_learned_as_bins_not_as_values() -> None:
    labelled = with_fields(synthetic_leads(), 41, rating)
    card = propose(Learner(labelled, HAND_MODEL), None)
    labels = [rule.label for rule in bins_of(card, "fields.rating")]
    assert labels and labels[-1].startswith("Rating ") and labels[-1].endswith("+"), labels
    assert not [rule for rule in card.model.fit.rules if rule.label.startswith("Rating is")]


def test_a_rule_of_the_model_too_few_leads_match_is_proposed_for_removal() -> None:
    labelled = with_fields(synthetic_leads(), 43,
                           lambda rng, converted: {"badge": "vip" if rng.random() < 0.004 else ""})
    model = HAND_MODEL.model_copy(deep=True)
    model.fit.rules.append(FitRule(id="vip", label="VIP badge", points=40,
                                   when=FieldTest(field="fields.badge", value="vip")))
    card = propose(Learner(labelled, model), None)  # fmt: skip
    matched = card.evidence["vip"].leads
    assert "vip" not in {rule.id for rule in card.model.fit.rules}
    assert card.removed["vip"] == (
        f"only {matched} of the leads learned from match it ({matched / len(labelled):.1%}): "
        "too few to weigh its points"
    )
    assert 0 < matched < 0.005 * len(labelled)


def test_the_figures_measure_the_proposal_as_written_its_stability_filter_included() -> None:
    regions = ["north", "south", "east", "west", "centre"]  # noise: some regions come and go
    labelled = with_fields(synthetic_leads(), 5,
                           lambda rng, converted: {"region": str(rng.choice(regions))})
    learner = Learner(labelled, HAND_MODEL)
    earlier, later = time_ordered_split(labelled, 0.2)
    as_written = propose_stable(learner, None, earlier)
    unfiltered = propose(learner, None, earlier)
    left_out = {r.id for r in unfiltered.model.fit.rules} - {
        r.id for r in as_written.model.fit.rules}  # fmt: skip
    assert left_out and set(as_written.unstable) == left_out  # the filter took rules out
    latest = labelled.subset(later)
    auc = roc_auc(latest.converted, score_as_of_cutoffs(latest, as_written.model).score)
    estimated = estimate(learner, None, 5, 0.2)
    assert estimated.latest is not None and estimated.latest.auc == auc
