"""Steady state: what the runs after a full sync cost, every request counted from the sandbox's own
request log, against a stated lower bound.

Four runs in a row on each CRM, each as a fresh process's worth of leadq would make it (a new
runtime: nothing kept in memory from the run before), default settings (overlap 300 s):
full sync → incremental with nothing changed → incremental after new activity on 50 people →
incremental with nothing changed. The lower bound of a run is what any client must ask for:

- HubSpot: the search pages for what others changed (at least one request), and for the changed
  leads the events pages of the new events, one association read per engagement type, the
  engagement objects read (batches of 100), the company association read and company reads, and
  the write batches; a full sync: list pages (100), events pages of the year, engagement, company
  and write batches.
- Salesforce: the query pages for what others changed (at least one), one query per activity
  object (Task, Event, CampaignMember) for the changed people, and the write batches (200); a
  full sync: the query pages (2,000) with their activity queries, and the write batches.

Everything else a run asks — logging in, reading the schema (HubSpot's contact properties every
run, which prove the token; the rest kept in the state store for an hour), the owners and
account owners routing needs when a changed lead reaches an assigning stage, the count behind
the cursor and the check of what changed while it ran — is overhead above the bound: the
per-kind counts in each row's note show which.

`python -m benchmarks steady` runs 2,000 and 10,000 leads; `--large` adds 100,000 (about 20
minutes for HubSpot and 10 for Salesforce on two shared cores, half of it the sandbox serving the
full sync); `--crm hubspot` or `--crm salesforce` runs one CRM.
"""

from __future__ import annotations

import math
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.measure import Measurement
from sandbox.launch import org_ending_now
from sandbox.server import LoggedRequest
from scoring.loading import load_model
from sync.ledger import LedgerState, ledger_document, unpack
from sync.runtime import open_runtime, output_field_specs
from sync.settings import Settings

MODEL = load_model(Path(__file__).parents[1] / "examples" / "sandbox.yaml")
FAST = 1_000_000  # requests per 10 s: what is counted here is requests, not waiting
NO_CHANGE_LIMIT = 8
ACTIVITY_RATIO_LIMIT = 1.5
CHANGED_PEOPLE = 50
SIZES = (2_000, 10_000)
LARGE = 100_000
CRMS = ("hubspot", "salesforce")
ENGAGEMENT_TYPES = ("calls", "emails", "meetings", "notes")
SALESFORCE_ACTIVITY_OBJECTS = 3  # Task, Event, CampaignMember (Leads only)


@dataclass
class Run:
    name: str
    requests: int
    pulled: int
    written: int
    bound: int
    by_kind: Counter[str]
    seconds: float

    @property
    def ratio(self) -> float:
        return self.requests / self.bound if self.bound else math.inf


def steady_benchmarks(
    sizes: tuple[int, ...] = SIZES, crms: tuple[str, ...] = CRMS
) -> list[Measurement]:
    measurements: list[Measurement] = []
    for crm in crms:
        for leads in sizes:
            measurements += _measured(crm, leads, _steady_runs(crm, leads))
    return measurements


# ---- the four runs ------------------------------------------------------------------------------


def _steady_runs(crm: str, leads: int) -> tuple[list[Run], float]:
    with tempfile.TemporaryDirectory(prefix="leadq-steady-") as directory, _sandbox(
        crm, leads, Path(directory)
    ) as (running, settings, session):
        setup = open_runtime(settings, MODEL, session)
        setup.connector.ensure_fields(output_field_specs(MODEL, crm))
        setup.close()
        runs = [_run(running, settings, session, crm, "full", "full sync", 0)]
        runs.append(_run(running, settings, session, crm, "incremental", "nothing changed", 0))
        simulated = running.emulator.simulate_activity(CHANGED_PEOPLE, datetime.now(UTC), 5)
        changed = len({activity.person_key for activity in simulated})
        runs.append(_run(running, settings, session, crm, "incremental",
                         f"new activity on {changed} people", len(simulated)))
        runs.append(_run(running, settings, session, crm, "incremental", "nothing changed", 0))
        per_activity = _ledger_bytes_per_activity(Path(directory) / "state.db", crm)
    return runs, per_activity


def _run(running: Any, settings: Settings, session: Any, crm: str, kind: str, name: str,
         new_activities: int) -> Run:
    running.emulator.log.clear()
    started = time.perf_counter()
    runtime = open_runtime(settings, MODEL, session)
    try:
        report = runtime.engine().run(kind)  # type: ignore[arg-type]
    finally:
        runtime.close()
    seconds = time.perf_counter() - started
    log = running.emulator.log.entries()
    by_kind = Counter(_kind(crm, entry) for entry in log)
    bound = (_hubspot_bound if crm == "hubspot" else _salesforce_bound)(
        kind, report.pulled, new_activities, by_kind
    )
    return Run(name, len(log), report.pulled, report.written, bound, by_kind, seconds)


# ---- lower bounds -------------------------------------------------------------------------------


def _hubspot_bound(kind: str, pulled: int, new_activities: int, by_kind: Counter[str]) -> int:
    batches = by_kind["engagement reads"] + by_kind["company reads"] + by_kind["writes"]
    if kind == "full":
        return math.ceil(pulled / 100) + by_kind["events"] + batches
    if not pulled:
        return 1
    chunks = math.ceil(pulled / 1_000)
    return (math.ceil(pulled / 200) + math.ceil(new_activities / 1_000)
            + len(ENGAGEMENT_TYPES) * chunks + chunks + batches)


def _salesforce_bound(kind: str, pulled: int, new_activities: int, by_kind: Counter[str]) -> int:
    pages = max(1, math.ceil(pulled / 2_000))
    activity = SALESFORCE_ACTIVITY_OBJECTS * pages if pulled else 0
    return pages + activity + by_kind["writes"]


def _kind(crm: str, entry: LoggedRequest) -> str:
    path = entry.path
    if crm == "salesforce":
        if "/composite/sobjects" in path:
            return "writes"
        if path.endswith("/composite"):
            return "routing reads"
        if "/query" in path:
            return "queries"
        return "login and describe"
    if path.endswith("/contacts/batch/update"):
        return "writes"
    if path.startswith("/events/"):
        return "events"
    if "/associations/" in path:
        return "associations"
    if any(f"/objects/{name}/batch/read" in path for name in ENGAGEMENT_TYPES):
        return "engagement reads"
    if "/companies/batch/read" in path:
        return "company reads"
    if path.endswith("/contacts/search"):
        return "contact searches"
    if path == "/crm/v3/objects/contacts":
        return "contact pages"
    return "schema, owners, accounts"


# ---- the ledger's size --------------------------------------------------------------------------


def _ledger_bytes_per_activity(state: Path, crm: str) -> float:
    """Bytes the ledger's rows hold (packed activity and key) per activity kept."""
    with sqlite3.connect(state) as connection:
        rows = connection.execute(
            "SELECT lead_id, packed FROM ledger WHERE crm = ?", (crm,)).fetchall()
        (document,) = connection.execute(
            "SELECT body FROM documents WHERE name = ?", (ledger_document(crm),)).fetchone()
    connection.close()
    details = LedgerState.model_validate_json(document).spec.details
    activities = sum(len(unpack(lead_id, bytes(packed), details)) for lead_id, packed in rows)
    stored = sum(len(packed) + len(lead_id) + len(crm) for lead_id, packed in rows)
    return stored / activities if activities else 0.0


# ---- sandboxes ----------------------------------------------------------------------------------


@contextmanager
def _sandbox(crm: str, leads: int, directory: Path) -> Iterator[tuple[Any, Settings, Any]]:
    org = org_ending_now(leads, seed=7)
    state = {"state_url": f"sqlite:///{directory / 'state.db'}"}
    if crm == "hubspot":
        from sandbox.hubspot import start_hubspot

        with start_hubspot(org=org, rate_limit=(FAST, 10.0), search_per_second=FAST) as running:
            yield running, running.leadq_settings(
                hubspot_rate_limit=FAST, hubspot_search_rate=FAST // 10, **state), None
        return
    from sandbox.salesforce import start_salesforce

    with start_salesforce(org=org) as running:
        yield running, running.leadq_settings(salesforce_rate_limit=FAST, **state), \
            running.session()


# ---- the table ----------------------------------------------------------------------------------


def _measured(crm: str, leads: int, result: tuple[list[Run], float]) -> list[Measurement]:
    runs, per_activity = result
    label = "HubSpot" if crm == "hubspot" else "Salesforce"
    measurements = []
    for run in runs:
        target, ok = "", None
        if run.name == "nothing changed":
            target, ok = f"≤ {NO_CHANGE_LIMIT} requests", run.requests <= NO_CHANGE_LIMIT
        elif run.name.startswith("new activity"):
            target = f"≤ {ACTIVITY_RATIO_LIMIT}× bound"
            ok = run.ratio <= ACTIVITY_RATIO_LIMIT
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(run.by_kind.items()))
        measurements.append(Measurement(
            f"steady {label} {leads:,}", f"{run.name}: requests vs lower bound",
            run.requests, "requests", target, ok,
            f"bound {run.bound} ({run.ratio:.2f}×); pulled {run.pulled:,}, written "
            f"{run.written:,}; {kinds}; {run.seconds:,.1f} s",
        ))
    measurements.append(Measurement(
        f"steady {label} {leads:,}", "activity ledger on SQLite, bytes per stored activity",
        round(per_activity, 1), "bytes", "≤ 40", per_activity <= 40,
        "packed activity and key, after the full sync",
    ))
    return measurements
