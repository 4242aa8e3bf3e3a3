"""A run's report stays the same size however many leads the run changes (sync/engine.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from sync.engine import ASSIGNMENTS_KEPT, CHANGES_KEPT, Assignment, PlannedChange, RunReport


def change(number: int) -> PlannedChange:
    return PlannedChange(f"L{number}", f"Lead {number}", "leadq_score", 10, 60, "fit 40")


def test_the_report_counts_every_change_and_assignment_but_keeps_only_a_sample() -> None:
    report = RunReport("run", "full", False, datetime(2026, 11, 1, tzinfo=UTC))

    for page in range(2_000):  # 200,000 leads changed, 100 a page
        report.add_changes([change(page * 100 + n) for n in range(100)])
        report.add_assignments(
            [Assignment(f"L{page}", "Lead", "O1", "Owner One", "round robin")]
        )

    assert (report.fields_changed, report.assigned) == (200_000, 2_000)
    assert len(report.changes) == CHANGES_KEPT and len(report.assignments) == ASSIGNMENTS_KEPT
    assert report.changes[0].lead_id == "L0"  # the first ones, in order
