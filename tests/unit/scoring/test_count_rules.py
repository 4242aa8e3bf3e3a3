"""Count rules: engagement from numbers on the lead (visits, page views, minutes on site), for
CRMs and exports that carry counts instead of events."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from builders import NOW, activity, make_lead, model_from

from scoring.frame import LeadTable
from scoring.intent import intent_findings
from scoring.loading import ModelFileError
from scoring.qualify import score, score_batch

VISITS = "{id: visits, label: Site visits, field: fields.num_visits, points_per: 2, unit: visit"


def count_model(rule: str, decay: str = "{}", extra: str = "") -> object:
    return model_from(
        f"engagement:\n  decay: {decay}\n  rules:\n    - {rule}\n{extra}"
        "qualification: {engagement_bands: [30, 15, 5]}\n"
    )


def test_points_per_visit_add_up_to_the_cap_and_the_reason_names_the_count() -> None:
    model = count_model(VISITS + ", cap: 20}")
    few = score(make_lead(fields={"num_visits": "3"}), [], model, NOW)
    many = score(make_lead(fields={"num_visits": "12"}), [], model, NOW)
    assert few.engagement == 6
    assert few.reasons_text == "Site visits: 3 visits (+6)"
    assert many.engagement == 20
    assert many.reasons_text == "Site visits: 12 visits (+20, capped)"


def test_one_visit_is_singular_and_a_count_without_unit_is_a_bare_number() -> None:
    one = score(make_lead(fields={"num_visits": 1}), [], count_model(VISITS + "}"), NOW)
    assert one.reasons_text == "Site visits: 1 visit (+2)"
    bare = count_model("{id: views, label: Page views, field: fields.views, points_per: 0.05}")
    assert score(make_lead(fields={"views": "1,200"}), [], bare, NOW).reasons_text == (
        "Page views: 1,200 (+60)"
    )


def test_bins_give_the_points_of_the_highest_bin_the_count_reaches() -> None:
    rule = (
        "{id: visits, label: Site visits, field: fields.num_visits, unit: visit, "
        "bins: [{gte: 10, points: 15}, {gte: 3, points: 8}]}"
    )
    model = count_model(rule)
    engagement = {
        visits: score(make_lead(fields={"num_visits": visits}), [], model, NOW).engagement
        for visits in (0, 2, 3, 9, 10, 40)
    }
    assert engagement == {0: 0, 2: 0, 3: 8, 9: 8, 10: 15, 40: 15}
    assert score(make_lead(fields={"num_visits": 12}), [], model, NOW).reasons_text == (
        "Site visits: 12 visits (+15)"
    )


def test_a_missing_or_unreadable_count_gives_no_points_and_no_reason() -> None:
    model = count_model(VISITS + "}")
    for value in (None, "", "lots"):
        result = score(make_lead(fields={"num_visits": value}), [], model, NOW)
        assert (result.engagement, result.reasons_text) == (0, "")


def test_a_count_does_not_decay_unless_the_rule_names_its_last_activity_date() -> None:
    lead = make_lead(
        fields={"num_visits": "10", "last_visit": (NOW - timedelta(days=30)).isoformat()}
    )
    timeless = count_model(VISITS + "}", decay="{half_life_days: 30}")
    assert score(lead, [], timeless, NOW).engagement == 20
    dated = count_model(VISITS + ", last_activity: fields.last_visit}", "{half_life_days: 30}")
    assert score(lead, [], dated, NOW).engagement == 10
    undated = make_lead(fields={"num_visits": "10"})
    assert score(undated, [], dated, NOW).engagement == 20  # no date: nothing to decay


def test_within_days_drops_a_count_whose_last_activity_is_older_or_unknown() -> None:
    model = count_model(VISITS + ", last_activity: fields.last_visit, within_days: 30}")
    recent = (NOW - timedelta(days=10)).isoformat()
    stale = (NOW - timedelta(days=45)).isoformat()
    engagement = [
        score(make_lead(fields={"num_visits": 5, "last_visit": when}), [], model, NOW).engagement
        for when in (recent, stale, None)
    ]
    assert engagement == [10, 0, 0]


def test_a_count_rule_joins_a_group_cap_with_activity_rules() -> None:
    model = model_from(
        """
        engagement:
          groups: [{id: browsing, label: Browsing, cap: 15}]
          rules:
            - {id: views, label: Page views, activity: page_view, points: 5, group: browsing}
            - {id: visits, label: Site visits, field: fields.num_visits, points_per: 2,
               unit: visit, group: browsing}
        """
    )
    lead = make_lead(fields={"num_visits": 5})
    result = score(lead, [activity("page_view", 0)] * 2, model, NOW)
    assert result.engagement == 15
    assert "Site visits: 5 visits (+8)" in result.reasons_text


def test_leads_as_columns_score_counts_exactly_as_lead_records() -> None:
    model = count_model(
        VISITS + ", cap: 20, last_activity: fields.last_visit}", decay="{half_life_days: 14}"
    )
    visits = ["12", "3", "", "7", None, "1"]
    dates = [(NOW - timedelta(days=d)).isoformat() for d in (0, 14, 3, 40, 1)] + [None]
    leads = [
        make_lead(f"L{i}", fields={"num_visits": v, "last_visit": d})
        for i, (v, d) in enumerate(zip(visits, dates, strict=True))
    ]
    table = LeadTable(
        [lead.id for lead in leads],
        {"fields.num_visits": visits, "fields.last_visit": dates},
    )
    from_records = score_batch(leads, [], model, NOW)
    from_columns = score_batch(table, [], model, NOW)
    assert np.array_equal(from_records.engagement, from_columns.engagement)
    assert list(from_records.reasons_text) == list(from_columns.reasons_text)
    assert from_records.reasons_text[0] == "Site visits: 12 visits (+20, capped)"


def test_the_engagement_axis_moves_with_counts_so_labels_no_longer_all_end_in_4() -> None:
    model = count_model(VISITS + ", cap: 40}")
    labels = {
        score(make_lead(fields={"num_visits": n}), [], model, NOW).label[-1] for n in (0, 4, 9, 20)
    }
    assert labels == {"4", "3", "2", "1"}


def test_explain_names_the_count_behind_a_count_rule() -> None:
    model = count_model(VISITS + ", cap: 20}")
    result = score(make_lead(fields={"num_visits": 30}), [], model, NOW)
    assert [(r.label, r.points) for r in result.reasons if r.rule == "visits"] == [
        ("Site visits: 30 visits", 20.0)
    ]


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (VISITS + ", bins: [{gte: 1, points: 1}]}", "engagement.rules[0]: give points_per or bins"),
        ("{id: v, label: V, field: fields.n}", "engagement.rules[0]: give points_per or bins"),
        (
            "{id: v, label: V, field: fields.n, bins: [{gte: 3, points: 8}, {gte: 10, points: 15}]}",
            "engagement.rules[0].bins: bins must go from the highest gte down",
        ),
        (
            "{id: v, label: V, field: title, points_per: 1}",
            "engagement.rules[0].field: title is text; a count rule reads a number",
        ),
        (
            "{id: v, label: V, field: fields.n, points_per: 1, within_days: 30}",
            "engagement.rules[0]: within_days needs last_activity",
        ),
        (
            "{id: v, label: V, field: fields.n, points_per: 1, last_activity: company.employees}",
            "engagement.rules[0].last_activity: company.employees is not a date",
        ),
        (
            "{id: v, label: V, field: fields.n, points_per: many}",
            "engagement.rules[0].points_per: must be a number",
        ),
        (
            "{id: v, label: V, field: fields.n, points_per: 1, activity: page_view}",
            "engagement.rules[0].activity",
        ),
    ],
)
def test_a_broken_count_rule_is_refused_at_its_line(rule: str, problem: str) -> None:
    with pytest.raises(ModelFileError) as refused:
        count_model(rule)
    assert f"scoring.yaml:5 {problem}" in str(refused.value)


def test_the_intent_guard_counts_a_count_rule_as_browsing() -> None:
    stages = (
        "stages:\n  - {stage: mql, label: Hand-raiser, "
        "when: {activity: demo_request, within_days: 30}}\n"
    )
    demo = "    - {id: demo, label: Demo, activity: demo_request, points: 20}\n"
    uncapped = count_model(VISITS + "}", extra=demo + stages)
    findings = [finding.message for finding in intent_findings(uncapped)]
    assert any("10 × visits" in message for message in findings), findings
    capped = count_model(VISITS + ", cap: 10}", extra=demo + stages)
    assert not list(intent_findings(capped))
