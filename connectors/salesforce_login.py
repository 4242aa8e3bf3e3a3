"""The four ways leadq logs in to Salesforce, each through simple-salesforce's `SalesforceLogin`:

- username + password (+ security token): the SOAP login — unavailable from API 65.0 and retired
  in Summer '27 (SOAP API guide, api-eol-soap), so refused here for 65.0 and later;
- a session id + instance URL handed to us (cannot log in again by itself);
- OAuth 2.0 JWT bearer: consumer key + the private key whose certificate the connected app holds;
- OAuth 2.0 client credentials: consumer key + secret, against the org's My Domain.

JWT bearer and client credentials are the logins to use for an integration today: they work at
every API version and need no password or security token.

Each login answers (session id, instance host) and, when Salesforce refuses it, an
`AuthenticationError` naming the LEADQ_ variables to check. Messages never contain a secret or
the username (an e-mail address).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import jwt
import requests
from simple_salesforce.exceptions import SalesforceAuthenticationFailed
from simple_salesforce.login import SalesforceLogin

from connectors.retry import AuthenticationError, ConnectorError, TransientError, unreachable
from connectors.salesforce_config import LAST_SOAP_LOGIN_VERSION, SalesforceConfig, setting_name

SALESFORCE_HOST_SUFFIX = ".salesforce.com"
TRANSIENT_LOGIN_CODES = frozenset({"SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"})


class Login(Protocol):
    kind: str
    can_log_in: bool  # False for a session id handed to us: it cannot be renewed

    def log_in(self, session: requests.Session, version: str) -> tuple[str, str]:
        """Log in; return (session id, instance host[:port])."""
        ...

    def refused(self, code: object, message: str) -> AuthenticationError:
        """The error to raise when Salesforce refuses this login."""
        ...


@dataclass(frozen=True)
class PasswordLogin:
    username: str = field(repr=False)
    password: str = field(repr=False)
    security_token: str | None = field(repr=False)
    domain: str = "login"
    kind: str = "password"
    can_log_in: bool = True

    def log_in(self, session: requests.Session, version: str) -> tuple[str, str]:
        return SalesforceLogin(
            username=self.username, password=self.password, security_token=self.security_token,
            domain=self.domain, session=session, sf_version=version,
        )

    def refused(self, code: object, message: str) -> AuthenticationError:
        return AuthenticationError(
            f"Salesforce refused the password login ({code}: {message}). Check "
            f"{setting_name('username')}, {setting_name('password')} and "
            f"{setting_name('security_token')} (resetting the password e-mails a new "
            f"token), and {setting_name('login_url')} (https://test.salesforce.com for a "
            "sandbox org)."
        )


@dataclass(frozen=True)
class SessionLogin:
    session_id: str = field(repr=False)
    instance: str
    kind: str = "session"
    can_log_in: bool = False

    def log_in(self, session: requests.Session, version: str) -> tuple[str, str]:
        return self.session_id, self.instance

    def refused(self, code: object, message: str) -> AuthenticationError:
        return AuthenticationError(
            f"Salesforce rejected the session ({code}: {message}): "
            f"{setting_name('session_id')} has expired or does not belong to "
            f"{setting_name('instance_url')}. Set a fresh session id, or set login "
            f"credentials ({setting_name('username')} and "
            f"{setting_name('password')}, or {setting_name('consumer_key')}) so "
            "leadq can log in again by itself."
        )


@dataclass(frozen=True)
class JwtLogin:
    username: str = field(repr=False)
    consumer_key: str
    private_key: str = field(repr=False)
    domain: str = "login"
    kind: str = "jwt"
    can_log_in: bool = True

    def log_in(self, session: requests.Session, version: str) -> tuple[str, str]:
        # simple-salesforce makes `aud` https://{domain}.salesforce.com and posts the token
        # request to https://{instance_url or domain}.salesforce.com: the audience goes in
        # `domain`, the (My Domain) host in `instance_url`.
        try:
            return SalesforceLogin(
                username=self.username, consumer_key=self.consumer_key,
                privatekey=self.private_key, domain=jwt_audience_domain(self.domain),
                instance_url=self.domain, session=session, sf_version=version,
            )
        except jwt.exceptions.InvalidKeyError:
            raise AuthenticationError(
                f"{setting_name('private_key_file')} holds no usable private key: give the "
                "connected app's RSA key as PEM, without a passphrase"
            ) from None

    def refused(self, code: object, message: str) -> AuthenticationError:
        return AuthenticationError(
            f"Salesforce refused the JWT bearer login ({code}: {message}). Check "
            f"{setting_name('consumer_key')} (the connected app's consumer key), "
            f"{setting_name('private_key_file')} (its certificate must be the one uploaded "
            f"to the connected app), {setting_name('username')} (a user pre-authorised "
            f"for the app) and {setting_name('login_url')}."
        )


@dataclass(frozen=True)
class ClientCredentialsLogin:
    consumer_key: str
    consumer_secret: str = field(repr=False)
    domain: str
    kind: str = "client_credentials"
    can_log_in: bool = True

    def log_in(self, session: requests.Session, version: str) -> tuple[str, str]:
        return SalesforceLogin(
            consumer_key=self.consumer_key, consumer_secret=self.consumer_secret,
            domain=self.domain, session=session, sf_version=version,
        )

    def refused(self, code: object, message: str) -> AuthenticationError:
        return AuthenticationError(
            f"Salesforce refused the client-credentials login ({code}: {message}). Check "
            f"{setting_name('consumer_key')}, {setting_name('consumer_secret')} and "
            f"{setting_name('login_url')} (your My Domain, "
            "https://yourcompany.my.salesforce.com); the connected app needs the client "
            "credentials flow enabled with a Run As user."
        )


def jwt_audience_domain(domain: str) -> str:
    """The JWT bearer `aud` is the authorization server, https://login.salesforce.com or
    https://test.salesforce.com for sandbox orgs — not the My Domain host the request goes to
    (Salesforce Help, remoteaccess_oauth_jwt_flow: "aud"). A sandbox's My Domain is
    `name--sandbox.sandbox.my.salesforce.com`: "acme--dev.sandbox.my" → "test"."""
    if domain == "test" or domain.endswith(".sandbox.my"):
        return "test"
    return "login"


def attempt_login(login: Login, session: requests.Session, version: str) -> tuple[str, str]:
    """One login request; refusals become AuthenticationError, outages TransientError."""
    try:
        with warnings.catch_warnings():
            # simple-salesforce warns with an authorize URL of its own; our error says more
            warnings.simplefilter("ignore", UserWarning)
            return login.log_in(session, version)
    except SalesforceAuthenticationFailed as error:
        if is_transient_login_failure(error.code):
            raise TransientError(
                f"the Salesforce login answered {error.code}", kind="server_error"
            ) from error
        raise login.refused(error.code, one_line(error.auth_message)) from None
    except requests.Timeout as error:
        raise TransientError("the Salesforce login timed out", kind="timeout") from error
    except requests.ConnectionError as error:
        where = unreachable(error)
        if where is not None:
            raise ConnectorError(
                f"cannot reach the Salesforce login at {where}: check "
                f"{setting_name('login_url')} and the network"
            ) from None
        raise TransientError("the Salesforce login lost its connection", kind="connection") from (
            error
        )


def is_transient_login_failure(code: object) -> bool:
    if isinstance(code, int):
        return code >= 500 or code == 429
    return str(code) in TRANSIENT_LOGIN_CODES


def one_line(text: object, limit: int = 300) -> str:
    """A Salesforce message on one line. Query errors quote the whole query and point at the
    culprit ("ERROR at Row:1:Column:8"): only what follows that marker is kept."""
    words = str(text)
    marker = re.search(r"ERROR at Row:\d+:Column:\d+", words)
    if marker is not None:
        words = words[marker.end():]
    flat = " ".join(words.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# ---- from the config -----------------------------------------------------------------------------
def login_domain(login_url: str) -> str:
    """`https://login.salesforce.com` → "login"; `https://acme.my.salesforce.com` → "acme.my"."""
    host = (urlsplit(login_url).hostname or "").lower()
    if not host.endswith(SALESFORCE_HOST_SUFFIX) or host == SALESFORCE_HOST_SUFFIX[1:]:
        raise AuthenticationError(
            f"{setting_name('login_url')} must be https://login.salesforce.com, "
            "https://test.salesforce.com or your My Domain (https://yourcompany.my.salesforce.com)"
            f"; got {login_url!r}"
        )
    return host.removesuffix(SALESFORCE_HOST_SUFFIX)


def instance_host(instance_url: str) -> str:
    """`https://acme.my.salesforce.com` → "acme.my.salesforce.com" (a port is kept)."""
    parts = urlsplit(instance_url if "//" in instance_url else f"https://{instance_url}")
    if not parts.hostname:
        raise AuthenticationError(
            f"{setting_name('instance_url')} is not a URL: {instance_url!r}"
        )
    return parts.netloc


def secret(value: object) -> str | None:
    if value is None:
        return None
    reveal = getattr(value, "get_secret_value", None)
    return str(reveal() if reveal else value)


def config_logins(config: SalesforceConfig) -> list[Login]:
    """Every login the config makes possible, the one to start with first: a session id, then
    JWT, client credentials and password. Later ones renew an expired session id."""
    logins: list[Login] = []
    session_id = secret(config.session_id)
    if session_id and config.instance_url:
        logins.append(SessionLogin(session_id, instance_host(config.instance_url)))
    domain = login_domain(config.login_url)
    key_file = config.private_key_file
    if config.consumer_key and key_file and config.username:
        logins.append(JwtLogin(
            config.username, config.consumer_key,
            read_private_key(key_file), domain,
        ))
    consumer_secret = secret(config.consumer_secret)
    if config.consumer_key and consumer_secret and domain not in ("login", "test"):
        logins.append(ClientCredentialsLogin(
            config.consumer_key, consumer_secret, domain
        ))
    password = secret(config.password)
    if config.username and password:
        check_soap_login_version(config.api_version)
        logins.append(PasswordLogin(
            config.username, password, secret(config.security_token),
            domain,
        ))
    if not logins:
        raise AuthenticationError(no_credentials_message(consumer_secret is not None))
    return logins


def check_soap_login_version(version: str) -> None:
    """Password logins go through SOAP login(), which Salesforce no longer serves from API 65.0."""
    try:
        number = float(version)
    except ValueError:
        return  # an unknown version is named by the first request's NOT_FOUND
    if number > LAST_SOAP_LOGIN_VERSION:
        raise AuthenticationError(
            f"the password login does not work with {setting_name('api_version')}={version}: "
            "Salesforce serves SOAP login() only up to API 64.0 (and retires it in Summer '27). "
            f"Log in with JWT bearer ({setting_name('consumer_key')}, "
            f"{setting_name('private_key_file')}, {setting_name('username')}) or client "
            f"credentials ({setting_name('consumer_key')}, {setting_name('consumer_secret')}, "
            f"your My Domain in {setting_name('login_url')}), or set "
            f"{setting_name('api_version')}=64.0"
        )


def no_credentials_message(has_consumer_secret: bool) -> str:
    if has_consumer_secret:
        return (
            f"the client-credentials login needs your My Domain in "
            f"{setting_name('login_url')} (https://yourcompany.my.salesforce.com), not "
            "login.salesforce.com or test.salesforce.com"
        )
    return (
        "Salesforce needs credentials: set "
        f"{setting_name('username')}, {setting_name('password')} and "
        f"{setting_name('security_token')}; or {setting_name('consumer_key')} with "
        f"{setting_name('consumer_secret')} (client credentials) or "
        f"{setting_name('private_key_file')} and {setting_name('username')} (JWT); "
        f"or {setting_name('session_id')} with {setting_name('instance_url')}"
    )


def read_private_key(path: Path) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise AuthenticationError(
            f"{setting_name('private_key_file')} cannot be read ({error.strerror}): "
            f"{path}"
        ) from None
