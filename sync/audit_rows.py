"""The audit log's compact rows, shared by both state backends: one row per lead per run.

A write changes several fields of a lead at once (score, grade, reasons, stage …); the audit keeps
them as one row — the lead, the run and its time, the model version, the actor, when the row may
be pruned — with the fields as one JSON object, packed by sync/packed_json.py (zlib with a preset
dictionary; rows from before it are plain zlib and read as ever):

    {"leadq_score": {"before": 12, "after": 18, "why": "score 12 → 18"}, …}

A value that is None and an empty reason are left out; an entry whose crm, model version, actor or
retention differ from its row's carries its own. `AuditEntry` stays the unit callers see (one
field's change): a row expands into its entries, newest field name first, the order the audit
always listed them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sync.packed_json import pack_json, unpack_json
from sync.state import AuditEntry, from_iso, iso_utc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
ROW_ATTRIBUTES = ("crm", "model_version", "actor", "keep_until")

RowKey = tuple[str, datetime, str]  # lead id, at, run id


@dataclass(frozen=True)
class AuditRow:
    """One lead's changes in one run, with the attributes its fields share."""

    lead_id: str
    at: datetime
    run_id: str
    crm: str
    model_version: str
    actor: str
    keep_until: datetime | None
    fields: dict[str, dict[str, Any]]

    @property
    def key(self) -> RowKey:
        return self.lead_id, self.at, self.run_id

    @property
    def sort_key(self) -> str:
        """The row's identity within its lead, and its place in time order."""
        return f"{iso_utc(self.at)}#{self.run_id}"

    @classmethod
    def of(cls, first: AuditEntry, fields: dict[str, dict[str, Any]]) -> AuditRow:
        return cls(
            first.lead_id,
            first.at,
            first.run_id,
            first.crm,
            first.model_version,
            first.actor,
            first.keep_until,
            fields,
        )

    def merged_over(self, earlier: AuditRow | None) -> AuditRow:
        """This row appended after `earlier` (same key): its fields replace the same fields, the
        others stay — appending an entry again stores it once."""
        if earlier is None:
            return self
        entries = {entry.field: entry for entry in (*earlier.entries(), *self.entries())}
        (row,) = audit_rows(entries.values())
        return row

    def entries(self) -> list[AuditEntry]:
        """The row's entries, the newest field name first."""
        return [self._entry(name, self.fields[name]) for name in sorted(self.fields, reverse=True)]

    def _entry(self, name: str, change: dict[str, Any]) -> AuditEntry:
        keep_until = change.get("keep_until", _iso_or_none(self.keep_until))
        return AuditEntry(
            at=self.at,
            run_id=self.run_id,
            crm=change.get("crm", self.crm),
            lead_id=self.lead_id,
            field=name,
            before=change.get("before"),
            after=change.get("after"),
            reasons=change.get("why", ""),
            model_version=change.get("model_version", self.model_version),
            actor=change.get("actor", self.actor),
            keep_until=from_iso(keep_until) if keep_until else None,
        )

    def packed_fields(self) -> bytes:
        return pack_json(self.fields)


def audit_rows(entries: Iterable[AuditEntry]) -> list[AuditRow]:
    """Entries grouped into rows, in the order their rows first appear; a field given twice for
    the same row keeps the last."""
    grouped: dict[RowKey, list[AuditEntry]] = {}
    for entry in entries:
        grouped.setdefault((entry.lead_id, entry.at, entry.run_id), []).append(entry)
    return [_row(group) for group in grouped.values()]


def _row(entries: Sequence[AuditEntry]) -> AuditRow:
    first = entries[0]
    shared = _attributes(first)
    fields: dict[str, dict[str, Any]] = {}
    for entry in entries:
        change: dict[str, Any] = {}
        if entry.before is not None:
            change["before"] = entry.before
        if entry.after is not None:
            change["after"] = entry.after
        if entry.reasons:
            change["why"] = entry.reasons
        own = _attributes(entry)
        change.update({name: value for name, value in own.items() if value != shared[name]})
        fields[entry.field] = change
    return AuditRow.of(first, fields)


def _attributes(entry: AuditEntry) -> dict[str, str | None]:
    return {
        "crm": entry.crm,
        "model_version": entry.model_version,
        "actor": entry.actor,
        "keep_until": _iso_or_none(entry.keep_until),
    }


def unpacked_fields(packed: bytes) -> dict[str, dict[str, Any]]:
    fields: dict[str, dict[str, Any]] = unpack_json(packed)
    return fields


def microseconds(moment: datetime) -> int:
    """A moment as whole microseconds since the epoch: exact, and ordered as time is."""
    return (moment - EPOCH) // MICROSECOND


def from_microseconds(value: int) -> datetime:
    return EPOCH + value * MICROSECOND


def _iso_or_none(moment: datetime | None) -> str | None:
    return iso_utc(moment) if moment is not None else None
