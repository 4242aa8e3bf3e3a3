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

from scoring.config import ScoringModel
from scoring.loading import load_model
from sync.engine import RunReport
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

    common = {"state_url": f"sqlite:///{state_path}", "overlap_seconds": 0, "_env_file": None}
    org = org_ending_now(leads, seed)  # the demo syncs as of the real clock
    if crm == "hubspot":
        from sandbox.hubspot import start_hubspot

        with start_hubspot(org=org, rate_limit=(1_000, 10.0), search_per_second=50) as hubspot:
            settings = Settings(  # type: ignore[call-arg]
                crm="hubspot",
                hubspot_base_url=hubspot.base_url,
                hubspot_access_token=hubspot.access_token,
                hubspot_app_id=str(hubspot.app_id),
                hubspot_rate_limit=1_000,
                hubspot_search_rate=40,
                **common,
            )
            yield _Sandbox(settings, None, hubspot.emulator.simulate_activity)
        return
    from sandbox.salesforce import start_salesforce

    with start_salesforce(org=org) as salesforce:
        settings = Settings(  # type: ignore[call-arg]
            crm="salesforce",
            salesforce_username=salesforce.username,
            salesforce_password=salesforce.password,
            salesforce_security_token=salesforce.security_token,
            salesforce_ca_bundle=salesforce.ca_pem,
            salesforce_rate_limit=1_000,
            **common,
        )
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
