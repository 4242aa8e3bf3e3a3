"""The emulators at scale: seeding speed, database size, page times at 100,000 leads; how long a
HubSpot API write takes while the webhook subscriber it notifies is slow; and the synthetic org
generator's memory, flat from 10,000 to 1,000,000 people."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from werkzeug.wrappers import Request, Response

from benchmarks.measure import Measurement, run_in_child
from sandbox.server import Emulator, EmulatorServer

PAGE_TARGET_MS = 50.0
SLOW_SUBSCRIBER_SECONDS = 0.6
WRITE_TARGET_MS = 300.0
FLAT_GROWTH = 1.5


def sandbox_benchmarks(leads: int = 100_000) -> list[Measurement]:
    return [*emulators_at_scale(leads), write_beside_a_slow_subscriber(), *org_stream_memory()]


def emulators_at_scale(leads: int) -> list[Measurement]:
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


class SlowSubscriber(Emulator):
    """A webhook endpoint that takes its time to answer."""

    def dispatch(self, request: Request) -> Response:
        time.sleep(SLOW_SUBSCRIBER_SECONDS)
        return Response(status=204)


def write_beside_a_slow_subscriber(writes: int = 10) -> Measurement:
    """Webhooks are sent from a background thread: the API answers without waiting for them."""
    from hubspot import HubSpot

    from sandbox.hubspot import start_hubspot

    with EmulatorServer(SlowSubscriber()) as subscriber, start_hubspot(
        leads=100, webhook_url=f"{subscriber.base_url}/webhooks/hubspot"
    ) as running:
        contacts = HubSpot(access_token=running.access_token, host=running.base_url).crm.contacts
        contact_id = contacts.basic_api.get_page(limit=1).results[0].id
        times = []
        for number in range(writes):
            started = time.perf_counter()
            contacts.basic_api.update(contact_id, {"properties": {"jobtitle": f"CRO {number}"}})
            times.append((time.perf_counter() - started) * 1000)
    median = statistics.median(times)
    return Measurement(
        "sandbox", f"HubSpot API write, subscriber taking {SLOW_SUBSCRIBER_SECONDS:g} s", median,
        "ms", f"< {WRITE_TARGET_MS:g}", median < WRITE_TARGET_MS,
        f"median of {writes} writes, each notifying the subscriber; max {max(times):.0f} ms",
    )


STREAM_PEOPLE = """
import json, sys, time
from benchmarks.peak_memory import peak_memory_kb
from sandbox.orgs import OrgSpec, SynthOrg
people = int(sys.argv[1])
org = SynthOrg(OrgSpec(leads=people, seed=7))
started = time.perf_counter()
activities = sum(len(person.activities) for person in org.people())
seconds = time.perf_counter() - started
peak_kb = peak_memory_kb()
print(json.dumps({"peak_kb": peak_kb, "seconds": seconds, "activities": activities}))
"""


def org_stream_memory(sizes: tuple[int, ...] = (10_000, 1_000_000)) -> list[Measurement]:
    """Peak memory (RSS) of a process streaming every person of a synthetic org: flat in size."""
    results = []
    for people in sizes:
        streamed = run_in_child(STREAM_PEOPLE, str(people))
        results.append(
            Measurement(
                "sandbox",
                f"synthetic org stream, peak memory, {people:,} people",
                streamed["peak_kb"] / 1024,
                "MB",
                "flat in people",
                detail=f"{streamed['activities']:,} activities; "
                f"{people / streamed['seconds']:,.0f} people/s",
            )
        )
    growth = results[-1].value / results[0].value
    results.append(
        Measurement(
            "sandbox",
            "synthetic org stream, memory growth, largest / smallest",
            growth,
            "×",
            f"≤ {FLAT_GROWTH:g}×",
            growth <= FLAT_GROWTH,
        )
    )
    return results
