"""`python -m benchmarks [NAME ...]`: run the benchmarks, print a table, save JSON.

Names: scoring, csv, sandbox, hubspot, salesforce, reliability, webhook, memory, closedloop,
bank, steady (default: all). Results go to benchmarks/results/latest.json (or --json).
`memory --large` adds 200,000 leads; `steady --large` adds 100,000 (about half an hour more);
`steady --crm NAME` runs one CRM.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from rich.console import Console

from benchmarks import (
    bank_learning,
    closed_loop,
    connectors_hubspot,
    connectors_salesforce,
    reliability,
    sandbox,
    scoring,
    steady,
    sync_memory,
    webhook,
)
from benchmarks.measure import Measurement, save, show

BENCHMARKS: dict[str, Callable[[], list[Measurement]]] = {
    "scoring": scoring.scoring_speed,
    "csv": lambda: scoring.csv_speed() + scoring.csv_memory() + scoring.csv_activity_memory(),
    "sandbox": sandbox.sandbox_benchmarks,
    "hubspot": connectors_hubspot.hubspot_benchmarks,
    "salesforce": connectors_salesforce.salesforce_benchmarks,
    "reliability": reliability.reliability_benchmarks,
    "webhook": webhook.webhook_benchmarks,
    "memory": sync_memory.memory_benchmarks,
    "closedloop": closed_loop.closed_loop_benchmarks,
    "bank": bank_learning.bank_benchmarks,
    "steady": steady.steady_benchmarks,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="which to run")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/latest.json"))
    parser.add_argument(
        "--large", action="store_true",
        help="memory: also 200,000 leads (about 20 minutes more); steady: also 100,000",
    )
    parser.add_argument(
        "--crm", choices=steady.CRMS, action="append",
        help="steady: only this CRM (repeatable; default both)",
    )
    arguments = parser.parse_args()
    crms = tuple(arguments.crm or steady.CRMS)
    sizes = (*steady.SIZES, steady.LARGE) if arguments.large else steady.SIZES
    BENCHMARKS["steady"] = lambda: steady.steady_benchmarks(sizes, crms)
    if arguments.large:
        BENCHMARKS["memory"] = lambda: sync_memory.memory_benchmarks(
            (*sync_memory.SIZES, sync_memory.LARGE)
        )

    console = Console(width=150)
    measurements: list[Measurement] = []
    for name in arguments.names or list(BENCHMARKS):
        console.print(f"running {name} …")
        measurements.extend(BENCHMARKS[name]())
    show(measurements, console)
    save(measurements, arguments.json)
    console.print(f"saved {arguments.json}")


if __name__ == "__main__":
    main()
