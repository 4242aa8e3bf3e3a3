"""What every benchmark returns, and how results are shown and saved."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Measurement:
    benchmark: str
    metric: str
    value: float
    unit: str
    target: str = ""
    meets_target: bool | None = None
    detail: str = ""
    counts: dict[str, int] = field(default_factory=dict)  # a row of a table of counts (reliability)


def median_seconds(
    run: Callable[[], object], repeats: int, setup: Callable[[], object] | None = None
) -> float:
    """Median wall time of `run` over `repeats` runs (setup, if any, is not timed)."""
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_in_child(
    script: str, *arguments: str, environment: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run a Python `script` in a fresh process (so its peak memory is its own, numpy on one
    thread; `environment` on top of this one's) and return the JSON object it prints on its last
    line of output."""
    env = {**os.environ, **(environment or {}), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    completed = subprocess.run(
        [sys.executable, "-c", script, *arguments],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if completed.returncode:
        raise RuntimeError(f"the benchmark's child process failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def show(measurements: list[Measurement], console: Console) -> None:
    """One table of figures, and one table of counts per benchmark that has them."""
    figures = [m for m in measurements if not m.counts]
    if figures:
        table = Table(title="leadq benchmarks", title_justify="left")
        for column in ("benchmark", "metric", "value", "unit", "target", "ok", "detail"):
            table.add_column(column, justify="right" if column == "value" else "left")
        for m in figures:
            ok = "" if m.meets_target is None else ("yes" if m.meets_target else "NO")
            table.add_row(m.benchmark, m.metric, f"{m.value:,.1f}", m.unit, m.target, ok,
                          m.detail)
        console.print(table)
    for benchmark in dict.fromkeys(m.benchmark for m in measurements if m.counts):
        console.print(counts_table(benchmark, [m for m in measurements
                                                if m.counts and m.benchmark == benchmark]))


def counts_table(benchmark: str, rows: list[Measurement]) -> Table:
    """category, its value (inputs tried), then a column per count ("—": not measured there)."""
    names = list(dict.fromkeys(name for row in rows for name in row.counts))
    table = Table(title=f"leadq {benchmark}", title_justify="left")
    for column in ("category", rows[0].unit, *names, "ok"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for row in rows:
        counted = [f"{row.counts[n]:,}" if n in row.counts else "—" for n in names]
        table.add_row(row.metric, f"{row.value:,.0f}", *counted,
                      "yes" if row.meets_target else "NO")
    total = sum(row.value for row in rows)
    table.add_row("total", f"{total:,.0f}",
                  *(f"{sum(r.counts.get(n, 0) for r in rows):,}" for n in names),
                  "yes" if all(r.meets_target for r in rows) else "NO", style="bold")
    return table


def save(measurements: list[Measurement], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "measurements": [asdict(m) for m in measurements],
    }
    path.write_text(json.dumps(document, indent=2))
