"""`/crm/v3/properties/{type}`: property definitions (with their options) and property groups."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from werkzeug.wrappers import Response

from sandbox.hubspot import errors
from sandbox.hubspot.context import Call
from sandbox.hubspot.errors import ApiError, error_body, json_response
from sandbox.hubspot.schema import (
    PROPERTY_NAME,
    PROPERTY_TYPES,
    Option,
    PropertyDefinition,
    PropertyGroup,
)

_REQUIRED_FIELDS = ("name", "label", "type", "fieldType", "groupName")


def list_properties(call: Call) -> Response:
    definitions = call.portal.store.definitions(call.object_type().name)
    return json_response({"results": [definition.to_json() for definition in
                                      definitions.values()]})


def get_property(call: Call) -> Response:
    return json_response(_definition(call).to_json())


def create_property(call: Call) -> Response:
    object_type, body = call.object_type(), _body(call)
    missing = [name for name in _REQUIRED_FIELDS if not body.get(name)]
    if missing:
        raise errors.bad_request(f"Missing required fields: {', '.join(missing)}")
    name = str(body["name"])
    if not PROPERTY_NAME.match(name):
        raise errors.bad_request(
            f"Invalid property name {name!r}: use lower-case letters, digits and underscores, "
            "starting with a letter"
        )
    store = call.portal.store
    if name in store.definitions(object_type.name):
        raise ApiError(409, error_body(f"A property named '{name}' already exists.", "CONFLICT",
                                       context={"name": [name]}))
    definition = PropertyDefinition(
        name=name,
        label=str(body["label"]),
        type=_property_type(body["type"]),
        field_type=str(body["fieldType"]),
        group_name=_existing_group(call, str(body["groupName"])),
        description=str(body.get("description") or ""),
        options=_options(body.get("options") or []),
        has_unique_value=bool(body.get("hasUniqueValue", False)),
        hubspot_defined=False,
        display_order=int(body.get("displayOrder", -1)),
        created_ms=call.portal.clock_ms(),
    )
    store.add_property(object_type.name, definition)
    return json_response(definition.to_json(), 201)


def update_property(call: Call) -> Response:
    """PATCH a definition: label, description, group, display order or options."""
    object_type, body, definition = call.object_type(), _body(call), _definition(call)
    changes: dict[str, Any] = {}
    if "label" in body:
        changes["label"] = str(body["label"])
    if "description" in body:
        changes["description"] = str(body["description"])
    if "groupName" in body:
        changes["group_name"] = _existing_group(call, str(body["groupName"]))
    if "displayOrder" in body:
        changes["display_order"] = int(body["displayOrder"])
    if "options" in body:
        changes["options"] = _options(body["options"])
    updated = replace(definition, **changes)
    call.portal.store.add_property(object_type.name, updated)
    return json_response(updated.to_json())


def list_groups(call: Call) -> Response:
    groups = call.portal.store.groups(call.object_type().name)
    return json_response({"results": [group.to_json() for group in groups.values()]})


def get_group(call: Call) -> Response:
    groups = call.portal.store.groups(call.object_type().name)
    group = groups.get(call.args["group_name"])
    if group is None:
        raise ApiError(404, error_body(f"Unable to find property group {call.args['group_name']}",
                                       "OBJECT_NOT_FOUND"))
    return json_response(group.to_json())


def create_group(call: Call) -> Response:
    object_type, body = call.object_type(), _body(call)
    name, label = body.get("name"), body.get("label")
    if not name or not label:
        raise errors.bad_request("Missing required fields: name, label")
    if not PROPERTY_NAME.match(str(name)):
        raise errors.bad_request(f"Invalid property group name {name!r}")
    store = call.portal.store
    if name in store.groups(object_type.name):
        raise ApiError(409, error_body(f"A property group named '{name}' already exists.",
                                       "CONFLICT", context={"name": [str(name)]}))
    group = PropertyGroup(str(name), str(label), int(body.get("displayOrder", -1)))
    store.add_group(object_type.name, group)
    return json_response(group.to_json(), 201)


def _body(call: Call) -> dict[str, Any]:
    body = call.json()
    if not isinstance(body, dict):
        raise errors.bad_request("Invalid input JSON: expected an object")
    return body


def _definition(call: Call) -> PropertyDefinition:
    object_type = call.object_type()
    name = call.args["property_name"]
    definition = call.portal.store.definitions(object_type.name).get(name)
    if definition is None:
        raise ApiError(404, error_body(
            f"Unable to find property {name} for object type {object_type.type_id}",
            "OBJECT_NOT_FOUND", context={"name": [name]},
        ))
    return definition


def _property_type(raw: Any) -> str:
    if raw not in PROPERTY_TYPES:
        raise errors.bad_request(
            f"Invalid property type {raw!r}: one of {', '.join(sorted(PROPERTY_TYPES))}"
        )
    return str(raw)


def _existing_group(call: Call, name: str) -> str:
    if name not in call.portal.store.groups(call.object_type().name):
        raise errors.bad_request(f"Property group {name} does not exist")
    return name


def _options(raw: Any) -> tuple[Option, ...]:
    if not isinstance(raw, list):
        raise errors.bad_request("`options` must be a list")
    try:
        return tuple(
            Option(
                label=str(option["label"]),
                value=str(option["value"]),
                display_order=int(option.get("displayOrder", position)),
                hidden=bool(option.get("hidden", False)),
                description=str(option.get("description") or ""),
            )
            for position, option in enumerate(raw)
        )
    except (KeyError, TypeError, ValueError) as error:
        raise errors.bad_request("Each option needs a label and a value") from error
