"""The Salesforce connector against the emulator: requests per sync against the lower bound, and
the sustained request rate under a 100 requests / 10 s limit the emulator enforces."""

from __future__ import annotations

import math
import time
import zlib
from collections import Counter
from typing import Any

from benchmarks.measure import Measurement
from connectors.records import Lead, LeadUpdate
from connectors.retry import RetrySettings
from connectors.salesforce import SalesforceConnector
from sandbox.salesforce import RunningSalesforce, start_salesforce
from sandbox.server import LoggedRequest, RollingWindowLimit
from sync.connect import salesforce_connector

LEADS = 10_000
LIMIT, WINDOW_SECONDS = 100, 10.0
LONG_RUN_SECONDS = 40.0
TARGET_OVERHEAD = 1.05
TARGET_SHARE = 0.90


def salesforce_benchmarks() -> list[Measurement]:
    """About a minute: two seeded 10,000-person orgs, one sync, one 40-second limited run."""
    return [*requests_per_sync(), *sustained_rate()]


# ---- a sync: pull everything, write an update for everyone -------------------------------------
def connect(running: RunningSalesforce, rate_limit: int, page_size: int = 2000) -> (
    SalesforceConnector
):
    settings = running.leadq_settings(
        salesforce_objects=["Lead", "Contact"], salesforce_rate_limit=rate_limit,
        read_page_size=page_size,
    )
    return salesforce_connector(
        settings, running.session(), extra_fields=("leadq_Score__c", "leadq_Grade__c"),
        retry=RetrySettings(budget_seconds=300),
    )


def score_update(lead: Lead, activities: int) -> LeadUpdate:
    score = float(min(100, activities * 6 + zlib.crc32(lead.id.encode()) % 20))
    return LeadUpdate(lead_id=lead.id, kind=lead.kind,
                      changes={"leadq_Score__c": score, "leadq_Grade__c": "B"})


def sync(connector: SalesforceConnector, write_each_page: bool) -> tuple[int, int, int]:
    """(people pulled, updates written, updates that failed)."""
    pulled = written = failed = 0
    pending: list[LeadUpdate] = []
    for page in connector.pull_changed(None):
        pulled += len(page.leads)
        per_lead = Counter(a.lead_id for a in connector.pull_activities(page.leads, None))
        connector.account_owners(sorted({x.email_domain for x in page.leads if x.email_domain}))
        pending.extend(score_update(lead, per_lead[lead.id]) for lead in page.leads)
        if write_each_page:
            results = connector.write(pending)
            written, failed = written + len(results), failed + sum(not r.ok for r in results)
            pending = []
    if pending:
        results = connector.write(pending)
        written, failed = written + len(results), failed + sum(not r.ok for r in results)
    return pulled, written, failed


def is_page(entry: LoggedRequest) -> bool:
    return entry.method == "GET" and "/query" in entry.path and "COUNT%28%29" not in entry.query


def requests_per_sync() -> list[Measurement]:
    with start_salesforce(leads=LEADS, seed=7) as running:
        running.emulator.log.clear()
        connector = connect(running, rate_limit=10_000)  # the login counts too
        started = time.perf_counter()
        pulled, written, failed = sync(connector, write_each_page=False)
        seconds = time.perf_counter() - started
        log = running.emulator.log.entries()
    pages = sum(is_page(entry) for entry in log)
    lower_bound = pages + math.ceil(written / 200)
    ratio = len(log) / lower_bound
    per_lead = sum("/sobjects/" in entry.path for entry in log)
    detail = (f"{LEADS:,} people ({pulled:,} open leads and contacts): {pages} pages + "
              f"{math.ceil(written / 200)} collection writes; {seconds:.1f} s")
    return [
        Measurement("salesforce", "requests per sync", len(log), "requests",
                    detail=f"{dict(connector.stats.requests)}"),
        Measurement("salesforce", "requests / lower bound", ratio, "×",
                    f"≤ {TARGET_OVERHEAD}", ratio <= TARGET_OVERHEAD, detail),
        Measurement("salesforce", "per-lead requests", per_lead, "requests", "0",
                    per_lead == 0),
        Measurement("salesforce", "failed updates (clean run)", failed, "records", "0",
                    failed == 0),
    ]


# ---- a long pull under the emulator's rolling limit -------------------------------------------
def sustained_rate() -> list[Measurement]:
    """Syncs in pages of 200 (many small requests) until LONG_RUN_SECONDS have passed, under a
    100 requests / 10 s limit enforced by the emulator; the connector's own limiter is set to
    the same 100 / 10 s."""
    with start_salesforce(leads=LEADS, seed=7) as running:
        running.emulator.rolling_limit = RollingWindowLimit(LIMIT, WINDOW_SECONDS)
        connector = connect(running, rate_limit=LIMIT, page_size=200)
        running.emulator.log.clear()
        started = time.monotonic()
        failed = runs = 0
        while time.monotonic() - started < LONG_RUN_SECONDS:
            failed += sync(connector, write_each_page=True)[2]
            runs += 1
        log = running.emulator.log.entries()
    share, window = steady_share(log)
    refusals = sum(entry.status == 403 for entry in log)
    return [
        Measurement("salesforce", "sustained rate under 100 req / 10 s", share * 100,
                    "% of limit", f"≥ {TARGET_SHARE:.0%}", share >= TARGET_SHARE,
                    f"{len(log):,} requests in {runs} syncs; steady state over {window:.0f} s"),
        Measurement("salesforce", "refusals (403 REQUEST_LIMIT_EXCEEDED)", refusals,
                    "requests", "almost none", refusals <= len(log) * 0.01,
                    f"retries {dict(connector.stats.retries)}"),
        Measurement("salesforce", "failed records under the limit", failed, "records", "0",
                    failed == 0),
    ]


def steady_share(log: list[LoggedRequest]) -> tuple[float, float]:
    """Requests per second over whole windows after the first (whose opening burst would
    flatter the figure), as a share of the limit; and the length of the measured span."""
    times = sorted(entry.started_at for entry in log)
    start = times[0] + WINDOW_SECONDS
    windows = int((times[-1] - start) // WINDOW_SECONDS)
    if windows < 1:
        return 0.0, 0.0
    span = windows * WINDOW_SECONDS
    counted = sum(1 for moment in times if start <= moment < start + span)
    return counted / span / (LIMIT / WINDOW_SECONDS), span


def main() -> Any:  # pragma: no cover - handy for a quick look
    for measurement in salesforce_benchmarks():
        print(measurement)


if __name__ == "__main__":  # pragma: no cover
    main()
