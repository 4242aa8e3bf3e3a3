"""SynthOrg: one org derived from its spec: owners in memory, companies and people on demand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Literal

from sandbox.orgs import fields
from sandbox.orgs.draws import (
    COMPANY_STREAM,
    ORG_STREAM,
    OWNER_STREAM,
    PERSON_STREAM,
    SIMULATION_STREAM,
    Draws,
    Permutation,
    Weighted,
    digest_draws,
    mersenne_draws,
)
from sandbox.orgs.histories import DAY, SIMULATED_TYPES, Histories, draft, intent_of
from sandbox.orgs.propensity import BASE_LOGIT, hidden_fit, sigmoid
from sandbox.orgs.records import (
    OrgSpec,
    SynthActivity,
    SynthCompany,
    SynthOutcome,
    SynthOwner,
    SynthPerson,
    company_key,
    index_of,
    owner_key,
    person_key,
)
from sandbox.orgs.vocabulary import (
    COMPANY_NOUNS,
    COMPANY_PREFIXES,
    COMPANY_ROOTS,
    COUNTRIES,
    FIRST_NAME_SLUGS,
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAME_SLUGS,
    LAST_NAMES,
    LEGAL_SUFFIXES,
    PERSON_OWNER_TEAMS,
    REVENUE_PER_EMPLOYEE,
    TLDS,
    VENDOR_DOMAIN,
    Persona,
    ascii_slug,
)

_LEAD_PERSONAS: Weighted[Persona] = Weighted(
    [("business", 74), ("personal", 14), ("student", 7), ("competitor", 5)]
)
_CONTACT_PERSONAS: Weighted[Persona] = Weighted(
    [("business", 92), ("personal", 5), ("student", 2), ("competitor", 1)]
)


class SynthOrg:
    """A synthetic org, derived entirely from its spec: owners in memory, the rest on demand."""

    def __init__(self, spec: OrgSpec) -> None:
        self.spec = spec
        self.company_count = max(1, (spec.leads * spec.companies_per_100_leads + 99) // 100)
        self.person_count = spec.leads
        self.owners: tuple[SynthOwner, ...] = self._make_owners()
        self.queue_key: str = self.owners[-1].key
        self._person_owner_keys = tuple(owner.key for owner in self.owners[:-1])
        self._histories = Histories(spec)
        company_names = len(COMPANY_PREFIXES) * len(COMPANY_ROOTS) * len(COMPANY_NOUNS)
        self._company_names = Permutation.of_names(
            self.company_count, company_names, spec.seed, COMPANY_STREAM
        )
        self._person_names = Permutation.of_names(
            self.person_count, len(FIRST_NAMES) * len(LAST_NAMES), spec.seed, PERSON_STREAM
        )

    # ---- owners -----------------------------------------------------------------------------

    def _make_owners(self) -> tuple[SynthOwner, ...]:
        count = self.spec.owners
        org_rng = digest_draws(self.spec.seed, ORG_STREAM, 0)
        # o001 always stays active; at least one other owner has left the company.
        leavers = org_rng.distinct_below(count - 1, max(1, count // 6))
        inactive = {2 + offset for offset in leavers}
        owners = [
            self._person_owner(number, active=number not in inactive)
            for number in range(1, count + 1)
        ]
        owners.append(
            SynthOwner(
                key=owner_key(count + 1),
                email=f"sales-queue@{VENDOR_DOMAIN}",
                first_name="Inbound",
                last_name="Lead Queue",
                active=True,
                kind="queue",
                teams=("Inbound SDR",),
            )
        )
        return tuple(owners)

    def _person_owner(self, number: int, *, active: bool) -> SynthOwner:
        rng = digest_draws(self.spec.seed, OWNER_STREAM, number)
        first, last = rng.choose(FIRST_NAMES), rng.choose(LAST_NAMES)
        return SynthOwner(
            key=owner_key(number),
            email=f"{ascii_slug(first)}.{ascii_slug(last)}{number}@{VENDOR_DOMAIN}",
            first_name=first,
            last_name=last,
            active=active,
            kind="person",
            teams=rng.choose(PERSON_OWNER_TEAMS),
        )

    def owner(self, key: str) -> SynthOwner:
        for candidate in self.owners:
            if candidate.key == key:
                return candidate
        raise KeyError(key)

    # ---- companies --------------------------------------------------------------------------

    def companies(self, start: int = 0, stop: int | None = None) -> Iterator[SynthCompany]:
        """Companies in key order; `start`/`stop` slice the stream without generating the rest."""
        for index in range(*slice(start, stop).indices(self.company_count)):
            yield self._company_at(index)

    def company(self, key: str) -> SynthCompany:
        return self._company_at(index_of(key, "c", self.company_count))

    def _company_at(self, index: int) -> SynthCompany:
        rng = digest_draws(self.spec.seed, COMPANY_STREAM, index)
        industry = rng.pick(INDUSTRIES)
        country = rng.pick(COUNTRIES)
        employees = fields.company_employees(rng)
        revenue = employees * REVENUE_PER_EMPLOYEE[industry] * rng.lognormal(1.0, 0.45)
        name, domain = self._company_identity(index, country, rng)
        owner = rng.choose(self._person_owner_keys) if rng.chance(0.35) else None
        age_days = rng.uniform_between(20.0, 1_100.0)
        return SynthCompany(
            key=company_key(index),
            name=name,
            domain=domain,
            industry=industry,
            employees=employees,
            annual_revenue=float(round(revenue, -3)),
            country=country,
            state=fields.state_in(rng, country),
            owner_key=owner,
            created_at=fields.seconds_before(self.spec.now, age_days * DAY),
        )

    def _company_identity(self, index: int, country: str, rng: Draws) -> tuple[str, str]:
        """A name and a domain; the domain is unique in the org (the name need not be)."""
        slot = self._company_names(index)
        slot, prefix_at = divmod(slot, len(COMPANY_PREFIXES))
        slot, root_at = divmod(slot, len(COMPANY_ROOTS))
        cycle, noun_at = divmod(slot, len(COMPANY_NOUNS))
        stem = COMPANY_PREFIXES[prefix_at] + COMPANY_ROOTS[root_at]
        noun = COMPANY_NOUNS[noun_at]
        name = f"{stem} {noun}"
        if rng.chance(0.5):
            name = f"{name} {LEGAL_SUFFIXES[country]}"
        separator = "-" if rng.chance(0.5) else ""
        tld = TLDS.get(country, "com") if rng.chance(0.6) else rng.choose(("com", "com", "io"))
        numbered_stem = stem.lower() + (str(cycle + 1) if cycle else "")
        return name, f"{numbered_stem}{separator}{noun.lower()}.{tld}"

    # ---- people -----------------------------------------------------------------------------

    def people(self, start: int = 0, stop: int | None = None) -> Iterator[SynthPerson]:
        """People in key order; `start`/`stop` slice the stream without generating the rest."""
        for index in range(*slice(start, stop).indices(self.person_count)):
            yield self._person_at(index)

    def person(self, key: str) -> SynthPerson:
        return self._person_at(index_of(key, "p", self.person_count))

    def _person_at(self, index: int) -> SynthPerson:
        spec, key = self.spec, person_key(index)
        rng = mersenne_draws(spec.seed, PERSON_STREAM, index)
        kind: Literal["lead", "contact"] = "contact" if rng.chance(spec.contact_share) else "lead"
        persona = rng.pick(_CONTACT_PERSONAS if kind == "contact" else _LEAD_PERSONAS)
        first, last, local_part = self._person_name(index, rng)
        company = (
            self._company_at(rng.below(self.company_count)) if persona == "business" else None
        )
        email_domain, company_name = fields.email_domain_and_company(rng, persona, company)
        title = fields.title_for(rng, persona)
        country = company.country if company and rng.chance(0.9) else rng.pick(COUNTRIES)
        if company is not None and company.country == country:
            state = company.state
        else:
            state = fields.state_in(rng, country)
        owner = self._owner_for(rng, company)

        created_age_days = fields.created_age_days(rng, spec.history_days)
        window_days = min(created_age_days, float(spec.history_days))
        fit = hidden_fit(title, email_domain, country, company)
        drafts = self._histories.draft(rng, key, persona, fit, window_days, owner)
        intent = intent_of(drafts)
        converted = rng.random() < sigmoid(BASE_LOGIT + fit + intent)
        outcome_age = (
            fields.outcome_age_seconds(rng, drafts, created_age_days) if converted else None
        )
        now = spec.now
        return SynthPerson(
            key=key,
            kind=kind,
            email=f"{local_part}@{email_domain}",
            first_name=first,
            last_name=last,
            title=title,
            phone=fields.phone_for(rng, country) if rng.chance(0.7) else None,
            country=country,
            state=state,
            source=fields.source_for(rng, drafts),
            company_key=company.key if company else None,
            company_name=company_name,
            owner_key=owner,
            lifecycle_stage=fields.lifecycle_stage(rng, persona, converted, intent, owner),
            lead_status=fields.lead_status(rng, persona, converted, owner, created_age_days),
            created_at=fields.seconds_before(now, created_age_days * DAY),
            updated_at=fields.seconds_before(
                now, fields.updated_age_seconds(rng, created_age_days, drafts, outcome_age)
            ),
            activities=tuple(activity for _, _, activity in drafts),
            outcome=SynthOutcome(
                person_key=key,
                converted=converted,
                at=None if outcome_age is None else fields.seconds_before(now, outcome_age),
                value=fields.deal_value(rng, company) if converted else None,
            ),
        )

    def _person_name(self, index: int, rng: Draws) -> tuple[str, str, str]:
        slot = self._person_names(index)
        slot, first_at = divmod(slot, len(FIRST_NAMES))
        cycle, last_at = divmod(slot, len(LAST_NAMES))
        first, last = FIRST_NAMES[first_at], LAST_NAMES[last_at]
        given, family = FIRST_NAME_SLUGS[first_at], LAST_NAME_SLUGS[last_at]
        roll = rng.random()
        if roll < 0.75:
            local = f"{given}.{family}"
        elif roll < 0.87:
            local = f"{given}_{family}"
        else:
            local = f"{family}.{given}"
        return first, last, local + (str(cycle + 1) if cycle else "")

    def _owner_for(self, rng: Draws, company: SynthCompany | None) -> str | None:
        roll = rng.random()
        if company is not None and company.owner_key is not None and roll < 0.5:
            return company.owner_key
        roll = rng.random()
        if roll < 0.12:
            return rng.choose(self._person_owner_keys)
        if roll < 0.22:
            return self.queue_key
        return None

    # ---- simulated new activity -------------------------------------------------------------

    def simulate_activity(self, count: int, now: datetime, seed: int) -> list[SynthActivity]:
        """Fresh activity for `count` distinct existing people, in the hour before `now`.

        Deterministic in (spec.seed, seed, count, now); sorted by time. Meant for
        incremental-sync tests and the demo, where people "come back" to the site.
        """
        if not 0 <= count <= self.person_count:
            raise ValueError(f"count must be between 0 and {self.person_count}")
        rng = mersenne_draws(self.spec.seed, SIMULATION_STREAM, seed)
        activities = []
        for index in rng.distinct_below(self.person_count, count):
            key = person_key(index)
            for _ in range(1 + rng.poisson(0.6)):
                activity_type = rng.pick(SIMULATED_TYPES)
                age_seconds = int(rng.random() * 3_600.0)
                activities.append(draft(rng.random, key, activity_type, age_seconds, now)[2])
        activities.sort(key=_by_time)
        return activities


def _by_time(activity: SynthActivity) -> tuple[datetime, str]:
    return activity.occurred_at, activity.person_key
