"""Salesforce records → leadq's canonical records: which fields are read, how values are typed, how
Leads, Contacts, Tasks, Events, CampaignMembers, Users and queues map.

Activities (what Salesforce can and cannot tell):
- Task with TaskSubtype or Type "Call" → `call` (dated by ActivityDate, at the logging time when
  it was logged that day).
- Task with TaskSubtype or Type "Email": a subject starting "Re:" (after Salesforce's "Email: "
  prefix) → `email_reply`; otherwise `email_sent` (a rep's e-mail: a Salesforce-only type);
  TaskSubtype "ListEmail" → `list_email_sent`; any other Task → `task`.
- Event → `meeting_booked`, dated when it was booked (CreatedDate), falling back to its start.
- CampaignMember, by Status: Registered → `webinar_registered`, Attended → `webinar_attended`
  (and `webinar_registered` at the membership's creation), Submitted → `form_submission`,
  "Demo Requested" → `demo_request`, Downloaded → `content_download`, Opened → `email_open`,
  Clicked → `email_click` (and `email_open` at creation); the standard "Responded" by the
  campaign's Type (Webinar → `webinar_attended`, Email → `email_click`, Content →
  `content_download`, Web → `form_submission`, else `campaign_response`); "Sent" →
  `campaign_sent`; any other status → `campaign_<status>`. `campaign` is the Campaign's Name,
  and for forms and demo requests `form` too. Salesforce keeps one member per person and campaign
  with only its latest status, so repeated opens or clicks of one campaign count once.
- Lead / Contact fields: HasOptedOutOfEmail → `unsubscribe` (Salesforce keeps no date: leadq
  dates it at the record's CreatedDate, a stable lower bound), EmailBouncedDate → `bounce`.
- Not in Salesforce core: page views and pricing-page views (web tracking lives in Account
  Engagement / Marketing Cloud), e-mail opens and clicks other than through campaign members.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal

from connectors.records import (
    Activity,
    Company,
    Lead,
    Owner,
    parse_timestamp,
)

Row = dict[str, Any]
FieldKind = Literal["text", "bool", "int", "float", "datetime", "date", "auto"]

LEAD_FIELDS: dict[str, FieldKind] = {
    "Id": "text", "Email": "text", "FirstName": "text", "LastName": "text", "Title": "text",
    "Company": "text", "Industry": "text", "NumberOfEmployees": "int", "AnnualRevenue": "float",
    "Website": "text", "Country": "text", "State": "text", "LeadSource": "text",
    "Status": "text", "Rating": "text", "OwnerId": "text", "Owner.IsActive": "bool",
    "Owner.Type": "text", "IsConverted": "bool", "HasOptedOutOfEmail": "bool",
    "EmailBouncedDate": "datetime", "LastActivityDate": "date", "CreatedDate": "datetime",
    "LastModifiedDate": "datetime", "SystemModstamp": "datetime",
}
CONTACT_FIELDS: dict[str, FieldKind] = {
    "Id": "text", "Email": "text", "FirstName": "text", "LastName": "text", "Title": "text",
    "MailingCountry": "text", "MailingState": "text", "LeadSource": "text", "OwnerId": "text",
    "Owner.IsActive": "bool", "AccountId": "text", "Account.Name": "text",
    "Account.Website": "text", "Account.Industry": "text", "Account.NumberOfEmployees": "int",
    "Account.AnnualRevenue": "float", "Account.BillingCountry": "text",
    "Account.OwnerId": "text", "HasOptedOutOfEmail": "bool", "EmailBouncedDate": "datetime",
    "LastActivityDate": "date", "CreatedDate": "datetime", "LastModifiedDate": "datetime",
    "SystemModstamp": "datetime",
}
PERSON_FIELDS: dict[str, dict[str, FieldKind]] = {"Lead": LEAD_FIELDS, "Contact": CONTACT_FIELDS}
# Read into typed slots of Lead / Company rather than into Lead.fields.
LEAD_SLOTS = frozenset({
    "Id", "Email", "FirstName", "LastName", "Title", "Country", "State", "LeadSource", "OwnerId",
    "Status", "CreatedDate", "LastModifiedDate", "Company", "Industry", "NumberOfEmployees",
    "AnnualRevenue", "Website",
})
CONTACT_SLOTS = frozenset({
    "Id", "Email", "FirstName", "LastName", "Title", "MailingCountry", "MailingState",
    "LeadSource", "OwnerId", "CreatedDate", "LastModifiedDate", "AccountId", "Account.Name",
    "Account.Website", "Account.Industry", "Account.NumberOfEmployees", "Account.AnnualRevenue",
    "Account.BillingCountry", "Account.OwnerId",
})
TASK_FIELDS = ("Id", "WhoId", "Subject", "ActivityDate", "Type", "TaskSubtype", "CreatedDate")
EVENT_FIELDS = ("Id", "WhoId", "Subject", "StartDateTime", "CreatedDate")
MEMBER_FIELDS = ("Id", "LeadId", "ContactId", "Status", "FirstRespondedDate", "CreatedDate",
                 "LastModifiedDate", "Campaign.Name", "Campaign.Type")
KEY_PREFIXES = {"00Q": "Lead", "003": "Contact"}
SALESFORCE_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$"
)
REPLY_PREFIX = re.compile(r"^\s*(email:\s*)?(re|aw|sv)\s*:", re.IGNORECASE)

MEMBER_STATUS_TYPES = {
    "registered": "webinar_registered", "attended": "webinar_attended",
    "submitted": "form_submission", "demo requested": "demo_request",
    "downloaded": "content_download", "opened": "email_open", "clicked": "email_click",
    "sent": "campaign_sent",
}
RESPONSE_BY_CAMPAIGN_TYPE = {
    "webinar": "webinar_attended", "email": "email_click", "content": "content_download",
    "web": "form_submission",
}
# A member's latest status implies an earlier step Salesforce no longer shows.
IMPLIED_EARLIER_STEP = {"webinar_attended": "webinar_registered", "email_click": "email_open"}
FORM_TYPES = frozenset({"form_submission", "demo_request"})


# ---- values -------------------------------------------------------------------------------------
def flatten(record: Mapping[str, Any]) -> Row:
    """A REST query record → {"Id": …, "Owner.IsActive": …} (relationships joined with dots)."""
    row: Row = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, Mapping):
            for inner, inner_value in flatten(value).items():
                row[f"{key}.{inner}"] = inner_value
        else:
            row[key] = value
    return row


def typed(value: Any, kind: FieldKind) -> Any:
    """One field value as leadq wants it. REST sends numbers and booleans typed, Bulk CSV sends
    text; both send datetimes as text."""
    if value is None or value == "":
        return None
    if kind == "bool":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "int":
        return int(float(value))
    if kind == "float":
        return float(value)
    if kind == "datetime":
        return parse_timestamp(value)
    if kind == "date":
        return date.fromisoformat(str(value)[:10])
    if kind == "auto" and isinstance(value, str) and SALESFORCE_DATETIME.match(value):
        return parse_timestamp(value)
    return value


def typed_row(row: Row, kinds: Mapping[str, FieldKind]) -> Row:
    """The fields named in `kinds`, typed; looked up case-insensitively (Salesforce answers with
    a field's own spelling), keyed as `kinds` spells them."""
    by_lower = {name.lower(): value for name, value in row.items()}
    return {name: typed(by_lower.get(name.lower()), kind) for name, kind in kinds.items()}


def website_domain(text: str | None) -> str | None:
    """`https://www.Acme.com/about` → "acme.com"; None when nothing domain-like is left."""
    if not text:
        return None
    host = text.strip().lower()
    for scheme in ("https://", "http://"):
        host = host.removeprefix(scheme)
    host = re.split(r"[/?#:\s]", host, maxsplit=1)[0].strip(".")
    host = host.removeprefix("www.")
    if "." not in host or not re.fullmatch(r"[a-z0-9.-]+", host):
        return None
    return host


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return website_domain(email.rsplit("@", 1)[1])


# ---- people -------------------------------------------------------------------------------------
def extra_values(row: Row, slots: frozenset[str]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name not in slots}


def lead_from_row(row: Row) -> Lead:
    """A typed Lead row → Lead; the Lead's own company fields become its Company."""
    domain = website_domain(row.get("Website")) or email_domain(row.get("Email"))
    company = None
    if row.get("Company") or domain:
        company = Company(
            id=domain or row["Id"], name=row.get("Company"), domain=domain,
            industry=row.get("Industry"), employees=row.get("NumberOfEmployees"),
            annual_revenue=row.get("AnnualRevenue"), country=row.get("Country"),
        )
    return Lead(
        id=row["Id"], kind="lead", email=row.get("Email"), first_name=row.get("FirstName"),
        last_name=row.get("LastName"), title=row.get("Title"), country=row.get("Country"),
        state=row.get("State"), source=row.get("LeadSource"), owner_id=row.get("OwnerId"),
        lead_status=row.get("Status"), created_at=row.get("CreatedDate"),
        updated_at=row.get("LastModifiedDate"), company=company,
        fields=extra_values(row, LEAD_SLOTS),
    )


def contact_from_row(row: Row) -> Lead:
    """A typed Contact row → Lead of kind "contact"; its Account becomes its Company."""
    company = None
    if row.get("AccountId"):
        company = Company(
            id=row["AccountId"], name=row.get("Account.Name"),
            domain=website_domain(row.get("Account.Website")),
            industry=row.get("Account.Industry"), employees=row.get("Account.NumberOfEmployees"),
            annual_revenue=row.get("Account.AnnualRevenue"),
            country=row.get("Account.BillingCountry"), owner_id=row.get("Account.OwnerId"),
        )
    return Lead(
        id=row["Id"], kind="contact", email=row.get("Email"), first_name=row.get("FirstName"),
        last_name=row.get("LastName"), title=row.get("Title"),
        country=row.get("MailingCountry"), state=row.get("MailingState"),
        source=row.get("LeadSource"), owner_id=row.get("OwnerId"),
        created_at=row.get("CreatedDate"), updated_at=row.get("LastModifiedDate"),
        company=company, fields=extra_values(row, CONTACT_SLOTS),
    )


def person_from_row(sobject: str, row: Row) -> Lead:
    return lead_from_row(row) if sobject == "Lead" else contact_from_row(row)


def sobject_of(record_id: str) -> str | None:
    return KEY_PREFIXES.get(record_id[:3])


RECORD_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


def is_record_id(text: str) -> bool:
    """A Salesforce record id: 15 case-sensitive letters and digits, or 18 (the 15 and a
    three-character case checksum)."""
    return RECORD_ID.fullmatch(text) is not None


# ---- activities ---------------------------------------------------------------------------------
def precise_date(day: Any, logged_at: datetime | None) -> datetime | None:
    """An activity's date, at the logging time when it was logged that same day."""
    moment = parse_timestamp(day)
    if logged_at is not None and (moment is None or logged_at.date() == moment.date()):
        return logged_at
    return moment


def task_type(task: Row) -> str:
    subtype = (task.get("TaskSubtype") or "").lower()
    kind = (task.get("Type") or "").lower()
    if subtype == "call" or (kind == "call" and subtype in ("", "task")):
        return "call"
    if subtype == "listemail":
        return "list_email_sent"
    if subtype == "email" or (kind == "email" and subtype in ("", "task")):
        return "email_reply" if REPLY_PREFIX.match(task.get("Subject") or "") else "email_sent"
    return "task"


def task_activity(task: Row) -> Activity | None:
    occurred = precise_date(task.get("ActivityDate"), parse_timestamp(task.get("CreatedDate")))
    if occurred is None or not task.get("WhoId"):
        return None
    return Activity(lead_id=task["WhoId"], type=task_type(task), occurred_at=occurred,
                    subject=task.get("Subject"))


def event_activity(event: Row) -> Activity | None:
    occurred = parse_timestamp(event.get("CreatedDate")) or parse_timestamp(
        event.get("StartDateTime")
    )
    if occurred is None or not event.get("WhoId"):
        return None
    return Activity(lead_id=event["WhoId"], type="meeting_booked", occurred_at=occurred,
                    subject=event.get("Subject"))


def member_type(status: str | None, campaign_type: str | None) -> str:
    lowered = (status or "").strip().lower()
    if lowered == "responded":
        return RESPONSE_BY_CAMPAIGN_TYPE.get((campaign_type or "").lower(), "campaign_response")
    if lowered in MEMBER_STATUS_TYPES:
        return MEMBER_STATUS_TYPES[lowered]
    return "campaign_" + re.sub(r"[^a-z0-9]+", "_", lowered).strip("_")


def member_activities(member: Row) -> list[Activity]:
    person = member.get("LeadId") or member.get("ContactId")
    created = parse_timestamp(member.get("CreatedDate"))
    if not person or created is None:
        return []
    kind = member_type(member.get("Status"), member.get("Campaign.Type"))
    campaign = member.get("Campaign.Name")
    responded = precise_date(member.get("FirstRespondedDate"),
                             parse_timestamp(member.get("LastModifiedDate")))
    details = {"campaign": campaign, "form": campaign if kind in FORM_TYPES else None}
    activities = []
    earlier = IMPLIED_EARLIER_STEP.get(kind)
    if earlier is not None:
        activities.append(Activity(lead_id=person, type=earlier, occurred_at=created, **details))
    occurred = responded or created
    activities.append(Activity(lead_id=person, type=kind, occurred_at=occurred, **details))
    return activities


def person_field_activities(lead: Lead) -> list[Activity]:
    """Unsubscribes and bounces, which Salesforce keeps on the Lead or Contact itself."""
    activities = []
    # No opt-out date exists. The record's creation dates it: its last change would move with
    # every write (leadq's own included) and make scores drift from run to run.
    if lead.fields.get("HasOptedOutOfEmail") and lead.created_at is not None:
        activities.append(Activity(lead_id=lead.id, type="unsubscribe",
                                   occurred_at=lead.created_at))
    bounced = lead.fields.get("EmailBouncedDate")
    if bounced is not None:
        activities.append(Activity(lead_id=lead.id, type="bounce", occurred_at=bounced))
    return activities


# ---- owners ---------------------------------------------------------------------------------
def user_owner(row: Row) -> Owner:
    department = row.get("Department") or ""
    teams = tuple(part.strip() for part in department.split(";") if part.strip())
    return Owner(id=row["Id"], email=row.get("Email"), name=row.get("Name"),
                 active=bool(row.get("IsActive")), kind="person", teams=teams)


def queue_owner(row: Row) -> Owner:
    return Owner(id=row["Id"], email=row.get("Email"), name=row.get("Name"), active=True,
                 kind="queue")


# ---- output fields --------------------------------------------------------------------------
def salesforce_field_name(name: str) -> str:
    """leadq's output field name → the Salesforce custom field: leadq_model_version →
    leadq_Model_Version__c. Names that already look like Salesforce API names are kept."""
    if name.endswith("__c") or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        return name
    head, _, rest = name.partition("_")
    if head == "leadq" and rest:
        return "leadq_" + "_".join(part.capitalize() for part in rest.split("_")) + "__c"
    return "_".join(part.capitalize() for part in name.split("_")) + "__c"


def dedupe(names: Iterable[str], known: Sequence[str] = ()) -> list[str]:
    """Names in order, without case-insensitive repeats or those already `known`."""
    seen = {name.lower() for name in known}
    unique = []
    for name in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            unique.append(name)
    return unique
