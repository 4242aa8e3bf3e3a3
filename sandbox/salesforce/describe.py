"""Describe answers: the global sObject list, one object's metadata and its field describe."""

from __future__ import annotations

from typing import Any

from sandbox.salesforce.schema import SOAP_TYPES, FieldDef, Schema, SObjectDef

TEXT_LENGTHS = {"string": 255, "email": 80, "phone": 40, "url": 255, "textarea": 32768,
                "picklist": 255, "id": 18, "reference": 18}


def object_urls(version: str, sobject: SObjectDef) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{sobject.name}"
    return {
        "sobject": base,
        "describe": f"{base}/describe",
        "rowTemplate": f"{base}/{{ID}}",
    }


def object_summary(version: str, sobject: SObjectDef) -> dict[str, Any]:
    return {
        "name": sobject.name,
        "label": sobject.label,
        "labelPlural": sobject.label_plural or f"{sobject.label}s",
        "keyPrefix": sobject.key_prefix,
        "custom": False,
        "createable": sobject.name != "Organization",
        "updateable": sobject.name != "Organization",
        "deletable": sobject.name not in ("Organization", "User"),
        "queryable": True,
        "retrieveable": True,
        "urls": object_urls(version, sobject),
    }


def describe_global(version: str, schema: Schema) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [object_summary(version, sobject) for sobject in schema.objects],
    }


def field_label(name: str) -> str:
    base = name.removesuffix("__c").removesuffix("Id") or name
    return base.replace("_", " ")


def describe_field(field: FieldDef) -> dict[str, Any]:
    return {
        "name": field.name,
        "label": field_label(field.name),
        "type": field.type,
        "soapType": SOAP_TYPES.get(field.type, "xsd:string"),
        "length": TEXT_LENGTHS.get(field.type, 0),
        "updateable": field.updateable,
        "createable": field.createable,
        "nillable": field.nillable,
        "custom": field.custom,
        "filterable": True,
        "sortable": field.type != "textarea",
        "restrictedPicklist": field.restricted_picklist,
        "picklistValues": [
            {"active": True, "defaultValue": False, "label": value, "validFor": None,
             "value": value}
            for value in field.picklist
        ],
        "referenceTo": list(field.references),
        "relationshipName": field.relationship_name,
        "polymorphicForeignKey": field.polymorphic,
    }


def describe_object(version: str, sobject: SObjectDef) -> dict[str, Any]:
    return {
        **object_summary(version, sobject),
        "fields": [describe_field(field) for field in sobject.fields],
    }
