"""Two fields an org may carry (`OrgSpec(planted_fields=True)`), for `leadq learn`'s leak checks.

- `lead_quality`, a rating sales fill in after talking to the lead: "Hot" for most people who
  converted, set a few days *after* the conversion; "Warm" or "Cold" (rarely "Hot") for some of
  the people an owner worked, set some days after they were created. It reveals the outcome.
- `referral_partner`, set when the person was created: "Partner referral" for a few people, most
  of whom went on to convert, "None" for everyone else. A legitimate field with one rare value
  that converts very well.

Each person's values come from a stream of their own, so planting them changes nothing else the
org holds. The CRMs keep when each value was set (HubSpot's property history, Salesforce's field
history), so `set_at` is part of the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sandbox.orgs.draws import PLANTED_STREAM, digest_draws
from sandbox.orgs.histories import ONE_SECOND
from sandbox.orgs.records import OrgSpec, SynthPerson, index_of

QUALITY = "lead_quality"
REFERRAL = "referral_partner"
PLANTED = (QUALITY, REFERRAL)


@dataclass(frozen=True)
class PlantedValue:
    value: str
    set_at: datetime


def planted_values(spec: OrgSpec, person: SynthPerson) -> dict[str, PlantedValue]:
    """The planted fields' values of one person (none unless the spec plants them)."""
    if not spec.planted_fields:
        return {}
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
    return values
