"""`/crm/v3/owners/` (the client sends the trailing slash; both spellings are served).

`archived=true` lists only archived owners (people who left: inactive users), as HubSpot does.
Queues are owners of `type: "QUEUE"` without a user id. `hubspot_owner_id` takes an owner's `id`.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from sandbox.hubspot.context import Call
from sandbox.hubspot.errors import ApiError, error_body, json_response
from sandbox.hubspot.schema import format_ms
from sandbox.hubspot.shapes import after_param, bool_param, int_param, next_link
from sandbox.hubspot.store import OwnerRow

MAX_OWNERS_PAGE = 500


def list_owners(call: Call) -> Response:
    args = call.request.args
    limit = int_param(args, "limit", 100, MAX_OWNERS_PAGE)
    owners = call.portal.store.owners_page(
        after_param(args.get("after")), limit + 1, args.get("email"), bool_param(args, "archived")
    )
    body: dict[str, Any] = {"results": [owner_json(owner) for owner in owners[:limit]]}
    if len(owners) > limit:
        next_after = str(owners[limit - 1].id)
        link = next_link(call.request, next_after)
        body["paging"] = {"next": {"after": next_after, "link": link}}
    return json_response(body)


def get_owner(call: Call) -> Response:
    args = call.request.args
    key = call.args["owner_id"]
    owner = _find(call, key, args.get("idProperty", "id"))
    if owner is None or owner.archived != bool_param(args, "archived"):
        raise ApiError(404, error_body(f"Owner {key} not found", "OBJECT_NOT_FOUND",
                                       context={"id": [key]}))
    return json_response(owner_json(owner))


def _find(call: Call, key: str, id_property: str) -> OwnerRow | None:
    if not key.isdigit():
        return None
    store = call.portal.store
    if id_property == "userId":
        archived = bool_param(call.request.args, "archived")
        for owner in store.owners_page(0, MAX_OWNERS_PAGE, None, archived):
            if owner.user_id == int(key):
                return owner
        return None
    return store.owner(int(key))


def owner_json(owner: OwnerRow) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(owner.id),
        "email": owner.email,
        "type": owner.type,
        "firstName": owner.first_name,
        "lastName": owner.last_name,
        "createdAt": format_ms(owner.created_ms),
        "updatedAt": format_ms(owner.updated_ms),
        "archived": owner.archived,
        "teams": [
            {"id": str(team_id), "name": name, "primary": primary}
            for team_id, name, primary in owner.teams
        ],
    }
    if owner.user_id is not None:
        body["userId"] = owner.user_id
        body["userIdIncludingInactive"] = owner.user_id
    return body
