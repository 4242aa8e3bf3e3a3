"""The scaling chart (benchmarks/chart.py) draws what the saved benchmark JSON says."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.chart import main, scaling_figures


def steady(crm: str, leads: str, run: str, requests: int, bound: int) -> dict:
    return {"benchmark": f"steady {crm} {leads}", "metric": f"{run}: requests vs lower bound",
            "value": requests, "detail": f"bound {bound} (1.00×); pulled 0, written 0"}


def memory(crm: str, leads: str, megabytes: float) -> dict:
    return {"benchmark": "memory", "metric": f"{crm}: sync --full peak memory, {leads} leads",
            "value": megabytes, "detail": ""}


RESULTS = {"measurements": [
    steady("HubSpot", "2,000", "full sync", 151, 40),
    steady("HubSpot", "2,000", "nothing changed", 5, 1),
    steady("HubSpot", "10,000", "nothing changed", 6, 1),
    steady("HubSpot", "2,000", "new activity on 50 people", 12, 9),
    steady("HubSpot", "2,000", "nothing changed", 4, 1),  # the run after new activity
    {"benchmark": "steady HubSpot 2,000", "metric": "activity ledger on SQLite, bytes per stored "
     "activity", "value": 28, "detail": ""},
    memory("salesforce", "10,000", 120.5),
    memory("salesforce", "200,000", 130.0),
]}


def test_requests_and_memory_are_read_per_crm_run_and_org_size() -> None:
    figures = scaling_figures([RESULTS])

    assert figures.requests[("HubSpot", "nothing changed")] == {2_000: 5, 10_000: 6}
    assert figures.bounds[("HubSpot", "new activity")] == {2_000: 9}
    assert figures.peak_mb["Salesforce"] == {10_000: 120.5, 200_000: 130.0}
    assert set(figures.requests) == {
        ("HubSpot", "full sync"), ("HubSpot", "nothing changed"), ("HubSpot", "new activity")
    }


def test_a_later_results_file_replaces_an_earlier_figure() -> None:
    newer = {"measurements": [memory("salesforce", "10,000", 99.0)]}

    figures = scaling_figures([RESULTS, newer])

    assert figures.peak_mb["Salesforce"][10_000] == 99.0


def test_the_command_writes_a_png(tmp_path: Path) -> None:
    results = tmp_path / "latest.json"
    results.write_text(json.dumps(RESULTS))
    output = tmp_path / "docs" / "scaling.png"

    main([str(results), "-o", str(output)])

    assert output.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
