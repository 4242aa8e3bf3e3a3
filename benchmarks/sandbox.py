"""The emulators at scale: seeding speed, database size, page times at 100,000 leads."""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.measure import Measurement

PAGE_TARGET_MS = 50.0


def sandbox_benchmarks(leads: int = 100_000) -> list[Measurement]:
    from sandbox.hubspot.measure import measure as measure_hubspot
    from sandbox.salesforce.measure import measure as measure_salesforce

    hubspot = measure_hubspot(leads, samples=40)
    with tempfile.TemporaryDirectory(prefix="leadq-sf-bench-") as directory:
        salesforce = measure_salesforce(leads, Path(directory) / "salesforce.db")
    size = f"{leads:,} people"
    return [
        Measurement(
            "sandbox",
            f"HubSpot list page of 100 at {size}",
            hubspot["list_page_100_p50_ms"],
            "ms",
            f"< {PAGE_TARGET_MS:g}",
            hubspot["list_page_100_p50_ms"] < PAGE_TARGET_MS,
            f"p95 {hubspot['list_page_100_p95_ms']} ms, over HTTP",
        ),
        Measurement(
            "sandbox",
            f"HubSpot seeding, {size}",
            hubspot["seed_seconds"],
            "s",
            detail=f"{hubspot['contacts_per_second']:,} contacts/s, {hubspot['db_megabytes']} MB",
        ),
        Measurement(
            "sandbox",
            f"Salesforce query page of 200 at {size}",
            salesforce["http_page_200_ms"],
            "ms",
            f"< {PAGE_TARGET_MS:g}",
            salesforce["http_page_200_ms"] < PAGE_TARGET_MS,
            "through simple-salesforce over TLS",
        ),
        Measurement(
            "sandbox",
            f"Salesforce start and seed, {size}",
            salesforce["start_and_seed_seconds"],
            "s",
            detail=f"{salesforce['db_mb']} MB",
        ),
    ]
