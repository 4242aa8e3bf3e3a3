"""Figures for the HubSpot emulator: seeding time and size, and request latency at scale.

    python -m sandbox.hubspot.measure --leads 100000 [--db /tmp/portal.sqlite]

`measure(leads)` seeds a portal (or reuses `db_path` if it already holds one), then times, over
real loopback HTTP with `requests`: 100-record contact list pages at random cursors (with ten
properties and the company association), an incremental search page (200 records sorted by
lastmodifieddate), a 100-record batch read and batch update, and one contact's events. Each
figure is the median and the 95th percentile in milliseconds, measured by the client; `server_*`
figures are the emulator's own handling time from its request log.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from sandbox.hubspot.running import RunningHubSpot, start_hubspot

PAGE_PROPERTIES = ("email,firstname,lastname,jobtitle,country,lifecyclestage,hs_lead_status,"
                   "hubspot_owner_id,hs_analytics_num_page_views,lastmodifieddate")


def measure(leads: int = 100_000, *, db_path: Path | None = None, samples: int = 40,
            seed: int = 7) -> dict[str, Any]:
    started = time.perf_counter()
    with start_hubspot(leads, seed, db_path=db_path, rate_limit=(1_000_000, 10.0),
                       search_per_second=1_000_000) as running:
        startup_seconds = time.perf_counter() - started
        figures: dict[str, Any] = {"leads": leads, "startup_seconds": round(startup_seconds, 2)}
        report = running.seed_report
        if report is not None:
            figures.update(
                seed_seconds=round(report.seconds, 2),
                contacts_per_second=round(report.contacts / report.seconds),
                companies=report.companies,
                engagements=report.engagements,
                activities=report.activities,
            )
        figures["db_megabytes"] = round(running.store.size_bytes() / 1e6, 1)
        figures.update(_latencies(running, samples))
    return figures


def _latencies(running: RunningHubSpot, samples: int) -> dict[str, Any]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {running.access_token}"
    base = running.base_url
    rng = random.Random(1)
    contact_ids = _contact_id_range(session, base)
    log = running.emulator.log

    def list_page() -> requests.Response:
        after = rng.randint(contact_ids[0], contact_ids[1] - 200)
        return session.get(f"{base}/crm/v3/objects/contacts", params={
            "limit": 100, "after": after, "properties": PAGE_PROPERTIES,
            "associations": "companies"})

    def search_page() -> requests.Response:
        return session.post(f"{base}/crm/v3/objects/contacts/search", json={
            "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE",
                                           "value": "2026-10-20T00:00:00Z"}]}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": PAGE_PROPERTIES.split(","), "limit": 200})

    def batch_ids() -> list[str]:
        first = rng.randint(contact_ids[0], contact_ids[1] - 400)
        return [str(first + 3 * step) for step in range(100)]

    def batch_read() -> requests.Response:
        return session.post(f"{base}/crm/v3/objects/contacts/batch/read", json={
            "inputs": [{"id": i} for i in batch_ids()], "properties": PAGE_PROPERTIES.split(",")})

    def batch_update() -> requests.Response:
        return session.post(f"{base}/crm/v3/objects/contacts/batch/update", json={
            "inputs": [{"id": i, "properties": {"jobtitle": f"Measured {i}"}}
                       for i in batch_ids()]})

    def events() -> requests.Response:
        contact = rng.randint(contact_ids[0], contact_ids[1])
        return session.get(f"{base}/events/v3/events", params={
            "objectType": "contact", "objectId": contact, "limit": 100})

    figures: dict[str, Any] = {}
    for name, call in (("list_page_100", list_page), ("search_page_200", search_page),
                       ("batch_read_100", batch_read), ("batch_update_100", batch_update),
                       ("events_page", events)):
        figures.update(_timed(name, call, samples, log))
    return figures


def _contact_id_range(session: requests.Session, base: str) -> tuple[int, int]:
    first = session.get(f"{base}/crm/v3/objects/contacts", params={"limit": 1}).json()
    last = session.post(f"{base}/crm/v3/objects/contacts/search", json={
        "sorts": [{"propertyName": "hs_object_id", "direction": "DESCENDING"}], "limit": 1,
    }).json()
    return int(first["results"][0]["id"]), int(last["results"][0]["id"])


def _timed(name: str, call: Callable[[], requests.Response], samples: int,
           log: Any) -> dict[str, float]:
    client_ms, server_ms = [], []
    for _ in range(samples):
        log.clear()
        started = time.perf_counter()
        response = call()
        client_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code >= 300 and response.status_code != 207:
            raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
        server_ms.append(log.entries()[-1].duration_ms)
    return {
        f"{name}_p50_ms": round(statistics.median(client_ms), 2),
        f"{name}_p95_ms": round(_p95(client_ms), 2),
        f"server_{name}_p50_ms": round(statistics.median(server_ms), 2),
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=None,
                        help="keep the portal in this file (reused when it exists)")
    parser.add_argument("--samples", type=int, default=40)
    arguments = parser.parse_args()
    figures = measure(arguments.leads, db_path=arguments.db, samples=arguments.samples)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
