"""The portal's property definitions (read once per connector) and leadq's own output properties.

The schema tells the connector each property's type (to type values read, and to format values
written), which properties exist (never write one the portal lacks), which are read-only, and the
portal's own lifecycle stage order (portals can customise it), so that writes only move forward.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as default
from typing import Any

from connectors.base import FieldsReport, OutputField
from connectors.hubspot_api import AlreadyExistsError, HubSpotApi

LEADQ_GROUP = "leadq"
LEADQ_GROUP_LABEL = "leadq"
_FIELD_TYPES = {  # OutputField.type → (HubSpot type, fieldType)
    "number": ("number", "number"),
    "string": ("string", "text"),
    "datetime": ("datetime", "date"),
    "enumeration": ("enumeration", "select"),
}
_TEXTAREA_SUFFIXES = ("reasons",)


@dataclass(frozen=True)
class PortalSchema:
    object_type: str
    types: dict[str, str]
    read_only: frozenset[str]
    lifecycle_stages: tuple[str, ...]
    options: dict[str, tuple[str, ...]] = default(default_factory=dict)  # enumeration values

    def lacks(self, names: Sequence[str]) -> list[str]:
        return sorted({name for name in names if name not in self.types})

    def stage_rank(self, stage: str | None) -> int | None:
        if not stage or stage not in self.lifecycle_stages:
            return None
        return self.lifecycle_stages.index(stage)


def schema_json(schema: PortalSchema) -> dict[str, Any]:
    """The schema as JSON, for a connector's `SchemaCache`."""
    return {"object_type": schema.object_type, "types": schema.types,
            "read_only": sorted(schema.read_only),
            "lifecycle_stages": list(schema.lifecycle_stages),
            "options": {name: list(values) for name, values in schema.options.items()}}


def schema_from_json(kept: dict[str, Any]) -> PortalSchema:
    return PortalSchema(
        object_type=str(kept["object_type"]),
        types={str(name): str(kind) for name, kind in kept["types"].items()},
        read_only=frozenset(kept["read_only"]),
        lifecycle_stages=tuple(kept["lifecycle_stages"]),
        options={str(name): tuple(values) for name, values in kept["options"].items()},
    )


def load_schema(api: HubSpotApi, object_type: str) -> PortalSchema:
    answer = api.call("schema", f"reading the {object_type} property definitions",
                      "crm.properties.core_api.get_all", object_type)
    definitions = [item for item in answer.get("results") or [] if isinstance(item, dict)]
    return PortalSchema(
        object_type=object_type,
        types={str(item["name"]): str(item.get("type") or "string") for item in definitions},
        read_only=frozenset(str(item["name"]) for item in definitions if _read_only(item)),
        lifecycle_stages=_stage_order(definitions),
        options={
            str(item["name"]): tuple(str(option.get("value")) for option in item["options"])
            for item in definitions
            if item.get("type") == "enumeration" and item.get("options")
        },
    )


def _read_only(definition: dict[str, Any]) -> bool:
    metadata = definition.get("modificationMetadata") or {}
    return bool(metadata.get("readOnlyValue") or definition.get("calculated"))


def _stage_order(definitions: list[dict[str, Any]]) -> tuple[str, ...]:
    for definition in definitions:
        if definition.get("name") == "lifecyclestage":
            options = sorted(definition.get("options") or [],
                             key=lambda option: option.get("displayOrder", 0))
            return tuple(str(option["value"]) for option in options)
    return ()


def ensure_output_properties(
    api: HubSpotApi, schema: PortalSchema, fields: Sequence[OutputField]
) -> FieldsReport:
    """Create the `leadq` group and every output property the portal lacks (idempotent)."""
    report = FieldsReport()
    wanted = [field for field in fields if field.name not in schema.types]
    report.existing.extend(field.name for field in fields if field.name in schema.types)
    if not wanted:
        return report
    _create_group(api, schema.object_type)
    for field in wanted:
        try:
            api.call("schema", f"creating the {schema.object_type} property {field.name}",
                     "crm.properties.core_api.create", schema.object_type,
                     _property_body(field))
            report.created.append(field.name)
        except AlreadyExistsError:
            report.existing.append(field.name)
    return report


def _create_group(api: HubSpotApi, object_type: str) -> None:
    with contextlib.suppress(AlreadyExistsError):  # 409: the group is there already
        api.call("schema", f"creating the {object_type} property group {LEADQ_GROUP}",
                 "crm.properties.groups_api.create", object_type,
                 {"name": LEADQ_GROUP, "label": LEADQ_GROUP_LABEL})


def _property_body(field: OutputField) -> dict[str, Any]:
    kind, field_type = _FIELD_TYPES[field.type]
    if kind == "string" and field.name.endswith(_TEXTAREA_SUFFIXES):
        field_type = "textarea"
    body: dict[str, Any] = {
        "name": field.name,
        "label": field.label,
        "type": kind,
        "fieldType": field_type,
        "groupName": LEADQ_GROUP,
        "description": "Written by leadq: do not edit by hand.",
    }
    if field.options:
        # each option requires `hidden` (HubSpot's OptionInput; the client's model refuses None)
        body["options"] = [
            {"label": option, "value": option, "displayOrder": order, "hidden": False}
            for order, option in enumerate(field.options)
        ]
    return body
