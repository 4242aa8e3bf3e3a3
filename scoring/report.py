"""The backtest report: one self-contained HTML page (inline SVG charts, no external file).

Charts: the lift curve (cumulative gains), conversion by score decile, the MQL threshold
trade-off (precision, recall and volume, with a slider that reads out any threshold) and the
score distribution by outcome. Tables: grades, labels, deciles, calibration of the score bands,
what the stage rules pass to sales, and any extra table the caller adds (learn adds its diff).

Pure: returns a string; the caller writes it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from scoring.backtest import BacktestResult, Segment, StagePass

COLOURS = ("#2563eb", "#f97316", "#16a34a", "#9333ea")
CONVERTED_COLOUR = "#16a34a"
OTHER_COLOUR = "#94a3b8"
WIDTH, HEIGHT = 560, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 52, 16, 16, 44


@dataclass(frozen=True)
class NamedResult:
    name: str  # e.g. "current model", "learned (out-of-fold)"
    result: BacktestResult


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
    primary = report.results[0]
    body = [
        f"<h1>{escape(report.title)}</h1>",
        *(f"<p class='meta'>{escape(line)}</p>" for line in report.lines),
        *(f"<p class='warning'>⚠ {escape(w)}</p>" for w in report.warnings),
        _summary_cards(report.results),
        "<div class='charts'>",
        _figure("Lift curve", _gains_chart(report.results), _gains_caption(report.results)),
        _figure("Conversion by score decile", _decile_chart(report.results), _decile_caption()),
        _figure(
            "MQL threshold trade-off",
            _threshold_chart(primary.result),
            _threshold_slider(primary.result),
        ),
        _figure(
            "Score distribution by outcome",
            _distribution_chart(primary.result),
            "Share of converted and of other leads in each 5-point score bin.",
        ),
        "</div>",
        *(_result_tables(named) for named in report.results),
        *(_extra_table(table) for table in report.tables),
    ]
    return _page(report.title, "\n".join(body), _threshold_data(primary.result))


# --------------------------------------------------------------------------- page


STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1200px;
color:#0f172a;padding:0 16px}
h1{font-size:1.6rem;margin-bottom:4px}h2{font-size:1.2rem;margin-top:32px}
h3{font-size:1rem;margin:16px 0 6px}
.meta{color:#475569;margin:2px 0}.warning{background:#fef3c7;border-left:4px solid #f59e0b;
padding:6px 10px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid #e2e8f0;border-radius:8px;padding:12px 16px;min-width:240px}
.card .name{font-weight:600;margin-bottom:6px}.card .big{font-size:1.8rem;font-weight:700}
.card .small{color:#475569;font-size:.9rem}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
figure{margin:0;border:1px solid #e2e8f0;border-radius:8px;padding:8px}
figcaption{color:#475569;font-size:.85rem;padding:4px 8px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:.9rem}
th,td{border-bottom:1px solid #e2e8f0;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f8fafc}
td.text{text-align:left}.flag{color:#b45309;font-weight:600}
svg text{font-size:11px;fill:#334155}.axis line,.axis path{stroke:#94a3b8}
.legend{font-size:.85rem;margin:0 8px}.swatch{display:inline-block;width:10px;height:10px;
margin:0 4px 0 10px;border-radius:2px}
#threshold{width:100%}
"""

SCRIPT = """
(function () {
  var rows = JSON.parse(document.getElementById('threshold-data').textContent);
  var slider = document.getElementById('threshold');
  var out = document.getElementById('threshold-readout');
  function pct(x) { return (100 * x).toFixed(1) + '%'; }
  function show() {
    var row = rows[Number(slider.value)];
    out.textContent = 'Score ≥ ' + row.threshold + ': ' + row.leads.toLocaleString('en') +
      ' leads (' + pct(row.share) + '), precision ' + pct(row.precision) + ', recall ' +
      pct(row.recall) + ', lift ' + row.lift.toFixed(2) + '×';
  }
  slider.addEventListener('input', show);
  show();
})();
"""


def _page(title: str, body: str, data: str) -> str:
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n{body}\n"
        f"<script type='application/json' id='threshold-data'>{data}</script>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def _threshold_data(result: BacktestResult) -> str:
    rows = [
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
    return json.dumps(rows).replace("</", "<\\/")


def _summary_cards(results: Sequence[NamedResult]) -> str:
    cards = []
    for named in results:
        result = named.result
        passed = result.passed_to_sales
        to_sales = (
            f"stage rules pass {passed.leads:,} leads ({passed.leads / result.leads:.1%}) holding "
            f"{passed.share_of_conversions:.0%} of conversions"
            if passed
            else "no stage rule passes any lead"
        )
        probability = (
            f"<div class='small'>probability ROC AUC {result.probability_auc:.3f}</div>"
            if result.probability_auc is not None
            else ""
        )
        cards.append(
            f"<div class='card'><div class='name'>{escape(named.name)}</div>"
            f"<div class='big'>ROC AUC {result.auc:.3f}</div>{probability}"
            f"<div class='small'>top-decile lift {result.top_decile_lift:.2f}×</div>"
            f"<div class='small'>{result.leads:,} leads, {result.converted:,} converted "
            f"({result.base_rate:.1%})</div><div class='small'>{escape(to_sales)}</div>"
            f"<div class='small'>{escape(result.model_name)} · version {result.model_version}"
            "</div></div>"
        )
    return f"<div class='cards'>{''.join(cards)}</div>"


def _figure(title: str, chart: str, caption: str) -> str:
    return f"<figure><h3>{escape(title)}</h3>{chart}<figcaption>{caption}</figcaption></figure>"


# --------------------------------------------------------------------------- charts


@dataclass(frozen=True)
class _Frame:
    """Maps data coordinates into the SVG plot area."""

    x_max: float
    y_max: float

    def x(self, value: float) -> float:
        return MARGIN_LEFT + value / self.x_max * (WIDTH - MARGIN_LEFT - MARGIN_RIGHT)

    def y(self, value: float) -> float:
        return HEIGHT - MARGIN_BOTTOM - value / self.y_max * (HEIGHT - MARGIN_TOP - MARGIN_BOTTOM)


def _svg(content: str, label: str) -> str:
    return (
        f"<svg viewBox='0 0 {WIDTH} {HEIGHT}' width='100%' role='img' "
        f"aria-label='{escape(label)}'>{content}</svg>"
    )


def _axes(
    frame: _Frame,
    x_ticks: Sequence[tuple[float, str]],
    y_ticks: Sequence[tuple[float, str]],
    x_title: str,
    y_title: str,
) -> str:
    parts = [
        f"<g class='axis'><line x1='{MARGIN_LEFT}' y1='{frame.y(0):.1f}' "
        f"x2='{WIDTH - MARGIN_RIGHT}' y2='{frame.y(0):.1f}'/>"
        f"<line x1='{MARGIN_LEFT}' y1='{MARGIN_TOP}' x2='{MARGIN_LEFT}' y2='{frame.y(0):.1f}'/></g>"
    ]
    for value, text in x_ticks:
        parts.append(
            f"<text x='{frame.x(value):.1f}' y='{frame.y(0) + 14:.1f}' "
            f"text-anchor='middle'>{escape(text)}</text>"
        )
    for value, text in y_ticks:
        parts.append(
            f"<line x1='{MARGIN_LEFT}' y1='{frame.y(value):.1f}' x2='{WIDTH - MARGIN_RIGHT}' "
            f"y2='{frame.y(value):.1f}' stroke='#f1f5f9'/>"
            f"<text x='{MARGIN_LEFT - 6}' y='{frame.y(value) + 4:.1f}' "
            f"text-anchor='end'>{escape(text)}</text>"
        )
    parts.append(
        f"<text x='{(MARGIN_LEFT + WIDTH) / 2:.0f}' y='{HEIGHT - 8}' "
        f"text-anchor='middle'>{escape(x_title)}</text>"
        f"<text transform='translate(12 {(HEIGHT - MARGIN_BOTTOM) / 2:.0f}) rotate(-90)' "
        f"text-anchor='middle'>{escape(y_title)}</text>"
    )
    return "".join(parts)


def _polyline(
    frame: _Frame, points: Sequence[tuple[float, float]], colour: str, dash: str = ""
) -> str:
    coordinates = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in points)
    dashes = f" stroke-dasharray='{dash}'" if dash else ""
    return (
        f"<polyline fill='none' stroke='{colour}' stroke-width='2'{dashes} points='{coordinates}'/>"
    )


def _legend(entries: Sequence[tuple[str, str]]) -> str:
    items = "".join(
        f"<span class='swatch' style='background:{colour}'></span>{escape(name)}"
        for name, colour in entries
    )
    return f"<div class='legend'>{items}</div>"


def _percent_ticks(maximum: float = 1.0, steps: int = 5) -> list[tuple[float, str]]:
    return [(maximum * i / steps, f"{maximum * i / steps:.0%}") for i in range(steps + 1)]


def _gains_chart(results: Sequence[NamedResult]) -> str:
    frame = _Frame(1.0, 1.0)
    parts = [
        _axes(
            frame,
            _percent_ticks(),
            _percent_ticks(),
            "share of leads worked, best score first",
            "share of conversions found",
        )
    ]
    parts.append(_polyline(frame, [(0, 0), (1, 1)], OTHER_COLOUR, "4 4"))
    for index, named in enumerate(results):
        parts.append(_polyline(frame, named.result.gains, COLOURS[index % len(COLOURS)]))
    legend = [(n.name, COLOURS[i % len(COLOURS)]) for i, n in enumerate(results)]
    legend.append(("random order", OTHER_COLOUR))
    return _svg("".join(parts), "lift curve") + _legend(legend)


def _gains_caption(results: Sequence[NamedResult]) -> str:
    lifts = "; ".join(
        f"{escape(n.name)}: the top 10% of scores hold "
        f"{_found_at(n.result, 0.1):.0%} of conversions (lift {n.result.top_decile_lift:.2f}×)"
        for n in results
    )
    return f"Working leads from the highest score down. {lifts}."


def _found_at(result: BacktestResult, share: float) -> float:
    return min(result.gains, key=lambda point: abs(point[0] - share))[1]


def _decile_chart(results: Sequence[NamedResult]) -> str:
    deciles = [str(d) for d in range(1, 11)]
    rates = {n.name: {s.name: s.rate for s in n.result.by_decile} for n in results}
    top = max([r for per in rates.values() for r in per.values()] + [0.01])
    frame = _Frame(10.0, top * 1.1)
    parts = [
        _axes(
            frame,
            [(i + 0.5, d) for i, d in enumerate(deciles)],
            _percent_ticks(top * 1.1, 4),
            "score decile (1 = top 10% of scores)",
            "conversion rate",
        )
    ]
    band = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / 10
    bar = band * 0.8 / len(results)
    for index, named in enumerate(results):
        colour = COLOURS[index % len(COLOURS)]
        for position, decile in enumerate(deciles):
            rate = rates[named.name].get(decile, 0.0)
            left = MARGIN_LEFT + position * band + band * 0.1 + index * bar
            parts.append(
                f"<rect x='{left:.1f}' y='{frame.y(rate):.1f}' width='{bar:.1f}' "
                f"height='{frame.y(0) - frame.y(rate):.1f}' fill='{colour}'>"
                f"<title>{escape(named.name)}, decile {decile}: {rate:.1%}</title></rect>"
            )
    base = results[0].result.base_rate
    parts.append(
        f"<line x1='{MARGIN_LEFT}' x2='{WIDTH - MARGIN_RIGHT}' y1='{frame.y(base):.1f}' "
        f"y2='{frame.y(base):.1f}' stroke='#0f172a' stroke-dasharray='4 4'/>"
    )
    legend = [(n.name, COLOURS[i % len(COLOURS)]) for i, n in enumerate(results)]
    return _svg("".join(parts), "conversion by score decile") + _legend(
        [*legend, (f"base rate {base:.1%}", "#0f172a")]
    )


def _decile_caption() -> str:
    return "Leads ranked by score and cut into ten equal groups; the dashed line is the base rate."


def _threshold_chart(result: BacktestResult) -> str:
    frame = _Frame(100.0, 1.0)
    parts = [
        _axes(
            frame,
            [(t, str(t)) for t in range(0, 101, 10)],
            _percent_ticks(),
            "MQL threshold (score at least)",
            "share",
        )
    ]
    lines = (
        (
            "precision",
            COLOURS[0],
            [(r.threshold, r.precision) for r in result.thresholds if r.leads],  # none: undefined
        ),
        ("recall", COLOURS[1], [(r.threshold, r.recall) for r in result.thresholds]),
        ("leads passed", COLOURS[2], [(r.threshold, r.share) for r in result.thresholds]),
    )
    for _, colour, points in lines:
        parts.append(_polyline(frame, points, colour))
    return _svg("".join(parts), "threshold trade-off") + _legend(
        [(name, colour) for name, colour, _ in lines]
    )


def _threshold_slider(result: BacktestResult) -> str:
    start = _suggested_threshold(result)
    return (
        "Move the threshold: <input type='range' id='threshold' min='0' max='100' "
        f"value='{start}' aria-label='MQL threshold'><br><output id='threshold-readout'></output>"
    )


def _suggested_threshold(result: BacktestResult) -> int:
    """Where the slider starts: the lowest threshold passing at most 10% of leads."""
    for row in result.thresholds:
        if row.share <= 0.10:
            return row.threshold
    return 100


def _distribution_chart(result: BacktestResult) -> str:
    top = max([max(c, o) for _, c, o in result.distribution] + [0.01])
    frame = _Frame(105.0, top * 1.1)
    parts = [
        _axes(
            frame,
            [(t, str(t)) for t in range(0, 101, 10)],
            _percent_ticks(top * 1.1, 4),
            "score",
            "share of leads in the group",
        )
    ]
    width = (frame.x(5) - frame.x(0)) * 0.45
    for start, converted, other in result.distribution:
        for offset, share, colour in (
            (0, other, OTHER_COLOUR),
            (width, converted, CONVERTED_COLOUR),
        ):
            parts.append(
                f"<rect x='{frame.x(start) + offset:.1f}' y='{frame.y(share):.1f}' "
                f"width='{width:.1f}' height='{frame.y(0) - frame.y(share):.1f}' fill='{colour}'>"
                f"<title>score {start}–{start + 4}: {share:.1%}</title></rect>"
            )
    return _svg("".join(parts), "score distribution by outcome") + _legend(
        [("converted", CONVERTED_COLOUR), ("not converted", OTHER_COLOUR)]
    )


# --------------------------------------------------------------------------- tables


def _result_tables(named: NamedResult) -> str:
    result = named.result
    parts = [f"<h2>{escape(named.name)}: {escape(result.model_name)}</h2>"]
    parts.append(f"<p class='meta'>{escape(result.cutoffs)}</p>")
    if result.split:
        parts.append(f"<p class='meta'>Measured on the {escape(result.split)}.</p>")
    parts += [f"<p class='warning'>⚠ {escape(note)}</p>" for note in result.notes]
    parts.append(_segment_table("By score decile", "decile", result.by_decile))
    parts.append(_segment_table("By grade", "grade", result.by_grade))
    parts.append(_segment_table("By label (grade × engagement band)", "label", result.by_label))
    parts.append(_bands_table(result))
    parts.append(_stage_table(result.stages))
    parts.append(_thresholds_table(result))
    return "\n".join(parts)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='text'>{cell}</td>" if i < text_columns else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _segment_table(title: str, key: str, segments: Sequence[Segment]) -> str:
    rows = [
        [
            escape(s.name),
            f"{s.leads:,}",
            f"{s.converted:,}",
            f"{s.rate:.1%}",
            f"{s.lift:.2f}×",
            f"{s.share_of_conversions:.1%}",
        ]
        for s in segments
    ]
    header = [key, "leads", "converted", "conversion rate", "lift", "share of conversions"]
    return f"<h3>{escape(title)}</h3>" + _table(header, rows)


def _bands_table(result: BacktestResult) -> str:
    with_probability = any(b.mean_probability is not None for b in result.by_band)
    rows = []
    for band in result.by_band:
        flag = (
            " <span class='flag'>out of order</span>"
            if band.name in result.bands_out_of_order
            else ""
        )
        row = [
            f"{escape(band.name)}{flag}",
            f"{band.leads:,}",
            f"{band.rate:.1%}",
            f"{band.lift:.2f}×",
        ]
        if with_probability:
            row.append(f"{band.mean_probability:.1%}" if band.mean_probability is not None else "")
        rows.append(row)
    header = ["score band", "leads", "conversion rate", "lift"]
    if with_probability:
        header.append("mean predicted probability")
    note = "<p class='meta'>Calibration: conversion should rise with every band." + (
        f" Out of order: {escape(', '.join(result.bands_out_of_order))}.</p>"
        if result.bands_out_of_order
        else " It does.</p>"
    )
    return "<h3>Calibration of the score bands</h3>" + note + _table(header, rows)


def _stage_table(stages: Sequence[StagePass]) -> str:
    rows = [
        [
            escape(p.rule),
            escape(p.stage),
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
    return "<h3>What the stage rules pass to sales</h3>" + _table(header, rows, text_columns=2)


def _thresholds_table(result: BacktestResult) -> str:
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
    return "<h3>Candidate MQL thresholds</h3>" + _table(header, rows)


def _extra_table(table: ExtraTable) -> str:
    rows = [[escape(cell) for cell in row] for row in table.rows]
    return f"<h2>{escape(table.title)}</h2>" + _table(table.header, rows, text_columns=3)
