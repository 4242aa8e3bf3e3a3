"""Seeded synthetic CRM orgs: owners, companies, people, activity histories and outcomes.

`SynthOrg(OrgSpec(leads=..., seed=...))` describes one org. Owners are few and kept in memory;
companies and people are *streams*: every record is derived from its own random generator, seeded
from (org seed, record kind, index), so `company(key)` and `person(key)` rebuild one record alone,
`people(start, stop)` slices the stream, and iterating a million people keeps memory flat. The same
spec gives the same org on every run and on every machine, so the HubSpot and the Salesforce
emulators render the same people, each in its own shape.

`spec.leads` is the number of people; a `contact_share` of them have kind "contact" (Salesforce
Contacts, mostly at an Account), the rest kind "lead". There are `companies_per_100_leads`
companies per 100 people, `spec.owners` person owners (o001 always active, about one in six
inactive, at least one) and then one queue. Keys are stable strings: "o001" (owners, from 1;
the queue comes last), "c000123" (companies) and "p0000042" (people), from 0 in stream order.

Everything has happened by `spec.now`: activities fall in the `history_days` before it (and after
the person was created), sorted by time; conversions are observed outcomes (`at` <= now), so an
emulator can show them (IsConverted, a deal, lifecycle stage "opportunity" or "customer").
Whether a person converted is drawn from a hidden propensity of fit and recent intent
(propensity.py); a conversion happens after the activities that drove it and never after
`spec.now`; its value, a deal amount, grows with the company's size. `simulate_activity` adds
fresh activity after that, for incremental syncs and the demo.

The package, one job a module:
- records.py    the spec, the records and their keys
- draws.py      seeded streams of draws, one per record
- vocabulary.py the words orgs are made of, from the JSON files beside it
- propensity.py the hidden conversion propensity
- histories.py  activity histories
- fields.py     the other fields of companies and people, one draw at a time
- org.py        SynthOrg, which puts them together
"""

from sandbox.orgs.org import SynthOrg
from sandbox.orgs.records import (
    OrgSpec,
    SynthActivity,
    SynthCompany,
    SynthOutcome,
    SynthOwner,
    SynthPerson,
)
from sandbox.orgs.vocabulary import (
    COMPETITOR_DOMAINS,
    COMPETITORS,
    PERSONAL_DOMAINS,
    UNIVERSITIES,
    VENDOR_DOMAIN,
    VENDOR_SITE,
)

__all__ = [
    "COMPETITORS",
    "COMPETITOR_DOMAINS",
    "PERSONAL_DOMAINS",
    "UNIVERSITIES",
    "VENDOR_DOMAIN",
    "VENDOR_SITE",
    "OrgSpec",
    "SynthActivity",
    "SynthCompany",
    "SynthOrg",
    "SynthOutcome",
    "SynthOwner",
    "SynthPerson",
]
