"""Learn with counts on the lead (visits, page views): numbers the model says are activity are
proposed as count rules on the engagement axis, not as fit rules, and the model's own count rules
are re-weighted as a whole."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from builders import NOW, make_lead, model_from

from connectors.records import Outcome
from scoring.backtest import LabelledLeads, labelled_from_records, score_as_of_cutoffs
from scoring.conditions import FieldTest, walk
from scoring.engagement_config import (
    CountRule,
)
from scoring.learn import Learner
from scoring.loading import parse_model
from scoring.proposal_diff import compare
from scoring.proposal_yaml import render_yaml
from scoring.scorecard import propose

FIT = """
fit:
  rules:
    - {id: gold, label: Gold tier, when: {field: fields.tier, op: eq, value: gold}, points: 10}
stages:
  - {stage: mql, label: Gold, when: {field: fit, op: gte, value: 10}}
"""


def leads_with_visits(size: int = 2000, seed: int = 5) -> LabelledLeads:
    """Conversion rises with the gold tier and with site visits (a count on the lead)."""
    rng = np.random.default_rng(seed)
    gold = rng.random(size) < 0.3
    visits = rng.poisson(rng.choice([0.3, 6.0], size=size, p=[0.6, 0.4]))
    logit = -2.4 + 1.2 * gold + 0.25 * np.minimum(visits, 10)
    converted = rng.random(size) < 1 / (1 + np.exp(-logit))
    leads = [
        make_lead(
            f"L{i}",
            created_at=NOW - timedelta(days=200 - i * 200 / size),
            fields={
                "tier": "gold" if gold[i] else "silver",
                "visits": str(visits[i]),
                "logins": "1",  # the same for every lead: says nothing
            },
        )
        for i in range(size)
    ]
    outcomes = [Outcome(lead_id=f"L{i}", converted=bool(converted[i])) for i in range(size)]
    return labelled_from_records(leads, [], outcomes, NOW)


@pytest.fixture(scope="module")
def labelled() -> LabelledLeads:
    return leads_with_visits()


def reads(rule, path: str) -> bool:
    return any(isinstance(leaf, FieldTest) and leaf.field == path for leaf in walk(rule.when))


def test_a_count_named_as_engagement_is_proposed_as_a_count_rule_not_a_fit_rule(
    labelled: LabelledLeads,
) -> None:
    model = model_from(FIT + "learn: {engagement_fields: [fields.visits]}\n")
    card = propose(Learner(labelled, model), None)
    [visits] = card.model.engagement.count_rules
    assert (visits.field, visits.points_per is not None and visits.points_per > 0) == (
        "fields.visits",
        True,
    )
    assert (visits.unit, visits.units) == ("visit", "visits")  # read from the field's name
    assert not any(reads(rule, "fields.visits") for rule in card.model.fit.rules)
    assert card.model.score.engagement_weight > 0
    scored = score_as_of_cutoffs(labelled, card.model)
    assert len({label[-1] for label in scored.label.tolist()}) > 1  # not every label ends in 4
    assert parse_model(render_yaml(card, ["test"])).engagement.rules == card.model.engagement.rules


def test_without_the_hint_a_count_stays_a_fit_candidate(labelled: LabelledLeads) -> None:
    card = propose(Learner(labelled, model_from(FIT)), None)
    assert card.model.engagement.count_rules == []
    assert any(reads(rule, "fields.visits") for rule in card.model.fit.rules)


def test_a_count_rule_of_the_model_is_reweighted_as_a_whole_and_the_diff_shows_it(
    labelled: LabelledLeads,
) -> None:
    model = model_from(
        FIT
        + "engagement:\n  rules:\n"
        + "    - {id: visits, label: Site visits, field: fields.visits, points_per: 2, "
        + "unit: visit, cap: 20}\n"
    )
    card = propose(Learner(labelled, model), None)
    [visits] = card.model.engagement.count_rules
    assert isinstance(visits, CountRule) and visits.unit == "visit"
    assert visits.cap is not None and visits.points_per is not None
    assert visits.cap / visits.points_per == pytest.approx(10, rel=0.01)  # still capped at 10
    change = next(c for c in compare(model, card) if c.what == "engagement rule visits")
    assert change.before == "+2 per visit, at most 20"
    assert change.after == visits.points_text


def test_a_count_every_lead_has_alike_is_no_candidate(labelled: LabelledLeads) -> None:
    model = model_from(FIT + "learn: {engagement_fields: [fields.visits, fields.logins]}\n")
    card = propose(Learner(labelled, model), None)
    assert [rule.field for rule in card.model.engagement.count_rules] == ["fields.visits"]
