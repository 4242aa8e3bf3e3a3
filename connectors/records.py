"""Canonical records every connector produces and consumes.

CRMs send every value as a string; connectors parse them here, once, at the edge: numbers become
numbers, timestamps become aware UTC datetimes, blanks become ``None``. Scoring only ever sees these
typed records.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _parse_number(value: Any) -> Any:
    value = _blank_to_none(value)
    if isinstance(value, str):
        return value.replace(",", "").strip()
    return value


def parse_timestamp(value: Any) -> datetime | None:
    """Parse a CRM timestamp into aware UTC: ISO 8601 as `datetime.fromisoformat` reads it
    (`Z`, Salesforce's `+0000`), epoch milliseconds, a date, or Excel's `2026/10/01 09:00`."""
    value = _blank_to_none(value)
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    text = str(value).strip()
    if len(text) >= 10 and text[4] == "/" and text[7] == "/":
        text = text[:10].replace("/", "-") + text[10:]  # 2026/10/01 12:00, as Excel in Japan writes
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_bool(value: Any) -> Any:
    value = _blank_to_none(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "yes", "1", "y"}:
            return True
        if lowered in {"false", "no", "0", "n"}:
            return False
    return value


def masked_email(address: str) -> str:
    """`jane.doe@acme.example` → `j***@acme.example`: enough to recognise, not a full address."""
    local, at, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if at else address


def _is_east_asian(text: str) -> bool:
    return any("\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in text)


OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]
OptionalInt = Annotated[int | None, BeforeValidator(lambda v: _integer(_parse_number(v)))]
OptionalFloat = Annotated[float | None, BeforeValidator(_parse_number)]
Timestamp = Annotated[datetime | None, BeforeValidator(parse_timestamp)]
RequiredTimestamp = Annotated[datetime, BeforeValidator(parse_timestamp)]
Flag = Annotated[bool, BeforeValidator(_parse_bool)]


def _integer(value: Any) -> Any:
    if isinstance(value, str) and value:
        number = float(value)
        return int(number) if number.is_integer() else value
    return value


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Company(Record):
    id: str
    name: OptionalText = None
    domain: OptionalText = None
    industry: OptionalText = None
    employees: OptionalInt = None
    annual_revenue: OptionalFloat = None
    country: OptionalText = None
    owner_id: OptionalText = None
    fields: dict[str, Any] = Field(default_factory=dict)


class Lead(Record):
    id: str
    kind: Literal["lead", "contact"] = "lead"
    email: OptionalText = None
    first_name: OptionalText = None
    last_name: OptionalText = None
    title: OptionalText = None
    country: OptionalText = None
    state: OptionalText = None
    source: OptionalText = None
    owner_id: OptionalText = None
    lifecycle_stage: OptionalText = None
    lead_status: OptionalText = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    company: Company | None = None
    fields: dict[str, Any] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        """First name first, except for names in Japanese, Chinese or Korean script."""
        parts = (self.first_name, self.last_name)
        if self.last_name and _is_east_asian(self.last_name):
            parts = (self.last_name, self.first_name)
        return " ".join(part for part in parts if part)

    @property
    def email_domain(self) -> str | None:
        if not self.email or "@" not in self.email:
            return None
        return self.email.rsplit("@", 1)[1].lower()


ACTIVITY_TYPES: tuple[str, ...] = (
    "page_view",
    "pricing_page_view",
    "form_submission",
    "content_download",
    "webinar_registered",
    "webinar_attended",
    "email_open",
    "email_click",
    "email_reply",
    "meeting_booked",
    "call",
    "demo_request",
    "unsubscribe",
    "bounce",
)
"""The canonical activity types. Connectors may also pass a CRM's own event names through."""


class Activity(Record):
    lead_id: str
    type: str
    occurred_at: RequiredTimestamp
    url: OptionalText = None
    form: OptionalText = None
    campaign: OptionalText = None
    subject: OptionalText = None


class Owner(Record):
    id: str
    email: OptionalText = None
    name: OptionalText = None
    active: Flag = True
    kind: Literal["person", "queue"] = "person"
    teams: tuple[str, ...] = ()

    @property
    def display_name(self) -> str:
        """How output and the audit log name an owner: never a full e-mail address."""
        return self.name or (masked_email(self.email) if self.email else self.id)


class Outcome(Record):
    lead_id: str
    converted: Flag
    at: Timestamp = None
    value: OptionalFloat = None


class LeadUpdate(Record):
    """The fields leadq wants to write to one lead, with what the CRM held before."""

    lead_id: str
    kind: Literal["lead", "contact"] = "lead"
    changes: dict[str, Any]
    before: dict[str, Any] = Field(default_factory=dict)


class WriteResult(Record):
    lead_id: str
    ok: bool
    error: str | None = None
    transient: bool = False


class FollowUpTask(Record):
    """A follow-up task for a lead's owner, as leadq creates it at the handoff."""

    lead_id: str
    lead_kind: Literal["lead", "contact"] = "contact"
    owner_id: str
    subject: str
    body: str
    due_at: datetime  # the SLA's due moment
    due_day: date  # its date where the reps work (Salesforce's ActivityDate holds a date only)
    priority: Literal["high", "medium", "low"] = "medium"


class CrmTask(Record):
    """A task as the CRM holds it: who it is about and for, and whether it was done."""

    id: str
    lead_id: str | None = None
    owner_id: str | None = None
    subject: str | None = None
    body: str | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    closed: bool = False
