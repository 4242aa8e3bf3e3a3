"""`leadq demo`: the main job end to end on a sandbox CRM with embedded defaults.

Starts a seeded sandbox (HubSpot unless asked otherwise), creates leadq's fields, runs a full
sync, lets the sandbox simulate new activity on some leads, runs an incremental sync, and shows
what changed, who got which leads, and why. State goes to a SQLite file under `out/`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import requests
from rich.console import Console

from scoring.config import ScoringModel
from scoring.loading import load_model
from sync.engine import RunReport
from sync.plan import is_promotion
from sync.render import (
    GRADE_STYLE,
    assignments_table,
    changes_table,
    distribution,
    run_summary,
)
from sync.runtime import Runtime, open_runtime, output_field_specs
from sync.settings import Settings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEMO_MODEL = EXAMPLES / "sandbox.yaml"
DemoCrm = Literal["hubspot", "salesforce"]


@dataclass
class DemoResult:
    crm: DemoCrm
    leads: int
    model: ScoringModel
    fields_created: list[str]
    full: RunReport
    simulated: int
    incremental: RunReport
    state_path: Path


@dataclass
class _Sandbox:
    settings: Settings
    session: requests.Session | None
    simulate: Callable[[int, datetime, int], object]


@contextmanager
def _sandbox(crm: DemoCrm, leads: int, seed: int, state_path: Path) -> Iterator[_Sandbox]:
    from sandbox.launch import org_ending_now

    common = {"state_url": f"sqlite:///{state_path}", "overlap_seconds": 0}
    org = org_ending_now(leads, seed)  # the demo syncs as of the real clock
    if crm == "hubspot":
        from sandbox.hubspot import start_hubspot

        with start_hubspot(org=org, rate_limit=(1_000, 10.0), search_per_second=50) as hubspot:
            settings = hubspot.leadq_settings(
                hubspot_rate_limit=1_000, hubspot_search_rate=40, **common
            )
            yield _Sandbox(settings, None, hubspot.emulator.simulate_activity)
        return
    from sandbox.salesforce import start_salesforce

    with start_salesforce(org=org) as salesforce:
        settings = salesforce.leadq_settings(salesforce_rate_limit=1_000, **common)
        yield _Sandbox(settings, salesforce.session(), salesforce.emulator.simulate_activity)


def run_demo(
    crm: DemoCrm = "hubspot",
    leads: int = 2_000,
    seed: int = 7,
    simulate: int = 50,
    out_dir: Path = Path("out"),
    progress: Callable[[str], None] = lambda message: None,
) -> DemoResult:
    model = load_model(DEMO_MODEL)
    out_dir.mkdir(parents=True, exist_ok=True)
    state_path = Path(tempfile.mkstemp(prefix=f"demo-{crm}-", suffix=".db", dir=out_dir)[1])
    progress(f"Starting a {crm} sandbox with {leads:,} synthetic people (seed {seed}) …")
    with _sandbox(crm, leads, seed, state_path) as sandbox:
        runtime = open_runtime(sandbox.settings, model, sandbox.session)
        try:
            return _run(runtime, sandbox, crm, leads, simulate, state_path, progress)
        finally:
            runtime.close()


def _run(
    runtime: Runtime,
    sandbox: _Sandbox,
    crm: DemoCrm,
    leads: int,
    simulate: int,
    state_path: Path,
    progress: Callable[[str], None],
) -> DemoResult:
    progress("leadq setup: creating leadq's fields …")
    fields = runtime.connector.ensure_fields(output_field_specs(runtime.model, crm))
    engine = runtime.engine()
    progress("Full sync: scoring every lead and writing the results …")
    full = engine.run("full")
    progress(f"The sandbox simulates new activity on {simulate} people …")
    sandbox.simulate(simulate, datetime.now(UTC), 11)
    progress("Incremental sync: only what changed since the last run …")
    incremental = engine.run("incremental")
    return DemoResult(
        crm=crm,
        leads=leads,
        model=runtime.model,
        fields_created=fields.created,
        full=full,
        simulated=simulate,
        incremental=incremental,
        state_path=state_path,
    )


def demo_story(console: Console, result: DemoResult) -> None:
    full, incremental = result.full, result.incremental
    crm = {"hubspot": "HubSpot", "salesforce": "Salesforce"}[result.crm]
    console.rule(f"leadq demo — {crm} sandbox, {result.leads:,} synthetic people")
    console.print(
        f"Model [bold]{result.model.name}[/bold] (examples/sandbox.yaml, version "
        f"{result.model.version}). Fields created by `leadq setup`: "
        f"{', '.join(result.fields_created) or 'none (already there)'}."
    )
    console.print("\n[bold]1. Full sync[/bold]: every lead scored, written where it changed.")
    console.print(run_summary(full))
    console.print(f"grades   {distribution(full.grades, GRADE_STYLE)}")
    console.print(f"stages   {distribution(full.stages)}")
    console.print(f"{full.promoted:,} leads promoted to MQL; a sample of what was written:")
    console.print(changes_table(_sample_of(full), limit=12, title="Written to the CRM (sample)"))
    if full.assignments:
        console.print(assignments_table(full, "Who got the new MQLs, and why"))
    console.print(
        f"\n[bold]2. New activity[/bold]: the sandbox simulated fresh activity for "
        f"{result.simulated} people (page views, downloads, demo requests …)."
    )
    console.print("\n[bold]3. Incremental sync[/bold]: only leads changed since the last run.")
    console.print(run_summary(incremental))
    if incremental.changes:
        console.print(changes_table(incremental, limit=20, title="What changed, and why"))
    else:
        console.print("No lead's score moved enough to write (min score change) — nothing written.")
    if incremental.assignments:
        console.print(assignments_table(incremental, "New MQLs routed"))
    console.print(
        f"\nState and audit log: {result.state_path} — try `LEADQ_STATE_URL=sqlite:///"
        f"{result.state_path} leadq audit <lead id>`."
    )


def _sample_of(report: RunReport) -> RunReport:
    """The changes of a few leads that were promoted, so the sample shows whole stories."""
    promoted = {c.lead_id for c in report.changes if is_promotion(c.why)}
    chosen = sorted(promoted)[:2] or sorted({c.lead_id for c in report.changes})[:2]
    sample = RunReport(report.run_id, report.kind, report.dry_run, report.started_at)
    sample.changes = [c for c in report.changes if c.lead_id in chosen]
    return sample
