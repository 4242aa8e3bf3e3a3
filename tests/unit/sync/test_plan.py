"""Planning CRM writes: diffs, thresholds, forward-only stages, recycling, owners."""

from __future__ import annotations

from dataclasses import replace

from builders import NOW, make_lead, model_from

from connectors.hubspot import HubSpotConnector
from connectors.salesforce import SalesforceConnector
from scoring.routing import RoutingDecision
from sync.plan import Planner, Result

MODEL = model_from("stages: [{stage: mql, when: {field: score, op: gte, value: 50}}]\n")
HUBSPOT = Planner(MODEL, "hubspot", min_score_change=3, field_name=HubSpotConnector.field_name)
SALESFORCE = Planner(
    MODEL, "salesforce", min_score_change=3, field_name=SalesforceConnector.field_name
)
RESULT = Result(
    score=62,
    fit=70,
    engagement=54,
    grade="B",
    label="B2",
    priority=3,
    stage="mql",
    reasons="Demo (+40)",
    model_version=MODEL.version,
)
WRITTEN = {
    "leadq_score": "62",
    "leadq_fit": "70",
    "leadq_engagement": "54",
    "leadq_grade": "B",
    "leadq_label": "B2",
    "leadq_reasons": "Demo (+40)",
    "leadq_model_version": MODEL.version,
    "lifecyclestage": "marketingqualifiedlead",
    "hs_lead_status": "NEW",
}


def fields_of(plan) -> dict[str, object]:
    return {change.field: change.after for change in plan.changes}


def test_salesforce_custom_fields_get_their_api_names() -> None:
    assert SALESFORCE.fields["score"] == "leadq_Score__c"
    assert SALESFORCE.fields["model_version"] == "leadq_Model_Version__c"
    assert SalesforceConnector.field_name("My_Field__c") == "My_Field__c"
    assert HUBSPOT.fields["score"] == "leadq_score"


def test_a_new_lead_gets_every_output_its_stage_and_a_scored_time() -> None:
    plan = HUBSPOT.plan(make_lead(lifecycle_stage="lead"), RESULT, NOW)
    assert fields_of(plan) == {
        "leadq_score": 62,
        "leadq_fit": 70,
        "leadq_engagement": 54,
        "leadq_grade": "B",
        "leadq_label": "B2",
        "leadq_reasons": "Demo (+40)",
        "leadq_model_version": MODEL.version,
        "lifecyclestage": "marketingqualifiedlead",
        "leadq_scored_at": NOW.isoformat(),
    }


def test_nothing_changed_means_no_write() -> None:
    plan = HUBSPOT.plan(make_lead(fields=WRITTEN), RESULT, NOW)
    assert plan.changes == []
    assert plan.update("contact") is None


def test_a_small_score_move_is_not_written_but_a_large_one_is() -> None:
    small = replace(RESULT, score=64, engagement=56, reasons="Demo (+38)")
    assert HUBSPOT.plan(make_lead(fields=WRITTEN), small, NOW).changes == []
    large = replace(RESULT, score=65)
    assert fields_of(HUBSPOT.plan(make_lead(fields=WRITTEN), large, NOW))["leadq_score"] == 65


def test_a_grade_change_is_written_even_with_a_small_score_move() -> None:
    plan = HUBSPOT.plan(make_lead(fields=WRITTEN), replace(RESULT, score=61, grade="C"), NOW)
    assert {"leadq_grade", "leadq_score", "leadq_scored_at"} <= set(fields_of(plan))


def test_a_new_model_version_rewrites_the_scores() -> None:
    plan = HUBSPOT.plan(make_lead(fields=WRITTEN), replace(RESULT, model_version="new"), NOW)
    assert fields_of(plan)["leadq_model_version"] == "new"


def test_the_stage_never_moves_backwards() -> None:
    sql = {**WRITTEN, "lifecyclestage": "salesqualifiedlead", "leadq_score": "10"}
    plan = HUBSPOT.plan(make_lead(fields=sql), RESULT, NOW)
    assert "lifecyclestage" not in fields_of(plan)
    customer = make_lead(lifecycle_stage="customer")
    assert "lifecyclestage" not in fields_of(HUBSPOT.plan(customer, RESULT, NOW))


def test_the_default_stage_is_never_written() -> None:
    plan = HUBSPOT.plan(make_lead(lifecycle_stage="subscriber"), replace(RESULT, stage="lead"), NOW)
    assert "lifecyclestage" not in fields_of(plan)


def test_a_decayed_mql_that_sales_never_touched_is_recycled_not_demoted() -> None:
    decayed = replace(RESULT, score=30, stage="lead")
    plan = HUBSPOT.plan(make_lead(fields=WRITTEN), decayed, NOW)
    changes = {change.field: change for change in plan.changes}
    assert changes["hs_lead_status"].after == "BAD_TIMING"
    assert (
        changes["hs_lead_status"].why
        == "decayed below the bar (lead) before sales worked it: recycled"
    )
    assert "lifecyclestage" not in changes


def test_a_decayed_mql_that_sales_is_working_keeps_its_status() -> None:
    worked = {**WRITTEN, "hs_lead_status": "IN_PROGRESS"}
    plan = HUBSPOT.plan(make_lead(fields=worked), replace(RESULT, score=30, stage="lead"), NOW)
    assert "hs_lead_status" not in fields_of(plan)


def test_a_recycled_lead_that_qualifies_again_gets_a_fresh_status() -> None:
    recycled = {**WRITTEN, "hs_lead_status": "BAD_TIMING", "leadq_score": "30"}
    plan = HUBSPOT.plan(make_lead(fields=recycled), RESULT, NOW, recycled_by_us=True)
    assert fields_of(plan)["hs_lead_status"] == "NEW"
    by_hand = HUBSPOT.plan(make_lead(fields=recycled), RESULT, NOW, recycled_by_us=False)
    assert "hs_lead_status" not in fields_of(by_hand)


def test_salesforce_recycles_and_requalifies_through_the_lead_status() -> None:
    mql = {"Status": "Marketing Qualified"}
    decayed = SALESFORCE.plan(make_lead(fields=mql), replace(RESULT, score=20, stage="lead"), NOW)
    assert fields_of(decayed)["Status"] == "Nurture"
    nurtured = SALESFORCE.plan(
        make_lead(fields={"Status": "Nurture"}), RESULT, NOW, recycled_by_us=True
    )
    assert fields_of(nurtured)["Status"] == "Marketing Qualified"
    working = SALESFORCE.plan(make_lead(fields={"Status": "Working - Contacted"}), RESULT, NOW)
    assert "Status" not in fields_of(working)


def test_the_owner_is_written_only_for_a_routing_decision() -> None:
    decision = RoutingDecision(
        owner_id="7", source="all", pool="all", reason="all: round-robin → ana"
    )
    plan = HUBSPOT.plan(make_lead(fields=WRITTEN), RESULT, NOW, routing=decision)
    owner = next(change for change in plan.changes if change.field == "hubspot_owner_id")
    assert (owner.before, owner.after, owner.why) == (None, "7", "all: round-robin → ana")
    salesforce = SALESFORCE.plan(make_lead(), RESULT, NOW, routing=decision)
    assert fields_of(salesforce)["OwnerId"] == "7"


def test_the_update_carries_the_values_the_crm_held_before() -> None:
    update = HUBSPOT.plan(make_lead(fields={"leadq_score": "12"}), RESULT, NOW).update("contact")
    assert update is not None
    assert update.before["leadq_score"] == "12"
    assert update.changes["leadq_score"] == 62


def test_the_planner_says_which_fields_a_connector_must_read() -> None:
    assert SALESFORCE.read_fields()[:2] == ["leadq_Score__c", "leadq_Fit__c"]
    assert "Status" in SALESFORCE.read_fields()
    assert {"lifecyclestage", "hs_lead_status"} <= set(HUBSPOT.read_fields())


PREDICTIVE = model_from(
    "stages: [{stage: mql, when: {field: score, op: gte, value: 50}}]\n"
    "predictive: {intercept: -2.0, points_per_logit: 20}\n"
)


def test_a_learned_probability_is_written_beside_the_score() -> None:
    planner = Planner(PREDICTIVE, "salesforce", field_name=SalesforceConnector.field_name)
    result = replace(
        RESULT,
        model_version=PREDICTIVE.version,
        probability=0.412,
        probability_reasons="Requested a demo (×3.2 odds)",
    )
    written = fields_of(planner.plan(make_lead(), result, NOW))
    assert written["leadq_Probability__c"] == 0.412
    assert written["leadq_Probability_Reasons__c"] == "Requested a demo (×3.2 odds)"


def test_a_probability_moving_less_than_a_point_is_not_written() -> None:
    planner = Planner(PREDICTIVE, "hubspot", field_name=HubSpotConnector.field_name)
    result = replace(
        RESULT, model_version=PREDICTIVE.version, probability=0.415, probability_reasons="Demo"
    )
    held = {
        **WRITTEN,
        "leadq_model_version": PREDICTIVE.version,
        "leadq_probability": "0.41",
        "leadq_probability_reasons": "Demo",
    }
    assert planner.plan(make_lead(fields=held), result, NOW).changes == []
    moved = replace(result, probability=0.43)
    assert fields_of(planner.plan(make_lead(fields=held), moved, NOW))["leadq_probability"] == 0.43


def test_a_nurture_status_a_rep_set_by_hand_is_kept_when_the_lead_qualifies() -> None:
    by_hand = SALESFORCE.plan(make_lead(fields={"Status": "Nurture"}), RESULT, NOW)
    assert "Status" not in fields_of(by_hand)
    ours = SALESFORCE.plan(
        make_lead(fields={"Status": "Nurture"}), RESULT, NOW, recycled_by_us=True
    )
    assert fields_of(ours)["Status"] == "Marketing Qualified"


def test_the_audit_names_the_stage_rule_that_promoted_a_lead_and_what_met_it() -> None:
    raised = replace(
        RESULT, stage_rule="hand_raiser",
        stage_reason="MQL: Hand-raiser — demo request 3 days ago",
    )
    plan = HUBSPOT.plan(make_lead(lifecycle_stage="lead"), raised, NOW)
    (why,) = [change.why for change in plan.changes if change.field == "lifecyclestage"]
    assert why == "stage → mql by rule hand_raiser (MQL: Hand-raiser — demo request 3 days ago)"
