"""Fields an org may carry (`OrgSpec(planted_fields=True)`), for `leadq learn`'s leak checks, and
when each person was handed to sales.

- `lead_quality`, a rating sales fill in after talking to the lead: "Hot" for most people who
  converted, set a few days *after* the conversion; "Warm" or "Cold" (rarely "Hot") for some of
  the people an owner worked, set some days after they were created. It reveals the outcome.
- `referral_partner`, set when the person was created: "Partner referral" for a few people, most
  of whom went on to convert, "None" for everyone else. A legitimate field with one rare value
  that converts very well.
- `buying_timeline`, a rep's note of when the buyer means to buy ("This quarter", "Next quarter",
  "Later"), set a few days *after the person was handed to sales* — before any conversion — for
  every person handed off, converted or not ("This quarter" more often for those who convert).
  Known only once sales has the lead: a leak the handoff's history reveals, not the conversion's.

The handoff (`handed_off_at`): people who converted, and people in an MQL or SQL stage with an
owner, reached MQL at a moment between their creation and their conversion (or last update); the
CRMs keep it in the stage's history (HubSpot's `hs_lifecyclestage_marketingqualifiedlead_date`,
a Salesforce Lead's Status history).

Each person's values come from a stream of their own, so planting them changes nothing else the
org holds. The CRMs keep when each value was set (HubSpot's property history, Salesforce's field
history), so `set_at` is part of the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sandbox.orgs.draws import PLANTED_STREAM, Draws, digest_draws
from sandbox.orgs.histories import ONE_SECOND
from sandbox.orgs.records import OrgSpec, SynthPerson, index_of

QUALITY = "lead_quality"
REFERRAL = "referral_partner"
TIMELINE = "buying_timeline"
PLANTED = (QUALITY, REFERRAL, TIMELINE)
TIMELINES = ("This quarter", "Next quarter", "Later")
SALES_STAGES = frozenset({"marketingqualifiedlead", "salesqualifiedlead"})


@dataclass(frozen=True)
class PlantedValue:
    value: str
    set_at: datetime


@dataclass(frozen=True)
class Planted:
    values: dict[str, PlantedValue]
    handed_off_at: datetime | None  # when sales got the person (None: never)


def planted_values(spec: OrgSpec, person: SynthPerson) -> dict[str, PlantedValue]:
    """The planted fields' values of one person (none unless the spec plants them)."""
    return planted(spec, person).values


def handed_off_at(spec: OrgSpec, person: SynthPerson) -> datetime | None:
    """When the person was handed to sales, in an org that plants fields (else None)."""
    return planted(spec, person).handed_off_at


def planted(spec: OrgSpec, person: SynthPerson) -> Planted:
    if not spec.planted_fields:
        return Planted({}, None)
    rng = digest_draws(spec.seed, PLANTED_STREAM, index_of(person.key, "p", spec.leads))
    converted_at = person.outcome.at if person.outcome.converted else None
    values = {}
    referred = rng.chance(0.4 if converted_at is not None else 0.01)
    values[REFERRAL] = PlantedValue("Partner referral" if referred else "None", person.created_at)
    rated = converted_at is not None or (person.owner_key is not None and rng.chance(0.5))
    if rated:
        if converted_at is not None:
            value = "Hot" if rng.chance(0.8) else "Warm"
            moment = converted_at + timedelta(days=rng.uniform_between(0.5, 10.0))
        else:
            value = "Hot" if rng.chance(0.03) else rng.choose(("Warm", "Cold", "Cold"))
            moment = person.created_at + timedelta(days=rng.uniform_between(1.0, 30.0))
        values[QUALITY] = PlantedValue(value, min(moment, spec.now - ONE_SECOND))
    handoff = _handoff(rng, person, converted_at)
    if handoff is not None:
        values[TIMELINE] = _timeline(rng, spec, handoff, converted_at)
    return Planted(values, handoff)


def _handoff(rng: Draws, person: SynthPerson, converted_at: datetime | None) -> datetime | None:
    if converted_at is not None:
        until = converted_at
    elif person.lifecycle_stage in SALES_STAGES and person.owner_key is not None:
        until = person.updated_at
    else:
        return None
    return person.created_at + (until - person.created_at) * rng.uniform_between(0.2, 0.8)


def _timeline(
    rng: Draws, spec: OrgSpec, handoff: datetime, converted_at: datetime | None
) -> PlantedValue:
    soon = rng.chance(0.6 if converted_at is not None else 0.25)
    value = "This quarter" if soon else rng.choose(TIMELINES[1:])
    until = converted_at if converted_at is not None else spec.now
    moment = handoff + min((until - handoff) * 0.9, timedelta(days=rng.uniform_between(0.5, 5.0)))
    return PlantedValue(value, moment)
