"""HubSpot JSON into canonical records: every property value arrives as a string and is typed here,
by the property's type in the portal's schema (numbers, datetimes, booleans; blank is None)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.records import Company, Lead, Owner, parse_timestamp

CONTACT_PROPERTIES: tuple[str, ...] = (
    "email",
    "firstname",
    "lastname",
    "jobtitle",
    "country",
    "state",
    "hs_analytics_source",
    "hubspot_owner_id",
    "lifecyclestage",
    "hs_lead_status",
    "createdate",
    "lastmodifieddate",
)
COMPANY_PROPERTIES: tuple[str, ...] = (
    "name",
    "domain",
    "industry",
    "numberofemployees",
    "annualrevenue",
    "country",
    "hubspot_owner_id",
)
MODIFIED = "lastmodifieddate"
_NOT_FIELDS = frozenset({*CONTACT_PROPERTIES, "hs_object_id"})
_NOT_COMPANY_FIELDS = frozenset({*COMPANY_PROPERTIES, "hs_object_id"})

PropertyTypes = Mapping[str, str]  # property name → HubSpot type (string, number, datetime, …)


def typed_value(kind: str | None, value: Any) -> Any:
    """One HubSpot property value (a string) as the Python value its type means."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if kind == "number":
        try:
            number = float(str(value).replace(",", ""))
        except ValueError:
            return value  # not a number after all: keep what HubSpot holds
        return int(number) if number.is_integer() else number
    if kind in ("datetime", "date"):
        return parse_timestamp(value)
    if kind == "bool":
        return str(value).strip().lower() == "true"
    return value


def typed_fields(properties: Mapping[str, Any], types: PropertyTypes,
                 skip: frozenset[str]) -> dict[str, Any]:
    return {
        name: typed_value(types.get(name), value)
        for name, value in properties.items()
        if name not in skip
    }


def lead_from(record: Mapping[str, Any], types: PropertyTypes, company: Company | None) -> Lead:
    properties: Mapping[str, Any] = record.get("properties") or {}
    return Lead(
        id=str(record["id"]),
        kind="contact",
        email=properties.get("email"),
        first_name=properties.get("firstname"),
        last_name=properties.get("lastname"),
        title=properties.get("jobtitle"),
        country=properties.get("country"),
        state=properties.get("state"),
        source=properties.get("hs_analytics_source"),
        owner_id=properties.get("hubspot_owner_id"),
        lifecycle_stage=properties.get("lifecyclestage"),
        lead_status=properties.get("hs_lead_status"),
        created_at=properties.get("createdate") or record.get("createdAt"),
        updated_at=modified_at(record),
        company=company,
        fields=typed_fields(properties, types, _NOT_FIELDS),
    )


def company_from(record: Mapping[str, Any], types: PropertyTypes) -> Company:
    properties: Mapping[str, Any] = record.get("properties") or {}
    return Company(
        id=str(record["id"]),
        name=properties.get("name"),
        domain=properties.get("domain"),
        industry=properties.get("industry"),
        employees=properties.get("numberofemployees"),
        annual_revenue=properties.get("annualrevenue"),
        country=properties.get("country"),
        owner_id=properties.get("hubspot_owner_id"),
        fields=typed_fields(properties, types, _NOT_COMPANY_FIELDS),
    )


def owner_from(record: Mapping[str, Any]) -> Owner:
    name = " ".join(
        part for part in (record.get("firstName"), record.get("lastName")) if part
    )
    return Owner(
        id=str(record["id"]),
        email=record.get("email"),
        name=name or None,
        active=not record.get("archived", False),
        kind="queue" if str(record.get("type", "")).upper() == "QUEUE" else "person",
        teams=tuple(
            str(team["name"]) for team in record.get("teams") or [] if team.get("name")
        ),
    )


def modified_at(record: Mapping[str, Any]) -> datetime | None:
    properties: Mapping[str, Any] = record.get("properties") or {}
    return parse_timestamp(properties.get(MODIFIED) or record.get("updatedAt"))


def epoch_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def primary_company_ids(record: Mapping[str, Any]) -> list[str]:
    """Company ids from a v3 `associations` block, the primary one first."""
    linked = ((record.get("associations") or {}).get("companies") or {}).get("results") or []
    primary = [str(link["id"]) for link in linked if link.get("type") == "contact_to_company"]
    others = [str(link["id"]) for link in linked if str(link["id"]) not in primary]
    return list(dict.fromkeys([*primary, *others]))


def associated_ids(record: Mapping[str, Any], object_types: Iterable[str]) -> dict[str, list[str]]:
    """Ids of each object type in a v3 `associations` block (engagements of a listed contact)."""
    block = record.get("associations") or {}
    return {
        object_type: list(dict.fromkeys(
            str(link["id"]) for link in (block.get(object_type) or {}).get("results") or []
        ))
        for object_type in object_types
    }


def chunked(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


LARGEST_RECORD_ID = 2**63 - 1  # HubSpot object ids are 64-bit integers


def is_record_id(text: str) -> bool:
    """A HubSpot record id: a positive whole number that fits HubSpot's 64-bit ids."""
    return text.isascii() and text.isdigit() and 0 < int(text) <= LARGEST_RECORD_ID
