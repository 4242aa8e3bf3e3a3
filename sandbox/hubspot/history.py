"""Property history, as `propertiesWithHistory` shows it: every value a property held, newest
first, each `{"value", "timestamp", "sourceType", "sourceId"}`.

HubSpot keeps history for every property. The portal records each write (`record_writes`: the
API's writes as INTEGRATION with the app id, a rep's as CRM_UI with the user). A value the record
was created or seeded with and never rewritten has no row of its own: its one entry is dated when
the record was created (sourceType IMPORT), except the lifecycle stage, whose entries are the
stages the record entered, dated by its `hs_lifecyclestage_<stage>_date` properties. A seed may
record values set later than creation (sales fields a rep filled in after a conversion).

How many records a request may read with history is limited: 50 per list page
(hubspot-api-python#143, dlt-hub/verified-sources#206) and 50 inputs per batch read ("The
maximum number of inputs supported in a batch request for property histories is 50",
PipedreamHQ/pipedream#8462).
"""

from __future__ import annotations

from collections.abc import Mapping

from sandbox.hubspot.schema import (
    LIFECYCLE_STAGES,
    format_ms,
    lifecycle_date_property,
    parse_moment_ms,
)
from sandbox.hubspot.store import HistoryEntry, HubSpotStore, StoredRecord

MAX_RECORDS_WITH_HISTORY = 50
IMPORTED = "IMPORT"
STAGE = "lifecyclestage"


def history_json(store: HubSpotStore, record: StoredRecord, name: str) -> list[dict[str, str]]:
    entries = store.history(record.id, name) or implicit_history(record, name)
    return [_entry_json(entry) for entry in entries]


def _entry_json(entry: HistoryEntry) -> dict[str, str]:
    body = {"value": entry.value, "timestamp": format_ms(entry.timestamp_ms),
            "sourceType": entry.source_type}
    if entry.source_id:
        body["sourceId"] = entry.source_id
    return body


def implicit_history(record: StoredRecord, name: str) -> list[HistoryEntry]:
    """The history of a value nobody rewrote since the record was created, newest first."""
    value = record.value(name)
    if value is None:
        return []
    if name == STAGE:
        entered = _stages_entered(record, value)
        if entered:
            return entered
    return [HistoryEntry(record.id, name, record.created_ms, value, IMPORTED)]


def _stages_entered(record: StoredRecord, current: str) -> list[HistoryEntry]:
    if current not in LIFECYCLE_STAGES:
        return []
    entries = []
    for stage in LIFECYCLE_STAGES[: LIFECYCLE_STAGES.index(current) + 1]:
        date = record.properties.get(lifecycle_date_property(stage))
        if date:
            entries.append(HistoryEntry(record.id, STAGE, parse_moment_ms(date), stage, IMPORTED))
    # newest first; stages entered at one moment (opportunity and customer), the later first
    return sorted(reversed(entries), key=lambda entry: entry.timestamp_ms, reverse=True)


def record_writes(
    store: HubSpotStore,
    record: StoredRecord,
    changed: Mapping[str, str],
    at_ms: int,
    source: tuple[str, str | None],
) -> None:
    """Add the written values to the record's history (inside the write's transaction); a
    property written for the first time keeps its earlier, implicit entries before the new one."""
    source_type, source_id = source
    entries: list[HistoryEntry] = []
    for name, value in changed.items():
        if not store.history(record.id, name):
            entries += reversed(implicit_history(record, name))
        entries.append(HistoryEntry(record.id, name, at_ms, value, source_type, source_id))
    store.insert_history(entries)
