"""HubSpot through `hubspot-api-client`: credentials, the one error translation, and every request
under the shared retry policy.

Every request goes through a generated API of the client, built once and reused (the client builds
a new connection pool each time an API attribute is read), called with `_preload_content=False` so
that the connector reads the JSON itself and types CRM strings at the edge (hubspot_records), and
with urllib3's own retries off: `CallPolicy` alone rate-limits, retries and counts.

Credentials are a private-app token, or a public app's refresh token exchanged for access tokens
that expire after 30 minutes. Those are renewed `renew_margin_seconds` before they expire, and once
more if HubSpot still answers 401 EXPIRED_AUTHENTICATION (the clocks disagree).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any, TypeVar

import urllib3
from hubspot import HubSpot

from connectors.retry import (
    AuthenticationError,
    CallPolicy,
    ConnectorError,
    MissingFieldError,
    PermissionDeniedError,
    RecordNotFoundError,
    TransientError,
    unreachable,
)

Item = TypeVar("Item")
T = TypeVar("T")
ACCESS_TOKEN_VARIABLE = "LEADQ_HUBSPOT_ACCESS_TOKEN"
BASE_URL_VARIABLE = "LEADQ_HUBSPOT_BASE_URL"
OAUTH_VARIABLES = (
    "LEADQ_HUBSPOT_CLIENT_ID, LEADQ_HUBSPOT_CLIENT_SECRET and LEADQ_HUBSPOT_REFRESH_TOKEN"
)
SEARCH_PER_SECOND_WINDOW = 1.0  # HubSpot's search limit is per second
_UNKNOWN_PROPERTY = re.compile(r'Property "([^"]+)" does not exist')
_OAUTH_FAILURE = re.compile(r"^BAD_[A-Z_]+$")  # the token endpoint's code, in `status`


class TokenExpiredError(AuthenticationError):
    """HubSpot says the OAuth access token has expired: renew it and try once more."""


class AlreadyExistsError(ConnectorError):
    """409: what we tried to create is there already."""


class InvalidValuesError(ConnectorError):
    """400 naming property values HubSpot refused: a problem of the records sent, not the call."""


@dataclass(frozen=True)
class OAuthApp:
    """A public app's credentials: leadq exchanges the refresh token for access tokens."""

    client_id: str
    client_secret: str
    refresh_token: str = field(repr=False)


@dataclass(frozen=True)
class HubSpotErrorBody:
    """What HubSpot said, every field optional (error bodies vary by endpoint)."""

    status: int
    message: str = ""
    category: str = ""
    policy: str = ""
    details: tuple[dict[str, Any], ...] = ()
    oauth_failure: str = ""  # the token endpoint's code (BAD_REFRESH_TOKEN, …)

    @classmethod
    def of(cls, error: Any) -> HubSpotErrorBody:
        raw = getattr(error, "body", None)
        try:
            body = json.loads(raw) if raw else {}
        except (TypeError, ValueError):
            body = {}
        body = body if isinstance(body, dict) else {}
        status_text = str(body.get("status") or "")
        oauth_failure = status_text if _OAUTH_FAILURE.match(status_text) else ""
        details = body.get("errors") if isinstance(body.get("errors"), list) else []
        return cls(
            status=int(getattr(error, "status", 0) or 0),
            message=str(body.get("message") or getattr(error, "reason", "") or "").strip(),
            category=str(body.get("category") or ""),
            policy=str(body.get("policyName") or ""),
            details=tuple(detail for detail in details if isinstance(detail, dict)),
            oauth_failure=oauth_failure,
        )

    def codes(self) -> set[str]:
        return {str(detail.get("code") or "") for detail in self.details} - {""}

    def required_scopes(self) -> list[str]:
        scopes: list[str] = []
        for detail in self.details:
            context = detail.get("context") or {}
            for key in ("requiredGranularScopes", "requiredScopes"):
                scopes.extend(str(scope) for scope in context.get(key) or [])
        return sorted(set(scopes))

    def unknown_properties(self) -> list[str]:
        names = [
            str(name)
            for detail in self.details
            if detail.get("code") == "PROPERTY_DOESNT_EXIST"
            for name in (detail.get("context") or {}).get("propertyName") or []
        ]
        names.extend(_UNKNOWN_PROPERTY.findall(self.message))
        for detail in self.details:
            names.extend(_UNKNOWN_PROPERTY.findall(str(detail.get("message") or "")))
        return sorted(set(names))

    def value_problems(self) -> str:
        """'name: message' for each refused value, or HubSpot's message."""
        problems = [
            f"{', '.join((detail.get('context') or {}).get('propertyName') or ['?'])}: "
            f"{detail.get('message')}"
            for detail in self.details
            if str(detail.get("code") or "").startswith("INVALID_")
        ]
        return "; ".join(problems) or self.message


def translate_error(error: Exception, what: str, oauth: bool) -> Exception | None:
    """The connector error (or `TransientError`) for any failure of one request, or None when
    the exception is not the client's (a bug: let it surface as it is).

    `what` completes "HubSpot refused …", e.g. "the contacts search".
    """
    where = unreachable(error)
    if where is not None:
        return ConnectorError(
            f"cannot reach HubSpot at {where}: check {BASE_URL_VARIABLE} and the network"
        )
    # NewConnectionError (refused) subclasses ConnectTimeoutError: name it for what it is
    is_timeout = not isinstance(error, urllib3.exceptions.NewConnectionError)
    if isinstance(error, urllib3.exceptions.TimeoutError) and is_timeout:
        return TransientError(f"HubSpot did not answer {what} in time", kind="timeout")
    if isinstance(error, urllib3.exceptions.HTTPError | ConnectionError):
        return TransientError(f"the connection to HubSpot broke during {what}", kind="connection")
    if not (hasattr(error, "status") and hasattr(error, "body")):
        return None
    body = HubSpotErrorBody.of(error)
    status = body.status
    if status == 429:
        return _rate_limited(body, getattr(error, "headers", None), what)
    if status >= 500:
        return TransientError(f"HubSpot answered {status} to {what}", kind="server_error")
    if status == 401 or body.oauth_failure:
        return _refused_credentials(body, oauth)
    if status == 403:
        return _forbidden(body, what)
    if status == 404:
        return RecordNotFoundError(
            f"HubSpot found nothing for {what} ({body.message or 'not found'}): the record may "
            "have been deleted or merged in HubSpot"
        )
    if status == 409:
        return AlreadyExistsError(f"HubSpot already has it ({what}): {body.message}")
    if status == 0:
        return ConnectorError(f"could not reach HubSpot securely for {what}: {body.message}")
    return _refused_request(body, what)


def _rate_limited(body: HubSpotErrorBody, headers: Any, what: str) -> Exception:
    if body.policy == "DAILY":
        return ConnectorError(
            "HubSpot's daily API limit for this app is used up: leadq continues on the next run "
            "after midnight (the portal's time zone); ask HubSpot for a higher limit if this "
            "repeats"
        )
    retry_after = _retry_after(headers)
    if retry_after is None and body.policy == "SECONDLY":
        retry_after = SEARCH_PER_SECOND_WINDOW
    return TransientError(f"HubSpot rate-limited {what} ({body.policy or 'limit'})",
                          retry_after=retry_after, kind="rate_limited")


def _retry_after(headers: Any) -> float | None:
    """`Retry-After` when HubSpot sends it. Without it the policy's backoff (0.5 s doubling)
    applies: a rolling window frees slots continuously, so waiting out all 10 s is wasteful."""
    get = getattr(headers, "get", None)
    value = get("Retry-After") if get is not None else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def _refused_credentials(body: HubSpotErrorBody, oauth: bool) -> AuthenticationError:
    if body.category == "EXPIRED_AUTHENTICATION" and oauth:
        return TokenExpiredError(
            f"HubSpot says the OAuth access token expired ({body.message}); leadq renews it "
            f"from the refresh token: if this persists, check {OAUTH_VARIABLES}"
        )
    if body.oauth_failure:
        return AuthenticationError(
            f"HubSpot refused the app's credentials ({body.oauth_failure}: {body.message}): set "
            f"{OAUTH_VARIABLES} to the app's client id and secret and a refresh token from a "
            "current install of the app"
        )
    if oauth:
        return AuthenticationError(
            f"HubSpot refused the OAuth access token (401 {body.category or 'unauthorized'}): "
            f"check {OAUTH_VARIABLES}, or reinstall the app in the portal"
        )
    return AuthenticationError(
        f"HubSpot refused the access token (401 {body.category or 'unauthorized'}): set "
        f"{ACCESS_TOKEN_VARIABLE} to the private app's access token (HubSpot → Settings → "
        "Integrations → Private apps → the app → Access token)"
    )


def _forbidden(body: HubSpotErrorBody, what: str) -> PermissionDeniedError:
    scopes = body.required_scopes()
    if scopes:
        listed = ", ".join(scopes)
        return PermissionDeniedError(
            f"HubSpot refused {what}: the app lacks the scope {listed}; add it to the private "
            "app's scopes (or reinstall the public app with it) and run again"
        )
    return PermissionDeniedError(f"HubSpot refused {what} (403): {body.message}")


def _refused_request(body: HubSpotErrorBody, what: str) -> ConnectorError:
    unknown = body.unknown_properties()
    if unknown:
        return MissingFieldError(missing_properties_message(unknown, "contact"))
    if any(code.startswith("INVALID_") for code in body.codes()) or body.message.startswith(
        "Property values were not valid"
    ):
        return InvalidValuesError(f"HubSpot refused the values: {body.value_problems()}")
    return ConnectorError(f"HubSpot refused {what} ({body.status}): {body.message}")


def missing_properties_message(names: list[str], object_name: str) -> str:
    plural = "properties" if len(names) > 1 else "property"
    return (
        f"HubSpot has no {object_name} {plural} {', '.join(names)}: run `leadq setup` to "
        f"create leadq's output properties, or create the {plural} in HubSpot (Settings → "
        "Properties) or fix the name in the scoring model"
    )


class HubSpotApi:
    """The connector's only way to HubSpot: one request per `call`, under the policy."""

    def __init__(
        self,
        client: HubSpot,
        policy: CallPolicy,
        *,
        oauth: OAuthApp | None = None,
        clock: Callable[[], float] = time.time,
        timeout: tuple[float, float] = (5.0, 30.0),
        renew_margin_seconds: float = 300.0,
    ) -> None:
        self.client = client
        self.policy = policy
        self.oauth = oauth
        self._clock = clock
        self._timeout = timeout
        self._renew_margin = renew_margin_seconds
        self._apis: dict[str, Any] = {}
        self._token_expires_at: float | None = None
        self._token_lock = threading.Lock()

    def call(self, kind: str, what: str, operation: str, *args: Any,
             limiter: str = "default", **kwargs: Any) -> Any:
        """Run `operation` (a generated method, e.g. "crm.contacts.search_api.do_search") and
        return its JSON. `kind` counts the request; `what` names it in error messages."""
        return self._with_fresh_token(lambda: self.policy.call(
            kind, lambda: self._send(what, operation, args, kwargs), limiter
        ))

    def call_batch(self, kind: str, items: Sequence[Item],
                   send: Callable[[Sequence[Item]], Sequence[Item]],
                   limiter: str = "default") -> list[Item]:
        """`CallPolicy.call_batch` with fresh credentials: `send` makes its one request with
        `request` and returns the items to send again."""
        return self._with_fresh_token(
            lambda: self.policy.call_batch(kind, items, send, limiter)
        )

    def request(self, what: str, operation: str, *args: Any, **kwargs: Any) -> Any:
        """One request without the policy: only inside a `send` run by `call_batch`."""
        return self._send(what, operation, args, kwargs)

    # ---- tokens ---------------------------------------------------------------------------------

    def _with_fresh_token(self, run: Callable[[], T]) -> T:
        """`run` with a token renewed when due, and once more after renewing a token HubSpot
        says has expired."""
        self._renew_if_due()
        try:
            return run()
        except TokenExpiredError:
            self._renew()
            return run()

    def _renew_if_due(self) -> None:
        if self.oauth is None:
            return
        expires_at = self._token_expires_at
        if expires_at is None or self._clock() >= expires_at - self._renew_margin:
            self._renew(stale=expires_at)

    def _renew(self, stale: float | None = None) -> None:
        assert self.oauth is not None, "private-app tokens are not renewed"
        with self._token_lock:
            if stale is not None and self._token_expires_at != stale:
                return  # another thread renewed it meanwhile
            app = self.oauth
            answer = self.policy.call("auth", lambda: self._send(
                "the OAuth token renewal", "oauth.tokens_api.create", (),
                {"grant_type": "refresh_token", "client_id": app.client_id,
                 "client_secret": app.client_secret, "refresh_token": app.refresh_token},
            ))
            self._use_token(str(answer["access_token"]))
            self._token_expires_at = self._clock() + float(answer.get("expires_in") or 1800)

    def _use_token(self, token: str) -> None:
        self.client.access_token = token
        for api in self._apis.values():
            api.api_client.configuration.access_token = token

    # ---- one request ----------------------------------------------------------------------------

    def _send(self, what: str, operation: str, args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> Any:
        method = self._method(operation)
        try:
            response = method(*args, _preload_content=False, _request_timeout=self._timeout,
                              **kwargs)
            return _decoded(response)
        except Exception as error:  # every client failure is translated here, once
            translated = translate_error(error, what, oauth=self.oauth is not None)
            if translated is None:
                raise
            raise translated from error

    def _method(self, operation: str) -> Callable[..., Any]:
        api_path, _, name = operation.rpartition(".")
        api = self._apis.get(api_path)
        if api is None:
            api = reduce(getattr, api_path.split("."), self.client)
            self._apis[api_path] = api
        return getattr(api, name)


def _decoded(response: Any) -> Any:
    try:
        data = response.data
    finally:
        release = getattr(response, "release_conn", None)
        if release is not None:
            release()
    return json.loads(data) if data else {}
