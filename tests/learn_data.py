"""Labelled leads to learn from, with a known truth: shared by the learn and scorecard tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import numpy as np
from builders import NOW, activity, make_lead, model_from

from connectors.records import Outcome
from scoring.backtest import LabelledLeads, labelled_from_records

HAND_MODEL = model_from(
    """
    fit:
      rules:
        - {id: gold, label: Gold tier, when: {field: fields.tier, op: eq, value: gold}, points: 10}
        - {id: red, label: Likes red, when: {field: fields.colour, op: eq, value: red}, points: 30}
    engagement:
      decay: {half_life_days: 30}
      rules:
        - {id: demo, label: Requested a demo, activity: demo_request, points: 10, once: true}
    stages:
      - {stage: mql, label: Gold, when: {field: fit, op: gte, value: 10}}
    """
)


def synthetic_leads(size: int = 2000, seed: int = 3, leak: bool = False) -> LabelledLeads:
    """Conversion rises with the gold tier and a recent demo, falls with bronze; colour is noise."""
    rng = np.random.default_rng(seed)
    tiers = rng.choice(["gold", "silver", "bronze"], size=size, p=[0.2, 0.5, 0.3])
    colours = rng.choice(["red", "blue", "green"], size=size)
    demo = rng.random(size) < 0.25
    logit = -2.2 + 1.6 * (tiers == "gold") - 1.2 * (tiers == "bronze") + 1.5 * demo
    converted = rng.random(size) < 1 / (1 + np.exp(-logit))
    leads, activities, outcomes = [], [], []
    for i in range(size):
        fields = {"tier": str(tiers[i]), "colour": str(colours[i])}
        if leak:
            fields["deal_stage"] = "won" if converted[i] else str(rng.choice(["open", "lost"]))
        created = NOW - timedelta(days=200 - i * 200 / size)
        leads.append(make_lead(f"L{i}", created_at=created, fields=fields))
        if demo[i]:
            activities.append(activity("demo_request", 3, f"L{i}"))
        outcomes.append(Outcome(lead_id=f"L{i}", converted=bool(converted[i])))
    return labelled_from_records(leads, activities, outcomes, NOW)



def with_fields(base: LabelledLeads, seed: int, make: Callable[..., dict[str, str]]) -> (
    LabelledLeads
):
    """`base` with fields `make(rng, converted)` added to each lead."""
    rng = np.random.default_rng(seed)
    leads = [
        lead.model_copy(update={"fields": {**lead.fields, **make(rng, bool(converted))}})
        for lead, converted in zip(base.leads, base.converted, strict=True)
    ]
    outcomes = [Outcome(lead_id=lead.id, converted=bool(c))
                for lead, c in zip(leads, base.converted, strict=True)]
    return labelled_from_records(leads, [], outcomes, NOW)
