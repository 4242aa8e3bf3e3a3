"""Recency weighting: when buyers' behaviour drifts, learn can weigh recent leads more."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from builders import NOW, make_lead, model_from
from learn_data import HAND_MODEL

from connectors.records import Outcome
from scoring.backtest import LabelledLeads, labelled_from_records, score_as_of_cutoffs
from scoring.learn import Learner, LearnSettings
from scoring.loading import ModelFileError
from scoring.recency import recency_weights
from scoring.scorecard import propose

CHANNEL_MODEL = model_from(
    """
    fit:
      rules:
        - {id: anyone, label: Anyone, when: {field: fields.region, op: eq, value: north}, points: 1}
    """
)


def test_a_lead_counts_half_for_each_half_life_of_newer_leads() -> None:
    created = np.arange(100.0)[::-1]  # the file lists the newest lead first
    weight = recency_weights(created, 0.1)
    assert weight is not None
    assert weight[0] == pytest.approx(2 * weight[10])  # 10% of the leads are newer than it
    assert weight[0] == pytest.approx(4 * weight[20])
    assert weight.mean() == pytest.approx(1.0)


def test_without_a_half_life_every_lead_counts_alike() -> None:
    assert recency_weights(np.arange(10.0), None) is None


def drifting_leads(size: int = 3000, seed: int = 5) -> LabelledLeads:
    """Webinar leads converted less than cold calls for most of the history; in the latest 20%
    it turned around (the market moved)."""
    rng = np.random.default_rng(seed)
    leads, outcomes = [], []
    for i in range(size):
        recent = i >= 0.8 * size
        channel = str(rng.choice(["webinar", "cold call"]))
        rate = {("webinar", False): 0.08, ("cold call", False): 0.2,
                ("webinar", True): 0.45, ("cold call", True): 0.08}[(channel, recent)]
        created = NOW - timedelta(days=size - i)
        fields = {"channel": channel, "region": str(rng.choice(["north", "south"]))}
        leads.append(make_lead(f"L{i}", created_at=created, fields=fields))
        outcomes.append(Outcome(lead_id=f"L{i}", converted=bool(rng.random() < rate)))
    return labelled_from_records(leads, [], outcomes, NOW)


def webinar_lead_gap(labelled: LabelledLeads, settings: LearnSettings) -> float:
    """How many points the proposal gives a webinar lead more than a cold call."""
    card = propose(Learner(labelled, CHANNEL_MODEL, settings), None)
    scores = score_as_of_cutoffs(labelled, card.model).score
    webinar = np.array([lead.fields["channel"] == "webinar" for lead in labelled.leads])
    return float(scores[webinar].mean() - scores[~webinar].mean())


def test_learn_follows_the_latest_behaviour_when_recent_leads_weigh_more() -> None:
    labelled = drifting_leads()
    assert webinar_lead_gap(labelled, LearnSettings()) < 0  # the history as a whole
    assert webinar_lead_gap(labelled, LearnSettings(recency_half_life=0.05)) > 0  # the latest


def test_the_models_recency_half_life_applies_unless_the_command_line_names_one() -> None:
    model = HAND_MODEL.model_copy(
        update={"learn": HAND_MODEL.learn.model_copy(update={"recency_half_life": 0.1})}
    )
    assert LearnSettings().keeping(model).recency_half_life == 0.1
    assert LearnSettings(recency_half_life=0.2).keeping(model).recency_half_life == 0.2


def test_a_recency_half_life_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ModelFileError) as refused:
        model_from("learn: {recency_half_life: 2}")
    assert "scoring.yaml:2 learn.recency_half_life: must be below 1" in str(refused.value)
