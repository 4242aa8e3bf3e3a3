"""The answers the HubSpot emulator gives, as HubSpot's published OpenAPI specs declare them
(HubSpot-public-api-spec-collection, `PublicApiSpecs/`: CRM/Contacts/…/v3/contacts.json,
CRM/Properties/…/v3/properties.json, CRM/Crm Owners/…/v3/crmOwners.json,
CRM/Associations/Rollouts/130902/v4/associations.json, Events/Events/…/v3/events.json,
Auth/Oauth/…/v1/oauth.json), written by hand for what the emulator sends.

Checked in the test suite (`HubSpotEmulator.check_answers`): an answer that leaves out a field
the spec requires, adds one it does not declare, or gives a field another JSON type is a defect of
the emulator, which then no longer tells how HubSpot answers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sandbox.hubspot.request_shapes import OptionInput


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# ---- records (contacts.json) ---------------------------------------------------------------------


class ValueWithTimestamp(Answer):
    value: str
    timestamp: str
    source_type: str = Field(alias="sourceType")
    source_id: str = Field(default="", alias="sourceId")


class AssociatedId(Answer):
    id: str
    type: str


class AssociatedIds(Answer):
    results: list[AssociatedId]


class SimplePublicObject(Answer):
    """A record; `associations` only on reads that asked for them (WithAssociations)."""

    id: str
    properties: dict[str, str | None]  # an unset property the request named comes back null
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")
    archived: bool
    archived_at: str = Field(default="", alias="archivedAt")
    properties_with_history: dict[str, list[ValueWithTimestamp]] = Field(
        default_factory=dict, alias="propertiesWithHistory")
    associations: dict[str, AssociatedIds] = Field(default_factory=dict)
    new: bool = False  # batch/upsert's results say whether each record was created


class NextPage(Answer):
    after: str
    link: str = ""


class ForwardPaging(Answer):
    next: NextPage


class RecordPage(Answer):
    """CollectionResponseSimplePublicObjectWithAssociationsForwardPaging."""

    results: list[SimplePublicObject]
    paging: ForwardPaging | None = None


class SearchPage(Answer):
    """CollectionResponseWithTotalSimplePublicObjectForwardPaging."""

    total: int
    results: list[SimplePublicObject]
    paging: ForwardPaging | None = None


class ErrorDetail(Answer):
    message: str
    code: str = ""
    in_: str = Field(default="", alias="in")
    context: dict[str, list[str]] = Field(default_factory=dict)
    sub_category: str = Field(default="", alias="subCategory")


class StandardError(Answer):
    """One entry of a batch's `errors` (a 207): the spec requires all six of its fields."""

    status: str
    category: str
    message: str
    context: dict[str, list[str]]
    errors: list[ErrorDetail]
    links: dict[str, str]
    sub_category: str = Field(default="", alias="subCategory")
    id: str = ""


BatchStatus = Literal["CANCELED", "COMPLETE", "PENDING", "PROCESSING"]


class Batch(Answer):
    """What every batch answer has around its results (BatchResponse…WithErrors)."""

    status: BatchStatus
    started_at: str = Field(alias="startedAt")
    completed_at: str = Field(alias="completedAt")
    num_errors: int = Field(default=0, alias="numErrors")
    errors: list[StandardError] = Field(default_factory=list)


class RecordBatch(Batch):
    """BatchResponseSimplePublicObject(WithErrors)."""

    results: list[SimplePublicObject]


# ---- properties (properties.json) ----------------------------------------------------------------


class Option(OptionInput):
    """An option as HubSpot answers it: OptionInput's fields, `hidden` required too."""


class PropertyModificationMetadata(Answer):
    archivable: bool
    read_only_definition: bool = Field(alias="readOnlyDefinition")
    read_only_value: bool = Field(alias="readOnlyValue")
    read_only_options: bool = Field(default=False, alias="readOnlyOptions")


class Property(Answer):
    name: str
    label: str
    type: str
    field_type: str = Field(alias="fieldType")
    group_name: str = Field(alias="groupName")
    description: str
    options: list[Option]
    display_order: int = Field(default=-1, alias="displayOrder")
    calculated: bool = False
    external_options: bool = Field(default=False, alias="externalOptions")
    has_unique_value: bool = Field(default=False, alias="hasUniqueValue")
    hidden: bool = False
    hubspot_defined: bool = Field(default=False, alias="hubspotDefined")
    form_field: bool = Field(default=False, alias="formField")
    archived: bool = False
    created_at: str = Field(default="", alias="createdAt")
    updated_at: str = Field(default="", alias="updatedAt")
    modification_metadata: PropertyModificationMetadata | None = Field(
        default=None, alias="modificationMetadata")
    data_sensitivity: Literal["highly_sensitive", "non_sensitive", "sensitive"] = Field(
        default="non_sensitive", alias="dataSensitivity")
    referenced_object_type: str = Field(default="", alias="referencedObjectType")


class Properties(Answer):
    results: list[Property]


class PropertyGroup(Answer):
    name: str
    label: str
    display_order: int = Field(alias="displayOrder")
    archived: bool


class PropertyGroups(Answer):
    results: list[PropertyGroup]


# ---- owners (crmOwners.json) ---------------------------------------------------------------------


class PublicTeam(Answer):
    id: str
    name: str
    primary: bool


class PublicOwner(Answer):
    id: str
    type: Literal["PERSON", "QUEUE"]
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")
    archived: bool
    email: str = ""
    first_name: str = Field(default="", alias="firstName")
    last_name: str = Field(default="", alias="lastName")
    user_id: int = Field(default=0, alias="userId")
    user_id_including_inactive: int = Field(default=0, alias="userIdIncludingInactive")
    teams: list[PublicTeam] = Field(default_factory=list)


class OwnerPage(Answer):
    results: list[PublicOwner]
    paging: ForwardPaging | None = None


# ---- associations v4 (associations.json) ---------------------------------------------------------


class AssociationSpecWithLabel(Answer):
    category: Literal["HUBSPOT_DEFINED", "INTEGRATOR_DEFINED", "USER_DEFINED", "WORK"]
    type_id: int = Field(alias="typeId")
    label: str | None = None  # unlabeled associations carry `"label": null`


class MultiAssociatedObjectWithLabel(Answer):
    # The spec (and hubspot-api-client's model) type it as a string; HubSpot's associations guide
    # shows numbers. The emulator sends numbers; the connector reads either.
    to_object_id: int | str = Field(alias="toObjectId")
    association_types: list[AssociationSpecWithLabel] = Field(alias="associationTypes")


class PublicObjectId(Answer):
    id: str


class PublicAssociationMultiWithLabel(Answer):
    from_: PublicObjectId = Field(alias="from")
    to: list[MultiAssociatedObjectWithLabel]


class AssociationBatch(Batch):
    results: list[PublicAssociationMultiWithLabel]


class AssociationPage(Answer):
    results: list[MultiAssociatedObjectWithLabel]
    paging: ForwardPaging | None = None


class AssociationSpec(Answer):
    association_category: Literal["HUBSPOT_DEFINED", "INTEGRATOR_DEFINED", "USER_DEFINED",
                                  "WORK"] = Field(alias="associationCategory")
    association_type_id: int = Field(alias="associationTypeId")


class PublicDefaultAssociation(Answer):
    from_: PublicObjectId = Field(alias="from")
    to: PublicObjectId
    association_spec: AssociationSpec = Field(alias="associationSpec")


class DefaultAssociationBatch(Batch):
    results: list[PublicDefaultAssociation]


# ---- events (events.json) ------------------------------------------------------------------------


class ExternalUnifiedEvent(Answer):
    event_type: str = Field(alias="eventType")
    id: str
    object_id: str = Field(alias="objectId")
    object_type: str = Field(alias="objectType")
    occurred_at: str = Field(alias="occurredAt")
    properties: dict[str, str]


class EventPage(Answer):
    results: list[ExternalUnifiedEvent]
    paging: ForwardPaging | None = None


# ---- OAuth (oauth.json) and errors (every spec's Error) ------------------------------------------


class AccessTokenResponse(Answer):
    access_token: str
    expires_in: int
    refresh_token: str
    token_type: str
    token_use: Literal["access_token"]
    hub_id: int = 0
    scopes: list[str] = Field(default_factory=list)
    user_id: int = 0


class Error(Answer):
    """An error answer: `category`, `correlationId` and `message` are required; `status` is
    "error" on every endpoint but the OAuth token's (its code, e.g. BAD_REFRESH_TOKEN) — the
    429 bodies, which carry `errorType` and `policyName` instead of a category, are not this."""

    status: str
    message: str
    correlation_id: str = Field(alias="correlationId")
    category: str
    sub_category: str = Field(default="", alias="subCategory")
    errors: list[ErrorDetail] = Field(default_factory=list)
    context: dict[str, list[str]] = Field(default_factory=dict)
    links: dict[str, str] = Field(default_factory=dict)
