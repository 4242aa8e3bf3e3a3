"""The backtest report: one self-contained HTML page (inline SVG charts, no external file).

Charts: the lift curve (cumulative gains), conversion by score decile, the MQL threshold
trade-off (precision, recall and volume, with a slider that reads out any threshold) and the
score distribution by outcome. Tables: grades, labels, deciles, calibration of the score bands,
what the stage rules pass to sales, and any extra table the caller adds (learn adds its diff).

This module lays out the charts' geometry and the tables' text; the page itself is the Jinja2
template `templates/report.html.j2`, which escapes every value it is given.

Pure: returns a string; the caller writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jinja2

from scoring.backtest import BacktestResult
from scoring.conversion_measures import Segment, StagePass

COLOURS = ("#2563eb", "#f97316", "#16a34a", "#9333ea")
CONVERTED_COLOUR = "#16a34a"
OTHER_COLOUR = "#94a3b8"
WIDTH, HEIGHT = 560, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 52, 16, 16, 44


@dataclass(frozen=True)
class NamedResult:
    name: str  # e.g. "current model", "learned (out-of-fold)"
    result: BacktestResult
    auc_text: str = ""  # the ROC AUC as the terminal words it, when not simply result.auc


@dataclass(frozen=True)
class ExtraTable:
    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class Report:
    title: str
    results: Sequence[NamedResult]  # the first one is described in full
    lines: Sequence[str] = ()  # what was measured, on what data
    warnings: Sequence[str] = ()
    tables: Sequence[ExtraTable] = field(default_factory=tuple)


def render_report(report: Report) -> str:
    primary = report.results[0].result
    return _template().render(
        report=report,
        width=WIDTH,
        height=HEIGHT,
        cards=[_card(named) for named in report.results],
        figures=[
            _Figure("Lift curve", _gains_chart(report.results), _gains_caption(report.results)),
            _Figure("Conversion by score decile", _decile_chart(report.results), DECILE_CAPTION),
            _Figure(
                "MQL threshold trade-off",
                _threshold_chart(primary),
                slider=_suggested_threshold(primary),
            ),
            _Figure(
                "Score distribution by outcome",
                _distribution_chart(primary),
                "Share of converted and of other leads in each 5-point score bin.",
            ),
        ],
        sections=[_section(named) for named in report.results],
        extra_tables=[
            _Table(t.title, t.header, t.rows, text_columns=3, level="h2") for t in report.tables
        ],
        thresholds=_threshold_data(primary),
    )


def page_template(package: str, name: str) -> jinja2.Template:
    """A page template of a package's `templates/`: autoescaped, strict about missing values."""
    pages = jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    pages.filters["px"] = lambda value: f"{value:.1f}"
    return pages.get_template(name)


@cache
def _template() -> jinja2.Template:
    return page_template("scoring", "report.html.j2")


# --------------------------------------------------------------------------- what the page shows


@dataclass(frozen=True)
class _Card:
    name: str
    headline: str
    lines: Sequence[str]


@dataclass(frozen=True)
class _Tick:
    at: float  # pixels along the axis
    text: str


@dataclass(frozen=True)
class _Line:
    points: Sequence[tuple[float, float]]  # pixels
    colour: str
    dash: str = ""


@dataclass(frozen=True)
class _Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class _Chart:
    label: str
    x_ticks: Sequence[_Tick]
    y_ticks: Sequence[_Tick]
    x_title: str
    y_title: str
    legend: Sequence[tuple[str, str]]  # name, colour
    lines: Sequence[_Line] = ()
    bars: Sequence[_Bar] = ()
    guide: float | None = None  # pixels: a dashed horizontal line (the base rate)
    left: int = MARGIN_LEFT
    right: int = WIDTH - MARGIN_RIGHT
    top: int = MARGIN_TOP
    bottom: int = HEIGHT - MARGIN_BOTTOM


@dataclass(frozen=True)
class _Figure:
    title: str
    chart: _Chart
    caption: str = ""
    slider: int | None = None  # the threshold slider's start, in place of a caption


@dataclass(frozen=True)
class _Table:
    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    text_columns: int = 1
    level: str = "h3"
    note: str = ""
    flagged: frozenset[str] = frozenset()  # rows whose first cell gets the flag
    flag: str = ""


@dataclass(frozen=True)
class _Section:
    title: str
    lines: Sequence[str]
    warnings: Sequence[str]
    tables: Sequence[_Table]


def _card(named: NamedResult) -> _Card:
    result = named.result
    passed = result.passed_to_sales
    to_sales = (
        f"stage rules pass {passed.leads:,} leads ({passed.leads / result.leads:.1%}) holding "
        f"{passed.share_of_conversions:.0%} of conversions"
        if passed
        else "no stage rule passes any lead"
    )
    probability = (
        [f"probability ROC AUC {result.probability_auc:.3f}"]
        if result.probability_auc is not None
        else []
    )
    return _Card(
        named.name,
        f"ROC AUC {named.auc_text or f'{result.auc:.3f}'}",
        [
            *probability,
            f"top-decile lift {result.top_decile_lift:.2f}×",
            f"{result.leads:,} leads, {result.converted:,} converted ({result.base_rate:.1%})",
            to_sales,
            f"{result.model_name} · version {result.model_version}",
        ],
    )


def _threshold_data(result: BacktestResult) -> list[dict[str, Any]]:
    return [
        {
            "threshold": row.threshold,
            "leads": row.leads,
            "share": round(row.share, 5),
            "precision": round(row.precision, 5),
            "recall": round(row.recall, 5),
            "lift": round(row.lift, 4),
        }
        for row in result.thresholds
    ]


# --------------------------------------------------------------------------- charts


@dataclass(frozen=True)
class _Scale:
    """Maps data coordinates into the SVG plot area."""

    x_max: float
    y_max: float

    def x(self, value: float) -> float:
        return MARGIN_LEFT + value / self.x_max * (WIDTH - MARGIN_LEFT - MARGIN_RIGHT)

    def y(self, value: float) -> float:
        return HEIGHT - MARGIN_BOTTOM - value / self.y_max * (HEIGHT - MARGIN_TOP - MARGIN_BOTTOM)

    def x_ticks(self, ticks: Sequence[tuple[float, str]]) -> list[_Tick]:
        return [_Tick(self.x(value), text) for value, text in ticks]

    def y_ticks(self, ticks: Sequence[tuple[float, str]]) -> list[_Tick]:
        return [_Tick(self.y(value), text) for value, text in ticks]

    def line(self, points: Sequence[tuple[float, float]], colour: str, dash: str = "") -> _Line:
        return _Line([(self.x(x), self.y(y)) for x, y in points], colour, dash)

    def bar(self, left: float, width: float, value: float, colour: str, title: str) -> _Bar:
        return _Bar(left, self.y(value), width, self.y(0) - self.y(value), colour, title)


AXIS_TOPS = (0.01, 0.02, 0.04, 0.05, 0.08, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


def _percent_axis_top(top: float) -> float:
    """The smallest round share at or above `top` with a little room; a share never above 100%."""
    return next((tick for tick in AXIS_TOPS if tick >= top * 1.05), 1.0)


def _percent_ticks(maximum: float = 1.0, steps: int = 5) -> list[tuple[float, str]]:
    return [(maximum * i / steps, f"{maximum * i / steps * 100:g}%") for i in range(steps + 1)]


def _score_ticks() -> list[tuple[float, str]]:
    return [(t, str(t)) for t in range(0, 101, 10)]


def _colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def _gains_chart(results: Sequence[NamedResult]) -> _Chart:
    scale = _Scale(1.0, 1.0)
    lines = [scale.line([(0, 0), (1, 1)], OTHER_COLOUR, "4 4")]
    lines += [scale.line(named.result.gains, _colour(i)) for i, named in enumerate(results)]
    legend = [(named.name, _colour(i)) for i, named in enumerate(results)]
    return _Chart(
        "lift curve",
        scale.x_ticks(_percent_ticks()),
        scale.y_ticks(_percent_ticks()),
        "share of leads worked, best score first",
        "share of conversions found",
        [*legend, ("random order", OTHER_COLOUR)],
        lines=lines,
    )


def _gains_caption(results: Sequence[NamedResult]) -> str:
    lifts = "; ".join(
        f"{n.name}: the top 10% of scores hold "
        f"{_found_at(n.result, 0.1):.0%} of conversions (lift {n.result.top_decile_lift:.2f}×)"
        for n in results
    )
    return f"Working leads from the highest score down. {lifts}."


def _found_at(result: BacktestResult, share: float) -> float:
    return min(result.gains, key=lambda point: abs(point[0] - share))[1]


DECILE_CAPTION = (
    "Leads ranked by score and cut into ten equal groups; the dashed line is the base rate."
)


def _decile_chart(results: Sequence[NamedResult]) -> _Chart:
    deciles = [str(d) for d in range(1, 11)]
    rates = {n.name: {s.name: s.rate for s in n.result.by_decile} for n in results}
    top = max([r for per in rates.values() for r in per.values()] + [0.01])
    scale = _Scale(10.0, _percent_axis_top(top))
    band = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / 10
    width = band * 0.8 / len(results)
    bars = []
    for index, named in enumerate(results):
        for position, decile in enumerate(deciles):
            rate = rates[named.name].get(decile, 0.0)
            left = MARGIN_LEFT + position * band + band * 0.1 + index * width
            title = f"{named.name}, decile {decile}: {rate:.1%}"
            bars.append(scale.bar(left, width, rate, _colour(index), title))
    base = results[0].result.base_rate
    legend = [(named.name, _colour(i)) for i, named in enumerate(results)]
    return _Chart(
        "conversion by score decile",
        scale.x_ticks([(i + 0.5, d) for i, d in enumerate(deciles)]),
        scale.y_ticks(_percent_ticks(scale.y_max, 4)),
        "score decile (1 = top 10% of scores)",
        "conversion rate",
        [*legend, (f"base rate {base:.1%}", "#0f172a")],
        bars=bars,
        guide=scale.y(base),
    )


def _threshold_chart(result: BacktestResult) -> _Chart:
    scale = _Scale(100.0, 1.0)
    series = (
        (
            "precision",
            COLOURS[0],
            [(r.threshold, r.precision) for r in result.thresholds if r.leads],  # none: undefined
        ),
        ("recall", COLOURS[1], [(r.threshold, r.recall) for r in result.thresholds]),
        ("leads passed", COLOURS[2], [(r.threshold, r.share) for r in result.thresholds]),
    )
    return _Chart(
        "threshold trade-off",
        scale.x_ticks(_score_ticks()),
        scale.y_ticks(_percent_ticks()),
        "MQL threshold (score at least)",
        "share",
        [(name, colour) for name, colour, _ in series],
        lines=[scale.line(points, colour) for _, colour, points in series],
    )


def _suggested_threshold(result: BacktestResult) -> int:
    """Where the slider starts: the lowest threshold passing at most 10% of leads."""
    for row in result.thresholds:
        if row.share <= 0.10:
            return row.threshold
    return 100


def _distribution_chart(result: BacktestResult) -> _Chart:
    top = max([max(c, o) for _, c, o in result.distribution] + [0.01])
    scale = _Scale(105.0, _percent_axis_top(top))
    width = (scale.x(5) - scale.x(0)) * 0.45
    bars = [
        scale.bar(
            scale.x(start) + offset, width, share, colour, f"score {start}–{start + 4}: {share:.1%}"
        )
        for start, converted, other in result.distribution
        for offset, share, colour in (
            (0, other, OTHER_COLOUR),
            (width, converted, CONVERTED_COLOUR),
        )
    ]
    return _Chart(
        "score distribution by outcome",
        scale.x_ticks(_score_ticks()),
        scale.y_ticks(_percent_ticks(scale.y_max, 4)),
        "score",
        "share of leads in the group",
        [("converted", CONVERTED_COLOUR), ("not converted", OTHER_COLOUR)],
        bars=bars,
    )


# --------------------------------------------------------------------------- tables


def _section(named: NamedResult) -> _Section:
    result = named.result
    split = [f"Measured on the {result.split}."] if result.split else []
    return _Section(
        f"{named.name}: {result.model_name}",
        [result.cutoffs, *split],
        list(result.notes),
        [
            _segment_table("By score decile", "decile", result.by_decile),
            _segment_table("By grade", "grade", result.by_grade),
            _segment_table("By label (grade × engagement band)", "label", result.by_label),
            _bands_table(result),
            _stage_table(result.stages),
            _thresholds_table(result),
        ],
    )


def _segment_table(title: str, key: str, segments: Sequence[Segment]) -> _Table:
    rows = [
        [
            s.name,
            f"{s.leads:,}",
            f"{s.converted:,}",
            f"{s.rate:.1%}",
            f"{s.lift:.2f}×",
            f"{s.share_of_conversions:.1%}",
        ]
        for s in segments
    ]
    header = [key, "leads", "converted", "conversion rate", "lift", "share of conversions"]
    return _Table(title, header, rows)


def _bands_table(result: BacktestResult) -> _Table:
    with_probability = any(b.mean_probability is not None for b in result.by_band)
    rows = []
    for band in result.by_band:
        row = [band.name, f"{band.leads:,}", f"{band.rate:.1%}", f"{band.lift:.2f}×"]
        if with_probability:
            row.append(f"{band.mean_probability:.1%}" if band.mean_probability is not None else "")
        rows.append(row)
    header = ["score band", "leads", "conversion rate", "lift"]
    if with_probability:
        header.append("mean predicted probability")
    out_of_order = result.bands_out_of_order
    note = "Calibration: conversion should rise with every band." + (
        f" Out of order: {', '.join(out_of_order)}." if out_of_order else " It does."
    )
    return _Table(
        "Calibration of the score bands",
        header,
        rows,
        note=note,
        flagged=frozenset(out_of_order),
        flag="out of order",
    )


def _stage_table(stages: Sequence[StagePass]) -> _Table:
    rows = [
        [
            p.rule,
            p.stage,
            f"{p.leads:,}",
            f"{p.converted:,}",
            f"{p.rate:.1%}",
            f"{p.share_of_conversions:.1%}",
        ]
        for p in stages
    ]
    header = [
        "stage rule",
        "stage",
        "leads",
        "converted",
        "conversion rate",
        "share of conversions",
    ]
    return _Table("What the stage rules pass to sales", header, rows, text_columns=2)


def _thresholds_table(result: BacktestResult) -> _Table:
    rows = [
        [
            f"≥ {r.threshold}",
            f"{r.leads:,}",
            f"{r.share:.1%}",
            f"{r.precision:.1%}",
            f"{r.recall:.1%}",
            f"{r.lift:.2f}×",
        ]
        for r in result.thresholds
        if r.threshold % 5 == 0
    ]
    header = ["MQL when score", "leads", "share", "precision", "recall", "lift"]
    return _Table("Candidate MQL thresholds", header, rows)
