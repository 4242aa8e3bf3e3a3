"""Sessions and the three ways to get one: the SOAP login, the OAuth token endpoint (password,
client credentials, JWT bearer) and a session id handed out directly to tests."""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any
from xml.etree import ElementTree

SOAP_ENVELOPE_NS = "http://schemas.xmlsoap.org/soap/envelope/"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The JWT bearer assertion's `aud` is the authorization server: https://login.salesforce.com, or
# https://test.salesforce.com for a sandbox org — never the My Domain host the token request is
# sent to (Salesforce Help, remoteaccess_oauth_jwt_flow, "Create a JWT": aud). Experience Cloud
# site audiences are not emulated.
JWT_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
INVALID_LOGIN_MESSAGE = "Invalid username, password, security token; or user locked out."


@dataclass
class Credentials:
    """What the emulated org accepts at login."""

    username: str
    password: str
    security_token: str
    consumer_key: str
    consumer_secret: str
    jwt_public_key_pem: bytes | None = None


@dataclass
class Session:
    token: str
    user_id: str
    expires_at: float


@dataclass
class SessionBook:
    """Open sessions; each lives `ttl_seconds` from its login."""

    organization_id: str
    ttl_seconds: float = 7200.0
    clock: Callable[[], float] = time.monotonic
    _sessions: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, user_id: str) -> Session:
        token = f"{self.organization_id[:15]}!{secrets.token_urlsafe(72)}"
        session = Session(token, user_id, self.clock() + self.ttl_seconds)
        with self._lock:
            self._sessions[token] = session
        return session

    def user_for(self, token: str | None) -> str | None:
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if session.expires_at <= self.clock():
                del self._sessions[token]
                return None
            return session.user_id

    def expire_all(self) -> None:
        with self._lock:
            self._sessions.clear()

    def count(self) -> int:
        with self._lock:
            return len(self._sessions)


def bearer_token(authorization: str | None) -> str | None:
    """`Authorization: Bearer x` (or the older `OAuth x`)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() not in ("bearer", "oauth"):
        return None
    return token.strip() or None


# ---- SOAP login --------------------------------------------------------------------------------
def soap_credentials(body: bytes) -> tuple[str, str] | None:
    """(username, password as sent — password and security token concatenated) from a SOAP
    login envelope, whatever its namespace prefixes."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    username = password = None
    for element in root.iter():
        local = element.tag.rsplit("}", 1)[-1]
        if local == "username":
            username = element.text or ""
        elif local == "password":
            password = element.text or ""
    if username is None or password is None:
        return None
    return username, password


def soap_login_response(
    session: Session, server_url: str, organization_id: str, user: dict[str, Any]
) -> str:
    metadata_url = server_url.replace("/Soap/u/", "/Soap/m/")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENVELOPE_NS}" '
        'xmlns="urn:partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><loginResponse><result>"
        f"<metadataServerUrl>{escape(metadata_url)}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired>"
        "<sandbox>true</sandbox>"
        f"<serverUrl>{escape(server_url)}</serverUrl>"
        f"<sessionId>{escape(session.token)}</sessionId>"
        f"<userId>{escape(session.user_id)}</userId>"
        "<userInfo>"
        f"<organizationId>{escape(organization_id)}</organizationId>"
        "<organizationName>leadq sandbox</organizationName>"
        f"<sessionSecondsValid>{7200}</sessionSecondsValid>"
        f"<userEmail>{escape(str(user.get('Email') or ''))}</userEmail>"
        f"<userFullName>{escape(str(user.get('Name') or ''))}</userFullName>"
        f"<userId>{escape(session.user_id)}</userId>"
        f"<userName>{escape(str(user.get('Username') or ''))}</userName>"
        "</userInfo>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )


def soap_fault(code: str, message: str) -> str:
    """The fault simple-salesforce reads `sf:exceptionCode` and `sf:exceptionMessage` from."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENVELOPE_NS}" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>sf:{escape(code)}</faultcode>"
        f"<faultstring>{escape(code)}: {escape(message)}</faultstring>"
        "<detail>"
        '<sf:LoginFault xsi:type="sf:LoginFault">'
        f"<sf:exceptionCode>{escape(code)}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage>"
        "</sf:LoginFault>"
        "</detail>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )


# ---- OAuth -------------------------------------------------------------------------------------
class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def basic_client(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    key, _, secret = decoded.partition(":")
    return key, secret


def check_client(credentials: Credentials, client_id: str | None, secret: str | None) -> None:
    if client_id != credentials.consumer_key:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if not secrets.compare_digest(secret or "", credentials.consumer_secret):
        raise OAuthError("invalid_client", "invalid client credentials")


def password_matches(credentials: Credentials, sent: str) -> bool:
    """A password is accepted with the security token appended (as from an untrusted IP)."""
    return secrets.compare_digest(sent, credentials.password + credentials.security_token)


def jwt_subject(credentials: Credentials, assertion: str) -> str:
    """Verify an RS256 JWT bearer assertion and return its subject (a username)."""
    import jwt

    if credentials.jwt_public_key_pem is None:
        raise OAuthError("invalid_grant", "invalid assertion")
    try:
        claims = jwt.decode(
            assertion,
            credentials.jwt_public_key_pem,
            algorithms=["RS256"],
            audience=list(JWT_AUDIENCES),
            options={"require": ["exp", "iss", "sub", "aud"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise OAuthError("invalid_grant", "expired authorization code") from error
    except jwt.InvalidAudienceError as error:
        raise OAuthError("invalid_grant", "audience is invalid") from error
    except jwt.PyJWTError as error:
        raise OAuthError("invalid_grant", "invalid assertion") from error
    if claims.get("iss") != credentials.consumer_key:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    return str(claims["sub"])


def token_response(session: Session, instance_url: str, organization_id: str) -> dict[str, str]:
    issued_at = str(int(time.time() * 1000))
    return {
        "access_token": session.token,
        "instance_url": instance_url,
        "id": f"{instance_url}/id/{organization_id}/{session.user_id}",
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
