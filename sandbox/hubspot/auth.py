"""Who may call the portal: a private-app token, and OAuth access tokens minted by refreshing.

`POST /oauth/v1/token` with `grant_type=refresh_token`, the app's `client_id` and `client_secret`
and a refresh token answers `{token_type, refresh_token, access_token, expires_in, token_use,
hub_id}`: oauth.json's AccessTokenResponse requires access_token, expires_in, refresh_token,
token_type and token_use (always "access_token"; "client_credentials" is another grant's).
Access tokens expire for real after `oauth_ttl_seconds`, measured on the portal's clock
(injectable, so tests can move time). A wrong token answers 401 INVALID_AUTHENTICATION, an
expired one 401 EXPIRED_AUTHENTICATION. `granted_scopes` is shared by every token of the app:
remove one to make the calls that need it answer 403 MISSING_SCOPES.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.hubspot import errors

ALL_SCOPES = frozenset({
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.owners.read",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
    "crm.schemas.companies.read",
    "crm.schemas.companies.write",
    # The events API (events.json, GET /events/v3/events) asks for `oauth` alone, a scope every
    # app holds.
    "oauth",
})


@dataclass(frozen=True)
class AccessToken:
    value: str
    kind: str  # "private_app" or "oauth"
    app_id: int
    expires_at: float | None = None


@dataclass
class AppCredentials:
    portal_id: int
    app_id: int
    client_id: str
    client_secret: str
    private_app_token: str
    refresh_token: str
    granted_scopes: set[str] = field(default_factory=lambda: set(ALL_SCOPES))

    @classmethod
    def generate(cls, portal_id: int = 2_400_001, app_id: int = 1_290_001) -> AppCredentials:
        return cls(
            portal_id=portal_id,
            app_id=app_id,
            client_id=str(uuid.uuid4()),
            client_secret=str(uuid.uuid4()),
            private_app_token=f"pat-na1-{uuid.uuid4()}",
            refresh_token=f"na1-{secrets.token_hex(2)}-{uuid.uuid4()}",
        )


class TokenAuthority:
    def __init__(
        self, credentials: AppCredentials, clock: Callable[[], float], oauth_ttl_seconds: float
    ) -> None:
        self.credentials = credentials
        self.clock = clock
        self.oauth_ttl_seconds = oauth_ttl_seconds
        self._oauth_tokens: dict[str, AccessToken] = {}
        self._refresh_tokens = {credentials.refresh_token}
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None) -> AccessToken:
        value = _bearer(authorization)
        if value is None:
            raise errors.invalid_credentials()
        if secrets.compare_digest(value, self.credentials.private_app_token):
            return AccessToken(value, "private_app", self.credentials.app_id)
        with self._lock:
            token = self._oauth_tokens.get(value)
        if token is None:
            raise errors.invalid_credentials()
        now = self.clock()
        if token.expires_at is not None and now >= token.expires_at:
            raise errors.expired_token(now - token.expires_at)
        return token

    def require(self, scope: str) -> None:
        if scope not in self.credentials.granted_scopes:
            raise errors.missing_scopes([scope])

    def refresh(self, form: dict[str, str]) -> dict[str, object]:
        """The token endpoint: a new access token for a valid refresh token."""
        if form.get("grant_type") != "refresh_token":
            raise errors.oauth_error("BAD_GRANT_TYPE", "grant_type must be refresh_token")
        if form.get("client_id") != self.credentials.client_id:
            raise errors.oauth_error("BAD_CLIENT_ID", "missing or invalid client_id")
        if not secrets.compare_digest(form.get("client_secret", ""),
                                      self.credentials.client_secret):
            raise errors.oauth_error("BAD_CLIENT_SECRET", "missing or invalid client_secret")
        refresh_token = form.get("refresh_token", "")
        if refresh_token not in self._refresh_tokens:
            raise errors.oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        value = f"CO{secrets.token_urlsafe(48)}"
        token = AccessToken(value, "oauth", self.credentials.app_id,
                            self.clock() + self.oauth_ttl_seconds)
        with self._lock:
            self._oauth_tokens[value] = token
        return {
            "token_type": "bearer",
            "refresh_token": refresh_token,
            "access_token": value,
            "expires_in": int(self.oauth_ttl_seconds),
            "token_use": "access_token",
            "hub_id": self.credentials.portal_id,
        }


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
