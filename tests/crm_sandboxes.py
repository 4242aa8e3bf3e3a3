"""Start a sandbox CRM and a leadq runtime pointed at it, and read the CRM's state back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from hubspot import HubSpot
from simple_salesforce import Salesforce

from scoring.config import ScoringModel
from scoring.loading import load_model
from sync.engine import Assignment, PlannedChange, RunKind, RunReport, RunWatch, SyncEngine
from sync.runtime import Runtime, open_runtime, output_field_specs
from sync.settings import Settings

EXAMPLES = Path(__file__).parents[1] / "examples"
MODEL = load_model(EXAMPLES / "sandbox.yaml")
FAST = 10_000  # requests per 10 s: tests are not about the rate limit


@dataclass
class Sandbox:
    crm: str
    leads: int
    seed: int
    settings: Settings
    session: requests.Session | None
    running: Any  # RunningHubSpot | RunningSalesforce

    @property
    def emulator(self) -> Any:
        return self.running.emulator

    def runtime(self, model: ScoringModel = MODEL, state: Path | None = None) -> Runtime:
        settings = self.settings
        if state is not None:
            settings = settings.model_copy(update={"state_url": f"sqlite:///{state}"})
        runtime = open_runtime(settings, model, self.session)
        runtime.connector.ensure_fields(output_field_specs(model, self.crm))
        return runtime

    def emails_of(self, person_keys: set[str]) -> set[str]:
        from sandbox.orgs import OrgSpec, SynthOrg

        org = SynthOrg(OrgSpec(leads=self.leads, seed=self.seed))
        return {org.person(key).email.lower() for key in person_keys}

    def query(self, soql: str) -> list[dict[str, Any]]:
        """Every record of a SOQL query against the Salesforce sandbox."""
        return salesforce_client(self).query_all(soql)["records"]

    def state(self) -> dict[str, dict[str, Any]]:
        """Every lead's leadq fields, stage, status and owner, as the CRM holds them now."""
        return hubspot_state(self) if self.crm == "hubspot" else salesforce_state(self)


@contextmanager
def sandbox(
    crm: str,
    leads: int,
    tmp_path: Path,
    seed: int = 7,
    ending_now: bool = False,
    notify: str | None = None,
) -> Iterator[Sandbox]:
    """`ending_now`: the org's history ends this hour, for runs that score as of the real clock
    (handlers, `leadq serve`); otherwise it ends at the synthetic orgs' fixed moment. `notify`:
    where the sandbox sends its webhooks / outbound messages."""
    from sandbox.launch import org_ending_now
    from sandbox.orgs import OrgSpec, SynthOrg

    org = org_ending_now(leads, seed) if ending_now else SynthOrg(OrgSpec(leads=leads, seed=seed))
    common: dict[str, Any] = {
        "state_url": f"sqlite:///{tmp_path / 'state.db'}",
        "overlap_seconds": 0,
        "min_score_change": 1,
    }
    if crm == "hubspot":
        from sandbox.hubspot import start_hubspot

        with start_hubspot(
            org=org, rate_limit=(FAST, 10.0), search_per_second=FAST, webhook_url=notify
        ) as running:
            settings = running.leadq_settings(
                hubspot_rate_limit=FAST,
                hubspot_search_rate=FAST // 10,
                **common,
            )
            yield Sandbox(crm, leads, seed, settings, None, running)
        return
    from sandbox.salesforce import start_salesforce

    with start_salesforce(org=org, outbound_url=notify) as running:
        settings = running.leadq_settings(
            salesforce_rate_limit=FAST,
            **common,
        )
        yield Sandbox(crm, leads, seed, settings, running.session(), running)


HUBSPOT_FIELDS = [
    "leadq_score",
    "leadq_fit",
    "leadq_engagement",
    "leadq_grade",
    "leadq_label",
    "leadq_priority",
    "leadq_reasons",
    "leadq_model_version",
    "lifecyclestage",
    "hs_lead_status",
    "hubspot_owner_id",
    "email",
]
SALESFORCE_FIELDS = [
    "leadq_Score__c",
    "leadq_Grade__c",
    "leadq_Label__c",
    "leadq_Reasons__c",
    "leadq_Model_Version__c",
    "Status",
    "OwnerId",
    "Email",
]


def hubspot_state(box: Sandbox) -> dict[str, dict[str, Any]]:
    client = HubSpot(access_token=box.running.access_token, host=box.running.base_url)
    contacts = client.crm.contacts.get_all(properties=HUBSPOT_FIELDS)
    return {c.id: {k: c.properties.get(k) for k in HUBSPOT_FIELDS} for c in contacts}


def salesforce_client(box: Sandbox) -> Salesforce:
    running = box.running
    return Salesforce(
        username=running.username,
        password=running.password,
        security_token=running.security_token,
        session=running.session(),
    )


def salesforce_state(box: Sandbox) -> dict[str, dict[str, Any]]:
    rows = box.query(f"SELECT Id, {', '.join(SALESFORCE_FIELDS)} FROM Lead")
    return {row["Id"]: {k: row.get(k) for k in SALESFORCE_FIELDS} for row in rows}


@dataclass
class WatchedRun:
    """A run's report with every change and assignment it streamed (the report keeps a sample)."""

    report: RunReport
    changes: list[PlannedChange]
    assignments: list[Assignment]


def watched_run(engine: SyncEngine, kind: RunKind, dry_run: bool = False) -> WatchedRun:
    changes: list[PlannedChange] = []
    assignments: list[Assignment] = []
    watch = RunWatch(changes=changes.extend, assignments=assignments.extend)
    report = engine.run(kind, dry_run=dry_run, watch=watch)
    return WatchedRun(report, changes, assignments)
