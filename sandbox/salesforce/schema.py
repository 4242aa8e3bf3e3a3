"""The emulated org's data model: which sObjects exist, their fields, types, picklists and
relationships. Everything else (SQL tables, SOQL checks, describe, write validation) reads it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

TEXT_TYPES = frozenset(
    {"id", "reference", "string", "email", "phone", "url", "textarea", "picklist"}
)
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})
SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}

LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
    # org customisations leadq's default Salesforce lifecycle uses (README lists them)
    "Marketing Qualified",
    "Nurture",
)
CONVERTED_LEAD_STATUS = "Closed - Converted"
LEAD_SOURCES = (
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Advertisement",
    "Employee Referral",
    "External Referral",
    "Trade Show",
    "Webinar",
    "Word of mouth",
    "Other",
)
INDUSTRIES = (
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
)
RATINGS = ("Hot", "Warm", "Cold")
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
TASK_CLOSED_STATUSES = frozenset({"Completed"})  # the TaskStatus values with IsClosed = true
TASK_DEFAULTS = {"Status": "Not Started", "Priority": "Normal"}
TASK_SUBTYPES = ("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn")
TASK_TYPES = ("Call", "Email", "Meeting", "Other")
CAMPAIGN_TYPES = (
    "Advertisement",
    "Content",
    "Direct Mail",
    "Email",
    "Partners",
    "Public Relations",
    "Referral Program",
    "Seminar / Conference",
    "Telemarketing",
    "Trade Show",
    "Web",
    "Webinar",
    "Other",
)
OPPORTUNITY_CONTACT_ROLES = (
    "Business User", "Decision Maker", "Economic Buyer", "Economic Decision Maker",
    "Evaluator", "Executive Sponsor", "Influencer", "Technical Buyer", "Other",
)
OPPORTUNITY_STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)

# Our output fields; they exist only when the emulator is started with custom_fields=True.
LEADQ_CUSTOM_FIELDS = (
    ("leadq_Score__c", "double"),
    ("leadq_Fit__c", "double"),
    ("leadq_Engagement__c", "double"),
    ("leadq_Priority__c", "double"),
    ("leadq_Grade__c", "string"),
    ("leadq_Label__c", "string"),
    ("leadq_Reasons__c", "textarea"),
    ("leadq_Model_Version__c", "string"),
    ("leadq_Scored_At__c", "datetime"),
)


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    updateable: bool = True
    createable: bool = True
    nillable: bool = True
    required_on_create: bool = False
    picklist: tuple[str, ...] = ()
    restricted_picklist: bool = False
    references: tuple[str, ...] = ()
    relationship_name: str | None = None
    custom: bool = False

    @property
    def lower(self) -> str:
        return self.name.lower()

    @property
    def polymorphic(self) -> bool:
        return len(self.references) > 1


@dataclass(frozen=True)
class SObjectDef:
    name: str
    key_prefix: str
    label: str
    fields: tuple[FieldDef, ...]
    label_plural: str = ""
    # Lead.Name and friends: read-only values recomputed from other fields on every write
    name_parts: tuple[str, ...] = ()
    by_lower: dict[str, FieldDef] = field(init=False, repr=False, compare=False)
    relationships: dict[str, FieldDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_lower", {item.lower: item for item in self.fields})
        object.__setattr__(
            self,
            "relationships",
            {
                item.relationship_name.lower(): item
                for item in self.fields
                if item.relationship_name is not None
            },
        )

    @property
    def table(self) -> str:
        return f'"{self.name}"'

    def get_field(self, name: str) -> FieldDef | None:
        return self.by_lower.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        return self.relationships.get(name.lower())


def system_fields() -> tuple[FieldDef, ...]:
    return (
        FieldDef("Id", "id", updateable=False, createable=False, nillable=False),
        FieldDef("IsDeleted", "boolean", updateable=False, createable=False, nillable=False),
        FieldDef("CreatedDate", "datetime", updateable=False, createable=False, nillable=False),
        FieldDef("LastModifiedDate", "datetime", updateable=False, createable=False),
        FieldDef("SystemModstamp", "datetime", updateable=False, createable=False),
    )


def owner_field(queues: bool = False) -> FieldDef:
    """OwnerId: a User, or also a queue (a Group) on the objects that support queues. Lead and
    Case (and custom objects) may be owned by a queue; Contact, Account and Opportunity owners
    are Users only (Object Reference, each object's OwnerId "Refers To"; Setup › Queues lists
    the objects a queue can hold). Of the emulated objects only Lead takes a queue."""
    targets = ("User", "Group") if queues else ("User",)
    return FieldDef("OwnerId", "reference", references=targets, relationship_name="Owner")


def reference(name: str, target: str, relationship: str, **options: bool) -> FieldDef:
    return FieldDef(
        name, "reference", references=(target,), relationship_name=relationship, **options
    )


def picklist(name: str, values: Iterable[str], restricted: bool = False) -> FieldDef:
    return FieldDef(name, "picklist", picklist=tuple(values), restricted_picklist=restricted)


def readonly(name: str, type_: str) -> FieldDef:
    return FieldDef(name, type_, updateable=False, createable=False)


def person_fields() -> tuple[FieldDef, ...]:
    return (
        FieldDef("FirstName", "string"),
        FieldDef("LastName", "string", nillable=False, required_on_create=True),
        readonly("Name", "string"),
        FieldDef("Email", "email"),
        FieldDef("Title", "string"),
        FieldDef("Phone", "phone"),
        picklist("LeadSource", LEAD_SOURCES),
        FieldDef("HasOptedOutOfEmail", "boolean", nillable=False),
        FieldDef("EmailBouncedDate", "datetime"),
        FieldDef("EmailBouncedReason", "string"),
        readonly("LastActivityDate", "date"),
    )


def custom_fields(enabled: bool) -> tuple[FieldDef, ...]:
    if not enabled:
        return ()
    return tuple(FieldDef(name, type_, custom=True) for name, type_ in LEADQ_CUSTOM_FIELDS)


# sandbox.orgs.sales_fields' planted fields, as custom fields of Lead and Contact
PLANTED_FIELDS = {"lead_quality": "Lead_Quality__c", "referral_partner": "Referral_Partner__c",
                  "buying_timeline": "Buying_Timeline__c"}


def planted_fields(enabled: bool) -> tuple[FieldDef, ...]:
    if not enabled:
        return ()
    return (FieldDef(PLANTED_FIELDS["lead_quality"], "picklist", custom=True,
                     picklist=("Hot", "Warm", "Cold")),
            FieldDef(PLANTED_FIELDS["referral_partner"], "string", custom=True),
            FieldDef(PLANTED_FIELDS["buying_timeline"], "picklist", custom=True,
                     picklist=("This quarter", "Next quarter", "Later")))


# Web activity as counts on the person (a marketing tool's sync), for count rules: the number of
# days with a page view, and when the latest was
ACTIVITY_COUNT_FIELDS = {"visits": "Web_Visits__c", "last_visit": "Last_Web_Visit__c"}


def activity_count_fields(enabled: bool) -> tuple[FieldDef, ...]:
    if not enabled:
        return ()
    return (FieldDef(ACTIVITY_COUNT_FIELDS["visits"], "double", custom=True),
            FieldDef(ACTIVITY_COUNT_FIELDS["last_visit"], "datetime", custom=True))


def lead(with_custom_fields: bool, planted: bool = False, counts: bool = False) -> SObjectDef:
    return SObjectDef(
        "Lead",
        "00Q",
        "Lead",
        (
            *system_fields(),
            *person_fields(),
            FieldDef("Company", "string", nillable=False, required_on_create=True),
            picklist("Industry", INDUSTRIES),
            FieldDef("NumberOfEmployees", "int"),
            FieldDef("AnnualRevenue", "currency"),
            FieldDef("Country", "string"),
            FieldDef("State", "string"),
            FieldDef("Website", "url"),
            FieldDef(
                "Status", "picklist", nillable=False, picklist=LEAD_STATUSES,
                restricted_picklist=True,
            ),
            picklist("Rating", RATINGS),
            owner_field(queues=True),
            readonly("IsConverted", "boolean"),
            readonly("ConvertedDate", "date"),
            FieldDef(
                "ConvertedAccountId", "reference", updateable=False, createable=False,
                references=("Account",), relationship_name="ConvertedAccount",
            ),
            FieldDef(
                "ConvertedContactId", "reference", updateable=False, createable=False,
                references=("Contact",), relationship_name="ConvertedContact",
            ),
            FieldDef(
                "ConvertedOpportunityId", "reference", updateable=False, createable=False,
                references=("Opportunity",), relationship_name="ConvertedOpportunity",
            ),
            *custom_fields(with_custom_fields),
            *planted_fields(planted),
            *activity_count_fields(counts),
        ),
        name_parts=("FirstName", "LastName"),
    )


def contact(with_custom_fields: bool, planted: bool = False, counts: bool = False) -> SObjectDef:
    return SObjectDef(
        "Contact",
        "003",
        "Contact",
        (
            *system_fields(),
            *person_fields(),
            reference("AccountId", "Account", "Account"),
            FieldDef("MailingCountry", "string"),
            FieldDef("MailingState", "string"),
            owner_field(),
            *custom_fields(with_custom_fields),
            *planted_fields(planted),
            *activity_count_fields(counts),
        ),
        name_parts=("FirstName", "LastName"),
    )


def account() -> SObjectDef:
    return SObjectDef(
        "Account",
        "001",
        "Account",
        (
            *system_fields(),
            FieldDef("Name", "string", nillable=False, required_on_create=True),
            FieldDef("Website", "url"),
            picklist("Industry", INDUSTRIES),
            FieldDef("NumberOfEmployees", "int"),
            FieldDef("AnnualRevenue", "currency"),
            FieldDef("BillingCountry", "string"),
            FieldDef("BillingState", "string"),
            picklist("Type", ("Prospect", "Customer - Direct", "Customer - Channel", "Other")),
            owner_field(),
        ),
    )


def user() -> SObjectDef:
    return SObjectDef(
        "User",
        "005",
        "User",
        (
            *system_fields(),
            FieldDef("Username", "string", nillable=False, required_on_create=True),
            FieldDef("Email", "email", nillable=False, required_on_create=True),
            FieldDef("FirstName", "string"),
            FieldDef("LastName", "string", nillable=False, required_on_create=True),
            readonly("Name", "string"),
            FieldDef("Alias", "string"),
            FieldDef("Title", "string"),
            FieldDef("Department", "string"),
            FieldDef("IsActive", "boolean", nillable=False),
            picklist("UserType", ("Standard", "AutomatedProcess")),
        ),
        name_parts=("FirstName", "LastName"),
    )


def group() -> SObjectDef:
    return SObjectDef(
        "Group",
        "00G",
        "Group",
        (
            *system_fields(),
            FieldDef("Name", "string", nillable=False, required_on_create=True),
            FieldDef("DeveloperName", "string"),
            picklist("Type", ("Queue", "Regular", "Role")),
            FieldDef("Email", "email"),
        ),
    )


def task() -> SObjectDef:
    return SObjectDef(
        "Task",
        "00T",
        "Task",
        (
            *system_fields(),
            FieldDef(
                "WhoId", "reference", references=("Lead", "Contact"), relationship_name="Who"
            ),
            reference("WhatId", "Opportunity", "What"),
            FieldDef("Subject", "string"),
            # Task (Object Reference for the Salesforce Platform): ActivityDate is a date ("due
            # date", no time); Status and Priority are required, with org defaults "Not Started"
            # and "Normal"; IsClosed follows the status (TaskStatus.IsClosed) and
            # CompletedDateTime is stamped when the task closes, both read only.
            FieldDef("ActivityDate", "date"),
            FieldDef("Status", "picklist", nillable=False, picklist=TASK_STATUSES),
            FieldDef("Priority", "picklist", nillable=False, picklist=("High", "Normal", "Low")),
            readonly("IsClosed", "boolean"),
            readonly("CompletedDateTime", "datetime"),
            FieldDef("IsReminderSet", "boolean"),
            FieldDef("ReminderDateTime", "datetime"),
            picklist("Type", TASK_TYPES),
            FieldDef("TaskSubtype", "picklist", updateable=False, picklist=TASK_SUBTYPES),
            FieldDef("Description", "textarea"),
            owner_field(),
        ),
    )


def event() -> SObjectDef:
    return SObjectDef(
        "Event",
        "00U",
        "Event",
        (
            *system_fields(),
            FieldDef(
                "WhoId", "reference", references=("Lead", "Contact"), relationship_name="Who"
            ),
            FieldDef("Subject", "string"),
            FieldDef("StartDateTime", "datetime"),
            FieldDef("EndDateTime", "datetime"),
            FieldDef("ActivityDate", "date"),
            picklist("Type", TASK_TYPES),
            owner_field(),
        ),
    )


def campaign() -> SObjectDef:
    return SObjectDef(
        "Campaign",
        "701",
        "Campaign",
        (
            *system_fields(),
            FieldDef("Name", "string", nillable=False, required_on_create=True),
            picklist("Type", CAMPAIGN_TYPES),
            picklist("Status", ("Planned", "In Progress", "Completed", "Aborted")),
            FieldDef("IsActive", "boolean", nillable=False),
            FieldDef("StartDate", "date"),
            owner_field(),
        ),
    )


def campaign_member() -> SObjectDef:
    return SObjectDef(
        "CampaignMember",
        "00v",
        "Campaign Member",
        (
            *system_fields(),
            reference("CampaignId", "Campaign", "Campaign", required_on_create=True),
            reference("LeadId", "Lead", "Lead"),
            reference("ContactId", "Contact", "Contact"),
            FieldDef("Status", "picklist"),
            FieldDef("HasResponded", "boolean", nillable=False),
            FieldDef("FirstRespondedDate", "date"),
        ),
    )


def opportunity() -> SObjectDef:
    return SObjectDef(
        "Opportunity",
        "006",
        "Opportunity",
        (
            *system_fields(),
            FieldDef("Name", "string", nillable=False, required_on_create=True),
            reference("AccountId", "Account", "Account"),
            # Salesforce derives it from the primary OpportunityContactRole (read-only there)
            reference("ContactId", "Contact", "Contact"),
            picklist("StageName", OPPORTUNITY_STAGES, restricted=True),
            FieldDef("Amount", "currency"),
            FieldDef("CloseDate", "date", required_on_create=True),
            readonly("IsWon", "boolean"),
            readonly("IsClosed", "boolean"),
            picklist("LeadSource", LEAD_SOURCES),
            owner_field(),
        ),
    )


def opportunity_contact_role() -> SObjectDef:
    """Who was on a deal: how Salesforce links Contacts to Opportunities."""
    return SObjectDef(
        "OpportunityContactRole",
        "00K",
        "Opportunity Contact Role",
        (
            *system_fields(),
            reference("OpportunityId", "Opportunity", "Opportunity", nillable=False),
            reference("ContactId", "Contact", "Contact"),
            picklist("Role", OPPORTUNITY_CONTACT_ROLES),
            FieldDef("IsPrimary", "boolean"),
        ),
    )


def organization() -> SObjectDef:
    return SObjectDef(
        "Organization",
        "00D",
        "Organization",
        (
            *system_fields(),
            readonly("Name", "string"),
            readonly("IsSandbox", "boolean"),
            readonly("OrganizationType", "string"),
        ),
    )


# Field history (sandbox.salesforce.field_history): every history id begins with 017
HISTORY_PREFIX = "017"
HISTORY_OF = {"Lead": ("LeadHistory", "LeadId"), "Contact": ("ContactHistory", "ContactId")}


def history_objects() -> tuple[SObjectDef, ...]:
    return tuple(_history_object(parent, name, parent_field)
                 for parent, (name, parent_field) in HISTORY_OF.items())


def _history_object(parent: str, name: str, parent_field: str) -> SObjectDef:
    read_only = {"updateable": False, "createable": False}
    return SObjectDef(
        name,
        HISTORY_PREFIX,
        f"{parent} History",
        (
            FieldDef("Id", "id", nillable=False, **read_only),
            FieldDef("IsDeleted", "boolean", nillable=False, **read_only),
            FieldDef("CreatedDate", "datetime", nillable=False, **read_only),
            reference("CreatedById", "User", "CreatedBy", **read_only),
            reference(parent_field, parent, parent, **read_only),
            FieldDef("Field", "picklist", nillable=False, **read_only),
            FieldDef("DataType", "picklist", **read_only),
            FieldDef("OldValue", "string", **read_only),
            FieldDef("NewValue", "string", **read_only),
        ),
    )


@dataclass(frozen=True)
class Schema:
    objects: tuple[SObjectDef, ...]
    by_lower: dict[str, SObjectDef] = field(init=False, repr=False, compare=False)
    by_prefix: dict[str, SObjectDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_lower", {item.name.lower(): item for item in self.objects})
        object.__setattr__(self, "by_prefix", {item.key_prefix: item for item in self.objects})

    def get(self, name: str) -> SObjectDef | None:
        return self.by_lower.get(name.lower())

    def for_id(self, record_id: str) -> SObjectDef | None:
        return self.by_prefix.get(record_id[:3])


def build_schema(
    with_custom_fields: bool = True, planted: bool = False, counts: bool = False
) -> Schema:
    """The org's sObjects; `planted`: Lead and Contact carry the planted fields too; `counts`:
    and the web activity counts (`ACTIVITY_COUNT_FIELDS`)."""
    return Schema(
        (
            lead(with_custom_fields, planted, counts),
            contact(with_custom_fields, planted, counts),
            account(),
            user(),
            group(),
            task(),
            event(),
            campaign(),
            campaign_member(),
            opportunity(),
            opportunity_contact_role(),
            organization(),
            *history_objects(),
        )
    )


# The fields the polymorphic "Name" object offers through Owner. and Who. relationships, and
# the value of Name.Type for each target object.
NAME_OBJECT_FIELDS = (
    ("Id", "id"),
    ("Name", "string"),
    ("Type", "string"),
    ("IsActive", "boolean"),
    ("Email", "email"),
    ("FirstName", "string"),
    ("LastName", "string"),
    ("Title", "string"),
    ("Username", "string"),
    ("Alias", "string"),
    ("Phone", "phone"),
)
NAME_TYPE_OF = {"User": "User", "Group": "Queue", "Lead": "Lead", "Contact": "Contact"}
