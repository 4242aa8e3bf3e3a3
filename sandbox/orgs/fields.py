"""One field of a generated company or person at a time, each drawn from the record's own stream.

The order of draws is part of the org: calling these in another order, or drawing once more or
less in one of them, changes every org generated from a seed.
"""

from __future__ import annotations

from datetime import datetime

from sandbox.orgs.draws import Draws
from sandbox.orgs.histories import DAY, ONE_SECOND, Draft
from sandbox.orgs.records import SynthCompany
from sandbox.orgs.vocabulary import (
    BUSINESS_SENIORITIES,
    COMPETITORS,
    FUNCTIONS,
    NO_COMPANY_NAMES,
    PERSONAL_EMAIL_DOMAINS,
    PHONE_PREFIXES,
    SOURCES,
    STATES,
    STUDENT_TITLES,
    UNIVERSITIES,
    Persona,
    titles_for,
)

# What drives a conversion: the outcome comes a little after the last of these.
_DRIVER_TYPES = frozenset(
    {"demo_request", "contact_sales", "meeting_booked", "email_reply", "pricing_page_view",
     "webinar_attended"}
)


def seconds_before(now: datetime, seconds: float) -> datetime:
    return now - ONE_SECOND * round(seconds)


def state_in(rng: Draws, country: str) -> str | None:
    states = STATES.get(country)
    return rng.pick(states) if states else None


def company_employees(rng: Draws) -> int:
    return max(1, min(100_000, round(rng.lognormal(60.0, 1.9))))


def email_domain_and_company(
    rng: Draws, persona: Persona, company: SynthCompany | None
) -> tuple[str, str]:
    if company is not None:
        return company.domain, company.name
    if persona in ("student", "competitor"):
        name, domain = rng.choose(UNIVERSITIES if persona == "student" else COMPETITORS)
        return domain, name
    return rng.choose(PERSONAL_EMAIL_DOMAINS), rng.choose(NO_COMPANY_NAMES)


def title_for(rng: Draws, persona: Persona) -> str:
    if persona == "student":
        return rng.choose(STUDENT_TITLES)
    seniority = rng.pick(BUSINESS_SENIORITIES)
    return rng.choose(titles_for(seniority, rng.pick(FUNCTIONS)))


def phone_for(rng: Draws, country: str) -> str:
    prefix = PHONE_PREFIXES.get(country, "+1")
    if prefix == "+1":
        return f"+1 {200 + rng.below(800)} 555 {rng.below(10_000):04d}"
    return f"{prefix} {10 + rng.below(90)} {rng.below(10_000):04d} {rng.below(10_000):04d}"


def created_age_days(rng: Draws, history_days: int) -> float:
    if rng.chance(0.6):
        return rng.uniform_between(0.05, float(history_days))
    return rng.uniform_between(float(history_days), 3.0 * 365.0)


def updated_age_seconds(
    rng: Draws, created_age_days: float, drafts: list[Draft], outcome_age: float | None
) -> float:
    """Records are last modified at most two days after the latest thing that happened to them."""
    latest_age = created_age_days * DAY
    if drafts:
        latest_age = min(latest_age, drafts[-1][0])
    if outcome_age is not None:
        latest_age = min(latest_age, outcome_age)
    return latest_age - rng.random() * min(latest_age, 2 * DAY)


def outcome_age_seconds(rng: Draws, drafts: list[Draft], created_age_days: float) -> float:
    """When the conversion happened: a little after the last activity that drove it."""
    drivers = [age for age, draft_type, _ in drafts if draft_type in _DRIVER_TYPES]
    if drivers:
        driver_age = float(drivers[-1])
    else:
        driver_age = float(drafts[-1][0]) if drafts else created_age_days * DAY
    return driver_age - rng.delay_within(6.0 * DAY, driver_age)


def deal_value(rng: Draws, company: SynthCompany | None) -> float:
    if company is None:
        return float(round(rng.uniform_between(1_200.0, 6_000.0), -2))
    seats_value = 6_000.0 * (company.employees / 100.0) ** 0.55
    return float(round(max(1_200.0, seats_value * rng.lognormal(1.0, 0.35)), -2))


def source_for(rng: Draws, drafts: list[Draft]) -> str:
    first_type = drafts[0][1] if drafts else None
    if first_type == "webinar_registered" and rng.chance(0.6):
        return "Webinar"
    return rng.pick(SOURCES)


def lifecycle_stage(
    rng: Draws, persona: Persona, converted: bool, intent: float, owner_key: str | None
) -> str:
    if converted:
        return "customer" if rng.chance(0.3) else "opportunity"
    if persona in ("student", "personal") and rng.chance(0.4):
        return "subscriber"
    if intent > 1.0 and rng.chance(0.5):
        return "salesqualifiedlead" if owner_key and rng.chance(0.4) else "marketingqualifiedlead"
    return "subscriber" if rng.chance(0.12) else "lead"


def lead_status(
    rng: Draws,
    persona: Persona,
    converted: bool,
    owner_key: str | None,
    created_age_days: float,
) -> str:
    if converted:
        return "CONNECTED"
    if owner_key is None:
        return "NEW" if created_age_days < 30 or rng.chance(0.5) else "OPEN"
    if persona in ("student", "competitor") and rng.chance(0.6):
        return "UNQUALIFIED"
    return rng.choose(
        ("OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "ATTEMPTED_TO_CONTACT", "CONNECTED",
         "BAD_TIMING", "UNQUALIFIED")
    )
