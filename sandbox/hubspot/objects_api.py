"""`/crm/v3/objects/{type}`: list, read, create, update, archive, merge, batches and search.

Batches take at most 100 inputs, 50 when they ask for `propertiesWithHistory` (sandbox.hubspot.
history), as list pages do. A batch whose properties are invalid is refused whole (400). A
batch that partly fails answers 207 with per-record `errors`: ids that do not exist are one
OBJECT_NOT_FOUND entry listing them; records hit by an injected failure
(`faults.record_failure`) are one entry each, category CONFLICT — a concurrent write on that
record, transient: retrying the record succeeds — and are left unchanged.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from werkzeug.wrappers import Response

from sandbox.hubspot import errors
from sandbox.hubspot.association_types import BY_ID, v3_results
from sandbox.hubspot.context import Call
from sandbox.hubspot.errors import json_response
from sandbox.hubspot.history import MAX_RECORDS_WITH_HISTORY, history_json
from sandbox.hubspot.schema import ObjectType, resolve_object_type
from sandbox.hubspot.search import compile_search
from sandbox.hubspot.shapes import (
    after_param,
    batch_error,
    batch_json,
    bool_param,
    int_param,
    next_link,
    record_json,
    requested_names,
)
from sandbox.hubspot.store import StoredRecord
from sandbox.hubspot.writes import AssociationInput

MAX_BATCH_INPUTS = 100
MAX_PAGE = 100
MAX_PAGE_WITH_HISTORY = MAX_RECORDS_WITH_HISTORY


# ---- single records and pages --------------------------------------------------------------------


def list_records(call: Call) -> Response:
    object_type, args = call.object_type(), call.request.args
    with_history = requested_names(args.getlist("propertiesWithHistory"))
    limit = int_param(args, "limit", 10, MAX_PAGE_WITH_HISTORY if with_history else MAX_PAGE)
    after = after_param(args.get("after"))
    records = call.portal.store.page(
        object_type.name, after, limit + 1, archived=bool_param(args, "archived")
    )
    body: dict[str, Any] = {
        "results": _records_json(call, object_type, records[:limit], with_history)
    }
    if len(records) > limit:
        next_after = str(records[limit - 1].id)
        link = next_link(call.request, next_after)
        body["paging"] = {"next": {"after": next_after, "link": link}}
    return json_response(body)


def get_record(call: Call) -> Response:
    object_type = call.object_type()
    record = _find(call, object_type, call.args["object_id"],
                   archived=bool_param(call.request.args, "archived"))
    with_history = requested_names(call.request.args.getlist("propertiesWithHistory"))
    return json_response(_records_json(call, object_type, [record], with_history)[0])


def create_record(call: Call) -> Response:
    object_type, body = call.object_type(), _object_body(call)
    properties = call.portal.writer.validate(object_type.name, body.get("properties") or {})
    links = _association_inputs(object_type, body.get("associations") or [])
    record = call.portal.writer.create(object_type.name, [properties], call.source, [links])[0]
    names = _written_names(object_type, properties)
    return json_response(_json(call, record, names), 201)


def update_record(call: Call) -> Response:
    object_type, body = call.object_type(), _object_body(call)
    properties = call.portal.writer.validate(object_type.name, body.get("properties") or {})
    record = _find(call, object_type, call.args["object_id"])
    updated = call.portal.writer.update(object_type.name, [(record, properties)], call.source)[0]
    return json_response(_json(call, updated, _written_names(object_type, properties)))


def archive_record(call: Call) -> Response:
    object_type = call.object_type()
    found = _lookup(call, object_type, [call.args["object_id"]], None)
    if found:
        call.portal.writer.archive(object_type.name, list(found.values()), call.source)
    return Response(status=204)


def merge_records(call: Call) -> Response:
    """`POST .../merge` {"primaryObjectId", "objectIdToMerge"}: the primary survives, same id."""
    object_type, body = call.object_type(), _object_body(call)
    primary = _find_by_id(call, object_type, body.get("primaryObjectId"))
    merged = _find_by_id(call, object_type, body.get("objectIdToMerge"))
    survivor = call.portal.writer.merge(object_type.name, primary, merged, call.source)
    return json_response(_json(call, survivor, list(object_type.default_properties)))


def _find_by_id(call: Call, object_type: ObjectType, raw: Any) -> StoredRecord:
    key = str(raw if raw is not None else "")
    found = _lookup(call, object_type, [key], None)
    if key not in found:
        raise errors.not_found(key)
    return found[key]


# ---- batches -------------------------------------------------------------------------------------


def batch_read(call: Call) -> Response:
    object_type, started = call.object_type(), call.portal.clock_ms()
    body = _object_body(call)
    inputs = _inputs(body)
    if body.get("propertiesWithHistory") and len(inputs) > MAX_RECORDS_WITH_HISTORY:
        raise errors.bad_request(
            "The maximum number of inputs supported in a batch request for property histories "
            f"is {MAX_RECORDS_WITH_HISTORY}. Please reduce the number of items and try again.")
    id_property = body.get("idProperty")
    keys = [str(item.get("id", "")) for item in inputs]
    found = _lookup(call, object_type, keys, id_property,
                    archived=bool_param(call.request.args, "archived"))
    names = [str(name) for name in body.get("properties") or []]
    with_history = [str(name) for name in body.get("propertiesWithHistory") or []]
    definitions = call.portal.store.definitions(object_type.name)
    history = partial(history_json, call.portal.store)
    results = [
        record_json(found[key], names, definitions, with_history=with_history, history=history)
        for key in dict.fromkeys(keys) if key in found
    ]
    missing = [key for key in dict.fromkeys(keys) if key not in found]
    return _batch_response(call, results, started, [_not_found(object_type, missing)]
                           if missing else [])


def batch_create(call: Call) -> Response:
    object_type, started = call.object_type(), call.portal.clock_ms()
    inputs = _inputs(_object_body(call))
    writer = call.portal.writer
    prepared = [
        (index, writer.validate(object_type.name, item.get("properties") or {}),
         _association_inputs(object_type, item.get("associations") or []), item)
        for index, item in enumerate(inputs)
    ]
    failed = [entry for entry in prepared if call.faults.record_fails()]
    kept = [entry for entry in prepared if entry not in failed]
    created = writer.create(object_type.name, [entry[1] for entry in kept], call.source,
                            [entry[2] for entry in kept]) if kept else []
    results = [
        _json(call, record, _written_names(object_type, entry[1]))
        for record, entry in zip(created, kept, strict=True)
    ]
    failures = [_injected_failure(_create_context(index, item)) for index, _, _, item in failed]
    return _batch_response(call, results, started, failures, success_status=201)


def batch_update(call: Call) -> Response:
    object_type, started = call.object_type(), call.portal.clock_ms()
    inputs = _inputs(_object_body(call))
    keys = [str(item.get("id", "")) for item in inputs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise errors.bad_request(
            f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique"
        )
    id_property = inputs[0].get("idProperty") if inputs else None
    validated = [call.portal.writer.validate(object_type.name, item.get("properties") or {})
                 for item in inputs]
    found = _lookup(call, object_type, keys, id_property)
    updates, failures = [], []
    for key, properties in zip(keys, validated, strict=True):
        if key not in found:
            continue
        if call.faults.record_fails():
            failures.append(_injected_failure({"ids": [str(found[key].id)]}))
        else:
            updates.append((found[key], properties))
    updated = call.portal.writer.update(object_type.name, updates, call.source) if updates else []
    results = [_json(call, record, _written_names(object_type, properties))
               for record, (_, properties) in zip(updated, updates, strict=True)]
    missing = [key for key in keys if key not in found]
    if missing:
        failures.insert(0, _not_found(object_type, missing))
    return _batch_response(call, results, started, failures)


def batch_upsert(call: Call) -> Response:
    object_type, started = call.object_type(), call.portal.clock_ms()
    inputs = _inputs(_object_body(call))
    writer = call.portal.writer
    id_property = str(inputs[0].get("idProperty") or "") if inputs else ""
    _require_unique(call, object_type, id_property)
    keys = [str(item.get("id", "")) for item in inputs]
    validated = [writer.validate(object_type.name, item.get("properties") or {})
                 for item in inputs]
    found = _lookup(call, object_type, keys, id_property)
    updates, creations, failures = [], [], []
    for key, properties in zip(keys, validated, strict=True):
        if call.faults.record_fails():
            failures.append(_injected_failure({"ids": [key]}))
        elif key in found:
            updates.append((found[key], properties))
        else:
            creations.append({**properties, id_property: key})
    updated = writer.update(object_type.name, updates, call.source) if updates else []
    created = writer.create(object_type.name, creations, call.source) if creations else []
    results = [
        {**_json(call, record, list(properties)), "new": False}
        for record, (_, properties) in zip(updated, updates, strict=True)
    ] + [
        {**_json(call, record, list(properties)), "new": True}
        for record, properties in zip(created, creations, strict=True)
    ]
    return _batch_response(call, results, started, failures)


def batch_archive(call: Call) -> Response:
    object_type = call.object_type()
    keys = [str(item.get("id", "")) for item in _inputs(_object_body(call))]
    found = _lookup(call, object_type, keys, None)
    if found:
        call.portal.writer.archive(object_type.name, list(found.values()), call.source)
    return Response(status=204)


# ---- search --------------------------------------------------------------------------------------


def search_records(call: Call) -> Response:
    object_type = call.object_type()
    store = call.portal.store
    definitions = store.definitions(object_type.name)
    compiled = compile_search(call.json(), object_type, definitions,
                              call.portal.settings.search_max_results)
    total, records = store.search(
        object_type.name, compiled.where, compiled.params, compiled.order_by, compiled.limit,
        compiled.offset, call.portal.search_visible_before_ms(),
    )
    body: dict[str, Any] = {
        "total": total,
        "results": [record_json(record, compiled.properties, definitions) for record in records],
    }
    next_offset = compiled.offset + len(records)
    if records and next_offset < total:
        body["paging"] = {"next": {"after": str(next_offset)}}
    return json_response(body)


# ---- pieces --------------------------------------------------------------------------------------


def _object_body(call: Call) -> dict[str, Any]:
    body = call.json()
    if not isinstance(body, dict):
        raise errors.bad_request("Invalid input JSON: expected an object")
    return body


def _inputs(body: dict[str, Any]) -> list[dict[str, Any]]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(item, dict) for item in inputs):
        raise errors.bad_request("Invalid input JSON: `inputs` must be a list of objects")
    if len(inputs) > MAX_BATCH_INPUTS:
        raise errors.bad_request(
            f"Too many inputs: {len(inputs)} > {MAX_BATCH_INPUTS}. A batch takes at most "
            f"{MAX_BATCH_INPUTS} inputs.",
            errors=[{"message": f"inputs may hold at most {MAX_BATCH_INPUTS} items",
                     "in": "inputs", "code": "TOO_MANY_INPUTS"}],
        )
    return inputs


def _lookup(
    call: Call,
    object_type: ObjectType,
    keys: list[str],
    id_property: str | None,
    archived: bool = False,
) -> dict[str, StoredRecord]:
    """Records by the given ids (or values of a unique `id_property`), keyed by what was asked."""
    store = call.portal.store
    if id_property and id_property != "hs_object_id":
        _require_unique(call, object_type, id_property)
        if id_property == "email" and object_type.name == "contacts" and not archived:
            found = store.records_by_email(keys)
            return {key: found[key.lower()] for key in keys if key.lower() in found}
        return store.records_by_property(object_type.name, id_property, keys, archived)
    numeric = {key: int(key) for key in keys if key.isdigit()}
    found_by_id = store.records(object_type.name, list(numeric.values()), archived)
    return {key: found_by_id[value] for key, value in numeric.items() if value in found_by_id}


def _require_unique(call: Call, object_type: ObjectType, id_property: str) -> None:
    definition = call.portal.store.definitions(object_type.name).get(id_property)
    if definition is None or not definition.has_unique_value:
        raise errors.bad_request(
            f"Unable to perform update/upsert by non-unique {object_type.type_id} property "
            f"{id_property or '(none)'}"
        )


def _find(call: Call, object_type: ObjectType, key: str, archived: bool = False) -> StoredRecord:
    id_property = call.request.args.get("idProperty")
    found = _lookup(call, object_type, [key], id_property, archived)
    if key not in found:
        raise errors.not_found(key)
    return found[key]


def _records_json(
    call: Call, object_type: ObjectType, records: list[StoredRecord], with_history: list[str]
) -> list[dict[str, Any]]:
    args = call.request.args
    names = requested_names(args.getlist("properties"))
    definitions = call.portal.store.definitions(object_type.name)
    linked = _v3_associations(call, object_type, records,
                              requested_names(args.getlist("associations")))
    return [
        record_json(record, names, definitions, with_history=with_history,
                    history=partial(history_json, call.portal.store),
                    associations=linked.get(record.id))
        for record in records
    ]


def _v3_associations(
    call: Call, object_type: ObjectType, records: list[StoredRecord], to_names: list[str]
) -> dict[int, dict[str, Any]]:
    linked: dict[int, dict[str, Any]] = {}
    ids = [record.id for record in records]
    for name in to_names:
        to_type = resolve_object_type(name)
        if to_type is None or not ids:
            continue
        pairs_by_id = call.portal.store.associations(object_type.name, ids, to_type.name)
        for record_id, pairs in pairs_by_id.items():
            linked.setdefault(record_id, {})[to_type.name] = {"results": v3_results(pairs)}
    return linked


def _association_inputs(object_type: ObjectType, raw: Any) -> list[AssociationInput]:
    """`associations` of a create: [{"to": {"id"}, "types": [{"associationTypeId", ...}]}]."""
    if not isinstance(raw, list):
        raise errors.bad_request("`associations` must be a list")
    links = []
    for item in raw:
        try:
            to_id = int(str(item["to"]["id"]))
            type_ids = tuple(int(kind["associationTypeId"]) for kind in item["types"])
        except (KeyError, TypeError, ValueError) as error:
            raise errors.bad_request(f"Invalid association input: {item!r}") from error
        to_type = _target_type(object_type, type_ids)
        links.append(AssociationInput(to_type, to_id, type_ids))
    return links


def _target_type(object_type: ObjectType, type_ids: tuple[int, ...]) -> str:
    for type_id in type_ids:
        kind = BY_ID.get(type_id)
        if kind is not None and kind.from_type == object_type.name:
            return kind.to_type
    raise errors.bad_request(
        f"{list(type_ids)} is not a valid association type from {object_type.singular}"
    )


def _written_names(object_type: ObjectType, properties: dict[str, str]) -> list[str]:
    return list(dict.fromkeys([*object_type.default_properties, *properties]))


def _json(call: Call, record: StoredRecord, names: list[str]) -> dict[str, Any]:
    return record_json(record, names, call.portal.store.definitions(record.object_type))


def _not_found(object_type: ObjectType, keys: list[str]) -> dict[str, Any]:
    return batch_error(
        "OBJECT_NOT_FOUND",
        f"Could not get some {object_type.singular.upper()} objects, they may be deleted or not "
        "exist. Check that ids are valid.",
        {"ids": keys},
    )


def _injected_failure(context: dict[str, list[str]]) -> dict[str, Any]:
    return batch_error(
        "CONFLICT",
        "Another request is modifying this record right now; it was not changed. Retry it.",
        context,
    )


def _create_context(index: int, item: dict[str, Any]) -> dict[str, list[str]]:
    context = {"index": [str(index)]}
    if item.get("objectWriteTraceId"):
        context["objectWriteTraceId"] = [str(item["objectWriteTraceId"])]
    return context


def _batch_response(
    call: Call,
    results: list[dict[str, Any]],
    started_ms: int,
    failures: list[dict[str, Any]],
    success_status: int = 200,
) -> Response:
    body = batch_json(results, started_ms, call.portal.clock_ms(), failures)
    return json_response(body, 207 if failures else success_status)

