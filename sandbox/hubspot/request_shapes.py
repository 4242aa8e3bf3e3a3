"""The request bodies the HubSpot emulator accepts, written by hand after HubSpot's published
OpenAPI specifications (github.com/HubSpot/HubSpot-public-api-spec-collection, `PublicApiSpecs/`:
CRM/Contacts/Rollouts/424/v3/contacts.json, CRM/Objects/…/v3/objects.json,
CRM/Properties/Rollouts/145899/v3/properties.json, CRM/Associations/Rollouts/130902/v4/
associations.json, Auth/Oauth/Rollouts/155908/v1/oauth.json). Only the shapes leadq and the
sandbox's own tests send are modelled.

An emulator is a test oracle, so every model is strict: unknown fields are refused, strings must
be JSON strings (never numbers or null), integers integers, booleans booleans, enumerations one of
their values. Required fields are those the spec requires, except where HubSpot's own guides show
a request without them (each such case says so next to the field). An optional field may be
left out but never sent as null: the spec gives it a type, and null is none. The models only
validate: handlers read the JSON itself.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Shape(BaseModel):
    """A JSON object as HubSpot reads it: nothing unknown, no coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False)


# ---- objects (contacts.json, objects.json) -------------------------------------------------------


class SimplePublicObjectId(Shape):
    id: str


class BatchReadInputSimplePublicObjectId(Shape):
    """`POST /crm/v3/objects/{type}/batch/read`. The spec marks `properties` and
    `propertiesWithHistory` required; HubSpot's contacts guide reads a batch with `properties`
    and `inputs` only, so only `inputs` is required here."""

    inputs: list[SimplePublicObjectId]
    properties: list[str] = Field(default_factory=list)
    properties_with_history: list[str] = Field(default_factory=list, alias="propertiesWithHistory")
    id_property: str = Field(default="", alias="idProperty")


class SimplePublicObjectBatchInput(Shape):
    """One update of `batch/update`: `id` and `properties` (string values) are required."""

    id: str
    properties: dict[str, str]
    id_property: str = Field(default="", alias="idProperty")
    object_write_trace_id: str = Field(default="", alias="objectWriteTraceId")


class BatchInputSimplePublicObjectBatchInput(Shape):
    inputs: list[SimplePublicObjectBatchInput]


class AssociationSpec(Shape):
    association_category: Literal["HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED"] = (
        Field(alias="associationCategory"))
    association_type_id: int = Field(alias="associationTypeId")


class PublicObjectId(Shape):
    id: str


class PublicAssociationsForObject(Shape):
    to: PublicObjectId
    types: list[AssociationSpec]


class SimplePublicObjectInputForCreate(Shape):
    """`POST /crm/v3/objects/{type}` and each input of `batch/create`. The spec requires
    `associations`; HubSpot's contacts guide creates with `properties` alone."""

    properties: dict[str, str]
    associations: list[PublicAssociationsForObject] = Field(default_factory=list)
    object_write_trace_id: str = Field(default="", alias="objectWriteTraceId")


class BatchInputSimplePublicObjectInputForCreate(Shape):
    inputs: list[SimplePublicObjectInputForCreate]


class SimplePublicObjectInput(Shape):
    """`PATCH /crm/v3/objects/{type}/{id}`."""

    properties: dict[str, str]


class SimplePublicObjectBatchInputUpsert(SimplePublicObjectBatchInput):
    """One input of `batch/upsert`: the fields of an update's."""


class BatchInputSimplePublicObjectBatchInputUpsert(Shape):
    inputs: list[SimplePublicObjectBatchInputUpsert]


class BatchInputSimplePublicObjectId(Shape):
    """`batch/archive`."""

    inputs: list[SimplePublicObjectId]


class PublicMergeInput(Shape):
    primary_object_id: str = Field(alias="primaryObjectId")
    object_id_to_merge: str = Field(alias="objectIdToMerge")


# ---- search (contacts.json: PublicObjectSearchRequest, FilterGroup, Filter) ----------------------

Operator = Literal["BETWEEN", "CONTAINS_TOKEN", "EQ", "GT", "GTE", "HAS_PROPERTY", "IN", "LT",
                   "LTE", "NEQ", "NOT_CONTAINS_TOKEN", "NOT_HAS_PROPERTY", "NOT_IN"]


class Filter(Shape):
    """`propertyName` and `operator` are required; `value`, `highValue` strings, `values` a list
    of strings (a filter's value is never a JSON number, even for numbers and dates)."""

    property_name: str = Field(alias="propertyName")
    operator: Operator
    value: str = ""
    high_value: str = Field(default="", alias="highValue")
    values: list[str] = Field(default_factory=list)


class FilterGroup(Shape):
    filters: list[Filter]


class PublicSort(Shape):
    """HubSpot's search guide sorts with `{"propertyName", "direction"}` objects (the spec's
    `sorts` lists plain strings; both are accepted)."""

    property_name: str = Field(alias="propertyName")
    direction: Literal["ASCENDING", "DESCENDING"] = "ASCENDING"


class PublicObjectSearchRequest(Shape):
    """`POST /crm/v3/objects/{type}/search`. The spec lists every field as required, but HubSpot's
    search guide documents `{}` as a valid request ("include only an empty object"), so none is
    required here. `after` is a string paging token: absent on the first page, never null."""

    after: str = ""
    filter_groups: list[FilterGroup] = Field(default_factory=list, alias="filterGroups")
    limit: int = 10
    properties: list[str] = Field(default_factory=list)
    query: str = ""
    sorts: list[PublicSort | str] = Field(default_factory=list)


# ---- properties (properties.json: PropertyCreate, OptionInput, PropertyGroupCreate) --------------

FieldType = Literal["booleancheckbox", "calculation_equation", "checkbox", "date", "file", "html",
                    "number", "phonenumber", "radio", "select", "text", "textarea"]
PropertyType = Literal["bool", "date", "datetime", "enumeration", "number", "phone_number",
                       "string"]


class OptionInput(Shape):
    """One option of an enumeration: `label`, `value` and **`hidden`** are required (the spec's
    OptionInput, and hubspot-api-client's OptionInput model refuses None for each)."""

    label: str
    value: str
    hidden: bool
    display_order: int = Field(default=-1, alias="displayOrder")
    description: str = ""


NumberDisplayHint = Literal["currency", "duration", "formatted", "percentage", "probability",
                           "unformatted"]
TextDisplayHint = Literal["domain_name", "email", "ip_address", "multi_line", "phone_number",
                          "physical_address", "postal_code", "unformatted_single_line"]


class PropertyCreate(Shape):
    name: str
    label: str
    type: PropertyType
    field_type: FieldType = Field(alias="fieldType")
    group_name: str = Field(alias="groupName")
    description: str = ""
    display_order: int = Field(default=-1, alias="displayOrder")
    options: list[OptionInput] = Field(default_factory=list)
    has_unique_value: bool = Field(default=False, alias="hasUniqueValue")
    hidden: bool = False
    form_field: bool = Field(default=False, alias="formField")
    external_options: bool = Field(default=False, alias="externalOptions")
    referenced_object_type: str = Field(default="", alias="referencedObjectType")
    calculation_formula: str = Field(default="", alias="calculationFormula")
    currency_property_name: str = Field(default="", alias="currencyPropertyName")
    show_currency_symbol: bool = Field(default=False, alias="showCurrencySymbol")
    data_sensitivity: Literal["highly_sensitive", "non_sensitive", "sensitive"] = Field(
        default="non_sensitive", alias="dataSensitivity")
    number_display_hint: NumberDisplayHint = Field(default="unformatted",
                                                   alias="numberDisplayHint")
    text_display_hint: TextDisplayHint = Field(default="unformatted_single_line",
                                               alias="textDisplayHint")


class PropertyUpdate(Shape):
    """`PATCH /crm/v3/properties/{type}/{name}`: every field optional."""

    label: str = ""
    description: str = ""
    group_name: str = Field(default="", alias="groupName")
    display_order: int = Field(default=-1, alias="displayOrder")
    options: list[OptionInput] = Field(default_factory=list)
    type: PropertyType = "string"
    field_type: FieldType = Field(default="text", alias="fieldType")
    hidden: bool = False
    form_field: bool = Field(default=False, alias="formField")
    calculation_formula: str = Field(default="", alias="calculationFormula")
    currency_property_name: str = Field(default="", alias="currencyPropertyName")
    show_currency_symbol: bool = Field(default=False, alias="showCurrencySymbol")
    number_display_hint: NumberDisplayHint = Field(default="unformatted",
                                                   alias="numberDisplayHint")
    text_display_hint: TextDisplayHint = Field(default="unformatted_single_line",
                                               alias="textDisplayHint")


class PropertyGroupCreate(Shape):
    name: str
    label: str
    display_order: int = Field(default=-1, alias="displayOrder")


# ---- associations v4 (associations.json) ---------------------------------------------------------


class PublicFetchAssociationsBatchRequest(Shape):
    id: str
    after: str = ""


class BatchInputPublicFetchAssociationsBatchRequest(Shape):
    inputs: list[PublicFetchAssociationsBatchRequest]
