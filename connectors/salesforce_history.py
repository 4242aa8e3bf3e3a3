"""When each Lead's and Contact's current value of a field was set, from Salesforce's field
history (LeadHistory, ContactHistory: one row per change of a tracked field, with `Field`,
`NewValue` and `CreatedDate`).

One query per object, over every change of the fields asked for (`Field IN (…)`), paged like
any query (2,000 rows a page): no request per lead. Only fields the org tracks have rows, and a
value a record was created with has none, so a lead without a row for a field is left undated.
Lead paths name the fields as learn does (`lead_status`, `fields.Lead_Quality__c`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.records import parse_timestamp
from connectors.salesforce_soql import string_literal

HISTORY_OF = {"Lead": ("LeadHistory", "LeadId"), "Contact": ("ContactHistory", "ContactId")}
COMMON_FIELDS = {
    "email": "Email",
    "first_name": "FirstName",
    "last_name": "LastName",
    "title": "Title",
    "source": "LeadSource",
    "owner_id": "OwnerId",
}
STANDARD_FIELDS = {
    "Lead": {**COMMON_FIELDS, "country": "Country", "state": "State", "lead_status": "Status"},
    "Contact": {**COMMON_FIELDS, "country": "MailingCountry", "state": "MailingState"},
}

SetTimes = dict[str, dict[str, datetime]]  # lead path → record id → when its value was set


def fields_of(sobject: str, paths: Iterable[str]) -> dict[str, list[str]]:
    """The object's field API names the paths read, each with the paths reading it."""
    names: dict[str, list[str]] = {}
    for path in paths:
        name = (path.removeprefix("fields.") if path.startswith("fields.")
                else STANDARD_FIELDS[sobject].get(path))
        if name is not None:
            names.setdefault(name, []).append(path)
    return names


def history_query(sobject: str, names: Iterable[str]) -> str:
    history, parent = HISTORY_OF[sobject]
    listed = ", ".join(string_literal(name) for name in sorted(names))
    return (f"SELECT {parent}, Field, NewValue, CreatedDate FROM {history} "
            f"WHERE Field IN ({listed}) ORDER BY CreatedDate")


def latest_set_times(
    sobject: str,
    rows: Iterable[Mapping[str, Any]],
    ids: set[str],
    names: Mapping[str, list[str]],
    into: SetTimes,
) -> None:
    """Fill `into` with each record's latest change of each field, where it set a value."""
    _, parent = HISTORY_OF[sobject]
    latest: dict[tuple[str, str], tuple[datetime, bool]] = {}
    for row in rows:
        record_id, moment = str(row.get(parent) or ""), parse_timestamp(row.get("CreatedDate"))
        if record_id not in ids or moment is None:
            continue
        key = (record_id, str(row.get("Field")))
        if key not in latest or moment >= latest[key][0]:
            latest[key] = (moment, _has_value(row.get("NewValue")))
    for (record_id, name), (moment, has_value) in latest.items():
        for path in names.get(name, ()) if has_value else ():
            into.setdefault(path, {})[record_id] = moment


def _has_value(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


def people_by_object(ids: Sequence[str], sobject_of: Any) -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = {}
    for record_id in ids:
        sobject = sobject_of(record_id)
        if sobject in HISTORY_OF:
            grouped.setdefault(sobject, set()).add(record_id)
    return grouped
