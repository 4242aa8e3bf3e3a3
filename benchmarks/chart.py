"""`python -m benchmarks.chart RESULTS.json ... [-o docs/scaling.png]`: requests and memory
against org size, drawn from the JSON that `python -m benchmarks steady` and
`python -m benchmarks memory` save.

Left: the requests each run of the steady-state sequence makes (full sync, nothing changed, new
activity on 50 people), per CRM, with the lower bound of the run after new activity dashed and
the target of a run that finds nothing changed dotted.
Right: the peak resident memory of `leadq sync --full`, per CRM. Both axes are logarithmic in org
size. Files given later override earlier ones for the same point.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT = Path("docs/scaling.png")
_STEADY = re.compile(r"steady (HubSpot|Salesforce) ([\d,]+)")
_REQUESTS = re.compile(r"(.+): requests vs lower bound")
_BOUND = re.compile(r"bound (\d+)")
_MEMORY = re.compile(r"(hubspot|salesforce): sync --full peak memory, ([\d,]+) leads")
RUNS_DRAWN = ("full sync", "nothing changed", "new activity")
NO_CHANGE_TARGET = 8  # requests of an incremental run that finds nothing changed

Series = dict[int, float]  # org size (leads) → value


@dataclass
class ScalingFigures:
    """What the chart draws: per (CRM, run) the requests, per CRM the peak memory."""

    requests: dict[tuple[str, str], Series] = field(default_factory=lambda: defaultdict(dict))
    bounds: dict[tuple[str, str], Series] = field(default_factory=lambda: defaultdict(dict))
    peak_mb: dict[str, Series] = field(default_factory=lambda: defaultdict(dict))


def scaling_figures(documents: Iterable[dict]) -> ScalingFigures:
    """The figures in saved benchmark results: within a document the first row of a run (the
    'nothing changed' right after the full sync, not the one after new activity); a later
    document replaces an earlier one's figures."""
    figures = ScalingFigures()
    for document in documents:
        taken: set[tuple[str, str, int]] = set()
        for row in document.get("measurements", []):
            _take(figures, row, taken)
    return figures


def _take(figures: ScalingFigures, row: dict, taken: set[tuple[str, str, int]]) -> None:
    steady, run = _STEADY.fullmatch(row["benchmark"]), _REQUESTS.fullmatch(row["metric"])
    if steady and run:
        name = _run_drawn(run.group(1))
        if name is None:
            return
        key = (steady.group(1), name)
        leads = int(steady.group(2).replace(",", ""))
        if (*key, leads) in taken:
            return
        taken.add((*key, leads))
        figures.requests[key][leads] = float(row["value"])
        bound = _BOUND.search(row.get("detail", ""))
        if bound:
            figures.bounds[key][leads] = float(bound.group(1))
        return
    memory = _MEMORY.fullmatch(row["metric"])
    if row["benchmark"] == "memory" and memory:
        crm = "HubSpot" if memory.group(1) == "hubspot" else "Salesforce"
        figures.peak_mb[crm][int(memory.group(2).replace(",", ""))] = float(row["value"])


def _run_drawn(name: str) -> str | None:
    """The run a steady-state row is about (the first 'nothing changed' and the later one are
    the same run), or None for one the chart leaves out."""
    return next((drawn for drawn in RUNS_DRAWN if name.startswith(drawn)), None)


def draw(figures: ScalingFigures, output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: a file
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    colours = {"HubSpot": "#ff7a59", "Salesforce": "#00a1e0"}
    markers = dict(zip(RUNS_DRAWN, ("o", "s", "^"), strict=True))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2), dpi=110)
    for (crm, run), series in sorted(figures.requests.items()):
        sizes = sorted(series)
        left.plot(sizes, [series[s] for s in sizes], marker=markers[run], color=colours[crm],
                  label=f"{crm}: {run}")
        bound = figures.bounds.get((crm, run), {})
        if run == "new activity" and bound:
            left.plot(sorted(bound), [bound[s] for s in sorted(bound)], linestyle="--",
                      color=colours[crm], alpha=0.6, label=f"{crm}: its lower bound")
    left.axhline(NO_CHANGE_TARGET, color="grey", linestyle=":",
                 label=f"nothing changed: target ≤ {NO_CHANGE_TARGET}")
    left.set(xscale="log", yscale="log", xlabel="leads in the org", ylabel="requests per run",
             title="Requests per run (python -m benchmarks steady)")
    for crm, series in sorted(figures.peak_mb.items()):
        sizes = sorted(series)
        right.plot(sizes, [series[s] for s in sizes], marker="o", color=colours[crm], label=crm)
    right.axhline(300, color="grey", linestyle=":", label="target 300 MB")
    right.set(xscale="log", xlabel="leads in the org", ylabel="peak RSS, MB", ylim=(0, None),
              title="sync --full peak memory (python -m benchmarks memory)")
    thousands = FuncFormatter(lambda value, _: f"{value:,.0f}")
    for axes, sizes in ((left, _sizes(figures.requests)), (right, _sizes(figures.peak_mb))):
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the lines
        axes.set_xticks(sizes, [f"{size:,}" for size in sizes])
        axes.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
    left.yaxis.set_major_formatter(thousands)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output)
    plt.close(fig)


def _sizes(series: dict[Any, Series]) -> list[int]:
    return sorted({size for values in series.values() for size in values})


def main(arguments: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chart", description=__doc__)
    parser.add_argument("results", nargs="+", type=Path, help="JSON saved by python -m benchmarks")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    given = parser.parse_args(arguments)
    figures = scaling_figures(json.loads(path.read_text()) for path in given.results)
    if not figures.requests and not figures.peak_mb:
        parser.error("no steady or memory measurements in those files")
    draw(figures, given.output)
    print(f"saved {given.output}")


if __name__ == "__main__":
    main()
