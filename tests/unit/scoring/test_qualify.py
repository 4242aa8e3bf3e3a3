"""Fit, grades, BANT, the fit × engagement matrix, stages, reasons and the model version."""

from __future__ import annotations

from pathlib import Path

from builders import NOW, activity, make_lead, model_from
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.loading import load_model, parse_model
from scoring.qualify import score, score_batch

EXAMPLES = Path(__file__).parents[3] / "examples"

MODEL = model_from(
    """
    fit:
      max: 100
      grades: {A: 80, B: 60, C: 40, D: 20}
      rules:
        - {id: size, label: Right size, when: {field: company.employees, op: gte, value: 50}, points: 40}
        - {id: senior, label: Senior title, when: {field: title, op: matches, value: 'VP|Director'}, points: 40}
        - {id: bant3, label: Strong BANT, when: {field: bant.count, op: gte, value: 2}, points: 20}
        - {id: gmail, label: Personal e-mail, when: {field: email_domain, op: eq, value: gmail.com}, points: -30}
    bant:
      budget: {field: company.annual_revenue, op: gte, value: 1000000}
      authority: {field: title, op: matches, value: 'VP|Director'}
    engagement:
      rules:
        - {id: visit, label: Visit, activity: page_view, points: 10}
        - {id: demo, label: Demo request, activity: demo_request, points: 25, once: true}
    qualification:
      engagement_bands: [60, 40, 20]
      priorities: {A1: 1, B1: 1}
    stages:
      - stage: mql
        label: Fit and engaged
        when:
          all:
            - {field: grade, op: in, value: [A, B]}
            - {field: engagement, op: gte, value: 40}
      - stage: mql
        label: Hand-raiser
        when: {activity: demo_request, within_days: 30}
    """
)


def test_fit_adds_rule_points_including_negative_ones() -> None:
    lead = make_lead(title="VP Sales", email="vp@gmail.com", company={"employees": 100})
    result = score(lead, [], MODEL, NOW)
    assert result.fit == 40 + 40 - 30
    assert result.grade == "C"


def test_fit_never_goes_below_zero_and_says_so() -> None:
    result = score(make_lead(email="x@gmail.com"), [], MODEL, NOW)
    assert result.fit == 0
    assert result.grade == "F"
    assert [(r.rule, r.points) for r in result.reasons] == [
        ("gmail", -30.0),
        ("cap:fit", 30.0),
    ]


def test_bant_counts_met_criteria_and_rules_can_use_the_count() -> None:
    lead = make_lead(title="Director", company={"employees": 10, "annual_revenue": 5_000_000})
    result = score(lead, [], MODEL, NOW)
    assert result.bant == {"budget": True, "authority": True, "need": False, "timing": False}
    assert result.bant_count == 2
    assert {r.rule for r in result.reasons} == {"senior", "bant3"}
    assert result.fit == 60


def test_grades_start_exactly_at_their_thresholds() -> None:
    model = model_from(
        """
        fit:
          grades: {A: 80, B: 60, C: 40, D: 20}
          rules:
            - {id: p, label: Points, when: {field: fields.p, op: exists}, points: 0}
            - {id: f80, label: "80", when: {field: fields.p, op: eq, value: 80}, points: 80}
            - {id: f79, label: "79", when: {field: fields.p, op: eq, value: 79}, points: 79}
            - {id: f60, label: "60", when: {field: fields.p, op: eq, value: 60}, points: 60}
            - {id: f40, label: "40", when: {field: fields.p, op: eq, value: 40}, points: 40}
            - {id: f20, label: "20", when: {field: fields.p, op: eq, value: 20}, points: 20}
            - {id: f19, label: "19", when: {field: fields.p, op: eq, value: 19}, points: 19}
        """
    )
    leads = [make_lead(f"L{p}", fields={"p": p}) for p in (80, 79, 60, 40, 20, 19)]
    grades = score_batch(leads, [], model, NOW).grade.tolist()
    assert grades == ["A", "B", "B", "C", "D", "F"]


def test_label_combines_grade_letter_and_engagement_band_with_priorities() -> None:
    strong = make_lead("L1", title="VP", company={"employees": 500, "annual_revenue": 9e6})
    visits = [activity("page_view", 0, lead_id="L1")] * 6
    result = score(strong, visits, MODEL, NOW)
    assert (result.grade, result.engagement, result.label, result.priority) == ("A", 60, "A1", 1)
    weak = make_lead("L2")
    result = score(weak, [activity("page_view", 0, lead_id="L2")] * 2, MODEL, NOW)
    # D3 is letter rank 4 + band 3 = 6, one later (7) because hand-raisers come first
    assert (result.grade, result.label, result.priority) == ("F", "D3", 7)
    raised = score(weak, [activity("demo_request", 1, lead_id="L2")], MODEL, NOW)
    assert (raised.label, raised.hand_raiser, raised.priority) == ("D3", True, 1)


def test_a_fit_and_engaged_lead_becomes_an_mql_by_the_first_rule() -> None:
    lead = make_lead(title="VP", company={"employees": 500})
    result = score(lead, [activity("page_view", 0)] * 4, MODEL, NOW)
    assert (result.stage, result.stage_rule) == ("mql", 0)


def test_a_demo_request_fast_tracks_even_a_poor_fit_lead() -> None:
    result = score(make_lead(email="x@gmail.com"), [activity("demo_request", 3)], MODEL, NOW)
    assert result.grade == "F"
    assert (result.stage, result.stage_rule) == ("mql", 1)


def test_an_old_demo_request_does_not_fast_track() -> None:
    result = score(make_lead(), [activity("demo_request", 45)], MODEL, NOW)
    assert (result.stage, result.stage_rule) == ("lead", None)


def test_reasons_are_ordered_by_size_and_ties_keep_the_models_rule_order() -> None:
    lead = make_lead(title="VP", company={"employees": 500})
    result = score(lead, [activity("demo_request", 0), activity("page_view", 0)], MODEL, NOW)
    assert [(r.rule, r.points) for r in result.reasons] == [
        ("size", 40.0),
        ("senior", 40.0),
        ("demo", 25.0),
        ("visit", 10.0),
    ]
    assert result.reasons_text == (
        "MQL: Hand-raiser — demo request today; Right size (+40); Senior title (+40); "
        "Demo request (+25)"
    )


def test_the_stage_rule_that_qualified_a_lead_comes_first_with_the_hand_raise_behind_it() -> None:
    raiser = make_lead("R")
    engaged = make_lead("E", title="VP", company={"employees": 500})
    activities = [
        activity("demo_request", 12, "R"),
        activity("demo_request", 3, "R"),  # the newest counts
        *[activity("page_view", 0, "E")] * 4,
    ]
    raised, fit_and_engaged = score_batch([raiser, engaged], activities, MODEL, NOW)
    assert raised.stage_reason == "MQL: Hand-raiser — demo request 3 days ago"
    assert raised.reasons_text.startswith("MQL: Hand-raiser — demo request 3 days ago; ")
    assert fit_and_engaged.stage_reason == "MQL: Fit and engaged"
    assert score(make_lead(), [], MODEL, NOW).stage_reason == ""


def test_the_reasons_line_leaves_out_caps_and_shows_a_penalty_in_full() -> None:
    lead = make_lead(email="x@gmail.com")
    result = score(lead, [activity("page_view", 0)], MODEL, NOW)
    # fit is floored at 0, but the penalty is what the rep needs to see
    assert (result.fit, result.engagement) == (0, 10)
    assert result.reasons_text == "Personal e-mail (-30); Visit (+10)"
    senior = make_lead(email="x@gmail.com", title="VP", company={"employees": 500})
    result = score(senior, [activity("page_view", 0)], MODEL, NOW)
    assert result.fit == 50
    assert result.reasons_text == "Right size (+40); Senior title (+40); Personal e-mail (-30)"


def test_base_points_every_lead_gets_are_never_a_reason_in_the_crm() -> None:
    model = model_from(
        """
        fit:
          rules:
            - {id: base, label: Base points (every lead), when: {field: id, op: exists}, points: 30}
            - {id: senior, label: Senior title, when: {field: title, op: matches, value: VP},
               points: 10}
        """
    )
    senior, other = score_batch([make_lead(title="VP"), make_lead(title="Analyst")], [], model, NOW)
    assert (senior.fit, other.fit) == (40, 30)
    assert (senior.reasons_text, other.reasons_text) == ("Senior title (+10)", "")


def test_a_capped_group_shows_its_rules_points_within_the_cap() -> None:
    model = model_from(
        """
        engagement:
          groups: [{id: browsing, label: Browsing, cap: 15}]
          rules:
            - {id: product, label: Product page, activity: page_view, points: 10, group: browsing}
            - {id: blog, label: Article, activity: content_download, points: 5, group: browsing}
        """
    )
    views = [activity("page_view", 0)] * 12 + [activity("content_download", 0)] * 3
    result = score(make_lead(), views, model, NOW)
    assert result.engagement == 15
    # 120 and 15 raw points, 135 in all, capped at 15: 13.3 and 1.7 after the cap
    assert result.reasons_text == "Product page (+13); Article (+2)"
    assert [(r.label, r.points) for r in result.reasons] == [
        ("Product page", 120.0), ("Browsing capped at 15", -120.0), ("Article", 15.0)
    ]


def test_the_model_version_ignores_layout_comments_and_the_csv_mapping() -> None:
    original = (EXAMPLES / "scoring.yaml").read_text(encoding="utf-8")
    model = parse_model(original)
    relaid = "# a comment\n" + original.replace("  max: 100\n", "  max:   100   # same\n", 1)
    remapped = original.replace("id: Lead ID", "id: Record ID")
    assert parse_model(relaid).version == model.version
    assert parse_model(remapped).version == model.version
    changed = original.replace("points: 20\n", "points: 21\n", 1)
    assert parse_model(changed).version != model.version
    assert len(model.version) == 12


def test_every_result_carries_the_model_version() -> None:
    assert score(make_lead(), [], MODEL, NOW).model_version == MODEL.version


title_values = st.sampled_from(["VP Sales", "Director", "Engineer", "", "Student"])
employee_values = st.one_of(st.none(), st.integers(0, 20_000))
activity_types = st.sampled_from(
    ["page_view", "pricing_page_view", "demo_request", "form_submission", "unsubscribe", "bounce"]
)


@settings(max_examples=40, deadline=None)
@given(
    people=st.lists(
        st.tuples(
            title_values,
            employee_values,
            st.lists(st.tuples(activity_types, st.floats(-5, 200)), max_size=12),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_scoring_a_batch_gives_each_lead_what_scoring_it_alone_gives(people) -> None:
    model = load_model(EXAMPLES / "scoring.yaml")
    leads, activities = [], []
    for index, (title, employees, acts) in enumerate(people):
        lead_id = f"L{index}"
        company = {"employees": employees} if employees is not None else None
        leads.append(make_lead(lead_id, title=title, company=company))
        activities += [activity(kind, days, lead_id=lead_id) for kind, days in acts]
    batch = score_batch(leads, activities, model, NOW)
    for index, lead in enumerate(leads):
        alone = score(lead, [a for a in activities if a.lead_id == lead.id], model, NOW)
        assert batch.qualification(index) == alone


def test_the_model_lists_the_custom_fields_its_rules_read() -> None:
    model = load_model(EXAMPLES / "scoring.yaml")
    assert model.custom_fields() == (
        ["budget_confirmed", "last_visit", "tech_stack", "timeline", "use_case", "web_visits"], []
    )
