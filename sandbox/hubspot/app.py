"""`HubSpotEmulator`: HubSpot's CRM API over HTTP — routing, auth, scopes and rate limits.

Order of checks for each request, as HubSpot applies them: route (404 JSON), bearer token (401),
rate limit (429: the ten-second window and daily quota, or the search endpoints' per-second
limit), scope (403 MISSING_SCOPES), then the handler. Injected faults (`self.faults`) answer
before all of that: a 429 with the ten-second body, a 502/503 with HubSpot's JSON, a slow answer
or a dropped connection.
"""

from __future__ import annotations

import itertools
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandbox.hubspot import associations_api, events_api, objects_api, owners_api, properties_api
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


@dataclass(frozen=True)
class Endpoint:
    handler: Callable[[Call], Response]
    scope: Scope
    search: bool = False


_READ, _WRITE = _records("read"), _records("write")
ENDPOINTS: dict[str, Endpoint] = {
    "list_records": Endpoint(objects_api.list_records, _READ),
    "create_record": Endpoint(objects_api.create_record, _WRITE),
    "get_record": Endpoint(objects_api.get_record, _READ),
    "update_record": Endpoint(objects_api.update_record, _WRITE),
    "archive_record": Endpoint(objects_api.archive_record, _WRITE),
    "merge_records": Endpoint(objects_api.merge_records, _WRITE),
    "batch_read": Endpoint(objects_api.batch_read, _READ),
    "batch_create": Endpoint(objects_api.batch_create, _WRITE),
    "batch_update": Endpoint(objects_api.batch_update, _WRITE),
    "batch_upsert": Endpoint(objects_api.batch_upsert, _WRITE),
    "batch_archive": Endpoint(objects_api.batch_archive, _WRITE),
    "search_records": Endpoint(objects_api.search_records, _READ, search=True),
    "list_properties": Endpoint(properties_api.list_properties, _schemas("read")),
    "create_property": Endpoint(properties_api.create_property, _schemas("write")),
    "get_property": Endpoint(properties_api.get_property, _schemas("read")),
    "update_property": Endpoint(properties_api.update_property, _schemas("write")),
    "list_groups": Endpoint(properties_api.list_groups, _schemas("read")),
    "create_group": Endpoint(properties_api.create_group, _schemas("write")),
    "get_group": Endpoint(properties_api.get_group, _schemas("read")),
    "list_owners": Endpoint(owners_api.list_owners, _fixed("crm.objects.owners.read")),
    "get_owner": Endpoint(owners_api.get_owner, _fixed("crm.objects.owners.read")),
    "list_associations": Endpoint(associations_api.list_associations, _READ),
    "create_default_association": Endpoint(associations_api.create_default_association, _WRITE),
    "batch_read_associations": Endpoint(
        associations_api.batch_read_associations,
        lambda call: f"{call.object_type('from_object_type').scope}.read",
    ),
    "list_events": Endpoint(events_api.list_events,
                            _fixed("behavioral_events.event_definitions.read_write")),
    "list_event_types": Endpoint(events_api.list_event_types,
                                 _fixed("behavioral_events.event_definitions.read_write")),
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


class HubSpotEmulator(Emulator):
    """A HubSpot portal behind `hubspot-api-client`: point the client's `host` at the server."""

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
        try:
            self.tokens.require(endpoint.scope(call))
            return endpoint.handler(call)
        except ApiError as error:
            return error.response()
        except Exception:
            traceback.print_exc(file=sys.stderr)
            return json_response(
                error_body("internal error in the HubSpot sandbox", "INTERNAL_ERROR"), 500
            )

    def _token(self, request: Request) -> Response:
        try:
            return json_response(self.tokens.refresh(request.form.to_dict()))
        except ApiError as error:
            return error.response()
