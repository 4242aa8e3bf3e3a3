"""Every way a model file can be broken gets one located, readable line."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import NOW, make_lead

from scoring.loading import ModelFileError, load_model, parse_model
from scoring.qualify import score

RULE = "    - {id: r1, label: R1, when: {field: title, op: exists}, points: 5}\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ModelFileError) as caught:
        parse_model(text, source="scoring.yaml")
    return caught.value.lines()


def fit_with(rule_line: str) -> str:
    return "name: m\nfit:\n  rules:\n" + rule_line


def engagement_with(rule_line: str, extra: str = "") -> str:
    return "name: m\nengagement:\n" + extra + "  rules:\n" + rule_line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: m\nengagement:\n  rules:\n    - {id: a, label: A, activity: x, points: 1}\n"
            "    - {id: b, label: B, activity: x, points: 2}\n"
            "    - {id: c, label: C, activity: x, points: lots}\n",
            "scoring.yaml:6 engagement.rules[2].points: must be a number",
        ),
        ("fit: {}\n", "scoring.yaml:1 name: is required"),
        (
            "name: m\nfit: [\n",
            "scoring.yaml:3: YAML syntax error: expected the node content, but found '<stream end>'",
        ),
        ("name: m\nname: n\n", "scoring.yaml:2 name: duplicate key"),
        (
            "name: m\nfit:\n  max: 5\x00\n",
            "scoring.yaml:3: YAML syntax error: unacceptable character #x0000",
        ),
        ("name: ''\n", "scoring.yaml:1 name: must not be empty"),
        ("name: m\nfit:\n  max: 50\n  max: 60\n", "scoring.yaml:4 fit.max: duplicate key"),
        (
            fit_with(
                "    - {id: r, label: R, when: {field: title, op: exists}, points: 5, points: 6}\n"
            ),
            "scoring.yaml:4 fit.rules[0].points: duplicate key",
        ),
        ("- just\n- a list\n", "scoring.yaml:1: the model must be a mapping of sections"),
        ("name: m\nfitt: {}\n", "scoring.yaml:2 fitt: unknown setting 'fitt'; did you mean 'fit'?"),
        (
            fit_with("    - {id: r, label: R, when: {field: title, op: exists}, pionts: 5}\n"),
            "scoring.yaml:4 fit.rules[0].pionts: unknown setting 'pionts'; did you mean 'points'?",
        ),
        (
            fit_with(
                "    - {id: r, label: R, when: {field: title, op: equals, value: x}, points: 5}\n"
            ),
            "scoring.yaml:4 fit.rules[0].when.op: must be one of: 'eq', 'ne', 'in', 'not_in', "
            "'lt', 'lte', 'gt', 'gte', 'between', 'contains', 'matches', 'exists', 'missing' "
            "or 'within_days'",
        ),
        (
            fit_with("    - {id: r, label: R, when: {field: title, op: eq}, points: 5}\n"),
            "scoring.yaml:4 fit.rules[0].when: op 'eq' needs a value",
        ),
        (
            fit_with(
                "    - {id: r, label: R, when: {field: title, op: exists, value: 1}, points: 5}\n"
            ),
            "scoring.yaml:4 fit.rules[0].when: op 'exists' takes no value",
        ),
        (
            fit_with(
                "    - {id: r, label: R, when: {field: company.employees, op: between, value: [1]}, points: 5}\n"
            ),
            "scoring.yaml:4 fit.rules[0].when: op 'between' needs two values: [low, high]",
        ),
        (
            fit_with(
                "    - {id: r, label: R, when: {field: company.employees, op: gt, value: many}, points: 5}\n"
            ),
            "scoring.yaml:4 fit.rules[0].when: op 'gt' compares numbers or dates",
        ),
        (
            fit_with(
                "    - {id: r, label: R, when: {field: country, op: in, value: US}, points: 5}\n"
            ),
            "scoring.yaml:4 fit.rules[0].when: op 'in' needs a list of values, e.g. [US, CA]",
        ),
        (
            fit_with(
                "    - {id: r, label: R, when: {field: title, op: matches, value: '(VP'}, points: 5}\n"
            ),
            "scoring.yaml:4 fit.rules[0].when: not a valid regular expression: "
            "missing ), unterminated subpattern at position 0",
        ),
        (
            fit_with(
                "    - {id: r, label: R, when: {field: title, op: matches, value: '(a)\\1'}, points: 5}\n"
            ),
            "scoring.yaml:4 fit.rules[0].when: RE2 cannot run this regular expression "
            "(invalid escape sequence: \\1): leadq runs patterns in linear time, "
            "so backreferences and lookarounds are not supported",
        ),
        (
            fit_with(
                "    - {id: r, label: R, when: {field: title, op: matches, value: '(?<!vice )president'}, points: 5}\n"
            ),
            "scoring.yaml:4 fit.rules[0].when: RE2 cannot run this regular expression "
            "(invalid perl operator: (?<!): leadq runs patterns in linear time, "
            "so backreferences and lookarounds are not supported",
        ),
        (
            fit_with(
                "    - {id: r, label: R, when: {field: created_at, op: within_days, value: soon}, points: 5}\n"
            ),
            "scoring.yaml:4 fit.rules[0].when: op 'within_days' needs a number of days, e.g. 30",
        ),
        (
            fit_with("    - {id: r, label: R, when: 5, points: 5}\n"),
            "scoring.yaml:4 fit.rules[0].when: must be a condition: {field, op, value}, "
            "{activity: ...}, {all: [...]}, {any: [...]} or {not: ...}",
        ),
        (
            fit_with("    - {id: r, label: R, when: {field: titel, op: exists}, points: 5}\n"),
            "scoring.yaml:4 fit.rules[0].when.field: unknown field 'titel'; did you mean 'title'?",
        ),
        (
            fit_with(
                "    - {id: r, label: R, when: {any: [{field: country, op: eq, value: US}, {field: company.employes, op: gt, value: 5}]}, points: 5}\n"
            ),
            "scoring.yaml:4 fit.rules[0].when.any[1].field: unknown field 'company.employes'; "
            "did you mean 'company.employees'?",
        ),
        (
            fit_with(
                "    - {id: r, label: R, when: {field: title, op: gt, value: 5}, points: 5}\n"
            ),
            "scoring.yaml:4 fit.rules[0].when.op: title is text; 'gt' compares numbers or dates",
        ),
        (
            fit_with(
                "    - {id: r, label: R, when: {field: company.employees, op: contains, value: 5}, points: 5}\n"
            ),
            "scoring.yaml:4 fit.rules[0].when.op: company.employees is a number; "
            "'contains' works on text",
        ),
        (
            fit_with(
                "    - {id: r, label: R, when: {field: country, op: within_days, value: 5}, points: 5}\n"
            ),
            "scoring.yaml:4 fit.rules[0].when.op: country is not a date; "
            "'within_days' needs a date field",
        ),
        (
            fit_with(RULE + RULE),
            "scoring.yaml:5 fit.rules[1].id: id 'r1' is used twice",
        ),
        (
            fit_with("    - {id: 9lives, label: R, when: {field: title, op: exists}, points: 5}\n"),
            "scoring.yaml:4 fit.rules[0].id: must start with a letter and use only letters, digits, _ and -",
        ),
        (
            engagement_with(
                "    - {id: v, label: V, activity: page_view, points: 5, group: web}\n"
            ),
            "scoring.yaml:4 engagement.rules[0].group: unknown group 'web' "
            "(groups: none are declared under engagement.groups)",
        ),
        (
            engagement_with(
                "    - {id: v, label: V, activity: page_view, points: 5, "
                "where: {field: title, op: exists}}\n"
            ),
            "scoring.yaml:4 engagement.rules[0].where.field: unknown field 'title' "
            "(known: type, url, form, campaign, subject, occurred_at)",
        ),
        (
            engagement_with(
                "    - {id: v, label: V, activity: page_view, points: 5, "
                "where: {activity: demo_request}}\n"
            ),
            "scoring.yaml:4 engagement.rules[0].where: an activity test cannot sit inside `where`",
        ),
        (
            engagement_with(
                "    - {id: v, label: V, activity: page_view, points: 5}\n",
                extra="  decay: {half_life_days: 30, percent_per_month: 50}\n",
            ),
            "scoring.yaml:3 engagement.decay: give half_life_days or percent_per_month, not both",
        ),
        (
            engagement_with("    - {id: v, label: V, activity: page_view, points: 5, cap: -1}\n"),
            "scoring.yaml:4 engagement.rules[0].cap: must be above 0",
        ),
        (
            "name: m\nfit:\n  grades: {A: 50, B: 60, C: 40, D: 20}\n",
            "scoring.yaml:3 fit.grades: grade thresholds must not increase from A to D",
        ),
        (
            "name: m\nqualification:\n  engagement_bands: [20, 40, 60]\n",
            "scoring.yaml:3 qualification.engagement_bands: "
            "engagement bands must go from highest to lowest",
        ),
        (
            "name: m\nqualification:\n  priorities: {E1: 1}\n",
            "scoring.yaml:3 qualification.priorities: unknown label 'E1': labels run from A1 to D4 (and hand_raiser)",
        ),
        (
            "name: m\nscore: {fit_weight: 0, engagement_weight: 0}\n",
            "scoring.yaml:2 score: at least one of fit_weight and engagement_weight must be above 0",
        ),
        (
            "name: m\ncsv:\n  activities:\n    types: {Visit: page_view, Call: ''}\n",
            "scoring.yaml:4 csv.activities.types: 'Call' maps to a blank activity type",
        ),
        (
            "name: m\ncsv:\n  columns: {company.size: Employees}\n",
            "scoring.yaml:3 csv.columns: unknown lead field 'company.size'; "
            "did you mean 'company.id'?",
        ),
        (
            "name: m\nstages:\n  - stage: mql\n    when: {field: grade, op: in, value: [A]}\n"
            "  - stage: mql\n    when: {field: engagment, op: gte, value: 40}\n",
            "scoring.yaml:6 stages[1].when.field: unknown field 'engagment'; "
            "did you mean 'engagement'?",
        ),
    ],
)
def test_a_broken_model_gets_a_located_message(text: str, expected: str) -> None:
    assert problems(text) == [expected]


FINITE = "must be a finite number, not .nan or .inf"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (fit_with(RULE.replace("points: 5", "points: .nan")), f"4 fit.rules[0].points: {FINITE}"),
        (fit_with(RULE.replace("points: 5", "points: -.inf")), f"4 fit.rules[0].points: {FINITE}"),
        (
            fit_with(RULE.replace("points: 5", "points: 1e18")),
            "4 fit.rules[0].points: must be at most 1,000,000",
        ),
        (
            fit_with(RULE.replace("points: 5", "points: -1000001")),
            "4 fit.rules[0].points: must be at least -1,000,000",
        ),
        ("name: m\nscore:\n  fit_weight: .inf\n", f"3 score.fit_weight: {FINITE}"),
        ("name: m\nscore:\n  fit_weight: -1\n", "3 score.fit_weight: must be at least 0"),
        ("name: m\nfit:\n  max: .inf\n", f"3 fit.max: {FINITE}"),
        ("name: m\nengagement:\n  max: 1e7\n", "3 engagement.max: must be at most 1,000,000"),
        ("name: m\nfit:\n  grades: {A: .nan}\n", f"3 fit.grades.A: {FINITE}"),
        (
            "name: m\nengagement:\n  decay: {half_life_days: .inf}\n",
            f"3 engagement.decay.half_life_days: {FINITE}",
        ),
        (
            "name: m\nqualification:\n  engagement_bands: [60, .nan, 20]\n",
            f"3 qualification.engagement_bands[1]: {FINITE}",
        ),
        (
            "name: m\nqualification:\n  priorities: {A1: 99999999999999999999}\n",
            "3 qualification.priorities.A1: must be at most 1,000,000",
        ),
        (
            engagement_with("    - {id: v, label: V, activity: x, points: 5, cap: .inf}\n"),
            f"4 engagement.rules[0].cap: {FINITE}",
        ),
        (
            fit_with(
                "    - {id: r, label: R, when: {field: company.employees, op: gt, value: .nan}, points: 5}\n"
            ),
            "4 fit.rules[0].when: op 'gt' needs a finite number, not .nan or .inf",
        ),
        (
            fit_with(
                "    - {id: r, label: R, when: {field: company.employees, op: eq, value: "
                + "9" * 400
                + "}, points: 5}\n"
            ),
            "4 fit.rules[0].when: op 'eq' needs a finite number, not .nan or .inf",
        ),
        (
            fit_with(
                "    - {id: r, label: R, when: {field: company.employees, op: between, value: [1, .inf]}, points: 5}\n"
            ),
            "4 fit.rules[0].when: op 'between' needs a finite number, not .nan or .inf",
        ),
    ],
)
def test_numbers_that_are_not_finite_or_too_large_are_refused_where_they_are(
    text: str, expected: str
) -> None:
    assert problems(text) == [f"scoring.yaml:{expected}"]


def test_a_label_longer_than_200_characters_is_refused_with_its_length() -> None:
    long_label = "x" * 250
    assert problems(fit_with(RULE.replace("label: R1", f"label: {long_label}"))) == [
        "scoring.yaml:4 fit.rules[0].label: is 250 characters long; at most 200 are allowed"
    ]


def test_a_rule_id_longer_than_100_characters_is_refused() -> None:
    assert problems(fit_with(RULE.replace("id: r1", "id: r" + "1" * 100))) == [
        "scoring.yaml:4 fit.rules[0].id: is 101 characters long; at most 100 are allowed"
    ]


def test_several_problems_are_all_reported_at_once() -> None:
    text = "name: m\nfit:\n  max: -5\n  rules:\n    - {id: a, label: A, when: {field: title, op: exists}, points: x}\n"
    assert problems(text) == [
        "scoring.yaml:3 fit.max: must be above 0",
        "scoring.yaml:5 fit.rules[0].points: must be a number",
    ]


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError) as caught:
        load_model(tmp_path / "nope.yaml")
    assert str(caught.value) == "nope.yaml: file not found"


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_bytes("name: 見込み客\n".encode("cp932"))
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    assert str(caught.value) == "model.yaml: not UTF-8 text (invalid start byte)"


def test_a_model_file_with_a_bom_loads(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_text("name: bom model\n", encoding="utf-8-sig")
    assert load_model(path).name == "bom model"


def test_a_blank_value_is_refused_where_it_could_never_match() -> None:
    text = "name: m\nfit:\n  rules:\n    - {id: r, label: R, when: {field: title, op: contains, value: ''}, points: 5}\n"
    assert problems(text) == [
        "scoring.yaml:4 fit.rules[0].when: op 'contains' needs a value that is not blank; "
        "to test for blank use 'missing'"
    ]


def test_a_condition_can_be_written_once_and_reused_through_a_yaml_alias() -> None:
    model = parse_model(
        "name: m\nfit:\n  rules:\n"
        "    - {id: vp, label: VP, when: &senior {field: title, op: matches, value: VP}, points: 5}\n"
        "stages:\n  - {stage: mql, when: *senior}\n"
    )
    assert model.stages[0].when == model.fit.rules[0].when


def test_aliases_that_would_expand_to_a_million_values_are_refused_where_they_explode() -> None:
    levels = ["    - &l0 [title, title, title, title, title, title, title, title, title, title]"]
    for level in range(1, 6):
        levels.append(f"    - &l{level} [" + ", ".join([f"*l{level - 1}"] * 10) + "]")
    text = "name: m\nlearn:\n  exclude:\n" + "\n".join(levels) + "\n"
    assert problems(text) == [
        "scoring.yaml:8 learn.exclude[4]: its aliases expand to more than 100,000 values; refused"
    ]


def test_an_alias_inside_its_own_anchor_is_refused_rather_than_followed_forever() -> None:
    text = "name: m\nlearn:\n  exclude: &loop [title, *loop]\n"
    assert problems(text) == [
        "scoring.yaml:3 learn.exclude[1]: its aliases expand to more than 100,000 values; refused"
    ]


@pytest.mark.parametrize(
    "nesting",
    [
        "    - when: " + "[" * 900 + "]" * 900 + "\n",
        "    - when: " + "{a: " * 900 + "1" + "}" * 900 + "\n",
        "".join("  " * level + "    - a:\n" for level in range(900)),
    ],
    ids=["flow lists", "flow mappings", "block mappings"],
)
def test_nesting_900_levels_deep_is_refused_in_one_line(nesting: str) -> None:
    (problem,) = problems(fit_with(nesting))
    assert problem.startswith("scoring.yaml:")
    assert problem.endswith(": nested more than 64 levels deep; refused")


def test_conditions_nested_as_deep_as_the_limit_allows_still_load_and_score() -> None:
    condition = "{not: " * 28 + "{field: title, op: exists}" + "}" * 28
    model = parse_model(fit_with(f"    - {{id: r, label: R, when: {condition}, points: 5}}\n"))
    assert score(make_lead(title="CEO"), [], model, NOW).fit == 5
