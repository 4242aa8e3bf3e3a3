"""Flat memory of a sync: the peak resident memory of `leadq sync --full`, and the state it leaves,
against the sandbox CRMs at growing org sizes.

Each run is `leadq sync --full` in a fresh process of its own (the sandbox serves from this one),
which reports its own peak (benchmarks/peak_memory.py). The state figure is the size of the SQLite
state file after one full sync from an empty state, with its audit rows counted.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from benchmarks.measure import Measurement, run_in_child

Crm = Literal["hubspot", "salesforce"]
SIZES = (10_000, 50_000)
LARGE = 200_000
SEED = 7
NOW = "2026-11-02T09:00:00Z"
EXAMPLE_MODEL = Path(__file__).parents[1] / "examples" / "sandbox.yaml"
GROWTH_TARGET = 1.3  # peak at the largest size ≤ 1.3 × the peak at the smallest
PEAK_TARGET_MB = 300
STATE_TARGET_BYTES_PER_LEAD = 150 * 1024 * 1024 / LARGE  # 150 MB for 200,000 leads

CHILD = """
import json, sys, time
from benchmarks.peak_memory import peak_memory_kb
from sync.cli import app
started = time.perf_counter()
try:
    app(sys.argv[1:], prog_name="leadq")
    code = 0
except SystemExit as stopped:
    code = stopped.code or 0
seconds = time.perf_counter() - started
print(json.dumps({"peak_kb": peak_memory_kb(), "seconds": seconds, "exit": code}))
"""


def memory_benchmarks(sizes: tuple[int, ...] = SIZES) -> list[Measurement]:
    """Both sandbox CRMs at each size: peak memory, state size, and the growth between sizes."""
    return [m for crm in ("hubspot", "salesforce") for m in sync_memory(crm, sizes)]


def sync_memory(crm: Crm, sizes: tuple[int, ...]) -> list[Measurement]:
    results: list[Measurement] = []
    peaks: list[float] = []
    for leads in sizes:
        with tempfile.TemporaryDirectory(prefix="leadq-memory-") as directory:
            state = Path(directory) / "state.db"
            with _sandbox(crm, leads, Path(directory) / "crm.db") as running:
                environment = _environment(crm, running, state)
                _leadq(environment, "setup")
                run = _leadq(environment, "sync", "--full", "--now", NOW)
            peak_mb = run["peak_kb"] / 1024
            peaks.append(peak_mb)
            state_bytes = state.stat().st_size
            audit_rows = _audit_rows(state)
        results += [
            Measurement(
                "memory",
                f"{crm}: sync --full peak memory, {leads:,} leads",
                peak_mb,
                "MB",
                f"≤ {PEAK_TARGET_MB}",
                peak_mb <= PEAK_TARGET_MB,
                f"{run['seconds']:.0f} s, {leads / run['seconds']:,.0f} leads/s",
            ),
            Measurement(
                "memory",
                f"{crm}: state after one full sync, {leads:,} leads",
                state_bytes / 1024 / 1024,
                "MB",
                f"≤ {STATE_TARGET_BYTES_PER_LEAD:,.0f} bytes per lead",
                state_bytes <= STATE_TARGET_BYTES_PER_LEAD * leads,
                f"{state_bytes / leads:,.0f} bytes per lead; {audit_rows:,} audit rows",
            ),
        ]
    if len(peaks) > 1:
        growth = peaks[-1] / peaks[0]
        results.append(
            Measurement(
                "memory",
                f"{crm}: peak memory growth, {sizes[-1]:,} / {sizes[0]:,} leads",
                growth,
                "×",
                f"≤ {GROWTH_TARGET}",
                growth <= GROWTH_TARGET,
            )
        )
    return results


def _leadq(environment: dict[str, str], *arguments: str) -> dict[str, Any]:
    result = run_in_child(CHILD, *arguments, environment=environment)
    if result["exit"] != 0:
        raise RuntimeError(f"leadq {' '.join(arguments)} exited with {result['exit']}")
    return result


def _audit_rows(state: Path) -> int:
    with sqlite3.connect(state) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
        table = "audit_rows" if "audit_rows" in tables else "audit"
        (count,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(count)


@contextmanager
def _sandbox(crm: Crm, leads: int, db_path: Path) -> Iterator[Any]:
    if crm == "hubspot":
        from sandbox.hubspot import start_hubspot

        with start_hubspot(leads=leads, seed=SEED, db_path=db_path, rate_limit=(1_000_000, 10.0),
                           search_per_second=100_000) as running:
            yield running
    else:
        from sandbox.salesforce import start_salesforce

        with start_salesforce(leads=leads, seed=SEED, db_path=db_path,
                              daily_limit=10_000_000) as running:
            yield running


def _environment(crm: Crm, running: Any, state: Path) -> dict[str, str]:
    common = {
        "LEADQ_STATE_URL": f"sqlite:///{state}",
        "LEADQ_MODEL_PATH": str(EXAMPLE_MODEL),
    }
    if crm == "hubspot":
        return {**common, **running.leadq_environment(),
                "LEADQ_HUBSPOT_RATE_LIMIT": "1000000", "LEADQ_HUBSPOT_SEARCH_RATE": "100000"}
    return {**common, **running.leadq_environment("session"),
            "LEADQ_SALESFORCE_RATE_LIMIT": "1000000"}
