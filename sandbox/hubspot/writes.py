"""Writing records the way HubSpot does: validation, string values, the lifecycle rule, changes.

* Every written value is validated against the property's definition; any unknown, read-only or
  invalid property rejects the whole write with HubSpot's 400 (PROPERTY_DOESNT_EXIST,
  READ_ONLY_VALUE, INVALID_OPTION, INVALID_DATE, …), naming each property.
* `lifecyclestage` only moves forward in the order of its options. A backward write is ignored
  silently (the request succeeds, the value stays). To move back, write "" first, in its own
  request; any stage may then be written.
* Entering a lifecycle stage (on creation or update) sets its `hs_lifecyclestage_<stage>_date`
  to the moment of the write, as HubSpot does; backtest and learn date conversions by them.
* A task must be created with `hs_timestamp` (its due date); when its `hs_task_status` becomes
  COMPLETED without a completion date, `hs_task_completion_date` is stamped with the moment.
* Writing "" clears a value. The last-modified date moves on every write, even one that changes
  nothing, and strictly increases per record.
* Every effective change (creation, each property whose value changed, deletion, restore, merge,
  a new association) is handed to the change listeners with its source, after it is stored.
* A merge keeps the primary record: it takes the merged record's values for the properties it has
  no value for (not the e-mail, which stays unique) and its company associations; the merged
  record is archived without a deletion of its own (the merge says it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.hubspot import errors
from sandbox.hubspot.association_types import both_directions, unlabeled_type
from sandbox.hubspot.history import record_writes
from sandbox.hubspot.schema import (
    OBJECT_TYPES,
    REQUIRED_ON_CREATE,
    InvalidValueError,
    PropertyDefinition,
    format_ms,
    lifecycle_date_property,
    normalize_value,
)
from sandbox.hubspot.store import HistoryEntry, HubSpotStore, NewRecord, StoredRecord


@dataclass(frozen=True)
class ChangeSource:
    """Who wrote: INTEGRATION + the app id for API writes, CRM_UI or AUTOMATION otherwise."""

    change_source: str
    source_id: str | None = None


@dataclass(frozen=True)
class RecordChange:
    object_type: str
    object_id: int
    kind: str  # creation, propertyChange, deletion, restore, merge or associationChange
    occurred_ms: int
    property_name: str | None = None
    property_value: str | None = None
    details: tuple[tuple[str, Any], ...] = ()  # the event's own fields (merge, associationChange)


ChangeListener = Callable[[list[RecordChange], ChangeSource], None]


@dataclass(frozen=True)
class AssociationInput:
    to_type: str
    to_id: int
    type_ids: tuple[int, ...]


class RecordWriter:
    def __init__(self, store: HubSpotStore, now_ms: Callable[[], int]) -> None:
        self.store = store
        self.now_ms = now_ms
        self.listeners: list[ChangeListener] = []

    # ---- validation ---------------------------------------------------------------------------

    def validate(self, object_type: str, raw: Any) -> dict[str, str]:
        """The normalised strings to write, or a 400 naming every invalid property."""
        if not isinstance(raw, dict):
            raise errors.bad_request("`properties` must be an object of property names to values")
        definitions = self.store.definitions(object_type)
        computed = OBJECT_TYPES[object_type].computed_properties
        normalised, problems = {}, []
        for name, value in raw.items():
            definition = definitions.get(name)
            if definition is None:
                problems.append(errors.unknown_property(name))
            elif definition.read_only_value or name in computed:
                problems.append(errors.read_only_property(name))
            else:
                try:
                    normalised[name] = self._normalise(definition, value)
                except InvalidValueError as invalid:
                    problems.append((name, invalid.code, invalid.message))
        if problems:
            raise errors.property_problems(problems)
        return normalised

    def _normalise(self, definition: PropertyDefinition, value: Any) -> str:
        text = normalize_value(definition, value)
        if definition.name == "hubspot_owner_id" and text and not self._is_owner(text):
            raise InvalidValueError(
                "INVALID_OPTION", f"{text} was not one of the allowed options: the portal's owners"
            )
        return text

    def _is_owner(self, text: str) -> bool:
        return text.isdigit() and self.store.owner(int(text)) is not None

    # ---- writes -------------------------------------------------------------------------------

    def create(
        self,
        object_type: str,
        inputs: Sequence[dict[str, str]],
        source: ChangeSource,
        associations: Sequence[Sequence[AssociationInput]] = (),
    ) -> list[StoredRecord]:
        """Create records from validated properties; 409 if a contact's e-mail is taken."""
        self._refuse_missing_required(object_type, inputs)
        now = self.now_ms()
        with self.store.transaction():
            self._refuse_taken_emails(object_type, [props.get("email") for props in inputs])
            ids = self.store.allocate_ids(len(inputs))
            records = [
                NewRecord(record_id, object_type, now, now, _completion_dated(self._stage_dated(
                    object_type, {name: value for name, value in properties.items() if value != ""},
                    now,
                ), now))
                for record_id, properties in zip(ids, inputs, strict=True)
            ]
            self.store.insert_records(records, written_ms=now)
            self.store.insert_history(
                HistoryEntry(record.id, name, now, value, source.change_source, source.source_id)
                for record in records for name, value in record.properties.items()
            )
            for record, links in zip(records, associations, strict=False):
                self._associate(object_type, record.id, links)
        changes = [
            change
            for record in records
            for change in [
                RecordChange(object_type, record.id, "creation", now),
                *(RecordChange(object_type, record.id, "propertyChange", now, name, value)
                  for name, value in sorted(record.properties.items())),
            ]
        ]
        self._notify(changes, source)
        stored = self.store.records(object_type, list(ids))
        return [stored[record_id] for record_id in ids]

    def _associate(
        self, object_type: str, record_id: int, links: Sequence[AssociationInput]
    ) -> None:
        for link in links:
            if not self.store.records(link.to_type, [link.to_id]):
                raise errors.bad_request(
                    f"Cannot associate with {link.to_type} {link.to_id}: it does not exist"
                )
            self.store.associate(
                both_directions(object_type, record_id, link.to_type, link.to_id, link.type_ids)
            )

    def update(
        self,
        object_type: str,
        updates: Sequence[tuple[StoredRecord, dict[str, str]]],
        source: ChangeSource,
        now_ms: int | None = None,
    ) -> list[StoredRecord]:
        """Apply validated properties to existing records (lifecycle rule included).

        The records are read again inside the transaction, so concurrent writers never undo each
        other's changes to other properties.
        """
        now = self.now_ms() if now_ms is None else now_ms
        ids = [record.id for record, _ in updates]
        changes: list[RecordChange] = []
        with self.store.transaction():
            self._refuse_taken_emails(
                object_type, [properties.get("email") for _, properties in updates], own_ids=ids
            )
            current = self.store.records(object_type, ids)
            for record_id, (_, properties) in zip(ids, updates, strict=True):
                if record_id not in current:  # archived by a concurrent request
                    raise errors.not_found(str(record_id))
                record = current[record_id]
                updated_ms = max(now, record.updated_ms + 1)
                merged, changed = self._merge(object_type, record.properties, properties,
                                              updated_ms)
                self.store.rewrite_record(record.id, merged, updated_ms, self.now_ms())
                record_writes(self.store, record, changed, updated_ms,
                              (source.change_source, source.source_id))
                changes.extend(
                    RecordChange(object_type, record.id, "propertyChange", updated_ms, name, value)
                    for name, value in changed.items()
                )
        self._notify(changes, source)
        stored = self.store.records(object_type, ids)
        return [stored[record_id] for record_id in ids]

    def archive(self, object_type: str, records: Sequence[StoredRecord],
                source: ChangeSource) -> None:
        now = self.now_ms()
        self.store.archive_records([record.id for record in records], now)
        self._notify([RecordChange(object_type, record.id, "deletion", now) for record in records],
                     source)

    def restore(self, object_type: str, ids: Sequence[int], source: ChangeSource) -> None:
        """Bring archived records back, as HubSpot's recycle bin does; 409 if a restored contact's
        e-mail now belongs to another contact."""
        now = self.now_ms()
        with self.store.transaction():
            found = self.store.records(object_type, ids, archived=True)
            self._refuse_taken_emails(
                object_type, [record.value("email") for record in found.values()]
            )
            self.store.restore_records(list(found), now)
        self._notify([RecordChange(object_type, record_id, "restore", now) for record_id in found],
                     source)

    def merge(self, object_type: str, primary: StoredRecord, merged: StoredRecord,
              source: ChangeSource) -> StoredRecord:
        """Merge `merged` into `primary` (which keeps its id); the merged record is archived."""
        if primary.id == merged.id:
            raise errors.bad_request("A record cannot be merged into itself")
        now = self.now_ms()
        self.store.archive_records([merged.id], now)
        moved = self._blank_filling(object_type, primary, merged)
        self._move_companies(object_type, primary.id, merged.id)
        survivor = self.update(object_type, [(primary, moved)], source)[0] if moved else primary
        self._notify([RecordChange(object_type, primary.id, "merge", now, details=(
            ("primaryObjectId", primary.id), ("mergedObjectIds", [merged.id]),
            ("newObjectId", primary.id), ("numberOfPropertiesMoved", len(moved)),
        ))], source)
        return survivor

    def _blank_filling(self, object_type: str, primary: StoredRecord,
                       merged: StoredRecord) -> dict[str, str]:
        definitions = self.store.definitions(object_type)
        computed = OBJECT_TYPES[object_type].computed_properties
        return {
            name: value for name, value in merged.properties.items()
            if name not in primary.properties and name != "email" and name not in computed
            and name in definitions and not definitions[name].read_only_value
        }

    def _move_companies(self, object_type: str, primary_id: int, merged_id: int) -> None:
        type_id = unlabeled_type(object_type, "companies")
        if type_id is None:
            return
        pairs = self.store.associations(object_type, [merged_id], "companies").get(merged_id, [])
        for company_id, _ in pairs:
            self.store.associate(
                both_directions(object_type, primary_id, "companies", company_id, (type_id,))
            )

    def associate_default(self, from_type: str, from_id: int, to_type: str, to_id: int,
                          source: ChangeSource) -> int:
        """The unlabeled association between two existing records; its type id."""
        type_id = unlabeled_type(from_type, to_type)
        if type_id is None:
            raise errors.bad_request(f"No default association from {from_type} to {to_type}")
        for object_type, object_id in ((from_type, from_id), (to_type, to_id)):
            if not self.store.records(object_type, [object_id]):
                raise errors.not_found(str(object_id))
        self.store.associate(both_directions(from_type, from_id, to_type, to_id, (type_id,)))
        self._notify([self._association_change(from_type, from_id, to_type, to_id),
                      self._association_change(to_type, to_id, from_type, from_id)], source)
        return type_id

    def _association_change(self, from_type: str, from_id: int, to_type: str,
                            to_id: int) -> RecordChange:
        """One side's event (`CONTACT_TO_COMPANY`); HubSpot sends one for each side."""
        kind = (f"{OBJECT_TYPES[from_type].singular}_TO_{OBJECT_TYPES[to_type].singular}").upper()
        return RecordChange(from_type, from_id, "associationChange", self.now_ms(), details=(
            ("associationType", kind), ("fromObjectId", from_id), ("toObjectId", to_id),
            ("associationRemoved", False), ("isPrimaryAssociation", False),
        ))

    # ---- the rules ----------------------------------------------------------------------------

    def _merge(
        self, object_type: str, current: dict[str, str], incoming: dict[str, str], now_ms: int
    ) -> tuple[dict[str, str], dict[str, str]]:
        merged, changed = dict(current), {}
        for name, value in incoming.items():
            if name == "lifecyclestage":
                value = self._forward_only(object_type, current.get(name, ""), value)
            if value == current.get(name, ""):
                continue
            if value == "":
                merged.pop(name, None)
            else:
                merged[name] = value
            changed[name] = value
        completed = _completion_dated(merged, now_ms)
        if completed != merged:
            changed["hs_task_completion_date"] = completed["hs_task_completion_date"]
            merged = completed
        if changed.get("lifecyclestage"):
            dated = self._stage_dated(object_type, {"lifecyclestage": changed["lifecyclestage"]},
                                      now_ms)
            merged.update(dated)
            changed.update(dated)
        return merged, changed

    def _stage_dated(self, object_type: str, properties: dict[str, str], now_ms: int) -> (
        dict[str, str]
    ):
        """`properties` with the date the record entered its lifecycle stage, if they set one
        (HubSpot's read-only `hs_lifecyclestage_<stage>_date`)."""
        stage = properties.get("lifecyclestage")
        name = lifecycle_date_property(stage) if stage else None
        if name is None or name not in self.store.definitions(object_type):
            return properties
        return {**properties, name: format_ms(now_ms)}

    @staticmethod
    def _refuse_missing_required(object_type: str, inputs: Sequence[dict[str, str]]) -> None:
        missing = sorted({
            name for properties in inputs for name in REQUIRED_ON_CREATE.get(object_type, ())
            if not properties.get(name)
        })
        if missing:
            raise errors.property_problems(
                (name, "REQUIRED_PROPERTY", f'"{name}" is required to create a '
                 f"{OBJECT_TYPES[object_type].singular}.") for name in missing
            )

    def _forward_only(self, object_type: str, current: str, wanted: str) -> str:
        """HubSpot ignores a backward lifecycle move unless the stage was cleared first."""
        if not current or not wanted:
            return wanted
        order = self.store.definitions(object_type)["lifecyclestage"].option_values
        if current in order and wanted in order and order.index(wanted) < order.index(current):
            return current
        return wanted

    def _refuse_taken_emails(
        self, object_type: str, emails: Sequence[str | None], own_ids: Sequence[int] = ()
    ) -> None:
        if object_type != "contacts":
            return
        wanted = [email for email in emails if email]
        lowered = [email.lower() for email in wanted]
        duplicates = {email for email in lowered if lowered.count(email) > 1}
        if duplicates:
            raise errors.conflict(f"Duplicate e-mail in the request: {sorted(duplicates)[0]}")
        for record in self.store.records_by_email(wanted).values():
            if record.id not in own_ids:
                raise errors.conflict(f"Contact already exists. Existing ID: {record.id}")

    def _notify(self, changes: list[RecordChange], source: ChangeSource) -> None:
        if not changes:
            return
        for listener in self.listeners:
            listener(changes, source)


def _completion_dated(properties: dict[str, str], now_ms: int) -> dict[str, str]:
    """A completed task carries the moment it was completed (HubSpot's
    `hs_task_completion_date`), unless one was written."""
    if properties.get("hs_task_status") != "COMPLETED" or properties.get("hs_task_completion_date"):
        return properties
    return {**properties, "hs_task_completion_date": format_ms(now_ms)}
