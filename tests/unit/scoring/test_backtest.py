"""Backtest: cut-offs before outcomes, ROC AUC, thresholds, lift, calibration, stages, splits."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from builders import NOW, activity, make_lead, model_from

from connectors.csv_activity_index import (
    ActivityIndex,
)
from connectors.records import Outcome
from scoring.backtest import (
    labelled_from_records,
    run_backtest,
    score_as_of_cutoffs,
    stratified_folds,
    time_ordered_split,
)
from scoring.conversion_measures import (
    bands_out_of_order,
    roc_auc,
    score_deciles,
    segments,
    threshold_table,
)
from scoring.loading import load_model
from sync.csvscore import CsvScoringRun

EXAMPLES = Path(__file__).parents[3] / "examples"

DEMO_MODEL = model_from(
    """
    fit:
      rules:
        - {id: senior, label: Senior title, when: {field: title, op: matches, value: VP}, points: 50}
    engagement:
      decay: {half_life_days: 30}
      rules:
        - {id: demo, label: Requested a demo, activity: demo_request, points: 40, once: true}
    stages:
      - {stage: mql, label: Senior, when: {field: grade, op: in, value: [A, B, C]}}
      - {stage: mql, label: Demo, when: {activity: demo_request, within_days: 30}}
    """
)


def converted_at(lead_id: str, days_ago: float) -> Outcome:
    return Outcome(lead_id=lead_id, converted=True, at=NOW - timedelta(days=days_ago))


def test_an_activity_after_the_outcome_does_not_count_towards_the_backtest_score() -> None:
    leads = [make_lead("won"), make_lead("open")]
    activities = [activity("demo_request", 5, "won"), activity("demo_request", 0, "open")]
    outcomes = [converted_at("won", 10)]  # the demo came five days after the conversion
    labelled = labelled_from_records(leads, activities, outcomes, NOW)
    scored = score_as_of_cutoffs(labelled, DEMO_MODEL)
    assert list(scored.engagement) == [0, 40]
    assert list(labelled.converted) == [True, False]


def test_activities_decay_from_the_leads_cutoff_not_from_the_end_of_the_data() -> None:
    leads = [make_lead("won")]
    activities = [activity("demo_request", 101, "won")]  # a day before it converted, long ago
    labelled = labelled_from_records(leads, activities, [converted_at("won", 100)], NOW)
    engagement = score_as_of_cutoffs(labelled, DEMO_MODEL).engagement[0]
    assert 38 <= engagement <= 40  # one to two days of decay, not a hundred


def test_a_lead_without_an_outcome_record_has_not_converted_and_is_scored_as_of_now() -> None:
    leads = [make_lead("a"), make_lead("b")]
    labelled = labelled_from_records(leads, [activity("demo_request", 0, "b")], [], NOW)
    assert not labelled.converted.any()
    assert list(score_as_of_cutoffs(labelled, DEMO_MODEL).engagement) == [0, 40]


def test_roc_auc_is_the_chance_a_converted_lead_outscores_another_with_ties_counting_half() -> None:
    converted = np.array([True, True, False, False])
    assert roc_auc(converted, np.array([4, 3, 2, 1])) == 1.0
    assert roc_auc(converted, np.array([1, 2, 3, 4])) == 0.0
    assert roc_auc(converted, np.array([3, 2, 2, 1])) == 0.875  # one tie of four pairs
    assert np.isnan(roc_auc(np.array([True, True]), np.array([1, 2])))


def test_the_threshold_table_gives_precision_recall_and_volume_for_every_mql_threshold() -> None:
    converted = np.array([True, True, False, False, True, False, False, False, False, False])
    score = np.array([90, 80, 70, 60, 50, 40, 30, 20, 10, 0])
    rows = {row.threshold: row for row in threshold_table(converted, score)}
    assert len(rows) == 101
    at_75 = rows[75]
    assert (at_75.leads, at_75.converted, at_75.share) == (2, 2, 0.2)
    assert at_75.precision == 1.0 and at_75.recall == pytest.approx(2 / 3)
    assert at_75.lift == pytest.approx(1.0 / 0.3)
    assert rows[0].leads == 10 and rows[0].recall == 1.0
    assert rows[100].leads == 0 and rows[100].precision == 0.0


def test_deciles_rank_leads_by_score_and_show_conversion_and_lift_per_tenth() -> None:
    score = np.arange(100, 0, -1)
    converted = np.zeros(100, dtype=bool)
    converted[:5] = True  # the five best scores converted
    converted[50] = True
    by_decile = segments(converted, score_deciles(score), [str(d) for d in range(1, 11)])
    assert [s.name for s in by_decile] == [str(d) for d in range(1, 11)]
    assert by_decile[0].leads == 10 and by_decile[0].converted == 5
    assert by_decile[0].rate == 0.5 and by_decile[0].lift == pytest.approx(0.5 / 0.06)
    assert by_decile[0].share_of_conversions == pytest.approx(5 / 6)
    assert by_decile[5].converted == 1


def test_a_score_band_converting_worse_than_a_lower_band_is_called_out_of_order() -> None:
    bands = ["0–9"] * 40 + ["10–19"] * 40 + ["20–29"] * 40
    converted = np.array([False] * 40 + [True] * 20 + [False] * 20 + [True] * 4 + [False] * 36)
    found = segments(converted, np.array(bands, dtype=object), ["0–9", "10–19", "20–29"])
    assert [band.rate for band in found] == [0.0, 0.5, 0.1]
    assert bands_out_of_order(found) == ["20–29"]


def test_the_backtest_counts_what_each_stage_rule_passes_to_sales() -> None:
    leads = [make_lead(f"L{i}", title="VP Sales" if i < 3 else "Analyst") for i in range(10)]
    activities = [activity("demo_request", 2, "L5"), activity("demo_request", 2, "L6")]
    outcomes = [converted_at("L0", 1), converted_at("L5", 1)]
    result = run_backtest(labelled_from_records(leads, activities, outcomes, NOW), DEMO_MODEL)
    passes = {p.rule: (p.stage, p.leads, p.converted) for p in result.stages}
    assert passes == {
        "Senior": ("mql", 3, 1),
        "Demo": ("mql", 2, 1),
        "no rule matched": ("lead", 5, 0),
    }
    passed = result.passed_to_sales
    assert passed is not None
    assert (passed.leads, passed.converted, passed.share_of_conversions) == (5, 2, 1.0)


def test_a_time_ordered_split_measures_only_the_most_recently_created_leads() -> None:
    leads = [make_lead(f"L{i}", created_at=NOW - timedelta(days=100 - i)) for i in range(10)]
    labelled = labelled_from_records(leads, [], [converted_at("L9", 0)], NOW)
    earlier, latest = time_ordered_split(labelled, 0.2)
    assert [labelled.leads[i].id for i in latest] == ["L8", "L9"]
    assert len(earlier) == 8
    result = run_backtest(labelled, DEMO_MODEL, test_share=0.2)
    assert result.leads == 2 and result.converted == 1
    assert result.split == "latest 20% of leads by created_at: 2 of 10"


def test_stratified_folds_share_out_the_conversions_evenly_and_cover_every_lead_once() -> None:
    converted = np.array([True] * 10 + [False] * 40)
    folds = stratified_folds(converted, 5)
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(50))
    assert [int(converted[test].sum()) for _, test in folds] == [2, 2, 2, 2, 2]


def test_a_backtest_at_the_end_of_the_data_scores_exactly_as_leadq_score_does() -> None:
    model = load_model(EXAMPLES / "scoring.yaml")
    (batch,) = CsvScoringRun(model, EXAMPLES / "leads.csv", EXAMPLES / "activities.csv").batches(
        NOW
    )
    with ActivityIndex(EXAMPLES / "activities.csv", model.csv.activities) as index:
        activities = index.for_leads(lead.id for lead in batch.leads)
    labelled = labelled_from_records(batch.leads, activities, [], NOW)
    scored = score_as_of_cutoffs(labelled, model)
    assert scored.score.tolist() == batch.scored.score.tolist()
    assert scored.stage.tolist() == batch.scored.stage.tolist()
    assert np.array_equal(scored.contributions, batch.scored.contributions)
