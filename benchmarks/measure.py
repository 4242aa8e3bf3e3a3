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
from dataclasses import asdict, dataclass
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
    table = Table(title="leadq benchmarks", title_justify="left")
    for column in ("benchmark", "metric", "value", "unit", "target", "ok", "detail"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for m in measurements:
        ok = "" if m.meets_target is None else ("yes" if m.meets_target else "NO")
        table.add_row(m.benchmark, m.metric, f"{m.value:,.1f}", m.unit, m.target, ok, m.detail)
    console.print(table)


def save(measurements: list[Measurement], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "measurements": [asdict(m) for m in measurements],
    }
    path.write_text(json.dumps(document, indent=2))
