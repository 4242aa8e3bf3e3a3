"""Render a synthetic org (sandbox/orgs.py) into the Salesforce store, streaming people in batched
transactions so a million leads never sit in memory at once.

- owners: people → User (IsActive, teams joined into Department); the queue → Group Type=Queue;
  plus the org's Organization row and the integration user the API logins act as;
- companies → Account (Website = the domain; owner = the company owner, else the default owner);
- people of kind "lead" → Lead (Status mapped from the HubSpot-style lead status; no owner → the
  queue); kind "contact" → Contact with AccountId (no owner or the queue → the default owner);
- activities → Task / Event / CampaignMember / person fields, as activity_mapping.py documents;
- planted fields (sandbox.orgs.sales_fields) → Lead_Quality__c, Referral_Partner__c and
  Buying_Timeline__c;
- field history (field_history): a LeadHistory / ContactHistory row for each tracked value set
  after the person was created (a rep's rating, by the owner), in planted orgs a Lead's Status
  changes (to Marketing Qualified at its handoff; to the status an owner set on a Lead not
  converted, at its last update), and a converted Lead's Status at its conversion;
- outcomes: a converted person gets one Opportunity (IsWon when its lifecycle stage is
  "customer", otherwise an open stage; a Contact is on it as its primary OpportunityContactRole
  and its ContactId) and a converted lead IsConverted = true, Status
  "Closed - Converted", ConvertedDate, ConvertedAccountId, ConvertedOpportunityId and
  ConvertedContactId: the Contact it became, primary contact role on the Opportunity. As on a real
  org, conversion takes the lead's history along: "Salesforce attaches all activities from the
  converted lead to the resulting account, contact, and opportunity" and "moves any campaign
  members to the new contacts" (help.salesforce.com, "Considerations for Converting Leads",
  leads_notes.htm), and it updates the moved activities' Last Modified Date (Knowledge article
  000385227). So a converted lead's Tasks and Events carry WhoId = its Contact (a Task's WhatId =
  the Opportunity) and its CampaignMembers ContactId = its Contact with LeadId cleared: a reader
  that looks for a converted lead's activity under the Lead's own id finds none.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.orgs import SynthActivity, SynthCompany, SynthOrg, SynthOwner, SynthPerson
from sandbox.orgs.sales_fields import planted as planted_person
from sandbox.salesforce import activity_mapping as mapping
from sandbox.salesforce.activity_mapping import PersonRef
from sandbox.salesforce.field_history import org_tracking
from sandbox.salesforce.schema import (
    ACTIVITY_COUNT_FIELDS,
    CONVERTED_LEAD_STATUS,
    HISTORY_OF,
    PLANTED_FIELDS,
    SObjectDef,
)
from sandbox.salesforce.store import SalesforceStore
from sandbox.salesforce.values import stored_datetime

PEOPLE_PER_TRANSACTION = 5000
LEAD_STATUS_FROM_SYNTH = {
    "NEW": "Open - Not Contacted",
    "OPEN": "Open - Not Contacted",
    "IN_PROGRESS": "Working - Contacted",
    "ATTEMPTED_TO_CONTACT": "Working - Contacted",
    "CONNECTED": "Working - Contacted",
    "BAD_TIMING": "Working - Contacted",
    "OPEN_DEAL": "Working - Contacted",
    "UNQUALIFIED": "Closed - Not Converted",
}
UNTOUCHED_STATUS, HANDOFF_STATUS = "Open - Not Contacted", "Marketing Qualified"
WON_STAGE, OPEN_STAGE = "Closed Won", "Proposal/Price Quote"
INTEGRATION_USERNAME = "integration@leadq-sandbox.example"


@dataclass
class SeedSummary:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, sobject: str, number: int) -> None:
        self.counts[sobject] = self.counts.get(sobject, 0) + number


@dataclass
class Baseline:
    organization_id: str
    integration_user_id: str


def audit_fields(record_id: str, created: datetime, modified: datetime | None = None) -> (
    dict[str, Any]
):
    created_text = stored_datetime(created)
    modified_text = stored_datetime(max(modified or created, created))
    return {"Id": record_id, "IsDeleted": 0, "CreatedDate": created_text,
            "LastModifiedDate": modified_text, "SystemModstamp": modified_text}


def seed_baseline(store: SalesforceStore, now: datetime, username: str = INTEGRATION_USERNAME) -> (
    Baseline
):
    """The Organization row and the integration user, created once per store."""
    existing = store.read_one('SELECT "Id" FROM "Organization" LIMIT 1')
    user = store.read_one('SELECT "Id" FROM "User" WHERE "Username" = ?', (username,))
    if existing and user:
        return Baseline(existing[0], user[0])
    organization_id = store.ids.mint("00D")
    user_id = store.ids.mint("005")
    store.insert(store.sobject("Organization"), [{
        **audit_fields(organization_id, now), "Name": "leadq sandbox", "IsSandbox": 1,
        "OrganizationType": "Enterprise Edition",
    }])
    store.insert(store.sobject("User"), [{
        **audit_fields(user_id, now), "Username": username, "Email": username,
        "FirstName": "leadq", "LastName": "Integration", "Name": "leadq Integration",
        "Alias": "leadq", "Title": "Integration user", "Department": None, "IsActive": 1,
        "UserType": "Standard",
    }])
    return Baseline(organization_id, user_id)


# ---- owners and companies -----------------------------------------------------------------------
def owner_row(store: SalesforceStore, owner: SynthOwner, now: datetime) -> tuple[str, dict]:
    if owner.kind == "queue":
        name = f"{owner.first_name} {owner.last_name}".strip()
        return "Group", {
            **audit_fields(store.ids.mint("00G"), now), "Name": name,
            "DeveloperName": name.replace(" ", "_"), "Type": "Queue", "Email": owner.email,
        }
    return "User", {
        **audit_fields(store.ids.mint("005"), now), "Username": owner.email,
        "Email": owner.email, "FirstName": owner.first_name, "LastName": owner.last_name,
        "Name": f"{owner.first_name} {owner.last_name}",
        "Alias": (owner.first_name[:1] + owner.last_name[:4]).lower(), "Title": None,
        "Department": "; ".join(owner.teams) or None, "IsActive": int(owner.active),
        "UserType": "Standard",
    }


def account_row(record_id: str, company: SynthCompany, owner_id: str) -> dict[str, Any]:
    return {
        **audit_fields(record_id, company.created_at), "Name": company.name,
        "Website": company.domain, "Industry": company.industry,
        "NumberOfEmployees": company.employees, "AnnualRevenue": company.annual_revenue,
        "BillingCountry": company.country, "BillingState": company.state, "Type": "Prospect",
        "OwnerId": owner_id,
    }


class OwnerBook:
    """Synthetic owner keys → Salesforce owner ids, with the fallbacks records need."""

    def __init__(self, ids: dict[str, str], queue_key: str, default_key: str) -> None:
        self.ids = ids
        self.queue_id = ids[queue_key]
        self.default_id = ids[default_key]

    def for_lead(self, key: str | None) -> str:
        return self.ids[key] if key else self.queue_id

    def user_for(self, key: str | None) -> str:
        """Contacts, Accounts and activities need a User, never a queue."""
        owner_id = self.ids.get(key) if key else None
        return owner_id if owner_id and owner_id.startswith("005") else self.default_id


def seed_owners(store: SalesforceStore, org: SynthOrg, now: datetime, summary: SeedSummary) -> (
    OwnerBook
):
    ids: dict[str, str] = {}
    for owner in org.owners:
        sobject, row = owner_row(store, owner, now)
        store.insert(store.sobject(sobject), [row])
        ids[owner.key] = row["Id"]
        summary.add(sobject, 1)
    store.remember_keys((key, "User" if value.startswith("005") else "Group", value)
                        for key, value in ids.items())
    default = next(owner.key for owner in org.owners if owner.kind == "person" and owner.active)
    return OwnerBook(ids, org.queue_key, default)


@dataclass
class AccountBook:
    ids: dict[str, str] = field(default_factory=dict)
    companies: dict[str, SynthCompany] = field(default_factory=dict)

    def get(self, company_key: str | None) -> str | None:
        return self.ids.get(company_key) if company_key else None


def seed_companies(store: SalesforceStore, org: SynthOrg, owners: OwnerBook,
                   summary: SeedSummary) -> AccountBook:
    book = AccountBook()
    account_ids = book.ids
    batch: list[dict[str, Any]] = []
    account = store.sobject("Account")
    for company in org.companies():
        record_id = store.ids.mint("001")
        account_ids[company.key] = record_id
        book.companies[company.key] = company
        batch.append(account_row(record_id, company, owners.user_for(company.owner_key)))
        if len(batch) >= PEOPLE_PER_TRANSACTION:
            store.insert(account, batch)
            batch = []
    store.insert(account, batch)
    store.remember_keys((key, "Account", value) for key, value in account_ids.items())
    summary.add("Account", len(account_ids))
    return book


# ---- campaigns ------------------------------------------------------------------------------
class CampaignBook:
    """Campaigns by name, created the first time an activity mentions them."""

    def __init__(self, store: SalesforceStore, owner_id: str) -> None:
        self.store = store
        self.owner_id = owner_id
        self.ids: dict[str, str] = {
            name: record_id
            for record_id, name in store.read('SELECT "Id", "Name" FROM "Campaign"')
        }
        self.new_rows: list[dict[str, Any]] = []

    def id_for(self, activity: SynthActivity) -> str:
        name = mapping.campaign_name(activity)
        if name not in self.ids:
            campaign_type = mapping.CAMPAIGN_ACTIVITIES[activity.type][0]
            record_id = self.store.ids.mint("701")
            self.ids[name] = record_id
            self.new_rows.append(mapping.campaign_row(
                record_id, name, campaign_type, activity.occurred_at, self.owner_id
            ))
        return self.ids[name]

    def take_new_rows(self) -> list[dict[str, Any]]:
        rows, self.new_rows = self.new_rows, []
        return rows


# ---- people -----------------------------------------------------------------------------------
@dataclass
class PeopleBatch:
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    keys: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, sobject: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(sobject, []).append(row)

    def sizes(self) -> dict[str, int]:
        return {sobject: len(rows) for sobject, rows in self.rows.items()}

    def added_since(self, sizes: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
        """The rows added after `sizes` was taken, per sObject."""
        return {sobject: rows[sizes.get(sobject, 0):] for sobject, rows in self.rows.items()}


PAGE_VIEWS = frozenset({"page_view", "pricing_page_view"})


def activity_counts(person: SynthPerson) -> dict[str, Any]:
    """A person's web visits as a marketing tool syncs them onto the record: the days with a page
    view, and the latest page view (None without one)."""
    views = [a.occurred_at for a in person.activities if a.type in PAGE_VIEWS]
    return {
        ACTIVITY_COUNT_FIELDS["visits"]: float(len({moment.date() for moment in views})),
        ACTIVITY_COUNT_FIELDS["last_visit"]: stored_datetime(max(views)) if views else None,
    }


class PeopleRenderer:
    def __init__(self, store: SalesforceStore, org: SynthOrg, owners: OwnerBook,
                 accounts: AccountBook, campaigns: CampaignBook) -> None:
        self.store = store
        self.org = org
        self.owners = owners
        self.accounts = accounts
        self.campaigns = campaigns
        self.tracking = org_tracking(org.spec.planted_fields)

    def render(self, person: SynthPerson, batch: PeopleBatch) -> None:
        is_lead = person.kind == "lead"
        sobject = "Lead" if is_lead else "Contact"
        record_id = self.store.ids.mint("00Q" if is_lead else "003")
        owner_id = self.owners.for_lead(person.owner_key) if is_lead else self.owners.user_for(
            person.owner_key
        )
        ref = PersonRef(record_id, sobject, self.owners.user_for(person.owner_key))
        row = self.lead_row(person, ref, owner_id) if is_lead else self.contact_row(
            person, ref, owner_id
        )
        for activity in person.activities:
            apply_person_changes(row, mapping.person_field_changes(activity))
        handoff = self.plant_fields(person, row, ref, batch)
        if self.org.spec.activity_counts:
            row.update(activity_counts(person))
        status = row.get("Status")
        if is_lead:
            self.status_history(person, ref, status, handoff, batch)
        conversion = self.conversion(person, ref)
        if conversion is None:
            self.render_activities(person.activities, ref, batch)
        else:
            before = batch.sizes()
            self.render_activities(person.activities, conversion.contact, batch)
            conversion.touch_moved_activities(batch.added_since(before))
        self.render_outcome(person, row, ref, batch, conversion)
        if conversion is not None:
            self.add_history(batch, sobject, ref, {"Status": status},
                             {"Status": row["Status"]}, conversion.at)
        batch.add(sobject, row)
        batch.keys.append((person.key, sobject, record_id))

    def plant_fields(self, person: SynthPerson, row: dict[str, Any], ref: PersonRef,
                     batch: PeopleBatch) -> datetime | None:
        """The org's planted fields (sales_fields); a value set after the person was created
        leaves a history row, as the person's owner's edit. Returns when the person was handed
        to sales (None: never, or the org plants nothing)."""
        planted = planted_person(self.org.spec, person)
        for name, value in planted.values.items():
            api_name = PLANTED_FIELDS[name]
            row[api_name] = value.value
            if value.set_at > person.created_at:
                self.add_history(batch, ref.sobject, ref, {}, {api_name: value.value},
                                 value.set_at)
        return planted.handed_off_at

    def status_history(self, person: SynthPerson, ref: PersonRef, status: str,
                       handoff: datetime | None, batch: PeopleBatch) -> None:
        """In an org with planted fields, a Lead's Status changes before any conversion: to
        Marketing Qualified at its handoff and, on a Lead an owner worked that has not converted,
        to the status the owner set, at the person's last update. (Other orgs keep no such rows:
        each row takes an id, and their records' ids stay as they were.)"""
        if not self.org.spec.planted_fields:
            return
        previous = UNTOUCHED_STATUS
        if handoff is not None:
            self.add_history(batch, "Lead", ref, {"Status": previous},
                             {"Status": HANDOFF_STATUS}, handoff)
            previous = HANDOFF_STATUS
        worked = person.owner_key is not None and not person.outcome.converted
        if worked and status != previous and person.updated_at > (handoff or person.created_at):
            self.add_history(batch, "Lead", ref, {"Status": previous}, {"Status": status},
                             person.updated_at)

    def add_history(self, batch: PeopleBatch, sobject: str, ref: PersonRef,
                    before: dict[str, Any], after: dict[str, Any], at: datetime) -> None:
        definition = self.store.sobject(sobject)
        for history in self.tracking.rows(definition, ref.record_id, before, after, at,
                                          ref.owner_id, self.store.ids.mint):
            batch.add(HISTORY_OF[sobject][0], history)

    def person_fields(self, person: SynthPerson, ref: PersonRef, owner_id: str) -> (
        dict[str, Any]
    ):
        return {
            **audit_fields(ref.record_id, person.created_at, person.updated_at),
            "FirstName": person.first_name, "LastName": person.last_name,
            "Name": f"{person.first_name} {person.last_name}", "Email": person.email,
            "Title": person.title, "Phone": person.phone, "LeadSource": person.source,
            "HasOptedOutOfEmail": 0, "EmailBouncedDate": None, "EmailBouncedReason": None,
            "LastActivityDate": None, "OwnerId": owner_id,
        }

    def lead_row(self, person: SynthPerson, ref: PersonRef, owner_id: str) -> dict[str, Any]:
        company = self.accounts.companies.get(person.company_key or "")
        return {
            **self.person_fields(person, ref, owner_id),
            "Company": person.company_name,
            "Industry": company.industry if company else None,
            "NumberOfEmployees": company.employees if company else None,
            "AnnualRevenue": company.annual_revenue if company else None,
            "Website": company.domain if company else None,
            "Country": person.country, "State": person.state,
            "Status": LEAD_STATUS_FROM_SYNTH.get(person.lead_status, UNTOUCHED_STATUS),
            "Rating": None, "IsConverted": 0, "ConvertedDate": None, "ConvertedAccountId": None,
            "ConvertedContactId": None, "ConvertedOpportunityId": None,
        }

    def contact_row(self, person: SynthPerson, ref: PersonRef, owner_id: str) -> dict[str, Any]:
        account_id = self.accounts.get(person.company_key)
        return {
            **self.person_fields(person, ref, owner_id), "AccountId": account_id,
            "MailingCountry": person.country, "MailingState": person.state,
        }

    def render_activities(self, activities: Iterable[SynthActivity], ref: PersonRef,
                          batch: PeopleBatch) -> None:
        members: dict[str, dict[str, Any]] = {}
        for activity in activities:
            if activity.type in mapping.TASK_ACTIVITIES:
                batch.add("Task", mapping.task_row(self.store.ids.mint("00T"), ref, activity))
            elif activity.type in mapping.EVENT_ACTIVITIES:
                batch.add("Event", mapping.event_row(self.store.ids.mint("00U"), ref, activity))
            elif activity.type in mapping.CAMPAIGN_ACTIVITIES:
                campaign_id = self.campaigns.id_for(activity)
                existing = members.get(campaign_id)
                members[campaign_id] = (
                    mapping.merged_member(existing, activity) if existing
                    else mapping.member_row(self.store.ids.mint("00v"), campaign_id, ref, activity)
                )
        for member in members.values():
            batch.add("CampaignMember", member)

    def conversion(self, person: SynthPerson, ref: PersonRef) -> LeadConversion | None:
        """The Contact a converted lead became (none for a Contact or an open lead)."""
        outcome = person.outcome
        if ref.sobject != "Lead" or not outcome.converted or outcome.at is None:
            return None
        contact = PersonRef(self.store.ids.mint("003"), "Contact", ref.owner_id)
        return LeadConversion(contact, self.store.ids.mint("006"), outcome.at)

    def render_outcome(self, person: SynthPerson, row: dict[str, Any], ref: PersonRef,
                       batch: PeopleBatch, conversion: LeadConversion | None) -> None:
        outcome = person.outcome
        if not outcome.converted or outcome.at is None:
            return
        account_id = self.accounts.get(person.company_key)
        if account_id is None and ref.sobject == "Lead":
            account_id = self.store.ids.mint("001")
            batch.add("Account", {
                **audit_fields(account_id, outcome.at), "Name": person.company_name,
                "Website": None, "Industry": None, "NumberOfEmployees": None,
                "AnnualRevenue": None, "BillingCountry": person.country,
                "BillingState": person.state, "Type": "Customer - Direct",
                "OwnerId": ref.owner_id,
            })
        won = person.lifecycle_stage == "customer"
        opportunity_id = conversion.opportunity_id if conversion else self.store.ids.mint("006")
        contact_id = conversion.contact.record_id if conversion else ref.record_id
        batch.add("Opportunity", {
            **audit_fields(opportunity_id, outcome.at), "Name": f"{person.company_name} - New "
            "Business", "AccountId": account_id, "ContactId": contact_id,
            "StageName": WON_STAGE if won else OPEN_STAGE, "Amount": outcome.value,
            "CloseDate": outcome.at.date().isoformat(), "IsWon": int(won), "IsClosed": int(won),
            "LeadSource": person.source, "OwnerId": ref.owner_id,
        })
        batch.add("OpportunityContactRole", {
            **audit_fields(self.store.ids.mint("00K"), outcome.at),
            "OpportunityId": opportunity_id, "ContactId": contact_id,
            "Role": "Decision Maker", "IsPrimary": 1,
        })
        if conversion is not None:
            batch.add("Contact", converted_contact(row, conversion, account_id))
            row.update({
                "IsConverted": 1, "Status": CONVERTED_LEAD_STATUS,
                "ConvertedDate": outcome.at.date().isoformat(), "ConvertedAccountId": account_id,
                "ConvertedOpportunityId": opportunity_id,
                "ConvertedContactId": conversion.contact.record_id,
            })


@dataclass(frozen=True)
class LeadConversion:
    """Where a converted lead went: its Contact (which its activities moved to), its
    Opportunity, and when."""

    contact: PersonRef
    opportunity_id: str
    at: datetime

    def touch_moved_activities(self, moved_rows: dict[str, list[dict[str, Any]]]) -> None:
        """Moving activities updates their Last Modified Date (Knowledge article 000385227);
        a moved Task is related to the Opportunity, a moved campaign member to the Contact only."""
        moved = stored_datetime(self.at)
        for sobject in ("Task", "Event", "CampaignMember"):
            for activity in moved_rows.get(sobject, []):
                activity["LastModifiedDate"] = max(activity["LastModifiedDate"], moved)
                activity["SystemModstamp"] = activity["LastModifiedDate"]
                if sobject == "Task":
                    activity["WhatId"] = self.opportunity_id


PERSON_FIELDS_KEPT_BY_CONVERSION = (
    "FirstName", "LastName", "Name", "Email", "Title", "Phone", "LeadSource",
    "HasOptedOutOfEmail", "EmailBouncedDate", "EmailBouncedReason", "LastActivityDate",
)


def converted_contact(lead: dict[str, Any], conversion: LeadConversion,
                      account_id: str | None) -> dict[str, Any]:
    """The Contact conversion creates from a Lead's standard fields (convertLead() maps them)."""
    return {
        **audit_fields(conversion.contact.record_id, conversion.at),
        **{name: lead.get(name) for name in PERSON_FIELDS_KEPT_BY_CONVERSION},
        "OwnerId": conversion.contact.owner_id, "AccountId": account_id,
        "MailingCountry": lead.get("Country"), "MailingState": lead.get("State"),
    }


def apply_person_changes(row: dict[str, Any], changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        if name == "LastActivityDate" and row.get(name):
            value = max(row[name], value)
        row[name] = value


def flush(store: SalesforceStore, batch: PeopleBatch, campaigns: CampaignBook,
          summary: SeedSummary) -> None:
    with store.transaction():
        new_campaigns = campaigns.take_new_rows()
        store.insert(store.sobject("Campaign"), new_campaigns)
        summary.add("Campaign", len(new_campaigns))
        for sobject, rows in batch.rows.items():
            store.insert(store.sobject(sobject), rows)
            summary.add(sobject, len(rows))
        store.remember_keys(batch.keys)


def seed_org(
    store: SalesforceStore,
    org: SynthOrg,
    *,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> SeedSummary:
    """Stream a synthetic org into the store; returns how many rows each sObject received."""
    started = time.perf_counter()
    with store.bulk_load():
        summary = seed_everything(store, org, now or org.spec.now, progress)
    summary.seconds = time.perf_counter() - started
    return summary


def seed_everything(
    store: SalesforceStore, org: SynthOrg, moment: datetime,
    progress: Callable[[int], None] | None,
) -> SeedSummary:
    summary = SeedSummary()
    owners = seed_owners(store, org, moment, summary)
    accounts = seed_companies(store, org, owners, summary)
    campaigns = CampaignBook(store, owners.default_id)
    renderer = PeopleRenderer(store, org, owners, accounts, campaigns)
    batch = PeopleBatch()
    for number, person in enumerate(org.people(), start=1):
        renderer.render(person, batch)
        if number % PEOPLE_PER_TRANSACTION == 0:
            flush(store, batch, campaigns, summary)
            batch = PeopleBatch()
            if progress:
                progress(number)
    flush(store, batch, campaigns, summary)
    return summary


# ---- new activity after seeding -------------------------------------------------------------
def record_activity(
    store: SalesforceStore, activities: Iterable[SynthActivity], now: datetime
) -> list[str]:
    """Insert what new synthetic activity leaves in Salesforce; touch LastActivityDate and
    SystemModstamp of the people concerned. Returns the ids of the Leads that changed."""
    traced = [activity for activity in activities if mapping.leaves_a_trace(activity)]
    if not traced:
        return []
    refs = person_refs(store, sorted({activity.person_key for activity in traced}))
    default_owner = default_user_id(store)
    campaigns = CampaignBook(store, default_owner)
    changed: dict[str, PersonRef] = {}
    with store.transaction():
        for activity in traced:
            ref = refs.get(activity.person_key)
            if ref is None:
                continue
            if not ref.owner_id.startswith("005"):
                ref.owner_id = default_owner
            apply_activity(store, activity, ref, campaigns)
            changed[ref.record_id] = ref
        store.insert(store.sobject("Campaign"), campaigns.take_new_rows())
        stamp = stored_datetime(now)
        for ref in changed.values():
            store.update(store.sobject(ref.sobject), ref.record_id, {"SystemModstamp": stamp})
    return [ref.record_id for ref in changed.values() if ref.sobject == "Lead"]


def apply_activity(store: SalesforceStore, activity: SynthActivity, ref: PersonRef,
                   campaigns: CampaignBook) -> None:
    person = store.sobject(ref.sobject)
    if activity.type in mapping.TASK_ACTIVITIES:
        store.insert(store.sobject("Task"), [
            mapping.task_row(store.ids.mint("00T"), ref, activity)])
    elif activity.type in mapping.EVENT_ACTIVITIES:
        store.insert(store.sobject("Event"), [
            mapping.event_row(store.ids.mint("00U"), ref, activity)])
    elif activity.type in mapping.CAMPAIGN_ACTIVITIES:
        upsert_member(store, activity, ref, campaigns.id_for(activity))
        store.insert(store.sobject("Campaign"), campaigns.take_new_rows())
    changes = mapping.person_field_changes(activity)
    if changes:
        store.update(person, ref.record_id, changes)


def upsert_member(store: SalesforceStore, activity: SynthActivity, ref: PersonRef,
                  campaign_id: str) -> None:
    member_object = store.sobject("CampaignMember")
    person_column = "LeadId" if ref.sobject == "Lead" else "ContactId"
    found = store.read_one(
        f'SELECT "Id" FROM "CampaignMember" WHERE "CampaignId" = ? AND "{person_column}" = ?',
        (campaign_id, ref.record_id),
    )
    if found is None:
        store.insert(member_object, [
            mapping.member_row(store.ids.mint("00v"), campaign_id, ref, activity)])
        return
    existing = store.fetch(member_object, [found[0]])[found[0]]
    merged = mapping.merged_member(existing, activity)
    store.update(member_object, found[0], {key: value for key, value in merged.items()
                                           if key != "Id"})


def person_refs(store: SalesforceStore, keys: list[str]) -> dict[str, PersonRef]:
    refs: dict[str, PersonRef] = {}
    for key, (sobject, record_id) in store.ids_for_keys(keys).items():
        definition: SObjectDef = store.sobject(sobject)
        row = store.fetch(definition, [record_id], [definition.get_field("OwnerId")]).get(
            record_id
        )
        if row is not None:
            refs[key] = PersonRef(record_id, sobject, str(row["OwnerId"] or ""))
    return refs


def default_user_id(store: SalesforceStore) -> str:
    row = store.read_one(
        'SELECT "Id" FROM "User" WHERE "IsActive" = 1 AND "Username" != ? ORDER BY rowid LIMIT 1',
        (INTEGRATION_USERNAME,),
    ) or store.read_one('SELECT "Id" FROM "User" ORDER BY rowid LIMIT 1')
    assert row is not None, "the store has no users: seed the baseline first"
    return str(row[0])
