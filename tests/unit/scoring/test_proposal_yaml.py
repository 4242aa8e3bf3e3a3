"""The proposal file `learn` writes: whatever text a rule holds, leadq reads back exactly the
model that was proposed, with each rule's evidence above it as a comment."""

from __future__ import annotations

from builders import model_from
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.conditions import FieldTest
from scoring.config import (
    Fit,
    FitRule,
    ScoringModel,
)
from scoring.learn import Evidence
from scoring.loading import parse_model
from scoring.model_types import (
    MOST_LABEL,
)
from scoring.proposal_yaml import render_yaml
from scoring.scorecard import Scorecard

BASE = model_from("name: base\n")
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1)


def card_with(rule: FitRule, description: str | None = None) -> Scorecard:
    model = BASE.model_copy(update={"fit": Fit(rules=[rule]), "description": description})
    evidence = {rule.id: Evidence(leads=12, converted=3, weight=0.5)}
    return Scorecard(model, evidence, 10.0, 0.1, "10% of leads", 50)


def read_back(card: Scorecard) -> ScoringModel:
    return parse_model(render_yaml(card), source="proposed.yaml")


@settings(max_examples=150, deadline=None)
@given(label=TEXT.filter(lambda label: len(label) <= MOST_LABEL), value=TEXT.filter(str.strip))
def test_any_label_and_value_read_back_as_they_were_proposed(label: str, value: str) -> None:
    rule = FitRule(
        id="r", label=label, when=FieldTest(field="title", op="eq", value=value), points=5
    )
    assert read_back(card_with(rule)).fit.rules == [rule]


def test_texts_that_yaml_would_read_as_something_else_stay_texts() -> None:
    texts = ("NO", "yes", "off", "010", "0o10", "1:20", "1e3", "2026-01-01", "null", "~", "a: b")
    for value in texts:
        rule = FitRule(
            id="r", label=value, when=FieldTest(field="title", op="eq", value=value), points=1
        )
        assert read_back(card_with(rule)).fit.rules == [rule], value


@settings(max_examples=50, deadline=None)
@given(words=st.lists(TEXT.filter(lambda w: w.split() == [w]), min_size=1, max_size=40))
def test_a_long_description_is_folded_and_reads_back_as_one_line(words: list[str]) -> None:
    description = " ".join(words)
    rule = FitRule(id="r", label="R", when=FieldTest(field="title", op="exists"), points=1)
    assert read_back(card_with(rule, description)).description == description


def test_each_rule_has_its_evidence_above_it_and_stays_on_one_line() -> None:
    rule = FitRule(
        id="gold",
        label="Gold tier",
        when=FieldTest(field="fields.tier", op="in", value=["gold", "platinum"]),
        points=12,
    )
    text = render_yaml(card_with(rule), ["Proposed by a test.", "", "Review it."])
    assert text.startswith("# Proposed by a test.\n#\n# Review it.\nname: base\n")
    assert (
        "  rules:\n"
        "    # 12 leads, 25.0% converted, weight +0.50\n"
        "    - {id: gold, label: Gold tier, when: {field: fields.tier, op: in, "
        "value: [gold, platinum]}, points: 12}\n"
    ) in text
