"""Associations v4: one record's associations, the batch read (at most 1,000 ids), and creating
the default (unlabeled) association between two records.

In a batch read, an id with no association of the asked type is a 207 error entry
(OBJECT_NOT_FOUND, subCategory crm.associations.NO_ASSOCIATIONS_FOUND), as HubSpot reports it.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from sandbox.hubspot import errors
from sandbox.hubspot.association_types import v4_result
from sandbox.hubspot.context import Call
from sandbox.hubspot.errors import json_response
from sandbox.hubspot.shapes import after_param, batch_error, batch_json, int_param

MAX_BATCH_IDS = 1_000
MAX_PAGE = 500


def list_associations(call: Call) -> Response:
    from_type, to_type = call.object_type(), call.object_type("to_object_type")
    args = call.request.args
    limit = int_param(args, "limit", MAX_PAGE, MAX_PAGE)
    after = after_param(args.get("after"))
    object_id = call.args["object_id"]
    if not object_id.isdigit():
        raise errors.not_found(object_id)
    pairs = call.portal.store.associations(from_type.name, [int(object_id)], to_type.name)
    remaining = [pair for pair in pairs.get(int(object_id), []) if pair[0] > after]
    body: dict[str, Any] = {"results": [v4_result(*pair) for pair in remaining[:limit]]}
    if len(remaining) > limit:
        body["paging"] = {"next": {"after": str(remaining[limit - 1][0])}}
    return json_response(body)


def batch_read_associations(call: Call) -> Response:
    from_type, to_type = call.object_type("from_object_type"), call.object_type("to_object_type")
    started = call.portal.clock_ms()
    body = call.json()
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list):
        raise errors.bad_request("Invalid input JSON: `inputs` must be a list")
    if len(inputs) > MAX_BATCH_IDS:
        raise errors.bad_request(f"Too many inputs: {len(inputs)} > {MAX_BATCH_IDS}")
    keys = list(dict.fromkeys(str(item.get("id", "")) for item in inputs
                              if isinstance(item, dict)))
    ids = [int(key) for key in keys if key.isdigit()]
    found = call.portal.store.associations(from_type.name, ids, to_type.name)
    results, failures = [], []
    for key in keys:
        pairs = found.get(int(key)) if key.isdigit() else None
        if pairs:
            results.append({"from": {"id": key}, "to": [v4_result(*pair) for pair in pairs]})
        else:
            failures.append(batch_error(
                "OBJECT_NOT_FOUND",
                f"No {to_type.singular} is associated with {from_type.singular} {key}.",
                {"fromObjectId": [key], "fromObjectType": [from_type.singular],
                 "toObjectType": [to_type.singular]},
                sub_category="crm.associations.NO_ASSOCIATIONS_FOUND",
            ))
    response = batch_json(results, started, call.portal.clock_ms(), failures)
    return json_response(response, 207 if failures else 200)


def create_default_association(call: Call) -> Response:
    """`PUT /crm/v4/objects/{type}/{id}/associations/default/{toType}/{toId}`."""
    from_type, to_type = call.object_type(), call.object_type("to_object_type")
    started = call.portal.clock_ms()
    from_key, to_key = call.args["object_id"], call.args["to_object_id"]
    for key in (from_key, to_key):
        if not key.isdigit():
            raise errors.not_found(key)
    type_id = call.portal.writer.associate_default(
        from_type.name, int(from_key), to_type.name, int(to_key), call.source)
    spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
    result = {"from": {"id": from_key}, "to": {"id": to_key}, "associationSpec": spec}
    return json_response(batch_json([result], started, call.portal.clock_ms(), []))
