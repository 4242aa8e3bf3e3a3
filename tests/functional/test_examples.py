"""Every example in examples/ loads and runs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from builders import NOW

from scoring.loading import load_model
from sync.csvscore import CsvScoringRun, score_csv

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_model_loads(path: Path) -> None:
    model = load_model(path)
    assert model.name
    assert len(model.version) == 12


def test_the_b2b_example_uses_every_feature_of_the_model() -> None:
    model = load_model(EXAMPLES / "scoring.yaml")
    assert any(rule.points < 0 for rule in model.fit.rules)
    assert all(
        getattr(model.bant, c) is not None for c in ("budget", "authority", "need", "timing")
    )
    rules = model.engagement.activity_rules
    assert any(r.once for r in rules) and any(r.cap for r in rules) and any(r.group for r in rules)
    assert any(r.within_days for r in rules) and any(r.where for r in rules)
    assert any(not r.decay for r in rules) and any(r.points < 0 for r in rules)
    [counted] = model.engagement.count_rules  # a count on the lead: the export's web visits
    assert (counted.unit, counted.cap, counted.last_activity) == ("visit", 10, "fields.last_visit")
    assert model.engagement.decay.half_life_days == 30
    assert model.qualification.priorities and len(model.stages) >= 2


def test_the_japanese_example_reads_a_cp932_export_and_reasons_in_japanese(tmp_path: Path) -> None:
    model = load_model(EXAMPLES / "scoring.ja.yaml")
    assert model.engagement.decay.percent_per_month == 25
    run = CsvScoringRun(model, EXAMPLES / "leads.ja.csv", EXAMPLES / "activities.ja.csv", "cp932")
    output = tmp_path / "scored.csv"
    report = score_csv(run, output, NOW)
    assert report.leads == 8
    with output.open(encoding="utf-8-sig") as handle:
        rows = {row["リードID"]: row for row in csv.DictReader(handle)}
    assert rows["J-004"]["leadq_stage"] == "mql"
    assert rows["J-004"]["leadq_reasons"].startswith("MQL: 適合度・関心度とも高い、デモ依頼 (+40)、")
    assert rows["J-003"]["leadq_grade"] == "F"
    assert "学生 (-40)" in rows["J-003"]["leadq_reasons"]
