"""The audit log and the write-ahead audit in the DynamoDB state table."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime

from sync.audit_rows import AuditRow, audit_rows, unpacked_fields
from sync.state import (
    AuditEntry,
    IntendedWrites,
    epoch_seconds,
    from_iso,
    intended_writes_key,
    iso_utc,
    require_positive,
)
from sync.state_dynamodb.table import DynamoDBTable, Item, item_key, number_attribute
from sync.state_dynamodb.values import NumberKinds, decode_scalars

INTENDED_PART_BYTES = 300_000  # DynamoDB items hold at most 400 KB


class DynamoDBAudit(DynamoDBTable):
    """Audit rows (one item per lead per run), intended writes recorded before a CRM call."""

    def record_intended_writes(self, intended: IntendedWrites) -> None:
        self._batch_put(_intended_parts(intended))

    def settle_intended_writes(
        self, intended: IntendedWrites, applied: Sequence[AuditEntry]
    ) -> None:
        # The audit first: killed in between, the intended write stays and is settled again.
        self.append_audit(applied)
        self._batch_write(
            [
                {"DeleteRequest": {"Key": item_key(part["pk"]["S"], part["sk"]["S"])}}
                for part in _intended_parts(intended)
            ]
        )

    def unsettled_intended_writes(self, crm: str) -> list[IntendedWrites]:
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": _intended_pk(crm)}},
        )
        parts: dict[str, list[Item]] = {}
        for item in items:  # in key order: by recorded time, id, then part
            parts.setdefault(item["intent_key"]["S"], []).append(item)
        return [_intended_writes(crm, written) for written in parts.values()]

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Add entries to their rows (one item per lead and run): a field given again replaces
        its earlier entry, the row's other fields stay."""
        rows = audit_rows(entries)
        stored = {
            (row.lead_id, row.at, row.run_id): row
            for row in map(_audit_row, self._batch_get(_audit_key(row) for row in rows))
        }
        self._batch_put([_audit_item(row.merged_over(stored.get(row.key))) for row in rows])

    def audit_for(self, lead_id: str, limit: int = 50) -> list[AuditEntry]:
        wanted = require_positive(limit)
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": _audit_pk(lead_id)}},
            ScanIndexForward=False,
            limit=wanted,  # every item holds one entry at least
        )
        found = [entry for item in items for entry in _audit_entries(item)]
        return found[:wanted]

    def prune_audit(self, now: datetime) -> int:
        return 0  # the table's TTL deletes rows once their `expires_at` has passed


def _audit_pk(lead_id: str) -> str:
    return f"AUDIT#{lead_id}"


def _audit_key(row: AuditRow) -> Item:
    return item_key(_audit_pk(row.lead_id), row.sort_key)


def _audit_item(row: AuditRow) -> Item:
    item: Item = {
        **_audit_key(row),
        "at": {"S": iso_utc(row.at)},
        "run_id": {"S": row.run_id},
        "crm": {"S": row.crm},
        "lead_id": {"S": row.lead_id},
        "model_version": {"S": row.model_version},
        "actor": {"S": row.actor},
        "fields": {"B": row.packed_fields()},
    }
    if row.keep_until is not None:
        item["keep_until"] = {"S": iso_utc(row.keep_until)}
        item["expires_at"] = number_attribute(math.ceil(epoch_seconds(row.keep_until)))
    return item


def _audit_row(item: Item) -> AuditRow:
    return AuditRow(
        lead_id=item["lead_id"]["S"],
        at=from_iso(item["at"]["S"]),
        run_id=item["run_id"]["S"],
        crm=item["crm"]["S"],
        model_version=item["model_version"]["S"],
        actor=item["actor"]["S"],
        keep_until=from_iso(item["keep_until"]["S"]) if "keep_until" in item else None,
        fields=unpacked_fields(item["fields"]["B"]),
    )


def _audit_entries(item: Item) -> list[AuditEntry]:
    """A row's entries; an item written before rows (one per field) is one entry."""
    if "fields" in item:
        return _audit_row(item).entries()
    changes = decode_scalars(
        {"before": item["before"], "after": item["after"]}, NumberKinds.read(item)
    )
    return [
        AuditEntry(
            at=from_iso(item["at"]["S"]),
            run_id=item["run_id"]["S"],
            crm=item["crm"]["S"],
            lead_id=item["lead_id"]["S"],
            field=item["field"]["S"],
            before=changes["before"],
            after=changes["after"],
            reasons=item["reasons"]["S"],
            model_version=item["model_version"]["S"],
            actor=item["actor"]["S"],
        )
    ]


def _intended_pk(crm: str) -> str:
    return f"INTENDED#{crm}"


def _intended_parts(intended: IntendedWrites) -> list[Item]:
    """The items an intended write is stored as: its entries in parts of bounded size (always at
    least one part, so that an intended write without entries is stored too)."""
    intent_key = intended_writes_key(intended)
    parts: list[list[str]] = [[]]
    size = 0
    for entry in intended.entries:
        encoded = entry.model_dump_json()
        if parts[-1] and size + len(encoded.encode()) > INTENDED_PART_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(encoded)
        size += len(encoded.encode())
    return [
        {
            **item_key(_intended_pk(intended.crm), f"{intent_key}#{number:04d}"),
            "intent_key": {"S": intent_key},
            "id": {"S": intended.id},
            "recorded_at": {"S": iso_utc(intended.recorded_at)},
            "writer": {"S": intended.writer},
            "entries": {"S": f"[{','.join(part)}]"},
        }
        for number, part in enumerate(parts)
    ]


def _intended_writes(crm: str, parts: list[Item]) -> IntendedWrites:
    return IntendedWrites(
        id=parts[0]["id"]["S"],
        crm=crm,
        recorded_at=from_iso(parts[0]["recorded_at"]["S"]),
        writer=parts[0]["writer"]["S"],
        entries=tuple(
            AuditEntry.model_validate(entry)
            for part in parts
            for entry in json.loads(part["entries"]["S"])
        ),
    )
