"""The intent guard: browsing must not earn what a hand-raise earns, and hand-raisers come first."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import NOW, activity, make_lead, model_from
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.intent import hand_raises, intent_findings
from scoring.loading import ModelFileError, load_model, load_model_with_warnings, parse_model
from scoring.qualify import score_batch

EXAMPLES = Path(__file__).parents[3] / "examples"

CLASSIC = """
engagement:
  rules:
    - {id: site_visit, label: Site visit, activity: page_view, points: 5}
    - {id: article, label: Article, activity: page_view, where: {field: url, op: contains, value: /blog/}, points: 5}
    - {id: product_page, label: Product page, activity: page_view, where: {field: url, op: contains, value: /product}, points: 10}
    - {id: inquiry, label: Inquiry, activity: form_submission, points: 20}
stages:
  - stage: mql
    label: Inquiry
    when: {activity: form_submission, within_days: 30}
"""


def test_the_classic_points_table_is_flagged_naming_the_rules_and_counts() -> None:
    findings = intent_findings(model_from(CLASSIC))
    assert [finding.message for finding in findings] == [
        "browsing can earn as much engagement as a hand-raise: 2 × product_page (2 browsing "
        "activities) reach the 20 points a form_submission earns for 'Inquiry' (inquiry); cap "
        "browsing below it (a group cap under engagement.groups) or give the hand-raise more "
        "points"
    ]
    assert findings[0].loc == ("stages", 0, "when")


def test_a_browsing_group_capped_below_the_inquiry_passes() -> None:
    capped = CLASSIC.replace("engagement:\n", "engagement:\n  groups: [{id: web, cap: 15}]\n")
    for rule in ("site_visit", "article", "product_page"):
        capped = capped.replace(f"{{id: {rule},", f"{{id: {rule}, group: web,")
    assert intent_findings(model_from(capped)) == []


def test_a_hand_raise_worth_no_engagement_is_flagged() -> None:
    unscored = CLASSIC.replace("when: {activity: form_submission", "when: {activity: demo_request")
    (finding,) = intent_findings(model_from(unscored))
    assert finding.message.startswith("a demo_request earns no engagement for 'Inquiry'")


def test_only_rules_sure_to_match_count_for_the_hand_raise() -> None:
    """A rule with a `where` of its own may not match the hand-raise, so it does not count."""
    model = model_from(
        """
        engagement:
          rules:
            - {id: visit, label: Visit, activity: page_view, points: 10, cap: 40}
            - {id: forms, label: Form, activity: form_submission, points: 20}
            - {id: big_form, label: Big form, activity: form_submission, where: {field: form, op: eq, value: Big}, points: 50}
            - id: contact
              label: Contact
              activity: form_submission
              where: {field: form, op: matches, value: contact}
              points: 15
        stages:
          - stage: mql
            when:
              activity: form_submission
              where: {field: form, op: matches, value: contact}
        """
    )
    (finding,) = intent_findings(model)
    assert "reach the 35 points a form_submission earns for 'mql' (forms + contact)" in (
        finding.message
    )


def test_an_activity_test_inside_all_is_not_a_hand_raise_on_its_own() -> None:
    model = model_from(
        """
        engagement:
          rules: [{id: visit, label: Visit, activity: page_view, points: 10}]
        stages:
          - stage: mql
            when:
              all:
                - {field: grade, op: eq, value: A}
                - {activity: demo_request}
        """
    )
    assert hand_raises(model) == []
    assert intent_findings(model) == []


def test_label_priorities_level_with_hand_raisers_are_flagged_in_one_line() -> None:
    model = model_from(CLASSIC + "qualification:\n  priorities: {A1: 1, B1: 1, A2: 3}\n")
    messages = [finding.message for finding in intent_findings(model)]
    assert messages[0] == (
        "A1, B1 have a priority level with or ahead of hand-raisers (hand_raiser: 1): a lead "
        "that only browses would be called as early as one who asked for a demo; give them a "
        "priority above 1"
    )


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda path: path.name)
def test_the_shipped_examples_pass_the_intent_guard(example: Path) -> None:
    assert load_model_with_warnings(example)[1] == []


def test_a_strict_guard_refuses_the_classic_table_at_the_hand_raise_line() -> None:
    strict = "name: classic\nqualification: {intent_guard: strict}\n" + CLASSIC
    with pytest.raises(ModelFileError) as refused:
        parse_model(strict)
    assert str(refused.value).startswith(
        "scoring.yaml:13 stages[0].when: browsing can earn as much engagement as a hand-raise"
    )


def test_the_guard_can_be_turned_off() -> None:
    assert intent_findings(model_from(CLASSIC + "qualification: {intent_guard: 'off'}\n")) == []


BROWSING_TYPES = ["page_view", "pricing_page_view", "email_open", "email_click"]
URLS = ["/", "/blog/a", "/product/x", "/pricing", "/docs"]


@pytest.mark.parametrize("example", ["scoring.yaml", "sandbox.yaml", "scoring.ja.yaml"])
@settings(max_examples=60, deadline=None)
@given(
    browsing=st.lists(
        st.tuples(st.sampled_from(BROWSING_TYPES), st.sampled_from(URLS), st.integers(0, 29)),
        max_size=120,
    ),
    fit=st.sampled_from([{}, {"title": "VP Data", "country": "US"}]),
    raiser_fit=st.sampled_from([{}, {"email": "jo@gmail.com"}]),  # low fit (a student: disqualified)
    days_ago=st.integers(0, 29),
)
def test_a_hand_raiser_outranks_any_amount_of_browsing_in_priority(
    example: str,
    browsing: list[tuple[str, str, int]],
    fit: dict[str, str],
    raiser_fit: dict[str, str],
    days_ago: int,
) -> None:
    model = load_model(EXAMPLES / example)
    big = {"employees": 800, "industry": "Software", "annual_revenue": 5e7}
    browser = make_lead("browser", company=big, **fit)
    raiser = make_lead("raiser", **raiser_fit)
    activities = [activity(kind, days, "browser", url=url) for kind, url, days in browsing]
    activities.append(activity("demo_request", days_ago, "raiser"))
    scored = score_batch([browser, raiser], activities, model, NOW)
    assert list(scored.hand_raiser) == [False, True]
    assert scored.priority[1] < scored.priority[0]
