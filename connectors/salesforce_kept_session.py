"""A Salesforce session kept between processes, so that a run every few minutes does not log in
each time it starts.

The session is sealed (Fernet: AES-128-CBC with an HMAC-SHA256, from `cryptography`) under a key
derived by HKDF from the login's own secret — the password and security token, the consumer
secret, or the private key. Whoever holds the state store alone holds ciphertext, not a session;
a changed secret makes the kept session unreadable, so the next run logs in; the name it is kept
under is a hash of the login's identity, never the username (an e-mail address).

A kept session is used for at most `KEPT_FOR` after the login that opened it (Salesforce's
default session timeout is two hours, extended while the session is used). An org with a shorter
timeout, or a session revoked meanwhile, answers 401 INVALID_SESSION_ID: the connector then logs
in again once and keeps the new session (salesforce_calls.SalesforceCalls.log_in_again).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from connectors.salesforce_login import (
    ClientCredentialsLogin,
    JwtLogin,
    Login,
    PasswordLogin,
)

KEPT_FOR = timedelta(hours=1)
SALT = b"leadq: a kept Salesforce session"


class SessionCache(Protocol):
    """Where sealed sessions are kept between processes (sync/session_cache.py)."""

    def get(self, name: str) -> str | None: ...

    def put(self, name: str, sealed: str) -> None: ...


@dataclass(frozen=True)
class KeptSessions:
    """The sessions of one login, sealed under its secret, in a `SessionCache`."""

    cache: SessionCache
    name: str
    fernet: Fernet
    clock: Callable[[], float] = field(default=time.time)  # seconds since the epoch

    @classmethod
    def of(
        cls, login: Login, cache: SessionCache, clock: Callable[[], float] = time.time
    ) -> KeptSessions | None:
        """None for a login with no secret of its own (a session id handed to leadq)."""
        identity_and_secret = login_secret(login)
        if identity_and_secret is None:
            return None
        identity, secret = identity_and_secret
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT,
                   info=identity.encode()).derive(secret.encode())
        name = hashlib.sha256(identity.encode()).hexdigest()[:32]
        return cls(cache, name, Fernet(base64.urlsafe_b64encode(key)), clock)

    def read(self) -> tuple[str, str] | None:
        """(session id, instance) kept within `KEPT_FOR`, sealed under this login's secret."""
        sealed = self.cache.get(self.name)
        if sealed is None:
            return None
        try:
            kept = json.loads(self.fernet.decrypt_at_time(
                sealed, int(KEPT_FOR.total_seconds()), int(self.clock())
            ))
        except (InvalidToken, ValueError):
            return None
        return str(kept["session_id"]), str(kept["instance"])

    def keep(self, session_id: str, instance: str) -> None:
        text = json.dumps({"session_id": session_id, "instance": instance})
        sealed = self.fernet.encrypt_at_time(text.encode(), int(self.clock()))
        self.cache.put(self.name, sealed.decode())


def login_secret(login: Login) -> tuple[str, str] | None:
    """(who logs in, the secret that proves it) for the logins that have a secret."""
    if isinstance(login, PasswordLogin):
        identity = f"password|{login.domain}|{login.username.lower()}"
        return identity, f"{login.password}|{login.security_token or ''}"
    if isinstance(login, JwtLogin):
        identity = f"jwt|{login.domain}|{login.consumer_key}|{login.username.lower()}"
        return identity, login.private_key
    if isinstance(login, ClientCredentialsLogin):
        return f"client_credentials|{login.domain}|{login.consumer_key}", login.consumer_secret
    return None
