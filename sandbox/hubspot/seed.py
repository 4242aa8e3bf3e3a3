"""Render a synthetic org into a HubSpot portal: owners, companies, contacts, engagements, events.

Both kinds of people (Salesforce's leads and contacts) become HubSpot contacts. Owners get ids
`10000000 + n` for key `o00n` (users `40000000 + n`); inactive owners are archived; the queue is
an owner of type QUEUE. Each contact is associated with its company (primary, type 1), carries
its summary properties (see `activity.summarize`) and the dates it entered its lifecycle stages
(`stage_dates`: a conversion at the outcome the generator drew), and its sales activities become
calls, emails and meetings associated with it. An org with planted fields (sandbox.orgs.
sales_fields) gets them as custom contact properties, each value's history dated when it was set
(a rep's rating after the conversion: sourceType CRM_UI, the owner's user), and its handoff as
the date it entered MQL. A lead status an owner set on a person who has not converted is dated
at the person's last update in the status's history. Records stream in, a
chunk of people per transaction, so a million contacts never sit in memory.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from sandbox.hubspot.activity import (
    ENGAGEMENT_OBJECT,
    Activity,
    engagement_properties,
    event_type_for,
    summarize,
)
from sandbox.hubspot.association_types import both_directions, unlabeled_type
from sandbox.hubspot.schema import (
    PropertyDefinition,
    datetime_to_ms,
    format_ms,
    lifecycle_date_property,
)
from sandbox.hubspot.store import Association, HistoryEntry, HubSpotStore, NewRecord, OwnerRow
from sandbox.orgs import SynthActivity, SynthCompany, SynthOrg, SynthOwner, SynthPerson
from sandbox.orgs.sales_fields import PLANTED, PlantedValue
from sandbox.orgs.sales_fields import planted as planted_person

OWNER_ID_BASE = 10_000_000
USER_ID_BASE = 40_000_000
STATUS = "hs_lead_status"
DEFAULT_PORTAL_ID = 2_400_001

# The org's free-text lead sources, as HubSpot's Original Source values.
ORIGINAL_SOURCE = {
    "Web": "ORGANIC_SEARCH",
    "Paid Search": "PAID_SEARCH",
    "Webinar": "OTHER_CAMPAIGNS",
    "Referral": "REFERRALS",
    "Event": "OFFLINE",
    "Partner": "REFERRALS",
    "Outbound": "OFFLINE",
}


def owner_id(owner_key: str) -> int:
    return OWNER_ID_BASE + int(owner_key[1:])


@dataclass(frozen=True)
class SeedReport:
    owners: int
    companies: int
    contacts: int
    engagements: int
    activities: int
    seconds: float
    db_bytes: int


@dataclass
class RenderedActivities:
    """A chunk of activities in store shape: engagement records, their links, activity rows."""

    engagements: list[NewRecord] = field(default_factory=list)
    associations: list[Association] = field(default_factory=list)
    rows: list[tuple[object, ...]] = field(default_factory=list)

    def save(self, store: HubSpotStore, written_ms: int = 0) -> None:
        store.insert_records(self.engagements, written_ms=written_ms)
        store.associate(self.associations)
        store.insert_activities(self.rows)


def to_activity(activity: SynthActivity) -> Activity:
    return Activity(
        kind=activity.type,
        occurred_ms=datetime_to_ms(activity.occurred_at),
        url=activity.url,
        form=activity.form,
        campaign=activity.campaign,
        subject=activity.subject,
    )


def render_activities(
    store: HubSpotStore,
    contact_id: int,
    owner: str | None,
    activities: Iterable[Activity],
    portal_id: int,
    into: RenderedActivities,
) -> None:
    """Append one contact's activities: every one as a row, sales ones also as engagements."""
    activities = list(activities)
    engagement_count = sum(1 for activity in activities if activity.kind in ENGAGEMENT_OBJECT)
    engagement_ids = iter(store.allocate_ids(engagement_count)) if engagement_count else iter(())
    for activity in activities:
        into.rows.append((contact_id, activity.kind, event_type_for(activity.kind, portal_id),
                          activity.occurred_ms, activity.url, activity.form, activity.campaign,
                          activity.subject))
        object_type = ENGAGEMENT_OBJECT.get(activity.kind)
        if object_type is None:
            continue
        engagement_id = next(engagement_ids)
        into.engagements.append(NewRecord(
            engagement_id, object_type, activity.occurred_ms, activity.occurred_ms,
            engagement_properties(activity, owner),
        ))
        type_id = unlabeled_type(object_type, "contacts")
        into.associations.extend(
            both_directions(object_type, engagement_id, "contacts", contact_id, (type_id,))
        )


def seed_org(
    store: HubSpotStore,
    org: SynthOrg,
    *,
    portal_id: int = DEFAULT_PORTAL_ID,
    chunk_size: int = 2_000,
    progress: Callable[[int], None] | None = None,
) -> SeedReport:
    started = time.perf_counter()
    with store.bulk_load():
        counts = _load(store, org, portal_id, chunk_size, progress)
    return SeedReport(
        owners=len(org.owners),
        companies=org.company_count,
        contacts=counts[0],
        engagements=counts[1],
        activities=counts[2],
        seconds=time.perf_counter() - started,
        db_bytes=store.size_bytes(),
    )


def _load(
    store: HubSpotStore,
    org: SynthOrg,
    portal_id: int,
    chunk_size: int,
    progress: Callable[[int], None] | None,
) -> tuple[int, int, int]:
    store.replace_owners(owner_row(owner, org) for owner in org.owners)
    if org.spec.planted_fields:
        for name in PLANTED:
            store.add_property("contacts", PropertyDefinition(
                name, name.replace("_", " ").capitalize(), "string", "text",
                "sales_properties", hubspot_defined=False))
    company_ids = store.allocate_ids(org.company_count)
    for companies in _chunks(org.companies(), chunk_size * 4):
        with store.transaction():
            store.insert_records(
                company_record(company_ids[_index(company.key)], company) for company in companies
            )
    contacts = engagements = activities = 0
    for people in _chunks(org.people(), chunk_size):
        rendered = RenderedActivities()
        contact_ids = store.allocate_ids(len(people))
        records, history = [], []
        for contact_id, person in zip(contact_ids, people, strict=True):
            person_activities = [to_activity(activity) for activity in person.activities]
            planted = planted_person(org.spec, person)
            records.append(contact_record(contact_id, person, person_activities, planted.values,
                                          planted.handed_off_at))
            history += planted_history(contact_id, person, planted.values)
            history += status_history(contact_id, person)
            if person.company_key is not None:
                rendered.associations.extend(both_directions(
                    "contacts", contact_id, "companies",
                    company_ids[_index(person.company_key)], (1,),
                ))
            owner = str(owner_id(person.owner_key)) if person.owner_key else None
            render_activities(store, contact_id, owner, person_activities, portal_id, rendered)
        with store.transaction():
            store.insert_records(records)
            store.insert_history(history)
            rendered.save(store)
        contacts += len(records)
        engagements += len(rendered.engagements)
        activities += len(rendered.rows)
        if progress:
            progress(contacts)
    return contacts, engagements, activities


def owner_row(owner: SynthOwner, org: SynthOrg) -> OwnerRow:
    number = int(owner.key[1:])
    stamp = datetime_to_ms(org.spec.now) - 400 * 86_400_000 + number * 3_600_000
    return OwnerRow(
        id=owner_id(owner.key),
        email=owner.email,
        first_name=owner.first_name,
        last_name=owner.last_name,
        user_id=None if owner.kind == "queue" else USER_ID_BASE + number,
        type="QUEUE" if owner.kind == "queue" else "PERSON",
        teams=tuple(
            (zlib.crc32(team.encode()) % 9_000_000 + 1_000_000, team, position == 0)
            for position, team in enumerate(owner.teams)
        ),
        archived=not owner.active,
        created_ms=stamp,
        updated_ms=stamp,
        source_key=owner.key,
    )


def company_record(company_id: int, company: SynthCompany) -> NewRecord:
    created = datetime_to_ms(company.created_at)
    properties = {
        "name": company.name,
        "domain": company.domain,
        "website": f"https://www.{company.domain}",
        "industry": company.industry,
        "numberofemployees": str(company.employees),
        "annualrevenue": str(round(company.annual_revenue)),
        "country": company.country,
        "state": company.state,
        "hubspot_owner_id": str(owner_id(company.owner_key)) if company.owner_key else None,
    }
    return NewRecord(company_id, "companies", created, created, _present(properties),
                     source_key=company.key)


def contact_record(
    contact_id: int,
    person: SynthPerson,
    activities: list[Activity],
    planted: dict[str, PlantedValue] | None = None,
    handed_off_at: datetime | None = None,
) -> NewRecord:
    properties = {
        "email": person.email,
        "firstname": person.first_name,
        "lastname": person.last_name,
        "jobtitle": person.title,
        "phone": person.phone,
        "country": person.country,
        "state": person.state,
        "company": person.company_name,
        "lifecyclestage": person.lifecycle_stage,
        "hs_lead_status": person.lead_status,
        "hubspot_owner_id": str(owner_id(person.owner_key)) if person.owner_key else None,
        "hs_analytics_source": ORIGINAL_SOURCE.get(person.source, "OFFLINE"),
        "hs_analytics_source_data_1": person.source,
        **summarize(activities),
        **stage_dates(person, handed_off_at),
        **{name: planted_value.value for name, planted_value in (planted or {}).items()},
    }
    return NewRecord(
        contact_id,
        "contacts",
        datetime_to_ms(person.created_at),
        datetime_to_ms(person.updated_at),
        _present(properties),
        source_key=person.key,
    )


def planted_history(
    contact_id: int, person: SynthPerson, planted: dict[str, PlantedValue]
) -> list[HistoryEntry]:
    """The planted values set after the contact was created, as a rep's edits (the others are
    dated at creation by the history's own rule)."""
    user = _owner_user(person)
    return [
        HistoryEntry(contact_id, name, datetime_to_ms(value.set_at), value.value, "CRM_UI", user)
        for name, value in planted.items()
        if value.set_at > person.created_at
    ]


def status_history(contact_id: int, person: SynthPerson) -> list[HistoryEntry]:
    """A lead status the owner set on a person who has not converted — any but NEW — is dated at
    the person's last update (a rep's edit), after NEW at creation."""
    status = person.lead_status
    if (person.owner_key is None or person.outcome.converted or status == "NEW"
            or person.updated_at <= person.created_at):
        return []
    return [
        HistoryEntry(contact_id, STATUS, datetime_to_ms(person.created_at), "NEW", "IMPORT"),
        HistoryEntry(contact_id, STATUS, datetime_to_ms(person.updated_at), status, "CRM_UI",
                     _owner_user(person)),
    ]


def _owner_user(person: SynthPerson) -> str | None:
    return f"userId:{USER_ID_BASE + int(person.owner_key[1:])}" if person.owner_key else None


def stage_dates(person: SynthPerson, handed_off_at: datetime | None = None) -> dict[str, str]:
    """When the person entered the stages on its way to its own (`hs_lifecyclestage_*_date`):
    subscriber or lead when created, MQL at its handoff (planted orgs: sandbox.orgs.
    sales_fields), MQL or SQL at its last update, opportunity (and customer) at its outcome."""
    stage, outcome_at = person.lifecycle_stage, person.outcome.at
    entered = {"subscriber" if stage == "subscriber" else "lead": person.created_at}
    if stage in ("marketingqualifiedlead", "salesqualifiedlead"):
        entered[stage] = person.updated_at
    if stage in ("opportunity", "customer") and outcome_at is not None:
        entered["opportunity"] = outcome_at
        entered[stage] = outcome_at
    if handed_off_at is not None:
        entered["marketingqualifiedlead"] = handed_off_at
    return {lifecycle_date_property(name): format_ms(datetime_to_ms(moment))
            for name, moment in entered.items()}


def _present(properties: dict[str, str | None]) -> dict[str, str]:
    return {name: value for name, value in properties.items() if value}


def _index(key: str) -> int:
    return int(key[1:])


def _chunks(items: Iterable[object], size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
