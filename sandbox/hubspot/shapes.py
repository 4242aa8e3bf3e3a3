"""The JSON HubSpot answers with for records and batches, and the query parameters it reads.

A record: `{"id", "properties": {name: string | null}, "createdAt", "updatedAt", "archived"}`
(+ `archivedAt`, `associations`, `propertiesWithHistory` when they apply). Requested properties
that exist but are unset come back as null; requested properties that do not exist are left out.
Without `properties=`, the object type's default set is returned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request

from sandbox.hubspot import errors
from sandbox.hubspot.schema import OBJECT_TYPES, PropertyDefinition, format_ms
from sandbox.hubspot.store import StoredRecord


def requested_names(values: Iterable[Any] | None) -> list[str]:
    """Property or object names from repeated and/or comma-separated parameters."""
    names: list[str] = []
    for value in values or ():
        for part in str(value).split(","):
            part = part.strip()
            if part and part not in names:
                names.append(part)
    return names


HistoryOf = Callable[[StoredRecord, str], list[dict[str, str]]]  # a property's history, as JSON


def record_json(
    record: StoredRecord,
    names: Sequence[str] | None,
    definitions: dict[str, PropertyDefinition],
    *,
    with_history: Sequence[str] = (),
    history: HistoryOf | None = None,
    associations: dict[str, Any] | None = None,
) -> dict[str, Any]:
    chosen = names or OBJECT_TYPES[record.object_type].default_properties
    body: dict[str, Any] = {
        "id": str(record.id),
        "properties": {
            name: record.value(name) for name in chosen if name in definitions
        },
        "createdAt": format_ms(record.created_ms),
        "updatedAt": format_ms(record.updated_ms),
        "archived": record.archived,
    }
    if record.archived and record.archived_ms is not None:
        body["archivedAt"] = format_ms(record.archived_ms)
    if with_history and history is not None:
        body["propertiesWithHistory"] = {
            name: history(record, name) for name in with_history if name in definitions
        }
    if associations:
        body["associations"] = associations
    return body


def batch_json(
    results: list[dict[str, Any]],
    started_ms: int,
    completed_ms: int,
    batch_errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": format_ms(started_ms),
        "completedAt": format_ms(completed_ms),
    }
    if batch_errors:
        body["numErrors"] = len(batch_errors)
        body["errors"] = batch_errors
    return body


def batch_error(
    category: str, message: str, context: dict[str, list[str]], sub_category: str | None = None
) -> dict[str, Any]:
    """One entry of a 207's `errors` (the client requires `errors`, `links` and `context`)."""
    entry: dict[str, Any] = {
        "status": "error",
        "category": category,
        "message": message,
        "context": context,
        "errors": [],
        "links": {},
    }
    if sub_category:
        entry["subCategory"] = sub_category
    return entry


def int_param(args: MultiDict[str, str], name: str, default: int, maximum: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise errors.bad_request(f"Unable to parse {name}={raw!r} as an integer") from error
    if value < 1 or value > maximum:
        raise errors.bad_request(
            f"{name} must be between 1 and {maximum}, got {value}",
            errors=[{"message": f"{name} must be at most {maximum}", "in": name,
                     "code": "INVALID_LIMIT" if name == "limit" else "INVALID_PARAMETER"}],
        )
    return value


def bool_param(args: MultiDict[str, str], name: str) -> bool:
    return str(args.get(name, "false")).lower() == "true"


def after_param(raw: str | None) -> int:
    if raw in (None, ""):
        return 0
    try:
        return int(raw)
    except ValueError as error:
        raise errors.bad_request(f"Invalid paging cursor after={raw!r}") from error


def next_link(request: Request, after: str) -> str:
    """The request's own URL with the next page's cursor, every repeated parameter kept."""
    pairs = [(name, value) for name, value in request.args.items(multi=True) if name != "after"]
    return f"{request.base_url}?{urlencode([*pairs, ('after', after)])}"
