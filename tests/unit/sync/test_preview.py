"""A preview's totals from scored batches: new MQLs per week, and the rules that count most."""

from __future__ import annotations

from datetime import timedelta

from builders import NOW, activity, make_lead, model_from

from scoring.frame import ActivityFrame, LeadFrame
from scoring.qualify import compile_model, score_frame
from sync.preview import PreviewCollector
from sync.preview_render import preview_page, preview_sections

MODEL = model_from(
    """
    engagement:
      rules:
        - {id: demo, label: Requested a demo, activity: demo_request, points: 50, once: true}
    stages:
      - stage: mql
        label: Hand-raiser
        when: {activity: demo_request, within_days: 30}
    """
)


def collected(leads, activities, shown=lambda lead: None):
    compiled = compile_model(MODEL)
    position = {lead.id: index for index, lead in enumerate(leads)}
    frame = LeadFrame(
        leads,
        ActivityFrame.from_records(activities, position, NOW.timestamp()),
        NOW.timestamp(),
        compiled.where_of,
    )
    collector = PreviewCollector(MODEL, compiled, shown, NOW)
    collector(leads, frame, score_frame(frame, compiled))
    return collector.preview


def test_each_week_counts_the_leads_the_model_qualified_in_it() -> None:
    leads = [make_lead(f"L{n}", created_at=NOW - timedelta(days=90)) for n in range(4)]
    leads.append(make_lead("NEW", created_at=NOW - timedelta(days=2)))
    activities = [
        activity("demo_request", 3, "L0"),  # qualified 3 days ago: this week
        activity("demo_request", 10, "L1"),  # 10 days ago: the week before
        activity("demo_request", 40, "L2"),  # qualified 40 days ago, expired since: no week
        activity("demo_request", 23, "L3"),  # 23 days ago: the fourth week back
        activity("demo_request", 1, "NEW"),  # created 2 days ago, qualified yesterday
    ]
    preview = collected(leads, activities)
    assert preview.weekly == [2, 1, 0, 1]
    assert preview.per_week == 1.0
    assert (preview.qualified_now, preview.newly_qualified) == (4, 4)


def test_leads_already_qualified_in_the_crm_are_not_new() -> None:
    leads = [make_lead("A"), make_lead("B")]
    activities = [activity("demo_request", 3, "A"), activity("demo_request", 3, "B")]
    preview = collected(leads, activities, shown=lambda lead: "mql" if lead.id == "A" else None)
    assert (preview.qualified_now, preview.newly_qualified) == (2, 1)


def test_the_page_and_the_terminal_show_the_same_figures_and_the_page_escapes_them() -> None:
    preview = collected([make_lead("A")], [activity("demo_request", 3, "A")])
    preview.model_name = "<script>alert(1)</script>"
    page = preview_page(preview)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for section in preview_sections(preview):
        for row in section.rows:
            for cell in row:
                assert str(cell).replace("'", "&#39;") in page
