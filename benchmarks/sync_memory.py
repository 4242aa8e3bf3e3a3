"""Flat memory of a sync: the peak resident memory of `leadq sync --full`, and the state it leaves,
against the sandbox CRMs at growing org sizes.

Each run is `leadq sync --full` in a fresh process of its own (the sandbox serves from this one),
which reports its own peak (benchmarks/peak_memory.py: the kernel's high-water mark of that
process, not of the benchmark that started it). The state figures come from the SQLite state file
after one full sync from an empty state, split by SQLite's `dbstat` table: the activity ledger
(bytes per activity it stores) and everything else — the audit and the run's bookkeeping (values
written, retry set, write-ahead entries, cursors, free pages) — in bytes per lead.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from benchmarks.measure import Measurement, run_in_child
from sync.ledger import LedgerState, ledger_document, unpack

Crm = Literal["hubspot", "salesforce"]
SIZES = (10_000, 50_000)
LARGE = 200_000
SEED = 7
NOW = "2026-11-02T09:00:00Z"
EXAMPLE_MODEL = Path(__file__).parents[1] / "examples" / "sandbox.yaml"
GROWTH_TARGET = 1.3  # peak at the largest size ≤ 1.3 × the peak at the smallest
PEAK_TARGET_MB = 300
STATE_TARGET_BYTES_PER_LEAD = 150 * 1024 * 1024 / LARGE  # 150 MB for 200,000 leads
LEDGER_TARGET_BYTES_PER_ACTIVITY = 40

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
            size = state_size(state, crm)
        bookkeeping = size.file_bytes - size.ledger_bytes
        per_activity = size.ledger_bytes / max(size.ledger_activities, 1)
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
                f"{crm}: audit and run bookkeeping after one full sync, {leads:,} leads",
                _mb(bookkeeping),
                "MB",
                f"≤ {STATE_TARGET_BYTES_PER_LEAD:,.0f} bytes per lead",
                bookkeeping <= STATE_TARGET_BYTES_PER_LEAD * leads,
                f"{bookkeeping / leads:,.0f} bytes per lead ({size.largest()}); "
                f"{size.audit_rows:,} audit rows; state file {_mb(size.file_bytes):.1f} MB",
            ),
            Measurement(
                "memory",
                f"{crm}: activity ledger after one full sync, {leads:,} leads",
                per_activity,
                "bytes/activity",
                f"≤ {LEDGER_TARGET_BYTES_PER_ACTIVITY}",
                per_activity <= LEDGER_TARGET_BYTES_PER_ACTIVITY,
                f"{size.ledger_activities:,} activities in {_mb(size.ledger_bytes):.1f} MB",
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


def _mb(size: int) -> float:
    return size / 1024 / 1024


@dataclass(frozen=True)
class StateSize:
    """A state file's size, and where its bytes go (tables with their indexes; free pages)."""

    file_bytes: int
    by_table: dict[str, int]
    audit_rows: int
    ledger_activities: int

    @property
    def ledger_bytes(self) -> int:
        return self.by_table.get("ledger", 0)

    def largest(self, count: int = 3) -> str:
        biggest = sorted(self.by_table.items(), key=lambda item: item[1], reverse=True)[:count]
        return ", ".join(f"{name} {_mb(size):.1f} MB" for name, size in biggest)


def state_size(state: Path, crm: str) -> StateSize:
    """Where the bytes of a SQLite state file go, read with SQLite's `dbstat` table."""
    with sqlite3.connect(state) as connection:
        owner = dict(connection.execute("SELECT name, tbl_name FROM sqlite_master"))
        by_table: dict[str, int] = {}
        for name, size in connection.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)  # an index counts with its table
            by_table[table] = by_table.get(table, 0) + int(size)
        file_bytes = state.stat().st_size
        by_table["free pages"] = file_bytes - sum(by_table.values())
        (audit_rows,) = connection.execute("SELECT count(*) FROM audit_rows").fetchone()
        activities = _ledger_activities(connection, crm)
    return StateSize(file_bytes, by_table, int(audit_rows), activities)


def _ledger_activities(connection: sqlite3.Connection, crm: str) -> int:
    document = connection.execute(
        "SELECT body FROM documents WHERE name = ?", (ledger_document(crm),)
    ).fetchone()
    if document is None:
        return 0
    details = LedgerState.model_validate_json(document[0]).spec.details
    rows = connection.execute("SELECT lead_id, packed FROM ledger WHERE crm = ?", (crm,))
    return sum(len(unpack(lead_id, bytes(packed), details)) for lead_id, packed in rows)


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
