"""The incremental pull: contacts changed in [lower, upper), oldest first, by keyset search.

HubSpot's search returns at most 10,000 results per query, and leadq writes contacts between
pages, which moves their `lastmodifieddate` out of (or to the end of) the result set, so paging by
offset would skip contacts. Instead every page is a new query that starts where the previous page
ended — at its last timestamp T — and leaves out the contacts already returned at T:

    (lastmodifieddate = T AND hs_object_id NOT_IN [returned at T])
    OR (T < lastmodifieddate < upper)

sorted by `lastmodifieddate` ascending, 200 a page. No contact is read twice, no query pages at
all, and nothing is missed when contacts change during the pull. When more than 100 contacts
share one timestamp (NOT_IN takes at most 100 values), that timestamp is drained on its own,
ordered by `hs_object_id` (`= T AND hs_object_id > last id`), before the pull moves past it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from connectors.hubspot_records import MODIFIED, epoch_ms, modified_at

PAGE = 200
NOT_IN_LIMIT = 100
OBJECT_ID = "hs_object_id"

Search = Callable[[dict[str, Any]], dict[str, Any]]  # one search request: body → answer JSON
Page = list[dict[str, Any]]


def changed_records(search: Search, lower_ms: int, upper_ms: int,
                    properties: list[str]) -> Iterator[Page]:
    """Pages of records with lower_ms <= lastmodifieddate < upper_ms, oldest first, each once."""
    boundary: int | None = None  # the last page's last timestamp
    returned: set[str] = set()  # ids returned at `boundary`
    while True:
        if boundary is not None and len(returned) > NOT_IN_LIMIT:
            yield from _drain(search, boundary, returned, properties)
            groups = [_range(boundary, upper_ms, after_boundary=True)]
            returned = set()
        elif boundary is None:
            groups = [_range(lower_ms, upper_ms, after_boundary=False)]
        else:
            groups = [_at(boundary, returned), _range(boundary, upper_ms, after_boundary=True)]
        answer = search(_body(groups, MODIFIED, properties))
        records = list(answer.get("results") or [])
        if not records:
            return
        yield records
        if len(records) < PAGE or _nothing_after(answer, records):
            return
        last_ms = _ms(records[-1])
        at_last = {str(record["id"]) for record in records if _ms(record) == last_ms}
        if last_ms == boundary:
            returned |= at_last
        else:
            boundary, returned = last_ms, at_last


def _drain(search: Search, at_ms: int, returned: set[str], properties: list[str]
           ) -> Iterator[Page]:
    """Every record at exactly `at_ms` not yet returned, in id order."""
    last_id = 0
    while True:
        filters = [_filter(MODIFIED, "EQ", at_ms), _filter(OBJECT_ID, "GT", last_id)]
        answer = search(_body([{"filters": filters}], OBJECT_ID, properties))
        records = list(answer.get("results") or [])
        fresh = [record for record in records if str(record["id"]) not in returned]
        if fresh:
            yield fresh
        if len(records) < PAGE or _nothing_after(answer, records):
            return
        last_id = int(records[-1]["id"])


def _nothing_after(answer: dict[str, Any], records: Page) -> bool:
    """The query's `total` says this page held all it matched: save the empty last request."""
    total = answer.get("total")
    return isinstance(total, int) and total <= len(records)


def _range(low_ms: int, upper_ms: int, after_boundary: bool) -> dict[str, Any]:
    return {"filters": [_filter(MODIFIED, "GT" if after_boundary else "GTE", low_ms),
                        _filter(MODIFIED, "LT", upper_ms)]}


def _at(at_ms: int, returned: set[str]) -> dict[str, Any]:
    filters = [_filter(MODIFIED, "EQ", at_ms)]
    if returned:
        filters.append({"propertyName": OBJECT_ID, "operator": "NOT_IN",
                        "values": sorted(returned, key=int)})
    return {"filters": filters}


def _filter(name: str, operator: str, value: int) -> dict[str, Any]:
    # a filter's `value` is a string in HubSpot's spec, numbers and dates included: a JSON number
    # is refused (as the sandbox does)
    return {"propertyName": name, "operator": operator, "value": str(value)}


def _body(groups: list[dict[str, Any]], sort_by: str, properties: list[str]) -> dict[str, Any]:
    return {"filterGroups": groups,
            "sorts": [{"propertyName": sort_by, "direction": "ASCENDING"}],
            "properties": properties, "limit": PAGE}


def _ms(record: dict[str, Any]) -> int:
    moment = modified_at(record)
    return epoch_ms(moment) if moment else 0
