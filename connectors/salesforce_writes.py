"""Writes through sObject Collections and the custom-field check.

Updates go out as `PATCH composite/sobjects` with `allOrNone: false`, at most 200 records a
request, grouped by object type (Salesforce cuts a request into a chunk at every change of type
and refuses more than 10 chunks: "Cannot have more than 10 chunks in a single operation", REST API
guide, resources_composite_sobjects_collections_update), always with `Sforce-Auto-Assign: FALSE`:
without it the org's active lead assignment rule runs on every Lead update — even a score-only
one — and silently replaces the owner.
Each record's result becomes a `WriteResult`; records that failed transiently
(UNABLE_TO_LOCK_ROW and friends) are resent alone, with backoff, and counted as retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from simple_salesforce import Salesforce

from connectors.base import FieldsReport, OutputField, SchemaCache
from connectors.records import LeadUpdate, WriteResult
from connectors.retry import MissingFieldError, PermissionDeniedError
from connectors.salesforce_calls import (
    README_FIELDS,
    SalesforceCalls,
    missing_field_error,
)
from connectors.salesforce_login import one_line
from connectors.salesforce_records import salesforce_field_name

COLLECTION_LIMIT = 200
NO_AUTO_ASSIGN = {"Sforce-Auto-Assign": "FALSE"}
TRANSIENT_RECORD_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"})
SOBJECT_OF_KIND = {"lead": "Lead", "contact": "Contact"}
SALESFORCE_TYPES = {
    "number": "Number(18, 2)",
    "string": "Text(255)",
    "datetime": "Date/Time",
    "enumeration": "Picklist",
}
LONG_TEXT_FIELDS = frozenset({"leadq_Reasons__c"})


def wire_value(value: Any) -> Any:
    """A value as Salesforce's JSON expects it."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def collection_record(update: LeadUpdate) -> dict[str, Any]:
    return {
        "attributes": {"type": SOBJECT_OF_KIND[update.kind]},
        "id": update.lead_id,
        **{name: wire_value(value) for name, value in update.changes.items()},
    }


def record_error_message(update: LeadUpdate, code: str, message: str, fields: list[str]) -> str:
    """One line that tells a RevOps admin what happened to this record and what to do."""
    sobject = SOBJECT_OF_KIND[update.kind]
    subject = f"{sobject} {update.lead_id}"
    named = ", ".join(fields) or "a field"
    messages = {
        "CANNOT_UPDATE_CONVERTED_LEAD": (
            f"{subject} was converted; Salesforce keeps converted leads read-only, so leadq "
            "leaves it alone"
        ),
        "ENTITY_IS_DELETED": f"{subject} was deleted in Salesforce; nothing was written",
        "NOT_FOUND": f"{subject} no longer exists in Salesforce; nothing was written",
        "INACTIVE_OWNER_OR_USER": (
            f"{subject}: the owner leadq chose is an inactive Salesforce user; reactivate the "
            "user or take them out of the routing pool"
        ),
        "INSUFFICIENT_ACCESS_OR_READONLY": (
            f"{subject}: the integration user may not edit this record; give it edit access "
            f"to {sobject} (profile, permission set or sharing)"
        ),
        "INVALID_FIELD_FOR_INSERT_UPDATE": (
            f"{subject}: the integration user may not edit {named}; make the field editable "
            "for it (field-level security)"
        ),
        "FIELD_CUSTOM_VALIDATION_EXCEPTION": (
            f"{subject}: an org validation rule refused the update ({message}); relax the rule "
            "for the integration user"
        ),
        "UNABLE_TO_LOCK_ROW": (
            f"{subject} stayed locked by another Salesforce process through every retry; the "
            "next run writes it"
        ),
    }
    missing = missing_field_error(message) if code == "INVALID_FIELD" else None
    if missing is not None:
        return f"{subject}: {missing}"
    return messages.get(code, f"{subject}: Salesforce refused the update ({code}: {message})")


@dataclass
class RecordError:
    code: str
    message: str
    fields: list[str]


def record_errors(result: dict[str, Any]) -> RecordError:
    errors = result.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    return RecordError(
        str(first.get("statusCode") or first.get("errorCode") or "UNKNOWN_EXCEPTION"),
        one_line(first.get("message") or ""),
        [str(name) for name in first.get("fields") or []],
    )


class CollectionWriter:
    """Writes LeadUpdates in sObject Collections of at most 200."""

    def __init__(self, calls: SalesforceCalls, batch_size: int = COLLECTION_LIMIT) -> None:
        self.calls = calls
        self.batch_size = min(batch_size, COLLECTION_LIMIT)

    def write(self, updates: Sequence[LeadUpdate]) -> list[WriteResult]:
        """Each update's result, in the order given; sent grouped by object type so that no
        request holds more than one chunk per type."""
        results: dict[int, WriteResult] = {}
        indexed = sorted(enumerate(updates), key=lambda item: SOBJECT_OF_KIND[item[1].kind])
        for start in range(0, len(indexed), self.batch_size):
            self.write_batch(indexed[start : start + self.batch_size], results)
        return [results[index] for index in range(len(updates))]

    def write_batch(
        self, batch: list[tuple[int, LeadUpdate]], results: dict[int, WriteResult]
    ) -> None:
        last_errors: dict[int, RecordError] = {}

        def send(client: Salesforce, items: Sequence[tuple[int, LeadUpdate]]) -> list[
            tuple[int, LeadUpdate]
        ]:
            answer = client.restful(
                "composite/sobjects", method="PATCH", headers=NO_AUTO_ASSIGN,
                json={"allOrNone": False,
                      "records": [collection_record(update) for _, update in items]},
                timeout=self.calls.timeout,
            )
            return self.settle(items, answer or [], results, last_errors)

        still_failing = self.calls.call_batch("write", batch, send)
        for index, update in still_failing:
            error = last_errors[index]
            results[index] = WriteResult(
                lead_id=update.lead_id, ok=False, transient=True,
                error=record_error_message(update, error.code, error.message, error.fields),
            )

    def settle(
        self,
        items: Sequence[tuple[int, LeadUpdate]],
        answer: list[dict[str, Any]],
        results: dict[int, WriteResult],
        last_errors: dict[int, RecordError],
    ) -> list[tuple[int, LeadUpdate]]:
        """Record each item's result; return the items worth sending again."""
        retry = []
        for (index, update), result in zip(items, answer, strict=True):
            if result.get("success"):
                results[index] = WriteResult(lead_id=update.lead_id, ok=True)
                continue
            error = record_errors(result)
            if error.code in TRANSIENT_RECORD_CODES:
                last_errors[index] = error
                retry.append((index, update))
                continue
            results[index] = WriteResult(
                lead_id=update.lead_id, ok=False,
                error=record_error_message(update, error.code, error.message, error.fields),
            )
        return retry


# ---- custom fields ------------------------------------------------------------------------------
def recommended_type(field: OutputField, name: str) -> str:
    if name in LONG_TEXT_FIELDS:
        return "Long Text Area(32768)"
    if field.type == "enumeration" and field.options:
        return f"Picklist ({', '.join(field.options)})"
    return SALESFORCE_TYPES.get(field.type, "Text(255)")


DESCRIBE_KEPT = ("name", "type", "length", "updateable")  # what leadq reads of a field's describe


class FieldCheck:
    """Checks by describe that leadq's output fields exist (creating them needs the Metadata
    API, which leadq does not use: an admin creates them once)."""

    def __init__(self, calls: SalesforceCalls, objects: Sequence[str]) -> None:
        self.calls = calls
        self.objects = list(objects)
        self.described: dict[str, dict[str, dict[str, Any]]] = {}
        self.schema_cache: SchemaCache | None = None  # describe kept between runs

    def describe(self, sobject: str, fresh: bool = False) -> dict[str, dict[str, Any]]:
        """Field name (lower case) → its describe entry (name, type, length, updateable); one
        request per object, kept for the run and, with a `schema_cache`, between runs — unless
        `fresh` (checking leadq's own fields reads what the CRM holds now)."""
        if fresh or sobject not in self.described:
            kept = None if fresh or self.schema_cache is None else (
                self.schema_cache.get(f"salesforce:{sobject}"))
            self.described[sobject] = kept if kept is not None else self._read(sobject)
        return self.described[sobject]

    def _read(self, sobject: str) -> dict[str, dict[str, Any]]:
        answer = self.calls.restful("describe", f"sobjects/{sobject}/describe")
        described = {str(entry["name"]).lower(): entry for entry in answer.get("fields", [])}
        if self.schema_cache is not None:
            self.schema_cache.put(f"salesforce:{sobject}", {
                name: {key: entry[key] for key in DESCRIBE_KEPT if key in entry}
                for name, entry in described.items()
            })
        return described

    def report(self, fields: Sequence[OutputField]) -> tuple[FieldsReport, list[str], list[str]]:
        """(report, lines naming missing fields with their type, read-only fields)."""
        report = FieldsReport()
        missing_lines: list[str] = []
        read_only: list[str] = []
        for sobject in self.objects:
            described = self.describe(sobject, fresh=True)
            for field in fields:
                name = salesforce_field_name(field.name)
                entry = described.get(name.lower())
                qualified = f"{sobject}.{name}"
                if entry is None:
                    report.missing.append(qualified)
                    missing_lines.append(
                        f"{qualified} ({recommended_type(field, name)}, label '{field.label}')"
                    )
                elif not entry.get("updateable", True):
                    read_only.append(qualified)
                else:
                    report.existing.append(qualified)
        return report, missing_lines, read_only

    def ensure(self, fields: Sequence[OutputField]) -> FieldsReport:
        report, missing_lines, read_only = self.report(fields)
        if missing_lines:
            raise MissingFieldError(
                f"Salesforce lacks {len(missing_lines)} of leadq's fields; an admin must create "
                f"them in Setup › Object Manager (the Metadata API is needed to do it "
                f"automatically, which leadq does not use): {'; '.join(missing_lines)}. "
                f"See {README_FIELDS}."
            )
        if read_only:
            raise PermissionDeniedError(
                f"the integration user cannot edit {', '.join(read_only)}: make them editable "
                "for it (field-level security)"
            )
        return report
