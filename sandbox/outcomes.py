"""`leadq backtest --sandbox N` and `leadq learn --sandbox N`: outcomes from a synthetic org.

The org's people, companies, activities and outcomes (drawn from a hidden propensity of fit and
recent intent) become canonical records, as a connector would produce them. leadq finds this
source through the entry-point group `leadq.outcome_sources` (name `sandbox`, see pyproject.toml),
so nothing outside `sandbox/` imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from connectors.records import Activity, Company, Lead, Outcome
from sandbox.orgs import OrgSpec, SynthActivity, SynthCompany, SynthOrg, SynthPerson
from scoring.backtest import labelled_from_records
from scoring.config import ScoringModel
from sync.outcomes import Loaded

PERSON_ATTRIBUTES = (  # what a SynthPerson carries onto its Lead as it is
    "kind",
    "email",
    "first_name",
    "last_name",
    "title",
    "country",
    "state",
    "source",
    "lifecycle_stage",
    "lead_status",
    "created_at",
    "updated_at",
)
ACTIVITY_ATTRIBUTES = ("type", "occurred_at", "url", "form", "campaign", "subject")


@dataclass(frozen=True)
class SandboxOutcomes:
    """A synthetic org from the sandbox: people, activities and outcomes from a hidden
    propensity of fit and recent intent."""

    leads: int
    seed: int = 7

    def labelled(self, model: ScoringModel, now: datetime | None) -> Loaded:
        org = SynthOrg(OrgSpec(leads=self.leads, seed=self.seed))
        leads, activities, outcomes = records_from_org(org)
        labelled = labelled_from_records(leads, activities, outcomes, now or org.spec.now)
        return Loaded(labelled, f"sandbox org of {self.leads:,} leads (seed {self.seed})")


def records_from_org(org: SynthOrg) -> tuple[list[Lead], list[Activity], list[Outcome]]:
    """A sandbox SynthOrg's people as canonical Lead, Activity and Outcome records."""
    leads: list[Lead] = []
    activities: list[Activity] = []
    outcomes: list[Outcome] = []
    companies: dict[str, Company] = {}
    for person in org.people():
        company = None
        if person.company_key:
            if person.company_key not in companies:
                companies[person.company_key] = _company(org.company(person.company_key))
            company = companies[person.company_key]
        leads.append(_lead(person, company))
        activities += [_activity(synth) for synth in person.activities]
        outcome = person.outcome
        outcomes.append(
            Outcome(
                lead_id=person.key, converted=outcome.converted, at=outcome.at, value=outcome.value
            )
        )
    return leads, activities, outcomes


def _company(synth: SynthCompany) -> Company:
    return Company(
        id=synth.key,
        name=synth.name,
        domain=synth.domain,
        industry=synth.industry,
        employees=synth.employees,
        annual_revenue=synth.annual_revenue,
        country=synth.country,
        owner_id=synth.owner_key,
    )


def _lead(person: SynthPerson, company: Company | None) -> Lead:
    values = {name: getattr(person, name) for name in PERSON_ATTRIBUTES}
    return Lead(id=person.key, owner_id=person.owner_key, company=company, **values)


def _activity(synth: SynthActivity) -> Activity:
    values = {name: getattr(synth, name) for name in ACTIVITY_ATTRIBUTES}
    return Activity(lead_id=synth.person_key, **values)
