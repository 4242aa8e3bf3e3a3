"""The handoff side of leak checks: a field that the leads handed to sales mostly got after the
handoff — converted or not — was filled in by sales and is flagged with that evidence; a field
set before the handoff is not."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import numpy as np
from builders import NOW, make_lead, model_from

from connectors.records import Outcome
from scoring.backtest import LabelledLeads, labelled_from_records
from scoring.config import HUBSPOT_LIFECYCLE, SALESFORCE_LIFECYCLE
from scoring.leaks import DatedValues, handoff_stages
from scoring.learn import Learner, LearnSettings

MODEL = model_from("""
fit:
  rules:
    - {id: senior, label: Senior title, when: {field: title, op: matches, value: VP}, points: 20}
""")
DAY = 86_400.0


def handed_off_leads(timeline: Callable[[np.random.Generator, bool], str]) -> LabelledLeads:
    """2,000 leads, a third senior (who convert more); every other lead handed to sales, each
    with a `timeline` value; conversions dated a day before the end."""
    rng = np.random.default_rng(5)
    leads, outcomes = [], []
    for number in range(2000):
        senior = rng.random() < 0.33
        converted = bool(rng.random() < (0.35 if senior else 0.1))
        lead = make_lead(f"L{number}", title="VP Sales" if senior else "Analyst",
                         created_at=NOW - timedelta(days=60),
                         fields={"timeline": timeline(rng, converted)})
        leads.append(lead)
        outcomes.append(Outcome(lead_id=lead.id, converted=converted,
                                at=NOW - timedelta(days=1) if converted else None))
    return labelled_from_records(leads, [], outcomes, NOW)


def timeline_value(rng: np.random.Generator, converted: bool) -> str:
    """A rep's note of when the buyer means to buy: mostly soon for those who went on to buy."""
    if rng.random() < (0.5 if converted else 0.25):
        return "This quarter"
    return str(rng.choice(["Next quarter", "Later"]))


def dates(labelled: LabelledLeads, after_handoff: bool) -> dict[str, DatedValues]:
    """Every other lead handed off 20 days before the end; the field first set two days after
    that (`after_handoff`) or when the lead was created, and never after a conversion."""
    count = len(labelled)
    handed = np.where(np.arange(count) % 2 == 0, NOW.timestamp() - 20 * DAY, np.nan)
    created = np.array([lead.created_at.timestamp() for lead in labelled.leads])
    first = np.where(after_handoff & ~np.isnan(handed), handed + 2 * DAY, created)
    return {"fields.timeline": DatedValues(first, first, handed)}


def test_a_field_sales_fill_in_after_the_handoff_is_flagged_with_that_evidence() -> None:
    labelled = handed_off_leads(timeline_value)
    learner = Learner(labelled, MODEL)
    (suspect,) = learner.find_leaks(dates(labelled, after_handoff=True))
    assert suspect.source == "fields.timeline" and not suspect.kept
    assert suspect.reason.startswith(
        "set after handoff for 100% of handed-off leads (1,000 of 1,000 with a dated first "
        "value); alone it ranks conversions with ROC AUC 0.")
    assert "fields.timeline" in learner.excluded
    kept = Learner(labelled, MODEL, LearnSettings(keep=("fields.timeline",)))
    (suspect,) = kept.find_leaks(dates(labelled, after_handoff=True))
    assert suspect.kept and "fields.timeline" not in kept.excluded


def test_the_same_field_set_before_the_handoff_is_not_flagged() -> None:
    labelled = handed_off_leads(timeline_value)
    assert Learner(labelled, MODEL).find_leaks(dates(labelled, after_handoff=False)) == []


def test_a_handoff_is_the_stage_reaching_mql_or_later_but_not_a_status_leadq_sets_itself() -> None:
    assert handoff_stages(HUBSPOT_LIFECYCLE) == [
        "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist"]
    assert handoff_stages(SALESFORCE_LIFECYCLE) == [
        "Marketing Qualified", "Working - Contacted", "Closed - Converted"]
