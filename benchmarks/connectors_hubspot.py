"""The HubSpot connector against the emulator: requests per sync against the lower bound, and the
sustained request rate a long pull holds under HubSpot's 100 requests / 10 s limit."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from benchmarks.measure import Measurement
from connectors.base import OutputField
from connectors.hubspot import HubSpotConnector
from connectors.records import Lead, LeadUpdate
from sandbox.hubspot import RunningHubSpot, start_hubspot
from sandbox.server import LoggedRequest

LEADS = 10_000
LIMIT = (100, 10.0)  # HubSpot's Free/Starter private-app limit, enforced by the emulator
SUSTAINED_SECONDS = 40.0
TARGET_RATIO = 1.05
TARGET_SHARE = 0.90
UNLIMITED = (1_000_000, 10.0)
OUTPUT = OutputField("leadq_score", "leadq score", "number")


def hubspot_benchmarks(leads: int = LEADS, sustained_seconds: float = SUSTAINED_SECONDS
                       ) -> list[Measurement]:
    return [*requests_per_sync(leads), *sustained_rate(leads, sustained_seconds)]


# ---- requests per sync --------------------------------------------------------------------------


def requests_per_sync(leads: int = LEADS) -> list[Measurement]:
    """A full and an incremental sync of every lead, with companies, activities and a write to
    each: lead pages + write batches against pages + ceil(updates / 100)."""
    with _portal(leads, UNLIMITED) as running:
        connector = _connector(running, rate_limit=UNLIMITED[0], search_rate=100_000)
        connector.ensure_fields([OUTPUT])
        running.emulator.log.clear()
        full = _sync(connector, None)
        full_log = running.emulator.log.entries()
        running.emulator.log.clear()
        incremental = _sync(connector, datetime(2000, 1, 1, tzinfo=UTC))
        incremental_log = running.emulator.log.entries()
    return [
        _against_bound("full sync (list pages of 100)", full_log, full, page_size=100,
                       page_path="/crm/v3/objects/contacts"),
        _against_bound("incremental sync (search pages of 200)", incremental_log, incremental,
                       page_size=200, page_path="/crm/v3/objects/contacts/search"),
    ]


def _sync(connector: HubSpotConnector, since: datetime | None) -> int:
    """Pull every page with its activities, write a score to every lead; return the updates."""
    updates = 0
    for page in connector.pull_changed(since):
        connector.pull_activities(page.leads, None)
        results = connector.write([_scored(lead, since) for lead in page.leads])
        updates += len(results)
        assert all(result.ok for result in results)
    return updates


def _scored(lead: Lead, since: datetime | None) -> LeadUpdate:
    return LeadUpdate(lead_id=lead.id, changes={"leadq_score": int(lead.id) % 97 + (1 if since
                                                                                      else 0)})


def _against_bound(name: str, log: list[LoggedRequest], updates: int, page_size: int,
                   page_path: str) -> Measurement:
    by_path = Counter(_route(entry) for entry in log)
    pages = sum(1 for entry in log if entry.path == page_path)
    writes = by_path["POST batch/update"]
    bound = math.ceil(updates / page_size) + math.ceil(updates / 100)
    ratio = (pages + writes) / bound
    others = ", ".join(f"{route} {count}" for route, count in sorted(by_path.items())
                       if route not in ("GET contacts", "POST contacts/search",
                                        "POST batch/update"))
    return Measurement(
        "hubspot connector", f"{name}: requests / lower bound", ratio, "×",
        f"≤ {TARGET_RATIO}", ratio <= TARGET_RATIO,
        f"{updates:,} leads: {pages} pages + {writes} write batches vs {bound}; "
        f"{len(log)} requests in all (batches: {others}); no per-lead request",
    )


def _route(entry: LoggedRequest) -> str:
    parts = entry.path.strip("/").split("/")
    if entry.path.endswith("/batch/update"):
        return "POST batch/update"
    if parts[:3] == ["crm", "v3", "objects"]:
        return f"{entry.method} {'/'.join(parts[3:])}"
    return f"{entry.method} {'/'.join(parts[:3])}"


# ---- sustained rate -----------------------------------------------------------------------------


def sustained_rate(leads: int = LEADS, seconds: float = SUSTAINED_SECONDS) -> list[Measurement]:
    """A long full pull (pages, companies, activities) under the emulator's 100 / 10 s limit."""
    with _portal(leads, LIMIT) as running:
        connector = _connector(running, rate_limit=LIMIT[0])
        connector.ensure_fields([OUTPUT])
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            for page in connector.pull_changed(None):
                connector.pull_activities(page.leads, None)
                if time.monotonic() - started >= seconds:
                    break
        log = running.emulator.log.entries()
    admitted = [entry for entry in log if entry.status != 429]
    refused = len(log) - len(admitted)
    span = admitted[-1].started_at - admitted[0].started_at
    windows = max(1, math.floor(span / LIMIT[1]))
    # whole windows after the first: the opening burst of a fresh window would flatter the rate
    steady = [e for e in admitted
              if admitted[0].started_at + LIMIT[1] <= e.started_at
              < admitted[0].started_at + LIMIT[1] * windows]
    steady_seconds = LIMIT[1] * (windows - 1)
    share = len(steady) / steady_seconds / (LIMIT[0] / LIMIT[1]) if steady_seconds else 0.0
    return [
        Measurement(
            "hubspot connector", "long pull: sustained rate / limit", share * 100, "%",
            f"≥ {TARGET_SHARE:.0%}", share >= TARGET_SHARE,
            f"{len(steady)} requests in {steady_seconds:.0f} s of whole windows, limit "
            f"{LIMIT[0]} / {LIMIT[1]:g} s; {len(admitted)} requests over {span:.0f} s in all",
        ),
        Measurement(
            "hubspot connector", "long pull: 429 answers", refused, "responses", "≈ 0",
            refused <= max(1, len(log) // 100),
            f"of {len(log)} requests; {connector.stats.throttled_seconds:.0f} s waited "
            "in leadq's own limiter",
        ),
    ]


# ---- pieces -------------------------------------------------------------------------------------


@contextmanager
def _portal(leads: int, rate_limit: tuple[int, float]) -> Iterator[RunningHubSpot]:
    with start_hubspot(leads=leads, seed=7, rate_limit=rate_limit,
                       search_per_second=5 if rate_limit == LIMIT else 100_000) as running:
        yield running


def _connector(running: RunningHubSpot, **options: Any) -> HubSpotConnector:
    return HubSpotConnector(base_url=running.base_url, access_token=running.access_token,
                            output_properties=[OUTPUT.name], **options)
