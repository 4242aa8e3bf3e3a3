"""When each contact's current value of a property was set, from HubSpot's property history.

A batch read with `propertiesWithHistory` answers, per property, every value it held, newest
first (`{"value", "timestamp", "sourceType", …}`). HubSpot takes at most 50 inputs in such a
batch (100 without history), so the contacts are read 50 a request; only for `leadq learn`,
which asks for the lead fields it considers. A lead field is named by its path (`lead_status`,
`fields.lead_quality`); company fields are not read (their history lives on the companies).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

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
SetTimes = dict[str, dict[str, datetime]]  # lead path → lead id → when its value was set


def property_of(path: str) -> str | None:
    """The contact property a lead path reads (None: a company's, or not a contact's)."""
    if path.startswith("fields."):
        return path.removeprefix("fields.")
    return STANDARD_PROPERTIES.get(path)


def read_set_times(read: BatchRead, ids: Sequence[str], paths: Sequence[str]) -> SetTimes:
    """For each path, when each contact's current value was set: the newest history entry's
    timestamp, where that entry holds a value (a blank newest entry: no value to date)."""
    properties = {path: name for path in paths if (name := property_of(path)) is not None}
    times: SetTimes = {path: {} for path in properties}
    if not properties:
        return times
    wanted = sorted(set(properties.values()))
    for chunk in chunked(dict.fromkeys(ids), HISTORY_BATCH):
        answer = read({"inputs": [{"id": lead_id} for lead_id in chunk],
                       "properties": [], "propertiesWithHistory": wanted})
        for record in answer.get("results") or []:
            history = record.get("propertiesWithHistory") or {}
            for path, name in properties.items():
                moment = _current_value_set_at(history.get(name) or [])
                if moment is not None:
                    times[path][str(record["id"])] = moment
    return times


def _current_value_set_at(entries: Sequence[Mapping[str, Any]]) -> datetime | None:
    dated = [(parse_timestamp(str(entry.get("timestamp") or "")), entry) for entry in entries]
    dated = [(moment, entry) for moment, entry in dated if moment is not None]
    if not dated:
        return None
    moment, newest = max(dated, key=lambda pair: pair[0])
    return moment if str(newest.get("value") or "").strip() else None
