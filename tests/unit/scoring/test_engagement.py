"""Engagement: decay, caps, once, windows, negative rules and the total's bounds."""

from __future__ import annotations

import pytest
from builders import NOW, activity, make_lead, model_from

from scoring.qualify import score

LEAD = make_lead()


def engagement_model(rules: str, decay: str = "{}", groups: str = "[]", maximum: int = 100):
    header = f"engagement:\n  max: {maximum}\n  decay: {decay}\n  groups: {groups}\n  rules:\n"
    return model_from(header + rules + "\n")


def reason_points(model, activities) -> dict[str, float]:
    result = score(LEAD, activities, model, NOW)
    return {reason.rule: reason.points for reason in result.reasons}


VISIT = "    - {id: visit, label: Visit, activity: page_view, points: 10}"


def test_a_thirty_day_half_life_halves_a_thirty_day_old_activitys_points() -> None:
    model = engagement_model(VISIT, decay="{half_life_days: 30}")
    assert reason_points(model, [activity("page_view", 30)]) == {"visit": 5.0}
    assert reason_points(model, [activity("page_view", 60)]) == {"visit": 2.5}
    assert reason_points(model, [activity("page_view", 0)]) == {"visit": 10.0}


def test_percent_per_month_takes_points_away_linearly_until_none_are_left() -> None:
    model = engagement_model(VISIT, decay="{percent_per_month: 50}")
    month = 365.25 / 12
    assert reason_points(model, [activity("page_view", month)]) == {"visit": 5.0}
    assert reason_points(model, [activity("page_view", month / 2)]) == {"visit": 7.5}
    assert reason_points(model, [activity("page_view", 3 * month)]) == {}


def test_a_rule_with_decay_false_keeps_its_points_forever() -> None:
    rules = (
        "    - {id: unsub, label: Unsubscribed, activity: unsubscribe, points: -20, decay: false}"
    )
    model = engagement_model(rules, decay="{half_life_days: 7}", maximum=100)
    breakdown = score(LEAD, [activity("unsubscribe", 365)], model, NOW)
    assert {r.rule: r.points for r in breakdown.reasons}["unsub"] == -20


def test_a_rule_cap_limits_the_points_one_rule_can_give() -> None:
    rules = "    - {id: visit, label: Visit, activity: page_view, points: 10, cap: 25}"
    model = engagement_model(rules)
    assert reason_points(model, [activity("page_view", 1)] * 5)["visit"] == 25


def test_once_counts_only_the_strongest_most_recent_activity() -> None:
    rules = "    - {id: demo, label: Demo, activity: demo_request, points: 40, once: true}"
    model = engagement_model(rules, decay="{half_life_days: 30}")
    points = reason_points(model, [activity("demo_request", 30), activity("demo_request", 0)])
    assert points == {"demo": 40.0}


def test_within_days_ignores_older_activity() -> None:
    rules = "    - {id: pricing, label: Pricing, activity: page_view, points: 15, within_days: 30}"
    model = engagement_model(rules)
    assert reason_points(model, [activity("page_view", 29), activity("page_view", 31)]) == {
        "pricing": 15.0
    }


def test_where_picks_activities_by_their_details() -> None:
    rules = (
        "    - {id: pricing, label: Pricing, activity: page_view, points: 15, "
        "where: {field: url, op: contains, value: /pricing}}"
    )
    model = engagement_model(rules)
    visits = [
        activity("page_view", 1, url="https://acme.example/pricing"),
        activity("page_view", 1, url="https://acme.example/blog/x"),
    ]
    assert reason_points(model, visits) == {"pricing": 15.0}


def test_a_group_cap_limits_the_rules_in_the_group_and_shows_as_a_reason() -> None:
    rules = "\n".join(
        [
            "    - {id: visit, label: Visit, activity: page_view, points: 5, group: browsing}",
            "    - {id: article, label: Article, activity: content_view, points: 5, group: browsing}",
            "    - {id: inquiry, label: Inquiry, activity: form_submission, points: 20}",
        ]
    )
    model = engagement_model(rules, groups="[{id: browsing, label: Browsing, cap: 15}]")
    browsing = [activity("page_view", 1)] * 3 + [activity("content_view", 1)] * 2
    result = score(LEAD, [*browsing, activity("form_submission", 1)], model, NOW)
    points = {reason.rule: reason.points for reason in result.reasons}
    assert points == {"visit": 15.0, "article": 10.0, "cap:browsing": -10.0, "inquiry": 20.0}
    assert result.engagement == 35
    label = next(r.label for r in result.reasons if r.rule == "cap:browsing")
    assert label == "Browsing capped at 15"


def test_the_classic_table_lets_three_browses_equal_an_inquiry_and_the_example_fixes_it() -> None:
    classic = engagement_model(
        "\n".join(
            [
                "    - {id: visit, label: Site visit, activity: page_view, points: 5}",
                "    - {id: article, label: Article, activity: article_view, points: 5}",
                "    - {id: product, label: Product page, activity: product_view, points: 10}",
                "    - {id: inquiry, label: Inquiry, activity: form_submission, points: 20}",
            ]
        )
    )
    browses = [activity("page_view", 1), activity("article_view", 1), activity("product_view", 1)]
    inquiry = [activity("form_submission", 1)]
    assert score(LEAD, browses, classic, NOW).engagement == 20
    assert score(LEAD, inquiry, classic, NOW).engagement == 20

    from pathlib import Path

    from scoring.loading import load_model

    example = load_model(Path(__file__).parents[3] / "examples" / "scoring.yaml")
    site = "https://acme-analytics.example"
    many_browses = [
        activity("page_view", 0, url=f"{site}/"),
        activity("page_view", 0, url=f"{site}/blog/a"),
        activity("page_view", 0, url=f"{site}/product/forecast"),
    ] * 3
    one_inquiry = [activity("form_submission", 0, form="Ebook")]
    browsing_score = score(LEAD, many_browses, example, NOW).engagement
    inquiry_score = score(LEAD, one_inquiry, example, NOW).engagement
    assert browsing_score < inquiry_score


def test_negative_rules_subtract_and_the_total_never_goes_below_zero() -> None:
    rules = "\n".join(
        [
            "    - {id: visit, label: Visit, activity: page_view, points: 10}",
            "    - {id: bounce, label: Bounced, activity: bounce, points: -30}",
        ]
    )
    model = engagement_model(rules)
    result = score(LEAD, [activity("page_view", 0), activity("bounce", 0)], model, NOW)
    assert result.engagement == 0
    assert {r.rule: r.points for r in result.reasons} == {
        "bounce": -30.0,
        "visit": 10.0,
        "cap:engagement": 20.0,
    }


def test_engagement_is_clamped_to_its_maximum() -> None:
    model = engagement_model(VISIT, maximum=50)
    result = score(LEAD, [activity("page_view", 0)] * 8, model, NOW)
    assert result.engagement == 50


@pytest.mark.parametrize("kind", ["page_view", "PAGE_VIEW", " page_view "])
def test_activity_types_match_regardless_of_case(kind: str) -> None:
    model = engagement_model(VISIT)
    assert score(LEAD, [activity(kind, 0)], model, NOW).engagement == 10
