"""When each Lead's and Contact's fields got their values, from Salesforce's field history
(LeadHistory, ContactHistory: one row per change of a tracked field, with `Field`, `OldValue`,
`NewValue` and `CreatedDate`).

One query per object, over every change of the fields asked for (`Field IN (…)`), paged like
any query (2,000 rows a page): no request per lead. Only fields the org tracks have rows, and a
value a record was created with has none, so a lead without a row for a field is left undated
(and one whose first row changes a value away, first set at an unknown moment).
Lead paths name the fields as learn does (`lead_status`, `fields.Lead_Quality__c`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from connectors.field_times import FieldTimes, ValueChange
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
    return (f"SELECT {parent}, Field, OldValue, NewValue, CreatedDate FROM {history} "
            f"WHERE Field IN ({listed}) ORDER BY CreatedDate")


def fold_history(
    sobject: str,
    rows: Iterable[Mapping[str, Any]],
    ids: set[str],
    names: Mapping[str, list[str]],
    entering: Mapping[str, Collection[str]],
    into: FieldTimes,
) -> None:
    """Fold each record's changes of each field into `into` (connectors/field_times.py). A value
    the record was created with has no row, so a first row's OldValue says the field held a
    value before the history begins."""
    _, parent = HISTORY_OF[sobject]
    changes: dict[tuple[str, str], list[ValueChange]] = {}
    for row in rows:
        record_id, moment = str(row.get(parent) or ""), parse_timestamp(row.get("CreatedDate"))
        if record_id in ids and moment is not None:
            changes.setdefault((record_id, str(row.get("Field"))), []).append(
                ValueChange(moment, _text(row.get("OldValue")), _text(row.get("NewValue"))))
    for (record_id, name), changed in changes.items():
        changed.sort(key=lambda change: change.at)  # stable: rows of one moment keep their order
        for path in names.get(name, ()):
            into.record(path, record_id, changed, entering.get(path, ()))


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def people_by_object(ids: Sequence[str], sobject_of: Any) -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = {}
    for record_id in ids:
        sobject = sobject_of(record_id)
        if sobject in HISTORY_OF:
            grouped.setdefault(sobject, set()).add(record_id)
    return grouped
