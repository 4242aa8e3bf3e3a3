"""HubSpot's object types, their default properties, and how a written value becomes a string.

Every property value HubSpot stores or returns is a string: numbers as written, datetimes as ISO
8601 with milliseconds and ``Z``, dates as ``YYYY-MM-DD``, booleans as ``"true"``/``"false"``.
Writing ``""`` clears a value. `normalize_value` turns what a client sent into that string, or
raises `InvalidValueError` with HubSpot's error code (INVALID_DATE, INVALID_OPTION, …).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

LIFECYCLE_STAGES: tuple[str, ...] = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
LEAD_STATUSES: tuple[str, ...] = (
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)
PROPERTY_TYPES = frozenset(
    {"bool", "date", "datetime", "enumeration", "number", "phone_number", "string"}
)
PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")


@dataclass(frozen=True)
class ObjectType:
    name: str
    singular: str
    type_id: str
    scope: str
    default_properties: tuple[str, ...]
    created_property: str
    modified_property: str

    @property
    def computed_properties(self) -> tuple[str, ...]:
        """Properties derived from the record's columns, never stored nor written."""
        return ("hs_object_id", self.created_property, self.modified_property)


def _engagement(name: str, singular: str, type_id: str) -> ObjectType:
    # calls.json, meetings.json, notes.json, emails.json (v3): their batch reads ask for
    # crm.objects.contacts.read, as contacts' do
    return ObjectType(
        name=name,
        singular=singular,
        type_id=type_id,
        scope="crm.objects.contacts",
        default_properties=("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
        created_property="hs_createdate",
        modified_property="hs_lastmodifieddate",
    )


OBJECT_TYPES: dict[str, ObjectType] = {
    "contacts": ObjectType(
        name="contacts",
        singular="contact",
        type_id="0-1",
        scope="crm.objects.contacts",
        default_properties=(
            "createdate",
            "email",
            "firstname",
            "hs_object_id",
            "lastmodifieddate",
            "lastname",
        ),
        created_property="createdate",
        modified_property="lastmodifieddate",
    ),
    "companies": ObjectType(
        name="companies",
        singular="company",
        type_id="0-2",
        scope="crm.objects.companies",
        default_properties=("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
        created_property="createdate",
        modified_property="hs_lastmodifieddate",
    ),
    "calls": _engagement("calls", "call", "0-48"),
    "emails": _engagement("emails", "email", "0-49"),
    "meetings": _engagement("meetings", "meeting", "0-47"),
    "notes": _engagement("notes", "note", "0-46"),
    # developers.hubspot.com/docs/api/crm/tasks: object type 0-27, scopes crm.objects.contacts.*
    "tasks": _engagement("tasks", "task", "0-27"),
}
ENGAGEMENT_TYPES = ("calls", "emails", "meetings", "notes")  # what the seeded orgs hold
TASK_STATUSES = ("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED")
# Properties a create must carry (the tasks guide: "hs_timestamp: Required. … the task's due date")
REQUIRED_ON_CREATE: dict[str, tuple[str, ...]] = {"tasks": ("hs_timestamp",)}


def resolve_object_type(text: str) -> ObjectType | None:
    """Accept the plural name, the singular name or the type id, as HubSpot does."""
    lowered = text.lower()
    for object_type in OBJECT_TYPES.values():
        if lowered in (object_type.name, object_type.singular, object_type.type_id):
            return object_type
    return None


@dataclass(frozen=True)
class Option:
    label: str
    value: str
    display_order: int
    hidden: bool = False
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value,
            "displayOrder": self.display_order,
            "hidden": self.hidden,
            "description": self.description,
        }


@dataclass(frozen=True)
class PropertyDefinition:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    description: str = ""
    options: tuple[Option, ...] = ()
    read_only_value: bool = False
    calculated: bool = False
    has_unique_value: bool = False
    hubspot_defined: bool = True
    display_order: int = -1
    created_ms: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(option.value for option in self.options)

    def to_json(self) -> dict[str, Any]:
        stamp = format_ms(self.created_ms)
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [option.to_json() for option in self.options],
            "displayOrder": self.display_order,
            "calculated": self.calculated,
            "externalOptions": False,
            "hasUniqueValue": self.has_unique_value,
            "hidden": False,
            "formField": not self.read_only_value,
            "archived": False,
            "createdAt": stamp,
            "updatedAt": stamp,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only_value,
            },
        }
        if self.hubspot_defined:
            body["hubspotDefined"] = True
        body.update(self.extra)
        return body


@dataclass(frozen=True)
class PropertyGroup:
    name: str
    label: str
    display_order: int = -1

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "displayOrder": self.display_order,
            "archived": False,
        }


def _options(values: tuple[str, ...], labels: dict[str, str] | None = None) -> tuple[Option, ...]:
    labels = labels or {}
    return tuple(
        Option(label=labels.get(value, value.replace("_", " ").title()), value=value,
               display_order=order)
        for order, value in enumerate(values)
    )


_STAGE_LABELS = {
    "subscriber": "Subscriber",
    "lead": "Lead",
    "marketingqualifiedlead": "Marketing Qualified Lead",
    "salesqualifiedlead": "Sales Qualified Lead",
    "opportunity": "Opportunity",
    "customer": "Customer",
    "evangelist": "Evangelist",
    "other": "Other",
}


def lifecycle_date_property(stage: str) -> str:
    """The read-only property holding when a record entered `stage` ("Became a … date")."""
    return f"hs_lifecyclestage_{stage}_date"


def _stage_dates(group: str) -> list[PropertyDefinition]:
    return [_moment(lifecycle_date_property(stage), f"Became a {_STAGE_LABELS[stage]} date", group)
            for stage in LIFECYCLE_STAGES]


def _text(name: str, label: str, group: str) -> PropertyDefinition:
    return PropertyDefinition(name, label, "string", "text", group)


def _number(name: str, label: str, group: str, *, calculated: bool = False) -> PropertyDefinition:
    return PropertyDefinition(
        name, label, "number", "number", group, read_only_value=calculated, calculated=calculated
    )


def _moment(name: str, label: str, group: str, *, read_only: bool = True) -> PropertyDefinition:
    return PropertyDefinition(name, label, "datetime", "date", group, read_only_value=read_only)


def _select(name: str, label: str, group: str, values: tuple[str, ...],
            labels: dict[str, str] | None = None, field_type: str = "select") -> PropertyDefinition:
    return PropertyDefinition(name, label, "enumeration", field_type, group,
                              options=_options(values, labels))


def _owner_property(group: str, label: str) -> PropertyDefinition:
    # Options are the portal's owners: the writer checks values against the owners table.
    return PropertyDefinition("hubspot_owner_id", label, "enumeration", "select", group,
                              extra={"referencedObjectType": "OWNER"})


def _identity(object_type: ObjectType, group: str) -> list[PropertyDefinition]:
    return [
        PropertyDefinition("hs_object_id", "Record ID", "number", "number", group,
                           read_only_value=True, calculated=True, has_unique_value=True),
        _moment(object_type.created_property, "Create Date", group),
        _moment(object_type.modified_property, "Last Modified Date", group),
    ]


_SOURCES = ("ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING", "SOCIAL_MEDIA", "REFERRALS",
            "OTHER_CAMPAIGNS", "DIRECT_TRAFFIC", "OFFLINE", "PAID_SOCIAL")


def _contact_properties() -> list[PropertyDefinition]:
    info, analytics, email, sales = (
        "contactinformation", "analyticsinformation", "emailinformation", "sales_properties"
    )
    return [
        *_identity(OBJECT_TYPES["contacts"], info),
        PropertyDefinition("email", "Email", "string", "text", info, has_unique_value=True),
        _text("firstname", "First Name", info),
        _text("lastname", "Last Name", info),
        _text("jobtitle", "Job Title", info),
        PropertyDefinition("phone", "Phone Number", "string", "phonenumber", info),
        _text("country", "Country/Region", info),
        _text("state", "State/Region", info),
        _text("city", "City", info),
        _text("company", "Company Name", info),
        _text("website", "Website URL", info),
        _text("industry", "Industry", info),
        _select("lifecyclestage", "Lifecycle Stage", info, LIFECYCLE_STAGES, _STAGE_LABELS,
                field_type="radio"),
        *_stage_dates(info),
        _select("hs_lead_status", "Lead Status", sales, LEAD_STATUSES,
                {"OPEN_DEAL": "Open Deal", "BAD_TIMING": "Bad Timing"}, field_type="radio"),
        _owner_property(sales, "Contact owner"),
        PropertyDefinition("hs_analytics_source", "Original Source", "enumeration", "select",
                           analytics, options=_options(_SOURCES), read_only_value=True,
                           calculated=True),
        _text("hs_analytics_source_data_1", "Original Source Drill-Down 1", analytics),
        _number("hs_analytics_num_page_views", "Number of Pageviews", analytics, calculated=True),
        _number("hs_analytics_num_visits", "Number of Sessions", analytics, calculated=True),
        _moment("hs_analytics_first_visit_timestamp", "Time of First Session", analytics),
        _moment("hs_analytics_last_visit_timestamp", "Time of Last Session", analytics),
        _number("num_conversion_events", "Number of Form Submissions", "conversioninformation",
                calculated=True),
        _number("num_unique_conversion_events", "Number of Unique Forms Submitted",
                "conversioninformation", calculated=True),
        _moment("first_conversion_date", "First Conversion Date", "conversioninformation"),
        _moment("recent_conversion_date", "Recent Conversion Date", "conversioninformation"),
        PropertyDefinition("first_conversion_event_name", "First Conversion", "string", "text",
                           "conversioninformation", read_only_value=True),
        PropertyDefinition("recent_conversion_event_name", "Recent Conversion", "string", "text",
                           "conversioninformation", read_only_value=True),
        _number("hs_email_open", "Marketing emails opened", email, calculated=True),
        _number("hs_email_click", "Marketing emails clicked", email, calculated=True),
        _number("hs_email_replied", "Marketing emails replied", email, calculated=True),
        _number("hs_email_bounce", "Marketing emails bounced", email, calculated=True),
        _moment("hs_email_first_open_date", "First marketing email open date", email),
        _moment("hs_email_last_open_date", "Last marketing email open date", email),
        _moment("hs_email_last_click_date", "Last marketing email click date", email),
        PropertyDefinition("hs_email_optout", "Unsubscribed from all email", "bool",
                           "booleancheckbox", email,
                           options=_options(("true", "false"), {"true": "Yes", "false": "No"})),
        _moment("hs_sales_email_last_replied", "Recent Sales Email Replied Date", sales),
        _moment("notes_last_contacted", "Last Contacted", sales),
        _moment("notes_last_updated", "Last Activity Date", sales),
        _number("num_contacted_notes", "Number of times contacted", sales, calculated=True),
        _moment("hs_last_sales_activity_timestamp", "Last Engagement Date", sales),
    ]


def _company_properties() -> list[PropertyDefinition]:
    info = "companyinformation"
    return [
        *_identity(OBJECT_TYPES["companies"], info),
        _text("name", "Company name", info),
        PropertyDefinition("domain", "Company Domain Name", "string", "text", info,
                           has_unique_value=False),
        _text("website", "Website URL", info),
        _text("industry", "Industry", info),
        _number("numberofemployees", "Number of Employees", info),
        _number("annualrevenue", "Annual Revenue", info),
        _text("country", "Country/Region", info),
        _text("state", "State/Region", info),
        _text("city", "City", info),
        PropertyDefinition("phone", "Phone Number", "string", "phonenumber", info),
        _select("lifecyclestage", "Lifecycle Stage", info, LIFECYCLE_STAGES, _STAGE_LABELS,
                field_type="radio"),
        *_stage_dates(info),
        _owner_property(info, "Company owner"),
    ]


def _engagement_properties(object_type: ObjectType) -> list[PropertyDefinition]:
    group = {"calls": "call", "emails": "email", "meetings": "meeting", "notes": "note",
             "tasks": "task"}[object_type.name]
    common = [
        *_identity(object_type, group),
        _moment("hs_timestamp", "Activity date", group, read_only=False),
        _owner_property(group, "Activity assigned to"),
    ]
    specific = {
        "calls": [
            _text("hs_call_title", "Call Title", group),
            _text("hs_call_body", "Call notes", group),
            _select("hs_call_direction", "Call direction", group, ("INBOUND", "OUTBOUND")),
            _select("hs_call_status", "Call status", group,
                    ("BUSY", "CALLING_CRM_USER", "CANCELED", "COMPLETED", "CONNECTING", "FAILED",
                     "IN_PROGRESS", "NO_ANSWER", "QUEUED", "RINGING")),
            _number("hs_call_duration", "Call duration", group),
        ],
        "emails": [
            _text("hs_email_subject", "Email subject", group),
            _text("hs_email_text", "Email body", group),
            _select("hs_email_direction", "Email direction", group,
                    ("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL")),
            _select("hs_email_status", "Email send status", group,
                    ("BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT")),
        ],
        "meetings": [
            _text("hs_meeting_title", "Meeting name", group),
            _text("hs_meeting_body", "Meeting description", group),
            _moment("hs_meeting_start_time", "Start Time", group, read_only=False),
            _moment("hs_meeting_end_time", "End Time", group, read_only=False),
            _select("hs_meeting_outcome", "Meeting outcome", group,
                    ("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED")),
        ],
        "notes": [_text("hs_note_body", "Note body", group)],
        # The tasks guide's properties: hs_timestamp is the due date; hs_task_status COMPLETED or
        # NOT_STARTED (the portal's options add IN_PROGRESS, WAITING, DEFERRED); priority LOW,
        # MEDIUM or HIGH; type EMAIL, CALL or TODO. hs_task_completion_date is set by HubSpot when
        # the status becomes COMPLETED; that it may also be written (imports of done tasks) is
        # unconfirmed, so the emulator accepts a written one and otherwise stamps the moment.
        "tasks": [
            _text("hs_task_subject", "Task Title", group),
            _text("hs_task_body", "Notes", group),
            _select("hs_task_status", "Task Status", group, TASK_STATUSES),
            _select("hs_task_priority", "Priority", group, ("NONE", "LOW", "MEDIUM", "HIGH")),
            _select("hs_task_type", "Task Type", group, ("EMAIL", "CALL", "TODO")),
            _moment("hs_task_completion_date", "Completed at", group, read_only=False),
            _moment("hs_task_reminders", "Reminder", group, read_only=False),
        ],
    }[object_type.name]
    return common + specific


def default_properties(object_type: ObjectType) -> list[PropertyDefinition]:
    if object_type.name == "contacts":
        definitions = _contact_properties()
    elif object_type.name == "companies":
        definitions = _company_properties()
    else:
        definitions = _engagement_properties(object_type)
    return [
        _with_order(definition, order) if definition.display_order < 0 else definition
        for order, definition in enumerate(definitions)
    ]


def _with_order(definition: PropertyDefinition, order: int) -> PropertyDefinition:
    return replace(definition, display_order=order)


def default_groups(object_type: ObjectType) -> list[PropertyGroup]:
    names = sorted({definition.group_name for definition in default_properties(object_type)})
    return [
        PropertyGroup(name, name.replace("_", " ").replace("information", " information").title(),
                      order)
        for order, name in enumerate(names)
    ]


# ---- values --------------------------------------------------------------------------------


class InvalidValueError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def format_ms(ms: int) -> str:
    """Epoch milliseconds as HubSpot writes datetimes: 2024-05-01T12:00:00.000Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def format_datetime(moment: datetime) -> str:
    return format_ms(datetime_to_ms(moment))


def datetime_to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def parse_moment_ms(text: str) -> int:
    """Epoch ms from what HubSpot accepts for a datetime: epoch ms digits, ISO 8601, or a date."""
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        moment = datetime.fromisoformat(text.upper())  # a date is midnight UTC; `z` reads as `Z`
    except ValueError as error:
        message = f"{text!r} is not a valid date or datetime"
        raise InvalidValueError("INVALID_DATE", message) from error
    return datetime_to_ms(moment)


def normalize_value(definition: PropertyDefinition, raw: Any) -> str:
    """The string HubSpot would store for `raw` written to this property."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))
    else:
        text = str(raw)
    if text == "":
        return ""
    converter = _CONVERTERS.get(definition.type)
    return converter(definition, text) if converter else text


def _number_value(definition: PropertyDefinition, text: str) -> str:
    try:
        float(text.replace(",", ""))
    except ValueError as error:
        raise InvalidValueError(
            "INVALID_INTEGER" if "." not in text else "INVALID_DECIMAL",
            f"{text} was not a valid number.",
        ) from error
    return text.replace(",", "").strip()


def _datetime_value(definition: PropertyDefinition, text: str) -> str:
    return format_ms(parse_moment_ms(text))


def _date_value(definition: PropertyDefinition, text: str) -> str:
    ms = parse_moment_ms(text)
    if ms % 86_400_000:
        raise InvalidValueError(
            "INVALID_DATE",
            f"{text} is at {format_ms(ms)}, which is not midnight! (date properties take "
            "midnight UTC)",
        )
    return format_ms(ms)[:10]


def _bool_value(definition: PropertyDefinition, text: str) -> str:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise InvalidValueError("INVALID_BOOLEAN", f"{text} is not a valid boolean (true/false).")
    return lowered


def _enumeration_value(definition: PropertyDefinition, text: str) -> str:
    allowed = definition.option_values
    if not allowed:
        return text
    for part in text.split(";"):
        if part not in allowed:
            raise InvalidValueError(
                "INVALID_OPTION",
                f"{part} was not one of the allowed options: "
                + ", ".join(f"[{value}]" for value in allowed),
            )
    return text


_CONVERTERS = {
    "number": _number_value,
    "datetime": _datetime_value,
    "date": _date_value,
    "bool": _bool_value,
    "enumeration": _enumeration_value,
}


def comparable_filter_value(definition: PropertyDefinition, raw: Any) -> str | float:
    """A search filter's value, in the form the stored strings of this property compare with."""
    text = "true" if raw is True else "false" if raw is False else str(raw)
    if definition.type == "number":
        return float(text)
    if definition.type == "datetime":
        return format_ms(parse_moment_ms(text))
    if definition.type == "date":
        return format_ms(parse_moment_ms(text))[:10]
    return text.lower()
