"""Measure the emulator at scale: seeding time, database size and the time to serve query pages.

    python -m sandbox.salesforce.measure --leads 100000 [--db /tmp/org.db]

Prints one JSON object. Timings of pages are medians over several runs, measured end to end
through simple-salesforce over TLS (the figure a connector sees) and inside the query engine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simple_salesforce import Salesforce

from sandbox.orgs import OrgSpec, SynthOrg
from sandbox.salesforce.running import start_salesforce

PAGE_QUERY = (
    "SELECT Id, Email, FirstName, LastName, Title, Company, Industry, NumberOfEmployees, "
    "AnnualRevenue, Country, LeadSource, Status, OwnerId, Owner.IsActive, Owner.Type, "
    "IsConverted, SystemModstamp FROM Lead WHERE SystemModstamp > {cursor} "
    "ORDER BY SystemModstamp LIMIT {size}"
)


def median_ms(action: Callable[[], Any], runs: int = 15) -> float:
    action()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 2)


def file_size_mb(path: Path) -> float:
    sizes = [candidate.stat().st_size for candidate in path.parent.glob(path.name + "*")]
    return round(sum(sizes) / 1_000_000, 1)


def measure(leads: int, db_path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    running = start_salesforce(org=SynthOrg(OrgSpec(leads=leads, seed=7)), db_path=db_path)
    figures: dict[str, Any] = {
        "people": leads,
        "start_and_seed_seconds": round(time.perf_counter() - started, 1),
        "rows": running.seed_summary.counts if running.seed_summary else None,
        "db_mb": file_size_mb(db_path),
    }
    try:
        sf = Salesforce(username=running.username, password=running.password,
                        security_token=running.security_token, session=running.session())
        figures.update(page_figures(sf, running))
    finally:
        running.stop()
    return figures


def page_figures(sf: Salesforce, running: Any) -> dict[str, Any]:
    middle = sf.query(
        "SELECT SystemModstamp FROM Lead ORDER BY SystemModstamp LIMIT 1 OFFSET 2000"
    )["records"][0]["SystemModstamp"].replace(".000+0000", "Z")
    engine = running.emulator.queries
    figures: dict[str, Any] = {}
    for size in (100, 200):
        soql = PAGE_QUERY.format(cursor=middle, size=size)
        figures[f"http_page_{size}_ms"] = median_ms(lambda soql=soql: sf.query(soql))
        figures[f"engine_page_{size}_ms"] = median_ms(
            lambda soql=soql: engine.run(soql, include_deleted=False, batch_size=2000,
                                         version="59.0")
        )
    first = sf.query("SELECT Id, Email, Status FROM Lead",
                     headers={"Sforce-Query-Options": "batchSize=200"})
    figures["http_first_page_of_all_leads_ms"] = median_ms(
        lambda: sf.query("SELECT Id, Email, Status FROM Lead",
                         headers={"Sforce-Query-Options": "batchSize=200"}), runs=5
    )
    figures["http_next_records_page_200_ms"] = median_ms(
        lambda: sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    )
    ids = [record["Id"] for record in sf.query(
        "SELECT Id FROM Lead WHERE IsConverted = false LIMIT 200")["records"]]
    body = {"allOrNone": False, "records": [
        {"attributes": {"type": "Lead"}, "id": lead_id, "leadq_Score__c": 50} for lead_id in ids
    ]}
    figures["http_collection_update_200_ms"] = median_ms(
        lambda: sf.restful("composite/sobjects", method="PATCH", json=body,
                           headers={"Sforce-Auto-Assign": "FALSE"}), runs=5
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=None)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leadq-measure-") as workdir:
        db_path = arguments.db or Path(workdir) / "org.db"
        print(json.dumps(measure(arguments.leads, db_path), indent=2))


if __name__ == "__main__":
    main()
