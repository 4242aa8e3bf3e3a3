"""`/events/v3/events`: behavioural event occurrences (page views, forms, marketing e-mail).

Enterprise only: with `PortalSettings.events_enabled` off the portal behaves like a lower tier and
answers 403 MISSING_SCOPES naming no scope (the endpoint's one scope, `oauth`, is every app's: what
is missing is the subscription). Results are ordered by `occurredAt` (`sort=DESCENDING`, newest
first, unless `sort=ASCENDING`); `occurredAfter`/`occurredBefore` take ISO 8601 or epoch ms and are
exclusive; `limit` defaults to 100 and may be at most 1,000 (HubSpot's own maximum is not
documented). The cursor in `paging.next.after` is opaque.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from werkzeug.wrappers import Response

from sandbox.hubspot import errors
from sandbox.hubspot.activity import Activity, event_properties, event_types
from sandbox.hubspot.context import Call
from sandbox.hubspot.errors import json_response
from sandbox.hubspot.schema import (
    InvalidValueError,
    format_ms,
    parse_moment_ms,
    resolve_object_type,
)
from sandbox.hubspot.shapes import int_param, next_link
from sandbox.hubspot.store import ActivityRow

MAX_LIMIT = 1_000
_EVENT_NAMESPACE = uuid.UUID("5e0f9a3c-7d1b-4c55-9a52-8c1f00c0ffee")


def list_events(call: Call) -> Response:
    _require_enterprise(call)
    args = call.request.args
    object_type = resolve_object_type(args.get("objectType", ""))
    if object_type is None or object_type.name != "contacts":
        raise errors.bad_request("objectType is required: events are read for `contact` records")
    object_id = args.get("objectId")
    if object_id is not None and not object_id.isdigit():
        raise errors.bad_request(f"Invalid objectId {object_id!r}")
    descending = str(args.get("sort", "DESCENDING")).upper() != "ASCENDING"
    limit = int_param(args, "limit", 100, MAX_LIMIT)
    rows = call.portal.store.events_page(
        contact_id=int(object_id) if object_id else None,
        event_type=args.get("eventType") or None,
        occurred_after_ms=_moment(args.get("occurredAfter"), "occurredAfter"),
        occurred_before_ms=_moment(args.get("occurredBefore"), "occurredBefore"),
        cursor=_cursor(args.get("after")),
        limit=limit + 1,
        descending=descending,
    )
    body: dict[str, Any] = {"results": [event_json(row) for row in rows[:limit]]}
    if len(rows) > limit:
        last = rows[limit - 1]
        cursor = base64.urlsafe_b64encode(f"{last.occurred_ms}:{last.id}".encode()).decode()
        link = next_link(call.request, cursor)
        body["paging"] = {"next": {"after": cursor, "link": link}}
    return json_response(body)


def list_event_types(call: Call) -> Response:
    _require_enterprise(call)
    return json_response({"eventTypes": event_types(call.portal.settings.portal_id)})


def event_json(row: ActivityRow) -> dict[str, Any]:
    activity = Activity(row.kind, row.occurred_ms, row.url, row.form, row.campaign, row.subject)
    return {
        "objectType": "CONTACT",
        "objectId": str(row.contact_id),
        "eventType": row.event_type,
        "occurredAt": format_ms(row.occurred_ms),
        "id": str(uuid.uuid5(_EVENT_NAMESPACE, str(row.id))),
        "properties": event_properties(activity),
    }


def _require_enterprise(call: Call) -> None:
    if not call.portal.settings.events_enabled:
        raise errors.missing_scopes(
            [],
            "This portal does not have access to the events API: it requires a Marketing, "
            "Sales, Service or Content Hub Enterprise subscription.",
        )


def _moment(raw: str | None, name: str) -> int | None:
    if not raw:
        return None
    try:
        # A literal "+" of an offset arrives as a space when the caller did not encode it.
        return parse_moment_ms(raw.replace(" ", "+"))
    except InvalidValueError as error:
        raise errors.bad_request(f"Invalid {name}: {raw!r}") from error


def _cursor(raw: str | None) -> tuple[int, int] | None:
    if not raw:
        return None
    try:
        occurred, _, row_id = base64.urlsafe_b64decode(raw.encode()).decode().partition(":")
        return int(occurred), int(row_id)
    except (ValueError, UnicodeDecodeError) as error:
        raise errors.bad_request(f"Invalid paging cursor after={raw!r}") from error
