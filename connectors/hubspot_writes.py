"""Writing leadq's results to HubSpot contacts: batch updates of 100, one result per update.

* Every property written must exist in the portal and be writable: otherwise nothing is sent and a
  `MissingFieldError` names the property and `leadq setup`.
* Lifecycle stages only move forward. A change that would move `lifecyclestage` back (compared
  with `before`, or with the CRM's current value when `before` does not say, in the portal's own
  stage order), or clear it, is dropped from the update and reported on the lead's result; the
  rest of the update is written.
* A 207 answer is handled per record: records HubSpot did not find fail for good ("deleted or
  merged"), records hit by a transient failure (CONFLICT: a concurrent write) are sent again —
  only they — by `CallPolicy.call_batch`, and count as retries.
* A batch refused whole because of one record's value (400 INVALID_OPTION, …) is split in halves
  until the record is found; it fails with HubSpot's message and the others are written.
* If HubSpot stays unreachable, the remaining updates fail as transient (the next run retries them);
  nothing is reported written that was not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from connectors.hubspot_api import HubSpotApi, InvalidValuesError, missing_properties_message
from connectors.hubspot_properties import PortalSchema
from connectors.hubspot_records import chunked, epoch_ms
from connectors.records import LeadUpdate, WriteResult
from connectors.retry import ConnectorError, MissingFieldError, RetriesExhaustedError

BATCH_SIZE = 100
LIFECYCLE = "lifecyclestage"
TRANSIENT_CATEGORIES = frozenset({"CONFLICT", "LOCKED", "RATE_LIMITS", "INTERNAL_ERROR",
                                  "SERVICE_UNAVAILABLE", "TIMEOUT"})


@dataclass
class PlannedWrite:
    """The properties to send for one contact, and why some wanted changes were not sent."""

    lead_id: str
    properties: dict[str, str]
    note: str | None = None


@dataclass
class BatchOutcome:
    failed: dict[str, WriteResult] = field(default_factory=dict)


class ContactWriter:
    def __init__(self, api: HubSpotApi, schema: PortalSchema) -> None:
        self.api = api
        self.schema = schema

    def write(self, updates: Sequence[LeadUpdate]) -> list[WriteResult]:
        self._refuse_unwritable(updates)
        planned = self._plan(updates)
        results = self._send(planned)
        return [results[update.lead_id] for update in updates]

    # ---- planning -------------------------------------------------------------------------------

    def _refuse_unwritable(self, updates: Sequence[LeadUpdate]) -> None:
        names = sorted({name for update in updates for name in update.changes})
        missing = self.schema.lacks(names)
        if missing:
            message = missing_properties_message(missing, "contact")
            raise MissingFieldError(f"{message}; nothing was written")
        read_only = [name for name in names if name in self.schema.read_only]
        if read_only:
            raise ConnectorError(
                f"HubSpot contact propert{'ies' if len(read_only) > 1 else 'y'} "
                f"{', '.join(read_only)} cannot be written (read-only in HubSpot): remove "
                "it from the scoring model's output; nothing was written"
            )

    def _plan(self, updates: Sequence[LeadUpdate]) -> dict[str, PlannedWrite]:
        merged: dict[str, dict[str, Any]] = {}
        before: dict[str, dict[str, Any]] = {}
        for update in updates:  # one lead twice in a batch is refused by HubSpot: merge them
            merged.setdefault(update.lead_id, {}).update(update.changes)
            before.setdefault(update.lead_id, {}).update(update.before)
        current = self._current_stages(
            [lead_id for lead_id, changes in merged.items()
             if LIFECYCLE in changes and LIFECYCLE not in before[lead_id]]
        )
        planned = {}
        for lead_id, changes in merged.items():
            stage_now = before[lead_id].get(LIFECYCLE, current.get(lead_id))
            planned[lead_id] = self._planned(lead_id, changes, stage_now)
        return planned

    def _planned(self, lead_id: str, changes: dict[str, Any], stage_now: Any) -> PlannedWrite:
        changes = dict(changes)
        note = None
        if LIFECYCLE in changes:
            wanted = changes[LIFECYCLE]
            if self._moves_back(stage_now, wanted):
                del changes[LIFECYCLE]
                note = (
                    f"kept lifecycle stage {stage_now!r}: leadq never moves a stage backwards "
                    f"(wanted {wanted or 'no stage'!r})"
                )
        properties = {name: self._text(name, value) for name, value in changes.items()}
        return PlannedWrite(lead_id, properties, note)

    def _moves_back(self, stage_now: Any, wanted: Any) -> bool:
        if not stage_now:
            return False
        if not wanted:
            return True  # clearing the stage is how HubSpot moves one back
        now_rank, wanted_rank = self.schema.stage_rank(stage_now), self.schema.stage_rank(wanted)
        return now_rank is not None and wanted_rank is not None and wanted_rank < now_rank

    def _current_stages(self, lead_ids: list[str]) -> dict[str, str | None]:
        stages: dict[str, str | None] = {}
        for chunk in chunked(lead_ids, BATCH_SIZE):
            answer = self.api.call(
                "batch_read", "reading current lifecycle stages",
                "crm.contacts.batch_api.read",
                {"inputs": [{"id": lead_id} for lead_id in chunk], "properties": [LIFECYCLE]},
            )
            for record in answer.get("results") or []:
                stages[str(record["id"])] = (record.get("properties") or {}).get(LIFECYCLE)
        return stages

    def _text(self, name: str, value: Any) -> str:
        """HubSpot takes every value as a string; "" clears a property."""
        if value is None:
            return ""
        kind = self.schema.types.get(name)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            return str(epoch_ms(value))
        if isinstance(value, date):
            return value.isoformat() if kind == "date" else str(epoch_ms(
                datetime(value.year, value.month, value.day)))
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, list | tuple | set | frozenset):
            return ";".join(str(item) for item in value)  # a multiple checkbox's options
        return str(value)

    # ---- sending --------------------------------------------------------------------------------

    def _send(self, planned: Mapping[str, PlannedWrite]) -> dict[str, WriteResult]:
        results: dict[str, WriteResult] = {}
        to_send = []
        for write in planned.values():
            if write.properties:
                to_send.append(write)
            else:
                results[write.lead_id] = WriteResult(lead_id=write.lead_id, ok=True,
                                                     error=write.note)
        chunks = list(chunked(to_send, BATCH_SIZE))
        for position, chunk in enumerate(chunks):
            try:
                failed = self._send_chunk(chunk)
            except RetriesExhaustedError as error:
                for rest in chunks[position:]:
                    results.update(_unsent(rest, str(error)))
                break
            for write in chunk:
                results[write.lead_id] = failed.get(write.lead_id) or WriteResult(
                    lead_id=write.lead_id, ok=True, error=write.note
                )
        return results

    def _send_chunk(self, chunk: list[PlannedWrite]) -> dict[str, WriteResult]:
        """Failures of this chunk, by lead id (absent = written)."""
        outcome = BatchOutcome()
        try:
            still_failing = self.api.call_batch(
                "write", chunk, lambda batch: self._update(batch, outcome)
            )
        except InvalidValuesError as error:
            if len(chunk) == 1:
                return {chunk[0].lead_id: WriteResult(lead_id=chunk[0].lead_id, ok=False,
                                                      error=str(error))}
            middle = len(chunk) // 2
            return {**self._send_chunk(chunk[:middle]), **self._send_chunk(chunk[middle:])}
        for write in still_failing:
            outcome.failed[write.lead_id] = WriteResult(
                lead_id=write.lead_id, ok=False, transient=True,
                error="HubSpot kept refusing the write as a concurrent change (CONFLICT); "
                      "the next run writes it again",
            )
        return outcome.failed

    def _update(self, batch: Sequence[PlannedWrite], outcome: BatchOutcome) -> list[PlannedWrite]:
        """One batch update; returns the writes to send again."""
        answer = self.api.request(
            "updating a batch of contacts", "crm.contacts.batch_api.update",
            {"inputs": [{"id": write.lead_id, "properties": write.properties}
                        for write in batch]},
        )
        written = {str(record.get("id")) for record in answer.get("results") or []}
        retry: set[str] = set()
        for error in answer.get("errors") or []:
            ids = [str(i) for i in (error.get("context") or {}).get("ids") or []]
            category = str(error.get("category") or "")
            if category in TRANSIENT_CATEGORIES:
                retry.update(ids)
                continue
            for lead_id in ids:
                outcome.failed[lead_id] = _permanent(lead_id, category, error)
        unaccounted = {write.lead_id for write in batch} - written - set(outcome.failed)
        retry |= unaccounted
        return [write for write in batch if write.lead_id in retry]


def _permanent(lead_id: str, category: str, error: Mapping[str, Any]) -> WriteResult:
    if category == "OBJECT_NOT_FOUND":
        message = (f"HubSpot has no contact {lead_id}: it was deleted or merged; nothing was "
                   "written")
    else:
        message = f"HubSpot refused the update ({category or 'error'}): {error.get('message')}"
    return WriteResult(lead_id=lead_id, ok=False, error=message)


def _unsent(chunk: list[PlannedWrite], reason: str) -> dict[str, WriteResult]:
    return {
        write.lead_id: WriteResult(lead_id=write.lead_id, ok=False, transient=True,
                                   error=f"not written: {reason}")
        for write in chunk
    }
