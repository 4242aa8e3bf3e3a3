"""The benchmark's yardstick, the example model written out in plain numpy, scores exactly as
leadq does: otherwise `python -m benchmarks scoring` would compare different work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import synthetic
from benchmarks.numpy_reference import reference_scores
from scoring.loading import load_model
from scoring.qualify import score_batch

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "scoring.yaml"


@pytest.mark.parametrize("seed", [1, 2])
def test_the_numpy_reference_gives_every_lead_the_scores_leadq_gives(seed: int) -> None:
    model = load_model(EXAMPLE)
    table = synthetic.lead_table(3_000, seed=seed)
    activities = synthetic.activity_frame(3_000, 20, seed=seed + 10)
    scored = score_batch(table, activities, model, synthetic.NOW)
    reference = reference_scores(table, activities, synthetic.NOW.timestamp())
    for name in ("fit", "engagement", "score", "grade", "label", "priority", "stage"):
        assert np.array_equal(getattr(scored, name), getattr(reference, name)), name
    assert len(set(scored.label.tolist())) > 5 and scored.stage.tolist().count("mql") > 10


def test_leads_scored_from_columns_score_as_the_same_leads_as_records() -> None:
    model = load_model(EXAMPLE)
    records = synthetic.leads(500)
    activities = synthetic.activity_frame(500, 20)
    from_records = score_batch(records, activities, model, synthetic.NOW)
    from_columns = score_batch(synthetic.lead_table(500), activities, model, synthetic.NOW)
    assert list(from_columns.reasons_text) == list(from_records.reasons_text)
    assert np.array_equal(from_columns.score, from_records.score)
    assert from_columns.lead_ids == from_records.lead_ids
