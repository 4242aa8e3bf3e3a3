"""`HubSpotEmulator`: HubSpot's CRM API over HTTP — routing, auth, scopes and rate limits.

Order of checks for each request, as HubSpot applies them: route (404 JSON), bearer token (401),
rate limit (429: the ten-second window and daily quota, or the search endpoints' per-second
limit), scope (403 MISSING_SCOPES), the request's query and body against the shapes HubSpot
declares (400 VALIDATION_ERROR: validation.py, request_shapes.py), then the handler. Injected
faults (`self.faults`) answer before all of that: a 429 with the ten-second body, a 502/503 with
HubSpot's JSON, a slow answer or a dropped connection.
"""

from __future__ import annotations

import itertools
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandbox.hubspot import (
    associations_api,
    events_api,
    objects_api,
    owners_api,
    properties_api,
)
from sandbox.hubspot import request_shapes as shapes
from sandbox.hubspot import response_shapes as answers
from sandbox.hubspot.auth import AppCredentials, TokenAuthority
from sandbox.hubspot.context import Call
from sandbox.hubspot.errors import (
    ApiError,
    error_body,
    json_response,
    rate_limit_body,
    route_not_found,
    server_error_body,
)
from sandbox.hubspot.limits import PortalLimits
from sandbox.hubspot.portal import Portal
from sandbox.hubspot.store import HubSpotStore
from sandbox.hubspot.validation import QueryKind, RequestShape, answer_problem, check_request
from sandbox.hubspot.webhooks import WebhookSender
from sandbox.hubspot.writes import ChangeSource
from sandbox.orgs import SynthActivity
from sandbox.server import Emulator

Scope = Callable[[Call], str]


def _records(access: str) -> Scope:
    return lambda call: f"{call.object_type().scope}.{access}"


def _schemas(access: str) -> Scope:
    def scope(call: Call) -> str:
        family = "companies" if call.object_type().name == "companies" else "contacts"
        return f"crm.schemas.{family}.{access}"

    return scope


def _fixed(scope: str) -> Scope:
    return lambda call: scope


def _associations_read(call: Call) -> str:
    return f"{call.object_type('from_object_type').scope}.read"


@dataclass(frozen=True)
class Endpoint:
    handler: Callable[[Call], Response]
    scope: Scope
    shape: RequestShape
    answer: type[answers.Answer] | None  # a success's body (None: no body)
    search: bool = False


def _query(*names: str, **kinds: QueryKind) -> dict[str, QueryKind]:
    """Query parameters: `names` are single strings, `kinds` name their own kind."""
    return {**dict.fromkeys(names, "string"), **kinds}


# Each endpoint's parameters as HubSpot's v3/v4 specs declare them (HubSpot-public-api-spec-
# collection: contacts.json, objects.json, properties.json, crmOwners.json, associations.json,
# events.json), and scopes as the specs' `security` names them.
_READ_QUERY = _query(properties="strings", propertiesWithHistory="strings",
                     associations="strings", archived="boolean")
_PAGE_QUERY = {**_READ_QUERY, **_query("after", limit="integer")}
_NONE: dict[str, QueryKind] = {}
_SENSITIVITY = ("highly_sensitive", "non_sensitive", "sensitive")
_PROPERTIES_QUERY = _query("locale", "properties", archived="boolean",
                           dataSensitivity=_SENSITIVITY)
_EVENTS_QUERY = _query(
    "after", "before", "eventType", "objectType", "objectProperty.*", "property.*",
    id="strings", limit="integer", objectId="integer", occurredAfter="date-time",
    occurredBefore="date-time", properties="strings", sort="strings",
)
_READ, _WRITE = _records("read"), _records("write")
_OWNERS = _fixed("crm.objects.owners.read")
ENDPOINTS: dict[str, Endpoint] = {
    "list_records": Endpoint(objects_api.list_records, _READ, RequestShape(_PAGE_QUERY),
                             answers.RecordPage),
    "create_record": Endpoint(objects_api.create_record, _WRITE, RequestShape(
        _NONE, shapes.SimplePublicObjectInputForCreate), answers.SimplePublicObject),
    "get_record": Endpoint(objects_api.get_record, _READ, RequestShape(
        {**_READ_QUERY, **_query("idProperty")}), answers.SimplePublicObject),
    "update_record": Endpoint(objects_api.update_record, _WRITE, RequestShape(
        _query("idProperty"), shapes.SimplePublicObjectInput), answers.SimplePublicObject),
    "archive_record": Endpoint(objects_api.archive_record, _WRITE, RequestShape(_NONE), None),
    "merge_records": Endpoint(objects_api.merge_records, _WRITE, RequestShape(
        _NONE, shapes.PublicMergeInput), answers.SimplePublicObject),
    "batch_read": Endpoint(objects_api.batch_read, _READ, RequestShape(
        _query(archived="boolean"), shapes.BatchReadInputSimplePublicObjectId),
        answers.RecordBatch),
    "batch_create": Endpoint(objects_api.batch_create, _WRITE, RequestShape(
        _NONE, shapes.BatchInputSimplePublicObjectInputForCreate), answers.RecordBatch),
    "batch_update": Endpoint(objects_api.batch_update, _WRITE, RequestShape(
        _NONE, shapes.BatchInputSimplePublicObjectBatchInput), answers.RecordBatch),
    "batch_upsert": Endpoint(objects_api.batch_upsert, _WRITE, RequestShape(
        _NONE, shapes.BatchInputSimplePublicObjectBatchInputUpsert), answers.RecordBatch),
    "batch_archive": Endpoint(objects_api.batch_archive, _WRITE, RequestShape(
        _NONE, shapes.BatchInputSimplePublicObjectId), None),
    "search_records": Endpoint(objects_api.search_records, _READ, RequestShape(
        _NONE, shapes.PublicObjectSearchRequest), answers.SearchPage, search=True),
    "list_properties": Endpoint(properties_api.list_properties, _schemas("read"),
                                RequestShape(_PROPERTIES_QUERY), answers.Properties),
    "create_property": Endpoint(properties_api.create_property, _schemas("write"),
                                RequestShape(_NONE, shapes.PropertyCreate), answers.Property),
    "get_property": Endpoint(properties_api.get_property, _schemas("read"),
                             RequestShape(_PROPERTIES_QUERY), answers.Property),
    "update_property": Endpoint(properties_api.update_property, _schemas("write"),
                                RequestShape(_NONE, shapes.PropertyUpdate), answers.Property),
    "list_groups": Endpoint(properties_api.list_groups, _schemas("read"),
                            RequestShape(_query("locale")), answers.PropertyGroups),
    "create_group": Endpoint(properties_api.create_group, _schemas("write"),
                             RequestShape(_NONE, shapes.PropertyGroupCreate),
                             answers.PropertyGroup),
    "get_group": Endpoint(properties_api.get_group, _schemas("read"),
                          RequestShape(_query("locale")), answers.PropertyGroup),
    "list_owners": Endpoint(owners_api.list_owners, _OWNERS, RequestShape(
        _query("after", "email", limit="integer", archived="boolean")), answers.OwnerPage),
    "get_owner": Endpoint(owners_api.get_owner, _OWNERS, RequestShape(
        _query(archived="boolean", idProperty=("id", "userId"))), answers.PublicOwner),
    "list_associations": Endpoint(associations_api.list_associations, _READ, RequestShape(
        _query("after", limit="integer")), answers.AssociationPage),
    "create_default_association": Endpoint(associations_api.create_default_association, _WRITE,
                                           RequestShape(_NONE), answers.DefaultAssociationBatch),
    "batch_read_associations": Endpoint(associations_api.batch_read_associations,
                                        _associations_read, RequestShape(
        _NONE, shapes.BatchInputPublicFetchAssociationsBatchRequest), answers.AssociationBatch),
    # events.json: both operations' only scope is `oauth` (every app has it)
    "list_events": Endpoint(events_api.list_events, _fixed("oauth"), RequestShape(_EVENTS_QUERY),
                            answers.EventPage),
    "list_event_types": Endpoint(events_api.list_event_types, _fixed("oauth"),
                                 RequestShape(_NONE), None),
}

_OBJECTS = "/crm/v3/objects/<object_type>"
_PROPERTIES = "/crm/v3/properties/<object_type>"
URL_MAP = Map(
    [
        Rule("/oauth/v1/token", methods=["POST"], endpoint="oauth_token"),
        Rule(_OBJECTS, methods=["GET"], endpoint="list_records"),
        Rule(_OBJECTS, methods=["POST"], endpoint="create_record"),
        Rule(f"{_OBJECTS}/search", methods=["POST"], endpoint="search_records"),
        Rule(f"{_OBJECTS}/merge", methods=["POST"], endpoint="merge_records"),
        *(Rule(f"{_OBJECTS}/batch/{action}", methods=["POST"], endpoint=f"batch_{action}")
          for action in ("read", "create", "update", "upsert", "archive")),
        Rule(f"{_OBJECTS}/<object_id>", methods=["GET"], endpoint="get_record"),
        Rule(f"{_OBJECTS}/<object_id>", methods=["PATCH"], endpoint="update_record"),
        Rule(f"{_OBJECTS}/<object_id>", methods=["DELETE"], endpoint="archive_record"),
        Rule(_PROPERTIES, methods=["GET"], endpoint="list_properties"),
        Rule(_PROPERTIES, methods=["POST"], endpoint="create_property"),
        Rule(f"{_PROPERTIES}/groups", methods=["GET"], endpoint="list_groups"),
        Rule(f"{_PROPERTIES}/groups", methods=["POST"], endpoint="create_group"),
        Rule(f"{_PROPERTIES}/groups/<group_name>", methods=["GET"], endpoint="get_group"),
        Rule(f"{_PROPERTIES}/<property_name>", methods=["GET"], endpoint="get_property"),
        Rule(f"{_PROPERTIES}/<property_name>", methods=["PATCH"], endpoint="update_property"),
        Rule("/crm/v3/owners/", methods=["GET"], endpoint="list_owners"),
        Rule("/crm/v3/owners/<owner_id>", methods=["GET"], endpoint="get_owner"),
        Rule("/crm/v4/objects/<object_type>/<object_id>/associations/<to_object_type>",
             methods=["GET"], endpoint="list_associations"),
        Rule("/crm/v4/objects/<object_type>/<object_id>/associations/default/<to_object_type>/"
             "<to_object_id>", methods=["PUT"], endpoint="create_default_association"),
        Rule("/crm/v4/associations/<from_object_type>/<to_object_type>/batch/read",
             methods=["POST"], endpoint="batch_read_associations"),
        Rule("/events/v3/events/", methods=["GET"], endpoint="list_events"),
        Rule("/events/v3/events/event-types", methods=["GET"], endpoint="list_event_types"),
    ],
    strict_slashes=False,
)


@dataclass(frozen=True)
class Refusal:
    """A request the emulator refused because it does not fit what HubSpot declares (`of`
    "request"), or an answer of the emulator's that does not (`of` "answer": a defect of the
    emulator, found when `check_answers` is on)."""

    method: str
    path: str
    message: str
    of: str = "request"


# Called with every refusal of every emulator in this process: the test suite's conformance check
# listens here (a test that means to send a bad request says so).
REFUSAL_OBSERVERS: list[Callable[[Refusal], None]] = []
# oauth.json (Auth/Oauth v1), POST /oauth/v1/token: the form's fields, and two query twins
TOKEN_REQUEST = RequestShape(
    _query("client_secret", "refresh_token"),
    form=_query("client_id", "client_secret", "code", "code_verifier", "redirect_uri",
                "refresh_token", "scope",
                grant_type=("authorization_code", "client_credentials", "refresh_token")),
)


class HubSpotEmulator(Emulator):
    """A HubSpot portal behind `hubspot-api-client`: point the client's `host` at the server."""

    # Check every answer against response_shapes (the test suite turns it on: tests/conftest.py).
    check_answers: ClassVar[bool] = False

    def __init__(
        self,
        portal: Portal,
        credentials: AppCredentials | None = None,
        *,
        rate_limit: tuple[int, float] = (100, 10.0),
        search_per_second: int = 5,
        daily_limit: int = 250_000,
        oauth_ttl_seconds: float = 1800.0,
    ) -> None:
        super().__init__()
        self.portal = portal
        self.credentials = credentials or AppCredentials.generate(portal.settings.portal_id)
        # Tokens expire on this clock; replace it to move time in tests.
        self.clock: Callable[[], float] = time.time
        self.tokens = TokenAuthority(self.credentials, lambda: self.clock(), oauth_ttl_seconds)
        self.limits = PortalLimits(rate_limit, search_per_second, daily_limit)
        self.webhooks: WebhookSender | None = None
        self._server_errors = itertools.cycle((502, 503))
        self.refusals: list[Refusal] = []

    @property
    def store(self) -> HubSpotStore:
        return self.portal.store

    def attach_webhooks(self, sender: WebhookSender) -> None:
        self.webhooks = sender
        self.portal.writer.listeners.append(sender.publish)

    def restore_contact(self, contact_id: int) -> None:
        """Restore an archived contact as a user does from the recycle bin (HubSpot has no API for
        it): the contact is back and a `contact.restore` event goes out, changeSource CRM_UI."""
        self.portal.writer.restore("contacts", [contact_id], ChangeSource("CRM_UI"))

    def simulate_activity(self, count: int, now: datetime, seed: int) -> list[SynthActivity]:
        return self.portal.simulate_activity(count, now, seed)

    # ---- Emulator hooks -------------------------------------------------------------------------

    def fault_exempt(self, request: Request) -> bool:
        return request.path.startswith("/oauth/")

    def rate_limited_response(self, request: Request) -> Response:
        headers = self.limits.headers(0, self.limits.daily, private_app=True)
        return json_response(rate_limit_body("TEN_SECONDLY_ROLLING"), 429, headers)

    def server_error_response(self, request: Request) -> Response:
        status = next(self._server_errors)
        return json_response(server_error_body(status), status)

    def dispatch(self, request: Request) -> Response:
        adapter = URL_MAP.bind_to_environ(request.environ)
        try:
            name, args = adapter.match()
        except MethodNotAllowed:
            return json_response(
                error_body(f"{request.method} is not allowed on {request.path}",
                           "METHOD_NOT_ALLOWED"), 405)
        except NotFound:
            return route_not_found(request.path).response()
        if name == "oauth_token":
            return self._token(request)
        try:
            token = self.tokens.authenticate(request.headers.get("Authorization"))
        except ApiError as error:
            return error.response()
        endpoint = ENDPOINTS[name]
        headers: dict[str, str] = {}
        if endpoint.search:
            if not self.limits.admit_search():
                return json_response(rate_limit_body("SECONDLY"), 429)
        else:
            admission = self.limits.admit(private_app=token.kind == "private_app")
            headers = admission.headers
            if not admission.admitted:
                return json_response(rate_limit_body(admission.policy or ""), 429, headers)
        response = self._handle(endpoint, Call(request, args, token, self.portal, self.faults))
        response.headers.update(headers)
        return response

    def _handle(self, endpoint: Endpoint, call: Call) -> Response:
        response = self._respond(endpoint, call)
        if self.check_answers:
            self._check_answer(endpoint.answer, call.request, response)
        return response

    def _respond(self, endpoint: Endpoint, call: Call) -> Response:
        try:
            self.tokens.require(endpoint.scope(call))
            self._check(endpoint.shape, call.request)
            return endpoint.handler(call)
        except ApiError as error:
            return error.response()
        except Exception:
            traceback.print_exc(file=sys.stderr)
            return json_response(
                error_body("internal error in the HubSpot sandbox", "INTERNAL_ERROR"), 500
            )

    def _check(self, shape: RequestShape, request: Request) -> None:
        """Refuse what HubSpot would refuse, and keep it in `refusals` for the suite's
        conformance check (tests/conftest.py)."""
        try:
            check_request(shape, request.args, request.get_data(as_text=True), request.form)
        except ApiError as error:
            self._report(Refusal(request.method, request.full_path.rstrip("?"),
                                 str(error.body.get("message", ""))))
            raise

    def _check_answer(self, shape: type[answers.Answer] | None, request: Request,
                      response: Response) -> None:
        """Record an answer that does not fit what HubSpot declares for it (an emulator defect)."""
        wrong = answer_problem(shape, response.status_code, response.get_data(as_text=True))
        if wrong:
            self._report(Refusal(request.method, request.full_path.rstrip("?"), wrong, "answer"))

    def _report(self, refusal: Refusal) -> None:
        self.refusals.append(refusal)
        for observer in list(REFUSAL_OBSERVERS):
            observer(refusal)

    def _token(self, request: Request) -> Response:
        try:
            self._check(TOKEN_REQUEST, request)
            response = json_response(self.tokens.refresh(request.form.to_dict()))
        except ApiError as error:
            return error.response()  # the token endpoint's errors carry no category
        if self.check_answers:
            self._check_answer(answers.AccessTokenResponse, request, response)
        return response
