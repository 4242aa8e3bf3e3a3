"""Killed runs: `leadq sync --full` SIGKILLed at a request converges on the next run — the CRM then
holds what an uninterrupted run leaves, no lead has been assigned an owner twice, and the audit log
has an entry for every field leadq changed (the newest entry for the field holds the CRM's value).

The kill is exact: the sandbox kills leadq once it has handled the chosen request and before
leadq hears the answer, so a kill at a write is a write that landed but was never confirmed.
`python -m benchmarks reliability` kills a run at every one of its requests, on both sandbox CRMs;
tests/e2e/sync/test_killed_runs.py kills one in each phase of a run with the same trials.

Fuzzed inputs, a row each: generated scoring models (benchmarks/model_fuzz.py), CSV files
(csv_fuzz.py), settings (settings_fuzz.py), command lines (cli_fuzz.py) and webhook requests
(benchmarks/webhook.py). `python -m benchmarks reliability` prints one table: category, inputs
tried, tracebacks, wrong exit codes, hangs, leads lost, audit entries lost.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from benchmarks.cli_fuzz import fuzz_cli
from benchmarks.csv_fuzz import fuzz_csv
from benchmarks.fuzzing import HANG_SECONDS, FuzzTally
from benchmarks.measure import Measurement
from benchmarks.model_fuzz import fuzz_models
from benchmarks.settings_fuzz import fuzz_settings
from benchmarks.webhook import fuzzed_requests
from connectors.salesforce_config import DEFAULT_API_VERSION
from sandbox.server import LoggedRequest
from scoring.loading import load_model
from sync.connect import connector_type
from sync.plan import OWNER_FIELDS, Planner, same_crm_value
from sync.state import AuditEntry
from sync.state_url import open_state_store

Crm = Literal["hubspot", "salesforce"]
FieldValue = tuple[str, str, Any]  # lead id, CRM field, the value the CRM holds
LEADS, SEED = 200, 7
NOW = "2026-11-02T09:00:00Z"
EXAMPLES = Path(__file__).parents[1] / "examples"
WRITE_PATH = {"hubspot": "/crm/v3/objects/contacts/batch/update",
              "salesforce": f"/services/data/v{DEFAULT_API_VERSION}/composite/sobjects"}
# stamped by the CRM's own clock at each write, so never equal between two runs
CRM_TIMESTAMPS = frozenset({"lastmodifieddate", "hs_lastmodifieddate", "SystemModstamp",
                            "LastModifiedDate"})


@dataclass(frozen=True)
class CleanRun:
    """An uninterrupted run: the requests it made, in order, and the CRM state it left; `seeded` is
    the CRM's database as it was before (leadq's fields set up), which each trial starts from, and
    `before` its state."""

    crm: Crm
    seeded: Path
    requests: list[LoggedRequest]
    state: dict[str, dict[str, Any]]
    before: dict[str, dict[str, Any]]

    def is_write(self, number: int) -> bool:
        """Whether the run's `number`-th request (from 1) was a write."""
        return self.requests[number - 1].path == WRITE_PATH[self.crm]

    def writes(self) -> list[int]:
        return [n for n in range(1, len(self.requests) + 1) if self.is_write(n)]


@dataclass(frozen=True)
class Trial:
    """A run killed after `kill_after` requests (the last one handled by the CRM, its answer never
    heard), then run again to the end."""

    kill_after: int
    killed_on: str
    differences: list[str]  # leads whose CRM state differs from the clean run's
    assigned_twice: list[str]  # leads given an owner more than once
    fields_changed: int  # fields leadq writes that hold another value than the seeded org's
    audit_lost: list[str]  # "lead field": changed by leadq in the CRM, with no audit entry for it
    rerun: str = ""  # how the run after the kill went wrong: "traceback", "exit N", "hang"

    @property
    def converged(self) -> bool:
        return not (self.differences or self.assigned_twice or self.audit_lost or self.rerun)


def clean_run(crm: Crm, directory: Path) -> CleanRun:
    seeded = directory / f"{crm}-seeded.db"
    with _sandbox(crm, seeded) as running:
        _run(_environment(crm, running, directory / "setup.db"), "setup")
        before = crm_state(crm, running)
    with _leadq_and_crm(crm, seeded, directory / "clean.db") as (running, environment):
        start = len(running.emulator.log.entries())
        _run(environment)
        return CleanRun(crm, seeded, running.emulator.log.entries()[start:],
                        crm_state(crm, running), before)


def killed_run(clean: CleanRun, kill_after: int, directory: Path) -> Trial:
    """Kill a run once the CRM has handled its `kill_after`-th request; run again; compare."""
    state_db = directory / f"killed-after-{kill_after}.db"
    with _leadq_and_crm(clean.crm, clean.seeded, state_db) as (running, environment):
        log = running.emulator.log
        start = len(log.entries())
        process = subprocess.Popen(_command("sync"), env=environment, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        log.when(lambda number, _: number == start + kill_after,
                 lambda: os.kill(process.pid, signal.SIGKILL))
        _, errors = process.communicate(timeout=120)
        if process.returncode != -signal.SIGKILL:
            raise RuntimeError(f"the run was not killed after {kill_after} requests: {errors}")
        rerun = _rerun(environment)
        state = crm_state(clean.crm, running)
    differences = sorted(i for i in clean.state if state.get(i) != clean.state[i])
    store = open_state_store(f"sqlite:///{state_db}")
    try:
        audit = {lead_id: store.audit_for(lead_id, 100) for lead_id in clean.state}
    finally:
        store.close()
    changed = _changed_fields(clean, state)
    return Trial(kill_after, _request_name(clean.requests[kill_after - 1]), differences,
                 _assigned_twice(clean.crm, audit), len(changed), _audit_lost(changed, audit),
                 rerun)


def crm_state(crm: Crm, running: Any) -> dict[str, dict[str, Any]]:
    """Every lead's (and contact's) stored values, read from the sandbox's own store."""
    if crm == "hubspot":
        records = running.store.page("contacts", 0, 1_000_000)
        rows = {str(record.id): record.properties for record in records}
    else:
        store, rows = running.store, {}
        for table in ("Lead", "Contact"):
            ids = [row[0] for row in store.read(f'SELECT "Id" FROM "{table}"')]
            rows |= store.fetch(store.sobject(table), ids)
    return {lead_id: {name: value for name, value in row.items() if not _write_time(name)}
            for lead_id, row in rows.items()}


def _write_time(name: str) -> bool:
    """A value the CRM sets to the moment of a write (lifecycle stage dates among them)."""
    return name in CRM_TIMESTAMPS or (name.startswith("hs_lifecyclestage_")
                                      and name.endswith("_date"))


def _assigned_twice(crm: Crm, audit: dict[str, list[AuditEntry]]) -> list[str]:
    owner = OWNER_FIELDS[crm]
    return [lead_id for lead_id, entries in audit.items()
            if sum(entry.field == owner for entry in entries) > 1]


def _changed_fields(clean: CleanRun, state: dict[str, dict[str, Any]]) -> list[FieldValue]:
    """Every field leadq writes whose CRM value differs from the seeded org's, with that value."""
    names = _fields_leadq_writes(clean.crm)
    return [
        (lead_id, name, value)
        for lead_id, before in clean.before.items()
        for name in names
        if (value := state.get(lead_id, {}).get(name)) != before.get(name)
    ]


def _audit_lost(changed: list[FieldValue], audit: dict[str, list[AuditEntry]]) -> list[str]:
    """The changed fields without an audit entry whose newest value for the field is the CRM's."""
    newest = {lead_id: {entry.field: entry.after for entry in reversed(entries)}
              for lead_id, entries in audit.items()}  # oldest first: the newest entry wins
    return [f"{lead_id} {name}" for lead_id, name, value in changed
            if not (name in newest.get(lead_id, {})
                    and same_crm_value(value, newest[lead_id][name]))]


def _fields_leadq_writes(crm: Crm) -> list[str]:
    model = load_model(EXAMPLES / "sandbox.yaml")
    planner = Planner(model, crm, field_name=connector_type(crm).field_name)
    return [*planner.read_fields(), OWNER_FIELDS[crm]]


def _request_name(entry: LoggedRequest) -> str:
    return f"{entry.method} {entry.path}"


# ---- leadq in its own process, pointed at a fresh sandbox --------------------------------------


@contextmanager
def _leadq_and_crm(crm: Crm, seeded: Path, state_db: Path) -> Iterator[tuple[Any, dict[str, str]]]:
    """A sandbox CRM serving a copy of `seeded`, and the environment that points leadq at it."""
    copy = state_db.with_name(f"{state_db.stem}-{crm}.db")
    shutil.copyfile(seeded, copy)
    with _sandbox(crm, copy) as running:
        yield running, _environment(crm, running, state_db)


@contextmanager
def _sandbox(crm: Crm, db_path: Path) -> Iterator[Any]:
    """The sandbox CRM on `db_path`, seeded with the org unless the file already holds it."""
    if crm == "hubspot":
        from sandbox.hubspot import start_hubspot

        with start_hubspot(leads=LEADS, seed=SEED, db_path=db_path, rate_limit=(10_000, 10.0),
                           search_per_second=1_000) as running:
            yield running
    else:
        from sandbox.salesforce import start_salesforce

        with start_salesforce(leads=LEADS, seed=SEED, db_path=db_path) as running:
            yield running


def _environment(crm: Crm, running: Any, state_db: Path) -> dict[str, str]:
    common = {
        "PATH": "/usr/bin:/bin",
        "LEADQ_STATE_URL": f"sqlite:///{state_db}",
        "LEADQ_OVERLAP_SECONDS": "0",
        "LEADQ_MODEL_PATH": str(EXAMPLES / "sandbox.yaml"),
    }
    if crm == "hubspot":
        return {**common, **running.leadq_environment(),
                "LEADQ_HUBSPOT_RATE_LIMIT": "10000", "LEADQ_HUBSPOT_SEARCH_RATE": "1000"}
    # a session id: the run is another process, which cannot reach a password login here
    return {**common, **running.leadq_environment("session"),
            "LEADQ_SALESFORCE_RATE_LIMIT": "10000"}


def _command(name: str) -> list[str]:
    sync = ["sync", "--full", "--now", NOW] if name == "sync" else [name]
    return [sys.executable, "-m", "sync.cli", *sync]


def _rerun(environment: dict[str, str]) -> str:
    """The run after a kill, to the end: "" when it succeeded, else what went wrong."""
    try:
        completed = subprocess.run(_command("sync"), env=environment, capture_output=True,
                                   text=True, check=False, timeout=120)
    except subprocess.TimeoutExpired:
        return "hang"
    if "Traceback (most recent call last)" in completed.stderr:
        return "traceback"
    return f"exit {completed.returncode}" if completed.returncode else ""


def _run(environment: dict[str, str], command: str = "sync") -> None:
    completed = subprocess.run(_command(command), env=environment, capture_output=True,
                               text=True, check=False, timeout=120)
    if completed.returncode != 0:
        raise RuntimeError(f"leadq {command} failed: {completed.stderr}")


# ---- the benchmark ------------------------------------------------------------------------------


FUZZED = {"models": 1_500, "CSV files": 4_000, "settings": 2_000, "CLI options": 2_500,
          "webhooks": 1_000}
NOT_LOST = "0 tracebacks, wrong exit codes, hangs, leads and audit entries lost"


def reliability_benchmarks() -> list[Measurement]:
    """One row per category of generated inputs (11,000 in all, about half an hour on 2 loaded
    cores), and one per CRM for a run killed at each of its requests (about 20 and 10), then
    rerun."""
    fuzzers = {"models": fuzz_models, "CSV files": fuzz_csv, "settings": fuzz_settings,
               "CLI options": fuzz_cli}
    rows = [fuzzed_inputs(fuzzers[name](FUZZED[name])) for name in fuzzers]
    rows.append(webhook_row(FUZZED["webhooks"]))
    return [*rows, *(_killed_at_every_request(crm) for crm in ("hubspot", "salesforce"))]


def fuzzed_inputs(tally: FuzzTally) -> Measurement:
    """One category of generated inputs: how many were tried, and how many ended in a traceback,
    an exit code (or output file) the README does not promise, a hang, or a lead lost."""
    problem = tally.first_problem()
    return Measurement(
        "reliability", tally.category, tally.tried, "inputs tried", NOT_LOST, tally.clean,
        f"first: {problem[:300]}" if problem else f"a hang is over {HANG_SECONDS} s of CPU",
        tally.counts(),
    )


def webhook_row(examples: int) -> Measurement:
    """The webhook routes' fuzz test (benchmarks/webhook.py), which fails on any 5xx or exception:
    its requests as one row."""
    measured = fuzzed_requests(examples)
    return Measurement("reliability", "webhooks", examples, "inputs tried", NOT_LOST,
                       measured.meets_target, measured.detail,
                       {"tracebacks": 0 if measured.meets_target else 1,  # 1: at least one
                        "wrong exit codes": 0 if measured.meets_target else 1})  # a 5xx answer


def _killed_at_every_request(crm: Crm) -> Measurement:
    with tempfile.TemporaryDirectory(prefix="leadq-killed-") as directory:
        clean = clean_run(crm, Path(directory))
        trials = [killed_run(clean, number, Path(directory))
                  for number in range(1, len(clean.requests) + 1)]
    failures = "; ".join(
        f"killed after {t.kill_after} ({t.killed_on}): {len(t.differences)} leads differ, "
        f"{len(t.assigned_twice)} assigned twice, {len(t.audit_lost)} audit entries lost"
        + (f", the rerun: {t.rerun}" if t.rerun else "")
        for t in trials if not t.converged)
    reruns = [t.rerun for t in trials]
    name = "HubSpot" if crm == "hubspot" else "Salesforce"
    return Measurement(
        "reliability", f"killed runs {name}", len(trials), "inputs tried", NOT_LOST,
        all(t.converged for t in trials),
        failures or f"{LEADS} leads, killed after each of a run's {len(trials)} requests "
        f"({len(clean.writes())} writes that landed unanswered), then rerun: the CRM as an "
        f"uninterrupted run leaves it, no owner assigned twice; "
        f"{sum(t.fields_changed for t in trials):,} changed fields checked against the audit",
        {"tracebacks": reruns.count("traceback"), "hangs": reruns.count("hang"),
         "wrong exit codes": sum(r.startswith("exit") for r in reruns),
         "leads lost": sum(len(t.differences) + len(t.assigned_twice) for t in trials),
         "audit entries lost": sum(len(t.audit_lost) for t in trials)},
    )
