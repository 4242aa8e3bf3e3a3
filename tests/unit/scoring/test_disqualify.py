"""Disqualify and rep dispositions: a competitor that qualified is disqualified, not recycled,
and a rep's rejection of a handed-off lead is an outcome that did not convert."""

from __future__ import annotations

from datetime import timedelta

import pytest
from builders import NOW, activity, make_lead, model_from

from connectors.hubspot import HubSpotConnector
from connectors.records import Outcome
from connectors.salesforce import SalesforceConnector
from scoring.config import Lifecycle
from scoring.dispositions import (
    acceptance,
    acceptance_by,
    disposition,
    rejected_leads,
    rejections,
)
from scoring.loading import ModelFileError
from scoring.qualify import score
from sync.plan import Planner, Result

STAGES = """
fit:
  rules: [{id: any, label: Anyone, when: {field: email, op: exists}, points: 90}]
stages: [{stage: mql, label: Demo request, when: {activity: demo_request, within_days: 30}}]
"""
DISQUALIFY = """
disqualify:
  - {id: competitor, label: Competitor domain, when: {field: email_domain, op: in,
     value: [acme.com]}}
  - {id: student, label: Student, when: {field: title, op: matches, value: student}}
"""
MODEL = model_from(STAGES + DISQUALIFY)
COMPETITOR = make_lead(email="jo@acme.com", lifecycle_stage="lead", lead_status="NEW")


def planned(crm: str, lead, result: Result) -> dict[str, tuple[object, str]]:
    namer = HubSpotConnector.field_name if crm == "hubspot" else SalesforceConnector.field_name
    plan = Planner(MODEL, crm, field_name=namer).plan(lead, result, NOW)  # type: ignore[arg-type]
    return {change.field: (change.after, change.why) for change in plan.changes}


def result_of(lead) -> Result:
    qualification = score(lead, [activity("demo_request", 2)], MODEL, NOW)
    return Result(
        score=qualification.score, fit=qualification.fit, engagement=qualification.engagement,
        grade=qualification.grade, label=qualification.label, priority=qualification.priority,
        stage=qualification.stage, reasons=qualification.reasons_text,
        model_version=qualification.model_version, stage_reason=qualification.stage_reason,
        disqualified=qualification.disqualified,
    )


def test_a_competitor_who_asks_for_a_demo_is_disqualified_and_says_why() -> None:
    qualification = score(COMPETITOR, [activity("demo_request", 2)], MODEL, NOW)
    assert qualification.stage == "lead"
    assert qualification.disqualified == "competitor"
    assert qualification.reasons_text.startswith("Disqualified: Competitor domain (acme.com)")
    assert not qualification.hand_raiser


def test_the_same_lead_from_a_customer_domain_qualifies() -> None:
    lead = make_lead(email="jo@buyer.com")
    qualification = score(lead, [activity("demo_request", 2)], MODEL, NOW)
    assert (qualification.stage, qualification.disqualified) == ("mql", None)


def test_the_first_matching_rule_gives_the_reason() -> None:
    lead = make_lead(email="jo@acme.com", title="Student")
    assert score(lead, [], MODEL, NOW).disqualified == "competitor"
    lead = make_lead(email="jo@uni.edu", title="PhD student")
    assert score(lead, [], MODEL, NOW).reasons_text.startswith("Disqualified: Student (phd student)")


def test_hubspot_gets_unqualified_not_bad_timing_for_a_qualified_competitor() -> None:
    lead = make_lead(email="jo@acme.com", lifecycle_stage="marketingqualifiedlead",
                     lead_status="NEW")
    changes = planned("hubspot", lead, result_of(lead))
    assert changes["hs_lead_status"] == (
        "UNQUALIFIED", "Disqualified: Competitor domain (acme.com)"
    )
    assert "lifecyclestage" not in changes


def test_salesforce_gets_closed_not_converted_not_nurture() -> None:
    lead = make_lead(email="jo@acme.com", lead_status="Marketing Qualified")
    changes = planned("salesforce", lead, result_of(lead))
    assert changes["Status"][0] == "Closed - Not Converted"


def test_a_status_a_rep_set_is_never_overwritten_by_disqualifying() -> None:
    lead = make_lead(email="jo@acme.com", lifecycle_stage="marketingqualifiedlead",
                     lead_status="CONNECTED")
    assert "hs_lead_status" not in planned("hubspot", lead, result_of(lead))


def test_models_without_disqualify_rules_keep_their_version() -> None:
    plain = model_from(STAGES)
    mapped = model_from(STAGES + """
lifecycle:
  hubspot:
    stage_field: lifecyclestage
    stage_values: {lead: lead, mql: marketingqualifiedlead}
    stage_order: [lead, marketingqualifiedlead]
    dispositions: {rejected: [UNQUALIFIED, JUNK]}
""")
    assert plain.version != MODEL.version
    assert model_from(STAGES + "disqualify: []\n").version == plain.version
    assert mapped.model_dump()["lifecycle"]["hubspot"]["dispositions"]["rejected"][1] == "JUNK"


def test_a_status_in_two_verdicts_is_refused() -> None:


    with pytest.raises(ModelFileError, match="both accepted and rejected"):
        model_from("""
lifecycle:
  hubspot:
    stage_field: lifecyclestage
    stage_values: {lead: lead}
    stage_order: [lead]
    dispositions: {accepted: [OPEN], rejected: [OPEN]}
""")


HUBSPOT = Lifecycle().hubspot
SALESFORCE = Lifecycle().salesforce


def test_rep_statuses_read_as_verdicts_on_each_crm() -> None:
    assert disposition(HUBSPOT, make_lead(lead_status="UNQUALIFIED")) == "rejected"
    assert disposition(HUBSPOT, make_lead(lead_status="CONNECTED")) == "accepted"
    assert disposition(HUBSPOT, make_lead(lead_status="BAD_TIMING")) == "undecided"
    assert disposition(HUBSPOT, make_lead(lifecycle_stage="opportunity")) == "accepted"
    assert disposition(SALESFORCE, make_lead(lead_status="Closed - Not Converted")) == "rejected"
    assert disposition(SALESFORCE, make_lead(lead_status="Nurture")) == "undecided"
    assert acceptance("no_response") == "rejected"


def test_a_mapped_not_a_fit_status_is_a_negative_outcome_dated_when_set() -> None:
    model = model_from("""
lifecycle:
  hubspot:
    stage_field: lifecyclestage
    stage_values: {lead: lead, mql: marketingqualifiedlead}
    stage_order: [lead, marketingqualifiedlead]
    status_field: hs_lead_status
    dispositions: {not_a_fit: [WRONG_BUYER], no_response: [GHOSTED]}
""")
    set_at = NOW - timedelta(days=3)
    leads = [
        make_lead("L1", lead_status="WRONG_BUYER", updated_at=set_at),
        make_lead("L2", lead_status="GHOSTED", updated_at=set_at),
        make_lead("L3", lead_status="NEW", updated_at=set_at),
        make_lead("L4", lead_status="WRONG_BUYER", updated_at=set_at),
    ]
    won = [Outcome(lead_id="L4", converted=True, at=NOW)]
    rejected = rejections(rejected_leads(model, "hubspot", leads, won, NOW), {})
    assert [(o.lead_id, o.converted, o.at) for o in rejected.outcomes] == [
        ("L1", False, set_at), ("L2", False, set_at)
    ]
    assert rejected.by_last_change == 2


def test_a_rejection_is_dated_when_the_status_history_says_it_was_set() -> None:
    rejected_at, edited_at = NOW - timedelta(days=9), NOW - timedelta(days=2)
    leads = [make_lead("L1", lead_status="UNQUALIFIED", updated_at=edited_at),
             make_lead("L2", lead_status="UNQUALIFIED", updated_at=edited_at)]
    rejected = rejections(rejected_leads(MODEL, "hubspot", leads, [], NOW), {"L1": rejected_at})
    assert [(o.lead_id, o.at) for o in rejected.outcomes] == [
        ("L1", rejected_at), ("L2", edited_at)]
    assert rejected.by_last_change == 1


def test_leads_leadq_disqualified_are_no_reps_rejection() -> None:
    leads = [make_lead("L1", email="jo@acme.com", lead_status="UNQUALIFIED"),
             make_lead("L2", email="al@buyer.com", lead_status="UNQUALIFIED")]
    assert [lead.id for lead in rejected_leads(MODEL, "hubspot", leads, [], NOW)] == ["L2"]


def test_a_rejection_replaces_an_undated_not_converted_outcome() -> None:
    set_at = NOW - timedelta(days=1)
    leads = [make_lead("L1", lead_status="UNQUALIFIED", updated_at=set_at)]
    undated = [Outcome(lead_id="L1", converted=False)]
    rejected = rejections(rejected_leads(MODEL, "hubspot", leads, undated, NOW), {})
    assert [(o.lead_id, o.at) for o in rejected.outcomes] == [("L1", set_at)]


def test_acceptance_counts_each_grade_over_the_leads_reps_decided_on() -> None:
    leads = [
        make_lead("L1", lead_status="CONNECTED", fields={"leadq_grade": "A"}),
        make_lead("L2", lead_status="UNQUALIFIED", fields={"leadq_grade": "A"}),
        make_lead("L3", lead_status="NEW", fields={"leadq_grade": "A"}),
        make_lead("L4", lead_status="UNQUALIFIED", fields={"leadq_grade": "C"}),
    ]
    rows = acceptance_by(HUBSPOT, leads, lambda lead: lead.fields.get("leadq_grade"))
    assert [(r.name, r.decided, r.accepted, r.rejected, r.acceptance) for r in rows] == [
        ("A", 2, 1, 1, 0.5), ("C", 1, 0, 1, 0.0)
    ]
