"""Scoring speed (one core) and the CSV path's memory."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks import synthetic
from benchmarks.measure import Measurement, median_seconds, run_in_child
from benchmarks.numpy_reference import reference_scores
from connectors.records import Activity, Lead
from scoring.frame import ActivityFrame, LeadTable
from scoring.loading import load_model, parse_model
from scoring.qualify import CompiledModel, ScoredBatch, compile_model, score_batch

EXAMPLE_MODEL = Path(__file__).resolve().parent.parent / "examples" / "scoring.yaml"
TARGET_LEADS_PER_SECOND = 100_000


def scoring_speed(leads: int = 100_000, per_lead: int = 20, repeats: int = 5) -> list[Measurement]:
    """Leads/s for the example model (every feature) on one core, from columns, beside a plain
    numpy implementation of the same arithmetic (benchmarks/numpy_reference.py); then with the
    reasons line of every lead, and from records."""
    model = compile_model(load_model(EXAMPLE_MODEL))
    table = synthetic.lead_table(leads)
    activities = synthetic.activity_frame(leads, per_lead)
    _check_reference(score_batch(table, activities, model, synthetic.NOW), table, activities)
    now = synthetic.NOW.timestamp()
    leadq_times, reference_times, reasons_times = [], [], []
    for _ in range(repeats):  # interleaved, so both see the same load on a shared machine
        leadq_times.append(_seconds(lambda: score_batch(table, _fresh(activities), model, NOW)))
        reference_times.append(_seconds(lambda: reference_scores(table, activities, now)))
        reasons_times.append(_seconds(lambda: _with_reasons(table, activities, model)))
    rate, reference_rate, reasons_rate = (
        leads / statistics.median(times) for times in (leadq_times, reference_times, reasons_times)
    )
    share = rate / reference_rate
    detail = f"{leads:,} leads × {per_lead} activities, median of {repeats}"
    return [
        *backtracking_trap(),
        Measurement("scoring", "leads per second, from columns", rate, "leads/s", detail=detail),
        Measurement(
            "scoring",
            "plain numpy, the same arithmetic and scores",
            reference_rate,
            "leads/s",
            detail="benchmarks/numpy_reference.py; its scores are checked equal",
        ),
        Measurement(
            "scoring",
            "leadq / plain numpy",
            share * 100,
            "%",
            f"≥ {TARGET_SHARE_OF_NUMPY:.0%}",
            share >= TARGET_SHARE_OF_NUMPY,
        ),
        Measurement(
            "scoring",
            "leads per second, reasons line of every lead included",
            reasons_rate,
            "leads/s",
            f"≥ {TARGET_LEADS_PER_SECOND:,}",
            reasons_rate >= TARGET_LEADS_PER_SECOND,
            detail,
        ),
        Measurement(
            "scoring",
            "leads per second, from Lead and Activity records",
            _from_records(model, per_lead),
            "leads/s",
            detail="includes turning pydantic records into columns",
        ),
    ]


NOW = synthetic.NOW
TARGET_SHARE_OF_NUMPY = 0.5


def _seconds(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _fresh(activities: ActivityFrame) -> ActivityFrame:
    """The same activities without the indexes an earlier run built on them."""
    return ActivityFrame(
        activities.lead_index,
        activities.occurred_at,
        {name: activities.text(name) for name in ("type", "url", "form")},
        activities.now,
    )


def _with_reasons(table: LeadTable, activities: ActivityFrame, model: CompiledModel) -> None:
    scored = score_batch(table, _fresh(activities), model, NOW)
    assert len(scored.reasons_text) == len(table)


def _check_reference(scored: ScoredBatch, table: LeadTable, activities: ActivityFrame) -> None:
    """The yardstick must do the same work: every lead's scores equal leadq's."""
    reference = reference_scores(table, activities, NOW.timestamp())
    for name in ("fit", "engagement", "score", "grade", "label", "priority", "stage"):
        if not np.array_equal(getattr(scored, name), getattr(reference, name)):
            raise AssertionError(f"the numpy reference's {name} differs from leadq's")


TRAP_MODEL = """
name: backtracking trap
fit:
  rules:
    - {id: trap, label: Trap, when: {field: title, op: matches, value: '(a+)+$'}, points: 1}
"""


def backtracking_trap(
    lengths: tuple[int, int] = (1_000, 8_000), leads: int = 500
) -> list[Measurement]:
    """`(a+)+$` against titles of a's that end in something else: a backtracking engine doubles its
    time with every character; RE2's cost per character stays the same as titles grow."""
    model = compile_model(parse_model(TRAP_MODEL))
    per_character = [
        _trap_seconds(model, length, leads) / (leads * length) * 1e9 for length in lengths
    ]
    growth = per_character[1] / per_character[0]
    return [
        Measurement(
            "scoring",
            f"regex (a+)+$ on {length:,}-character titles that fail it",
            nanoseconds,
            "ns/char",
            detail=f"{leads:,} distinct titles, each searched once",
        )
        for length, nanoseconds in zip(lengths, per_character, strict=True)
    ] + [
        Measurement(
            "scoring",
            f"regex cost per character, {lengths[1]:,} / {lengths[0]:,}-character titles",
            growth,
            "×",
            "≤ 2× (linear)",
            growth <= 2,
            "a backtracking engine takes 40 s on one 29-character title",
        )
    ]


def _trap_seconds(model: object, length: int, leads: int) -> float:
    records = [Lead(id=str(i), title="a" * length + f"!{i}") for i in range(leads)]
    return median_seconds(lambda: score_batch(records, [], model, synthetic.NOW), 3)


def _from_records(model: object, per_lead: int, leads: int = 20_000) -> float:
    records = synthetic.leads(leads)
    frame = synthetic.activity_frame(leads, per_lead)
    activities = [
        Activity.model_construct(
            lead_id=records[lead].id,
            type=kind,
            occurred_at=_as_datetime(when),
            url=url,
            form=form,
            campaign=None,
            subject=None,
        )
        for lead, kind, when, url, form in zip(
            frame.lead_index.tolist(),
            frame.raw("type"),
            frame.occurred_at.tolist(),
            frame.raw("url"),
            frame.raw("form"),
            strict=True,
        )
    ]
    seconds = median_seconds(lambda: score_batch(records, activities, model, synthetic.NOW), 3)
    return leads / seconds


def _as_datetime(epoch: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)


CSV_TARGET_LEADS_PER_SECOND = 20_000


def csv_speed(leads: int = 200_000, per_lead: int = 20) -> list[Measurement]:
    """`leadq score` end to end (read, spool activities, score, write) with 20 activities per
    lead, in a fresh process: leads per second, and its peak memory."""
    with tempfile.TemporaryDirectory(prefix="leadq-bench-") as directory:
        leads_csv = Path(directory) / "leads.csv"
        activities = Path(directory) / "activities.csv"
        synthetic.write_leads_csv(leads_csv, leads)
        synthetic.write_activities_csv(activities, leads, per_lead)
        out = Path(directory) / "out.csv"
        peak_mb, seconds, cpu = _score_in_child_with_cpu(leads_csv, activities, out)
    rate = leads / seconds
    return [
        Measurement(
            "csv",
            f"leadq score, {leads:,} leads × {per_lead} activities",
            rate,
            "leads/s",
            f"≥ {CSV_TARGET_LEADS_PER_SECOND:,}",
            rate >= CSV_TARGET_LEADS_PER_SECOND,
            f"{seconds:.1f} s, {leads * per_lead / seconds:,.0f} activities/s, "
            f"peak {peak_mb:,.0f} MB",
        ),
        Measurement(
            "csv",
            "the same per CPU second (all threads; what an idle machine gives)",
            leads / cpu,
            "leads/s",
            detail=f"{cpu:.1f} CPU s; {os.getloadavg()[0]:.1f} load average at the end",
        ),
    ]


def csv_memory(sizes: tuple[int, ...] = (20_000, 200_000), per_lead: int = 5) -> list[Measurement]:
    """Peak memory of `leadq score` on CSVs of growing size: flat means streaming works."""
    results = []
    with tempfile.TemporaryDirectory(prefix="leadq-bench-") as directory:
        for size in sizes:
            leads = Path(directory) / f"leads-{size}.csv"
            activities = Path(directory) / f"activities-{size}.csv"
            synthetic.write_leads_csv(leads, size)
            synthetic.write_activities_csv(activities, size, per_lead)
            peak_mb, seconds = _score_in_child(leads, activities, Path(directory) / "out.csv")
            results.append(
                Measurement(
                    "csv",
                    f"peak memory, {size:,} leads",
                    peak_mb,
                    "MB",
                    "flat in leads",
                    detail=f"{size * per_lead:,} activities; "
                    f"{size / seconds:,.0f} leads/s end to end",
                )
            )
    flat = results[-1].value <= results[0].value * 1.5
    results.append(
        Measurement(
            "csv",
            "memory growth, largest / smallest",
            results[-1].value / results[0].value,
            "×",
            "≤ 1.5×",
            flat,
        )
    )
    return results


def csv_activity_memory(
    leads: int = 10_000, per_lead: tuple[int, ...] = (10, 100)
) -> list[Measurement]:
    """Peak memory of `leadq score` on the same leads with 10× the activities: flat means the
    activities stream too (they are spooled, then read as columns in bounded blocks)."""
    results = []
    with tempfile.TemporaryDirectory(prefix="leadq-bench-") as directory:
        leads_csv = Path(directory) / "leads.csv"
        synthetic.write_leads_csv(leads_csv, leads)
        for count in per_lead:
            activities = Path(directory) / f"activities-{count}.csv"
            synthetic.write_activities_csv(activities, leads, count)
            peak_mb, seconds = _score_in_child(leads_csv, activities, Path(directory) / "out.csv")
            activities.unlink()
            results.append(
                Measurement(
                    "csv",
                    f"peak memory, {leads:,} leads × {leads * count:,} activities",
                    peak_mb,
                    "MB",
                    "flat in activities",
                    detail=f"{leads * count / seconds:,.0f} activities/s end to end",
                )
            )
    growth = results[-1].value / results[0].value
    results.append(
        Measurement(
            "csv",
            "memory growth, 10× the activities",
            growth,
            "×",
            "≤ 1.2×",
            growth <= 1.2,
        )
    )
    return results


CHILD = """
import json, sys, time
from datetime import UTC, datetime
from pathlib import Path
from benchmarks.peak_memory import peak_memory_kb
from scoring.loading import load_model
from sync.csvscore import CsvScoringRun, score_csv
model = load_model(sys.argv[1])
started, cpu = time.perf_counter(), time.process_time()
run = CsvScoringRun(model, Path(sys.argv[2]), Path(sys.argv[3]))
score_csv(run, Path(sys.argv[4]), datetime(2026, 11, 1, tzinfo=UTC))
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
peak_kb = peak_memory_kb()
print(json.dumps({"peak_kb": peak_kb, "seconds": seconds, "cpu": cpu}))
"""


def _score_in_child(leads: Path, activities: Path, output: Path) -> tuple[float, float]:
    """Peak memory (MB) and wall seconds of `leadq score` in a fresh process."""
    peak_mb, seconds, _ = _score_in_child_with_cpu(leads, activities, output)
    return peak_mb, seconds


def _score_in_child_with_cpu(
    leads: Path, activities: Path, output: Path
) -> tuple[float, float, float]:
    """Also its CPU seconds (every thread's): on a shared machine, what it would take alone."""
    result = run_in_child(CHILD, str(EXAMPLE_MODEL), str(leads), str(activities), str(output))
    return result["peak_kb"] / 1024, result["seconds"], result["cpu"]
