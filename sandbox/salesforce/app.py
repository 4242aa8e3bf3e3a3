"""The Salesforce emulator as a WSGI application: routing, logins, sessions, API limits and
fault answers. The work itself happens in sobjects.py, composite.py, writes.py and queries.py."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from sandbox.orgs import SynthActivity, SynthOrg
from sandbox.salesforce import composite, composite_requests, conformance, sobjects
from sandbox.salesforce.context import Call, Org
from sandbox.salesforce.errors import (
    SalesforceApiError,
    error_response,
    invalid_session,
    json_response,
    not_found,
    request_limit_exceeded,
    server_unavailable,
)
from sandbox.salesforce.queries import QueryEngine
from sandbox.salesforce.seed import record_activity
from sandbox.salesforce.sessions import (
    INVALID_LOGIN_MESSAGE,
    JWT_BEARER,
    Credentials,
    OAuthError,
    SessionBook,
    basic_client,
    bearer_token,
    check_client,
    jwt_subject,
    password_matches,
    soap_credentials,
    soap_fault,
    soap_login_response,
    token_response,
)
from sandbox.salesforce.store import SalesforceStore
from sandbox.salesforce.writes import RecordWriter
from sandbox.server import Emulator, RollingWindowLimit

API_VERSION = re.compile(r"^\d{2,3}\.\d$")
SERVED_VERSIONS = tuple(f"{number}.0" for number in range(57, 67))
# SOAP login() is unavailable from API 65.0 and retired in Summer '27 (SOAP API guide, api-eol-soap
# and sforce-api-calls-login: "login() remains available in API version 64.0 and earlier"). The
# fault Salesforce sends for it is unconfirmed; UNSUPPORTED_API_VERSION is the code it documents
# for an operation a version does not serve.
LAST_SOAP_LOGIN_VERSION = 64.0
SOAP_LOGIN_GONE_MESSAGE = (
    "login() is not available in API version 65.0 and later: use OAuth (JWT bearer or client "
    "credentials)"
)
MAX_URI_LENGTH = 16_384  # longer request URIs are refused before anything else is looked at
DATA = "/services/data/v<version>"
XML_CONTENT_TYPE = "text/xml; charset=utf-8"

URL_MAP = Map(
    [
        Rule("/services/Soap/u/<version>", endpoint="soap_login", methods=["POST"]),
        Rule("/services/oauth2/token", endpoint="oauth_token", methods=["POST"]),
        Rule("/services/data", endpoint="versions", methods=["GET"]),
        Rule(DATA, endpoint="resources", methods=["GET"]),
        Rule(f"{DATA}/limits", endpoint="limits", methods=["GET"]),
        Rule(f"{DATA}/query", endpoint="query", methods=["GET"]),
        Rule(f"{DATA}/query/<locator>", endpoint="query_more", methods=["GET"]),
        Rule(f"{DATA}/queryAll", endpoint="query_all", methods=["GET"]),
        Rule(f"{DATA}/queryAll/<locator>", endpoint="query_more", methods=["GET"]),
        Rule(f"{DATA}/sobjects", endpoint="list_sobjects", methods=["GET"]),
        Rule(f"{DATA}/sobjects/<sobject>", endpoint="sobject_metadata", methods=["GET"]),
        Rule(f"{DATA}/sobjects/<sobject>", endpoint="create_record", methods=["POST"]),
        Rule(f"{DATA}/sobjects/<sobject>/describe", endpoint="describe", methods=["GET"]),
        Rule(f"{DATA}/sobjects/<sobject>/deleted", endpoint="deleted_records", methods=["GET"]),
        Rule(f"{DATA}/sobjects/<sobject>/updated", endpoint="updated_records", methods=["GET"]),
        Rule(f"{DATA}/sobjects/<sobject>/<record_id>", endpoint="get_record", methods=["GET"]),
        Rule(
            f"{DATA}/sobjects/<sobject>/<record_id>", endpoint="update_record", methods=["PATCH"]
        ),
        Rule(
            f"{DATA}/sobjects/<sobject>/<record_id>", endpoint="delete_record", methods=["DELETE"]
        ),
        Rule(f"{DATA}/composite", endpoint="composite", methods=["POST"]),
        Rule(f"{DATA}/composite/sobjects", endpoint="collection_update", methods=["PATCH"]),
        Rule(f"{DATA}/composite/sobjects", endpoint="collection_create", methods=["POST"]),
        Rule(f"{DATA}/composite/sobjects", endpoint="collection_delete", methods=["DELETE"]),
        Rule(
            f"{DATA}/composite/sobjects/<sobject>", endpoint="collection_read",
            methods=["GET", "POST"],
        ),
        Rule(f"{DATA}/jobs/query", endpoint="bulk_create", methods=["POST"]),
        Rule(f"{DATA}/jobs/query", endpoint="bulk_list", methods=["GET"]),
        Rule(f"{DATA}/jobs/query/<job_id>", endpoint="bulk_status", methods=["GET"]),
        Rule(f"{DATA}/jobs/query/<job_id>", endpoint="bulk_abort", methods=["PATCH"]),
        Rule(f"{DATA}/jobs/query/<job_id>", endpoint="bulk_delete", methods=["DELETE"]),
        Rule(f"{DATA}/jobs/query/<job_id>/results", endpoint="bulk_results", methods=["GET"]),
    ],
    strict_slashes=False,
    merge_slashes=False,
)

REST_HANDLERS: dict[str, Callable[..., Response]] = {
    "resources": lambda call: json_response(resources(call.version)),
    "query": sobjects.query,
    "query_all": sobjects.query_all,
    "query_more": sobjects.query_more,
    "list_sobjects": sobjects.list_sobjects,
    "sobject_metadata": sobjects.sobject_metadata,
    "create_record": sobjects.create_record,
    "describe": sobjects.describe,
    "deleted_records": sobjects.deleted_records,
    "updated_records": sobjects.updated_records,
    "get_record": sobjects.get_record,
    "update_record": sobjects.update_record,
    "delete_record": sobjects.delete_record,
    "collection_update": composite.update,
    "collection_create": composite.create,
    "collection_delete": composite.delete,
    "collection_read": composite.read,
    "bulk_create": lambda call: call.org.bulk.create(call.json_body(), call.user_id, call.version),
    "bulk_list": lambda call: call.org.bulk.all_jobs(),
    "bulk_status": lambda call, job_id: call.org.bulk.status(job_id),
    "bulk_abort": lambda call, job_id: call.org.bulk.abort(job_id, call.json_body()),
    "bulk_delete": lambda call, job_id: call.org.bulk.delete(job_id),
    "bulk_results": lambda call, job_id: call.org.bulk.results(
        job_id, call.request.args.get("maxRecords"), call.request.args.get("locator")
    ),
}


def resources(version: str) -> dict[str, str]:
    base = f"/services/data/v{version}"
    return {name: f"{base}/{name}" for name in ("sobjects", "query", "queryAll", "limits",
                                                 "composite")}


@dataclass
class Identity:
    """Who the API logins act as."""

    organization_id: str
    integration_user_id: str


class ApiUsage:
    """The org's 24-hour request counter behind `Sforce-Limit-Info` and REQUEST_LIMIT_EXCEEDED."""

    def __init__(self, daily_limit: int) -> None:
        self.daily_limit = daily_limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.used >= self.daily_limit:
                return False
            self.used += 1
            return True

    def header(self) -> str:
        return f"api-usage={self.used}/{self.daily_limit}"


class SalesforceEmulator(Emulator):
    """A stateful Salesforce org behind the REST, SOAP-login and OAuth endpoints."""

    def __init__(
        self,
        org: Org,
        credentials: Credentials,
        identity: Identity,
        *,
        daily_limit: int = 100_000,
        session_ttl_seconds: float = 7200.0,
        rolling_limit: RollingWindowLimit | None = None,
    ) -> None:
        super().__init__()
        self.org = org
        self.credentials = credentials
        self.identity = identity
        self.sessions = SessionBook(identity.organization_id, session_ttl_seconds)
        self.usage = ApiUsage(daily_limit)
        self.rolling_limit = rolling_limit
        self.allow_password_without_token = False
        self.api_enabled = True  # False: the integration user lacks the "API Enabled" permission
        self.synth_org: SynthOrg | None = None
        self._outbound_session: str | None = None

    @property
    def store(self) -> SalesforceStore:
        return self.org.store

    @property
    def writer(self) -> RecordWriter:
        return self.org.writer

    @property
    def queries(self) -> QueryEngine:
        return self.org.queries

    # ---- Emulator hooks ---------------------------------------------------------------------
    def fault_exempt(self, request: Request) -> bool:
        return not request.path.startswith("/services/data/")

    def rate_limited_response(self, request: Request) -> Response:
        return self.with_limit_info(error_response(request_limit_exceeded()))

    def server_error_response(self, request: Request) -> Response:
        return self.with_limit_info(error_response(server_unavailable()))

    def dispatch(self, request: Request) -> Response:
        response = self.route(request)
        conformance.inspect(request, response)  # the oracle: refusals a correct client never meets
        return response

    def route(self, request: Request) -> Response:
        matched = matched_endpoint(request)
        if isinstance(matched, Response):
            return matched
        endpoint, arguments = matched
        if endpoint == "soap_login":
            return self.soap_login(request, arguments["version"])
        if endpoint == "oauth_token":
            return self.oauth_token(request)
        if endpoint == "versions":
            return json_response(self.versions())
        return self.rest(request, endpoint, arguments)

    # ---- REST -------------------------------------------------------------------------------
    def rest(self, request: Request, endpoint: str, arguments: dict[str, Any]) -> Response:
        version = arguments.pop("version")
        unserved = unserved_request(request, version)
        if unserved is not None:
            return unserved
        user_id = self.sessions.user_for(bearer_token(request.headers.get("Authorization")))
        if user_id is None:
            return error_response(invalid_session())
        if not self.api_enabled:
            return error_response(SalesforceApiError(
                403, "API_CURRENTLY_DISABLED", "API is disabled for this User"
            ))
        if not self.admit():
            return self.with_limit_info(error_response(request_limit_exceeded()))
        call = Call(self.org, request, version, user_id)
        try:
            if endpoint == "limits":
                response = sobjects.limits(call, self.usage.used, self.usage.daily_limit)
            elif endpoint == "composite":
                response = composite_requests.composite(call, self.subrequest)
            else:
                response = REST_HANDLERS[endpoint](call, **arguments)
        except SalesforceApiError as error:
            response = error_response(error)
        return self.with_limit_info(response)

    def subrequest(self, parent: Call, sub: composite_requests.Subrequest) -> Response:
        """One subrequest of a composite request, answered as its resource answers alone, but
        neither admitted nor counted: the composite request was, once."""
        path, query = composite_requests.subrequest_path(sub.url)
        headers = {**sub.headers, "Authorization": parent.request.headers.get("Authorization", "")}
        environ = EnvironBuilder(
            path=path, query_string=query, method=sub.method, headers=headers,
            base_url=parent.request.host_url,
        ).get_environ()
        request = Request(environ)
        response = self.subrequest_answer(request, parent.user_id)
        conformance.inspect(request, response)
        return response

    def subrequest_answer(self, request: Request, user_id: str) -> Response:
        matched = matched_endpoint(request)
        if isinstance(matched, Response):
            return matched
        endpoint, arguments = matched
        if endpoint not in REST_HANDLERS:  # logins, versions, limits, composite itself
            return error_response(not_found())
        version = arguments.pop("version")
        unserved = unserved_request(request, version)
        if unserved is not None:
            return unserved
        try:
            return REST_HANDLERS[endpoint](Call(self.org, request, version, user_id), **arguments)
        except SalesforceApiError as error:
            return error_response(error)

    def admit(self) -> bool:
        if self.rolling_limit is not None and not self.rolling_limit.admit()[0]:
            return False
        return self.usage.take()

    def with_limit_info(self, response: Response) -> Response:
        response.headers["Sforce-Limit-Info"] = self.usage.header()
        return response

    def versions(self) -> list[dict[str, str]]:
        return [
            {"label": f"API {version}", "url": f"/services/data/v{version}", "version": version}
            for version in SERVED_VERSIONS
        ]

    # ---- logins -----------------------------------------------------------------------------
    def soap_login(self, request: Request, version: str) -> Response:
        if API_VERSION.match(version) and float(version) > LAST_SOAP_LOGIN_VERSION:
            return Response(
                soap_fault("UNSUPPORTED_API_VERSION", SOAP_LOGIN_GONE_MESSAGE), status=500,
                content_type=XML_CONTENT_TYPE,
            )
        sent = soap_credentials(request.get_data())
        if sent is None or not self.login_accepted(*sent):
            return Response(
                soap_fault("INVALID_LOGIN", INVALID_LOGIN_MESSAGE), status=500,
                content_type=XML_CONTENT_TYPE,
            )
        session = self.sessions.open(self.identity.integration_user_id)
        server_url = (
            f"{request.host_url.rstrip('/')}/services/Soap/u/{version}/"
            f"{self.identity.organization_id}"
        )
        body = soap_login_response(
            session, server_url, self.identity.organization_id, self.integration_user()
        )
        return Response(body, status=200, content_type=XML_CONTENT_TYPE)

    def login_accepted(self, username: str, password: str) -> bool:
        if username.lower() != self.credentials.username.lower():
            return False
        if password_matches(self.credentials, password):
            return True
        return self.allow_password_without_token and password == self.credentials.password

    def oauth_token(self, request: Request) -> Response:
        try:
            user_id = self.oauth_user(request)
        except OAuthError as error:
            return json_response(error.body(), error.status)
        session = self.sessions.open(user_id)
        instance_url = request.host_url.rstrip("/")
        return json_response(
            token_response(session, instance_url, self.identity.organization_id)
        )

    def oauth_user(self, request: Request) -> str:
        form = request.form
        grant = form.get("grant_type")
        if grant == "password":
            check_client(self.credentials, form.get("client_id"), form.get("client_secret"))
            if not self.login_accepted(form.get("username", ""), form.get("password", "")):
                raise OAuthError("invalid_grant", "authentication failure")
            return self.identity.integration_user_id
        if grant == "client_credentials":
            client = basic_client(request.headers.get("Authorization")) or (
                form.get("client_id"), form.get("client_secret")
            )
            check_client(self.credentials, *client)
            return self.identity.integration_user_id
        if grant == JWT_BEARER:
            subject = jwt_subject(self.credentials, form.get("assertion", ""))
            if subject.lower() != self.credentials.username.lower():
                raise OAuthError("invalid_grant", "user hasn't approved this consumer")
            return self.identity.integration_user_id
        raise OAuthError("unsupported_grant_type", "grant type not supported")

    def integration_user(self) -> dict[str, Any]:
        user = self.store.sobject("User")
        user_id = self.identity.integration_user_id
        return self.store.fetch(user, [user_id]).get(user_id, {})

    # ---- tests' levers ----------------------------------------------------------------------
    def open_session(self) -> str:
        """A valid session id for the integration user, as if from a login."""
        return self.sessions.open(self.identity.integration_user_id).token

    def expire_sessions(self) -> None:
        """End every open session now: the next REST call answers 401 INVALID_SESSION_ID."""
        self.sessions.expire_all()

    def outbound_session_id(self) -> str:
        """The SessionId outbound messages carry (reopened once it has expired)."""
        if self.sessions.user_for(self._outbound_session) is None:
            self._outbound_session = self.open_session()
        assert self._outbound_session is not None
        return self._outbound_session

    def simulate_activity(self, count: int, now: datetime, seed: int) -> list[SynthActivity]:
        """New synthetic activity for `count` people, written as Tasks, Events and
        CampaignMembers; the Leads it touches change (SystemModstamp) and are notified."""
        if self.synth_org is None:
            raise RuntimeError("the emulator was not seeded from a SynthOrg")
        activities = self.synth_org.simulate_activity(count, now, seed)
        lead_ids = record_activity(self.store, activities, now)
        if lead_ids:
            self.writer.notify(lead_ids)
        return activities


def matched_endpoint(request: Request) -> tuple[str, dict[str, Any]] | Response:
    """The endpoint a request names and its arguments, or Salesforce's answer when none does."""
    adapter = URL_MAP.bind_to_environ(request.environ)
    try:
        return adapter.match()
    except MethodNotAllowed as error:
        allowed = ",".join(sorted(error.valid_methods or []))
        return error_response(SalesforceApiError(
            405, "METHOD_NOT_ALLOWED",
            f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}",
        ))
    except NotFound:
        return error_response(not_found())


def unserved_request(request: Request, version: str) -> Response | None:
    """Salesforce's answer to a REST request it refuses before looking at it: a URI too long,
    a version that is no version."""
    if len(request.path) + 1 + len(request.query_string) > MAX_URI_LENGTH:
        return error_response(SalesforceApiError(
            414, "URI_TOO_LONG", f"The request URI is longer than {MAX_URI_LENGTH} characters"
        ))
    if not API_VERSION.match(version):
        return error_response(not_found())
    return None


def utc_now() -> datetime:
    return datetime.now(UTC)
