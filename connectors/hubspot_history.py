"""When each contact's properties got their values, from HubSpot's property history.

A batch read with `propertiesWithHistory` answers, per property, every value it held, newest
first (`{"value", "timestamp", "sourceType", …}`). HubSpot takes at most 50 inputs in such a
batch (100 without history), so the contacts are read 50 a request; only for `leadq learn`,
which asks for the lead fields it considers, and for `backtest` and `learn` dating reps'
dispositions (the lead status). A lead field is named by its path (`lead_status`,
`fields.lead_quality`); company fields are not read (their history lives on the companies).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from connectors.field_times import FieldTimes, ValueChange
from connectors.hubspot_records import chunked
from connectors.records import parse_timestamp

HISTORY_BATCH = 50
STANDARD_PROPERTIES = {
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "title": "jobtitle",
    "country": "country",
    "state": "state",
    "source": "hs_analytics_source",
    "owner_id": "hubspot_owner_id",
    "lifecycle_stage": "lifecyclestage",
    "lead_status": "hs_lead_status",
}

BatchRead = Callable[[dict[str, Any]], Mapping[str, Any]]  # one batch read request → its JSON


def property_of(path: str) -> str | None:
    """The contact property a lead path reads (None: a company's, or not a contact's)."""
    if path.startswith("fields."):
        return path.removeprefix("fields.")
    return STANDARD_PROPERTIES.get(path)


def read_field_times(
    read: BatchRead,
    ids: Sequence[str],
    paths: Sequence[str],
    entering: Mapping[str, Collection[str]],
) -> FieldTimes:
    """Each path's history folded per contact (connectors/field_times.py). HubSpot's history
    holds every value since the contact was created (a value it was created with is dated then),
    so before its oldest entry the property was empty."""
    properties = {path: name for path in paths if (name := property_of(path)) is not None}
    times = FieldTimes()
    if not properties:
        return times
    wanted = sorted(set(properties.values()))
    for chunk in chunked(dict.fromkeys(ids), HISTORY_BATCH):
        answer = read({"inputs": [{"id": lead_id} for lead_id in chunk],
                       "properties": [], "propertiesWithHistory": wanted})
        for record in answer.get("results") or []:
            history = record.get("propertiesWithHistory") or {}
            for path, name in properties.items():
                changes = _changes(history.get(name) or [])
                times.record(path, str(record["id"]), changes, entering.get(path, ()))
    return times


def _changes(entries: Sequence[Mapping[str, Any]]) -> list[ValueChange]:
    """The entries (newest first, as HubSpot lists them) as changes, oldest first."""
    dated = [(moment, str(entry.get("value") or "").strip()) for entry in reversed(entries)
             if (moment := parse_timestamp(str(entry.get("timestamp") or ""))) is not None]
    dated.sort(key=lambda pair: pair[0])  # stable: entries of one moment keep their order
    olds = ["", *(value for _, value in dated)]
    return [ValueChange(moment, old, new) for (moment, new), old in zip(dated, olds, strict=False)]
