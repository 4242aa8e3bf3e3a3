"""The activity ledger's packing, merging and what it keeps for a model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.records import Activity
from scoring.loading import load_model
from sync.ledger import LedgerSpec, merged, pack, unpack

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
MODEL = load_model(Path(__file__).parents[3] / "examples" / "sandbox.yaml")


def visits(count: int) -> list[Activity]:
    pages = ["https://acme.example/blog/a", "https://acme.example/product", None]
    return [
        Activity(lead_id="L1", type="page_view" if n % 4 else "form_submission",
                 occurred_at=NOW - timedelta(days=n, milliseconds=n * 37), url=pages[n % 3],
                 form="Contact us" if n % 4 == 0 else None, campaign="Spring")
        for n in range(count)
    ]


def test_packed_activity_comes_back_with_the_details_the_model_reads() -> None:
    details = LedgerSpec.of(MODEL, 365).details
    activities = visits(40)

    back = unpack("L1", pack(activities, details), details)

    assert details == ("url", "form")
    assert back == merged(activities, [], details, NOW - timedelta(days=365))
    assert {activity.campaign for activity in back} == {None}  # not read by the model: not kept


def test_a_packed_activity_takes_well_under_forty_bytes() -> None:
    activities = visits(200)
    assert len(pack(activities, ("url", "form"))) / len(activities) < 40


def test_merging_keeps_each_activity_once_and_none_past_the_horizon() -> None:
    old, new = visits(10), visits(12)

    kept = merged(old, new, ("url", "form"), NOW - timedelta(days=8))

    assert len(kept) == 8


def test_a_model_without_activity_details_keeps_type_and_time_only() -> None:
    bare = MODEL.model_copy(update={
        "engagement": MODEL.engagement.model_copy(update={
            "rules": [rule.model_copy(update={"where": None, "within_days": 30})
                      for rule in MODEL.engagement.rules]}),
        "stages": [],
        "bant": MODEL.bant.model_copy(update={"need": None, "timing": None}),
    })

    spec = LedgerSpec.of(bare, 365)

    assert spec == LedgerSpec(details=(), days=30)
    assert not spec.covers(LedgerSpec.of(MODEL, 365))
    assert "url, form" in spec.lacks(LedgerSpec.of(MODEL, 365))
