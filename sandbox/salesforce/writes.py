"""Creating, updating and deleting records through the API: validation with Salesforce's error
codes, timestamps, the lead assignment rule, and change notifications for Leads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.salesforce.assignment import AssignmentRule
from sandbox.salesforce.errors import SalesforceApiError, unknown_field
from sandbox.salesforce.field_history import FieldTracking
from sandbox.salesforce.ids import looks_like_id, to_18
from sandbox.salesforce.schema import (
    HISTORY_OF,
    TASK_CLOSED_STATUSES,
    TASK_DEFAULTS,
    FieldDef,
    SObjectDef,
)
from sandbox.salesforce.store import SalesforceStore
from sandbox.salesforce.values import stored_datetime, to_storage

IGNORED_BODY_KEYS = frozenset({"attributes", "id"})
ROLLED_BACK = SalesforceApiError(
    400,
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone "
    "header",
)


@dataclass
class WriteRequest:
    sobject: str
    body: dict[str, Any]
    record_id: str | None = None  # None for a create


@dataclass
class WriteResult:
    record_id: str | None
    error: SalesforceApiError | None = None

    @property
    def success(self) -> bool:
        return self.error is None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.record_id,
            "success": self.success,
            "errors": [self.error.as_record_error()] if self.error else [],
        }


@dataclass
class PreparedWrite:
    sobject: SObjectDef
    record_id: str
    values: dict[str, Any]
    creating: bool
    before: dict[str, Any] = field(default_factory=dict)  # the row as it was (updates)


@dataclass
class WriteOptions:
    auto_assign: bool = True
    all_or_none: bool = False
    fails: Callable[[], bool] = field(default=lambda: False)


class RecordWriter:
    def __init__(
        self,
        store: SalesforceStore,
        clock: Callable[[], datetime],
        default_owner_id: Callable[[], str],
    ) -> None:
        self.store = store
        self.clock = clock
        self.default_owner_id = default_owner_id
        self.assignment_rule: AssignmentRule | None = None
        self.field_tracking = FieldTracking()  # the org's field history configuration
        self.lead_listeners: list[Callable[[list[str]], None]] = []
        # sObjects the API user may read but not edit (its profile or sharing says read only)
        self.no_edit_access: set[str] = set()
        # how many times each record id was written: proves retried writes land exactly once
        self.applied: Counter[str] = Counter()

    # ---- public -----------------------------------------------------------------------------
    def write_one(self, request: WriteRequest, options: WriteOptions) -> str:
        """A single create or update; raises the error a single-record call answers with."""
        result = self.write_many([request], options)[0]
        if result.error is not None:
            raise result.error
        assert result.record_id is not None
        return result.record_id

    def write_many(
        self, requests: Sequence[WriteRequest], options: WriteOptions
    ) -> list[WriteResult]:
        prepared: list[PreparedWrite | None] = []
        results: list[WriteResult] = []
        for request in requests:
            try:
                write = self.prepare(request, options)
                if options.fails():
                    raise lock_error(write.record_id)
                prepared.append(write)
                results.append(WriteResult(write.record_id))
            except SalesforceApiError as error:
                prepared.append(None)
                results.append(WriteResult(request.record_id, error))
        if options.all_or_none and any(not result.success for result in results):
            return [
                result if not result.success else WriteResult(_rolled_back_id(write), ROLLED_BACK)
                for result, write in zip(results, prepared, strict=True)
            ]
        self.apply([write for write in prepared if write is not None])
        return results

    def delete(self, sobject: SObjectDef, record_id: str) -> None:
        existing = self.existing_row(sobject, record_id)
        if existing is None:
            raise SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")
        now = stored_datetime(self.clock())
        self.store.update(
            sobject, existing["Id"],
            {"IsDeleted": 1, "LastModifiedDate": now, "SystemModstamp": now},
        )
        if sobject.name == "Lead":
            self.notify([existing["Id"]])

    def existing_row(self, sobject: SObjectDef, record_id: str) -> dict[str, Any] | None:
        """The live (not deleted) row for an id, or None."""
        if not looks_like_id(record_id) or not record_id.startswith(sobject.key_prefix):
            return None
        row = self.store.fetch(sobject, [to_18(record_id)]).get(to_18(record_id))
        if row is None or row["IsDeleted"]:
            return None
        return row

    def updatable_row(self, sobject: SObjectDef, record_id: str) -> dict[str, Any]:
        row = None
        if looks_like_id(record_id) and record_id.startswith(sobject.key_prefix):
            row = self.store.fetch(sobject, [to_18(record_id)]).get(to_18(record_id))
        if row is None:
            raise entity_missing(record_id)
        if row["IsDeleted"]:
            raise SalesforceApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        if sobject.name == "Lead" and row["IsConverted"]:
            raise SalesforceApiError(
                400, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", []
            )
        return row

    def notify(self, lead_ids: list[str]) -> None:
        for listener in self.lead_listeners:
            listener(lead_ids)

    # ---- preparation ------------------------------------------------------------------------
    def prepare(self, request: WriteRequest, options: WriteOptions) -> PreparedWrite:
        sobject = self.store.schema.get(request.sobject)
        if sobject is None:
            raise SalesforceApiError(
                400, "INVALID_TYPE", f"sObject type '{request.sobject}' is not supported."
            )
        if sobject.name in self.no_edit_access:
            raise SalesforceApiError(
                400, "INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id",
                [],
            )
        creating = request.record_id is None
        existing: dict[str, Any] = {}
        if not creating:
            assert request.record_id is not None
            existing = self.updatable_row(sobject, request.record_id)
        values = self.converted_values(sobject, request.body, creating)
        if creating:
            values = self.with_create_defaults(sobject, values)
        self.check_owner(values)
        if sobject.name == "Lead" and options.auto_assign and self.assignment_rule is not None:
            values["OwnerId"] = self.assignment_rule.next_owner()
        record_id = existing.get("Id") or self.store.ids.mint(sobject.key_prefix)
        merged = {**existing, **values}
        if sobject.name_parts:
            values["Name"] = " ".join(
                str(merged[part]) for part in sobject.name_parts if merged.get(part)
            )
        now = stored_datetime(self.clock())
        if sobject.name == "Task":
            values.update(task_closure({**existing, **values}, now))
        values.update({"LastModifiedDate": now, "SystemModstamp": now})
        if creating:
            values.update({"Id": record_id, "CreatedDate": now, "IsDeleted": 0})
        return PreparedWrite(sobject, record_id, values, creating, existing)

    def converted_values(
        self, sobject: SObjectDef, body: dict[str, Any], creating: bool
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        locked: list[str] = []
        for key, raw in body.items():
            if key.lower() in IGNORED_BODY_KEYS:
                continue
            definition = sobject.get_field(key)
            if definition is None:
                raise unknown_field(key, sobject.name)
            if not (definition.createable if creating else definition.updateable):
                locked.append(definition.name)
                continue
            values[definition.name] = self.checked_value(sobject, definition, raw)
        if locked:
            raise SalesforceApiError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(locked)}. Please check the security "
                "settings of this field and verify that it is read/write for your profile or "
                "permission set.",
                locked,
            )
        if creating:
            missing = [
                item.name for item in sobject.fields
                if item.required_on_create and values.get(item.name) in (None, "")
            ]
            if missing:
                raise SalesforceApiError(
                    400, "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]", missing,
                )
        return values

    def checked_value(self, sobject: SObjectDef, definition: FieldDef, raw: Any) -> Any:
        value = to_storage(definition, raw)
        if value is None and not definition.nillable and definition.type != "boolean":
            raise SalesforceApiError(
                400, "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{definition.name}]", [definition.name],
            )
        if definition.restricted_picklist and value is not None and value not in (
            definition.picklist
        ):
            raise SalesforceApiError(
                400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{definition.name}: bad value for restricted picklist field: {value}",
                [definition.name],
            )
        if definition.type == "reference" and value is not None:
            value = self.checked_reference(definition, str(value))
        return value

    def checked_reference(self, definition: FieldDef, value: str) -> str:
        target = self.store.schema.for_id(value) if looks_like_id(value) else None
        if target is None or target.name not in definition.references:
            raise SalesforceApiError(
                400, "INVALID_CROSS_REFERENCE_KEY",
                f"{definition.name}: id value of incorrect type: {value}", [definition.name],
            )
        record_id = to_18(value)
        row = self.store.fetch(target, [record_id]).get(record_id)
        if row is None or row["IsDeleted"]:
            raise SalesforceApiError(
                400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id",
                [definition.name],
            )
        return str(row["Id"])

    def check_owner(self, values: dict[str, Any]) -> None:
        owner_id = values.get("OwnerId")
        if not owner_id or not str(owner_id).startswith("005"):
            return
        user = self.store.sobject("User")
        row = self.store.fetch(user, [owner_id]).get(owner_id)
        if row is not None and not row["IsActive"]:
            raise SalesforceApiError(
                400, "INACTIVE_OWNER_OR_USER",
                f"operation performed with inactive user [{owner_id}] as owner of record",
                ["OwnerId"],
            )

    def with_create_defaults(self, sobject: SObjectDef, values: dict[str, Any]) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        if sobject.get_field("OwnerId") is not None:
            defaults["OwnerId"] = self.default_owner_id()
        if sobject.name == "Lead":
            defaults["Status"] = "Open - Not Contacted"
        if sobject.name == "Task":
            defaults.update(TASK_DEFAULTS)
        for definition in sobject.fields:
            if definition.type == "boolean":
                defaults[definition.name] = 0
        return {**defaults, **{key: value for key, value in values.items() if value is not None}}

    # ---- applying ---------------------------------------------------------------------------
    def apply(self, writes: list[PreparedWrite]) -> None:
        if not writes:
            return
        with self.store.transaction():
            for write in writes:
                if write.creating:
                    self.store.insert(write.sobject, [write.values])
                else:
                    self.store.update(write.sobject, write.record_id, write.values)
                self.record_history(write)
        self.applied.update(write.record_id for write in writes)
        lead_ids = [write.record_id for write in writes if write.sobject.name == "Lead"]
        if lead_ids:
            self.notify(lead_ids)


    def record_history(self, write: PreparedWrite) -> None:
        """Rows in LeadHistory / ContactHistory for the tracked fields the update changed (or the
        `created` row of a new record), made by the API user (the integration user)."""
        at, user = write.values["LastModifiedDate"], self.default_owner_id()
        tracking, sobject, record_id, mint = (
            self.field_tracking, write.sobject, write.record_id, self.store.ids.mint)
        if write.creating:
            rows = tracking.created_row(sobject, record_id, at, user, mint)
        else:
            rows = tracking.rows(sobject, record_id, write.before, write.values, at, user, mint)
        if rows:
            history = HISTORY_OF[write.sobject.name][0]
            self.store.insert(self.store.sobject(history), rows)


def task_closure(task: dict[str, Any], now: str) -> dict[str, Any]:
    """A Task's read-only IsClosed, from its status, and CompletedDateTime: stamped when it
    closes, cleared when it reopens."""
    closed = task.get("Status") in TASK_CLOSED_STATUSES
    completed = (task.get("CompletedDateTime") or now) if closed else None
    return {"IsClosed": int(closed), "CompletedDateTime": completed}


def lock_error(record_id: str) -> SalesforceApiError:
    return SalesforceApiError(
        400, "UNABLE_TO_LOCK_ROW",
        f"unable to obtain exclusive access to this record or 1 records: {record_id}",
    )


def entity_missing(record_id: str) -> SalesforceApiError:
    return SalesforceApiError(
        404, "NOT_FOUND", "The requested resource does not exist", []
    ) if looks_like_id(record_id) else SalesforceApiError(
        404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: "
        f"{record_id}", [],
    )


def _rolled_back_id(write: PreparedWrite | None) -> str | None:
    if write is None or write.creating:
        return None
    return write.record_id

