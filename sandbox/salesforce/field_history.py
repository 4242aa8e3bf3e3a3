"""Field history: LeadHistory and ContactHistory, for the fields the org tracks.

Each row is one change of one tracked field: `Field` (the field's API name), `DataType`,
`OldValue`, `NewValue` (anyType: kept as text here), `CreatedDate` (when it changed),
`CreatedById` (who changed it) and the parent's id in `LeadId` / `ContactId` (Object Reference,
LeadHistory; StandardObjectNameHistory). Only fields with history tracking enabled get rows, and
an object tracks at most 20 fields (Setup › Object Manager › Fields & Relationships › Set History
Tracking): which fields is the org's configuration (`FieldTracking`), set when the emulator
starts. Values a record was created or seeded with have no row of their own (a record created
through the API gets one row with Field `created`); the API's updates and the seed's later
changes (a conversion's Status, a rep's rating after it) do. Every history id
begins with 017, as on a real org.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.salesforce.schema import (
    HISTORY_OF,
    HISTORY_PREFIX,
    PLANTED_FIELDS,
    FieldDef,
    SObjectDef,
)
from sandbox.salesforce.values import stored_datetime

MAX_TRACKED_FIELDS = 20
DEFAULT_TRACKED: dict[str, tuple[str, ...]] = {
    "Lead": ("Status", "OwnerId", "Rating"),
    "Contact": ("OwnerId",),
}


@dataclass(frozen=True)
class FieldTracking:
    """Which fields of Lead and Contact the org tracks the history of."""

    tracked: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_TRACKED)

    def __post_init__(self) -> None:
        for sobject, names in self.tracked.items():
            if len(names) > MAX_TRACKED_FIELDS:
                raise ValueError(f"{sobject} can track at most {MAX_TRACKED_FIELDS} fields")

    def with_fields(self, sobject: str, names: tuple[str, ...]) -> FieldTracking:
        current = self.tracked.get(sobject, ())
        return FieldTracking({**self.tracked, sobject: current + names})

    def created_row(
        self, sobject: SObjectDef, record_id: str, at: str, user_id: str, mint: Any
    ) -> list[dict[str, Any]]:
        """A record created through the API, in an object with tracked fields, gets one row
        whose Field is `created` and whose values are empty."""
        if sobject.name not in HISTORY_OF or not self.tracked.get(sobject.name):
            return []
        _, parent_field = HISTORY_OF[sobject.name]
        return [{"Id": mint(HISTORY_PREFIX), "IsDeleted": 0, "CreatedDate": at,
                 "CreatedById": user_id, parent_field: record_id, "Field": "created",
                 "DataType": None, "OldValue": None, "NewValue": None}]

    def rows(
        self,
        sobject: SObjectDef,
        record_id: str,
        before: Mapping[str, Any],
        after: Mapping[str, Any],
        at: datetime | str,
        user_id: str,
        mint: Any,
    ) -> list[dict[str, Any]]:
        """One history row per tracked field whose value `after` differs from `before`;
        `mint(prefix)` makes the ids."""
        if sobject.name not in HISTORY_OF:
            return []
        _, parent_field = HISTORY_OF[sobject.name]
        moment = at if isinstance(at, str) else stored_datetime(at)
        rows = []
        for name in self.tracked.get(sobject.name, ()):
            definition = sobject.get_field(name)
            if definition is None or name not in after or after[name] == before.get(name):
                continue
            rows.append({
                "Id": mint(HISTORY_PREFIX), "IsDeleted": 0, "CreatedDate": moment,
                "CreatedById": user_id, parent_field: record_id, "Field": definition.name,
                "DataType": _data_type(definition), "OldValue": _text(before.get(name)),
                "NewValue": _text(after[name]),
            })
        return rows


def _data_type(definition: FieldDef) -> str:
    return {"reference": "EntityId", "picklist": "DynamicEnum", "string": "Text",
            "textarea": "TextArea"}.get(definition.type, definition.type.capitalize())


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def org_tracking(planted: bool) -> FieldTracking:
    """The sandbox org's configuration: the default tracked fields, and the planted fields on
    Lead and Contact when the org plants them (sandbox.orgs.sales_fields)."""
    tracking = FieldTracking()
    if planted:
        for sobject in HISTORY_OF:
            tracking = tracking.with_fields(sobject, tuple(PLANTED_FIELDS.values()))
    return tracking
