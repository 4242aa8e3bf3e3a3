"""The model's `handoff:` section: off when absent, clear defaults when present, and every
mistake a RevOps admin can make in it refused with its place in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring.loading import ModelFileError, load_model_with_warnings, parse_model

STAGES = (
    "stages:\n"
    "  - {id: hand_raiser, stage: mql, when: {activity: demo_request, within_days: 30}}\n"
)


def problems(text: str) -> list[str]:
    with pytest.raises(ModelFileError) as caught:
        parse_model(text, source="scoring.yaml")
    return caught.value.lines()


def test_no_section_means_no_handoff_tasks_and_an_empty_one_means_the_defaults() -> None:
    assert parse_model("name: m\n").handoff is None
    handoff = parse_model("name: m\nhandoff: {}\n").handoff
    assert handoff is not None
    assert [(rule.id, rule.due_within, rule.priority) for rule in handoff.sla] == [
        ("hand_raisers", "4h", "high"), ("everyone_else", "2d", "medium")]
    hours = handoff.working_hours
    assert (hours.timezone, hours.days, hours.start, hours.end) == (
        "UTC", ["mon", "tue", "wed", "thu", "fri"], "09:00", "17:00")
    assert handoff.slack_webhook_url_env is None


def test_turning_handoff_on_does_not_change_the_models_version() -> None:
    assert parse_model("name: m\n").version == parse_model("name: m\nhandoff: {}\n").version


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("handoff: {subject: 'Call {nmae}'}\n",
         "handoff.subject: unknown placeholder {nmae}; did you mean 'name'?"),
        ("handoff: {working_hours: {timezone: Europe/Berln}}\n",
         "handoff.working_hours.timezone: unknown time zone 'Europe/Berln'"),
        ("handoff: {working_hours: {start: '18:00', end: '09:00'}}\n",
         "handoff.working_hours: working hours must start before they end (18:00–09:00)"),
        ("handoff:\n  sla:\n    - {id: hot, grades: [A], due_within: 4h}\n",
         "handoff.sla: the last SLA rule ('hot') must have no test"),
        ("handoff:\n  sla:\n    - {id: any, due_within: 4 hours}\n",
         "handoff.sla[0].due_within"),
        ("handoff:\n  sla:\n    - {id: hot, stage_rules: [hand_raisr], due_within: 4h}\n"
         "    - {id: rest, due_within: 2d}\n",
         "handoff.sla[0].stage_rules[0]: unknown stage rule 'hand_raisr'"),
    ],
)
def test_a_mistake_in_the_handoff_section_is_refused_with_its_place(
    section: str, expected: str
) -> None:
    found = problems("name: m\n" + STAGES + section)
    assert any(expected in line for line in found), found


def test_an_sla_for_hand_raisers_in_a_model_without_hand_raises_is_a_warning(
    tmp_path: Path,
) -> None:
    path = tmp_path / "scoring.yaml"
    path.write_text(
        "name: m\nhandoff:\n  sla:\n    - {id: hot, hand_raiser: true, due_within: 4h}\n"
        "    - {id: rest, due_within: 2d}\n",
        encoding="utf-8",
    )
    _, warnings = load_model_with_warnings(path)
    assert warnings == [
        "scoring.yaml:4 handoff.sla[0].hand_raiser: SLA rule 'hot' is for hand-raisers, and no "
        "stage rule qualifies a lead on a hand-raise alone (a demo or contact request): it never "
        "applies"
    ]
    path.write_text("name: m\nhandoff: {}\n", encoding="utf-8")  # the defaults: no warning
    assert load_model_with_warnings(path)[1] == []
