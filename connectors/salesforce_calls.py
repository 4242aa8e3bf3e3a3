"""Every request the Salesforce connector makes goes through `SalesforceCalls.call`: one request
through simple-salesforce, under the shared `CallPolicy` (rate limit, retries, counting), with the
client's exceptions translated once by `translate` and an expired session renewed by logging in
again — whatever the login kind — counted as an "auth" request.

The client is always built from a session id (simple-salesforce's own refresh on a 401 is thereby
off): renewal is ours, so it works for JWT, client credentials and session-id logins alike and is
counted like every other request.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from connectors.retry import (
    CallPolicy,
    ConnectorError,
    MissingFieldError,
    PermissionDeniedError,
    RecordNotFoundError,
    TransientError,
    unreachable,
)
from connectors.salesforce_config import setting_name
from connectors.salesforce_kept_session import KeptSessions
from connectors.salesforce_login import Login, SessionLogin, attempt_login, one_line

T = TypeVar("T")
Item = TypeVar("Item")
DEFAULT_TIMEOUT = (10.0, 120.0)  # seconds: connect, read
NO_SUCH_COLUMN = re.compile(r"No such column '([^']+)' on (?:entity|sobject of type) '?(\w+)'?")
README_FIELDS = "README, 'Salesforce: the fields an admin creates'"
ACCESS_HINT = (
    "give the integration user's profile or permission set 'API Enabled' and read access to "
    "Lead, Contact, Account, Task, Event, Campaign, CampaignMember, Opportunity, User and Group "
    "(edit on Lead and Contact)"
)


class SessionExpiredError(Exception):
    """A 401 INVALID_SESSION_ID: log in again and resend."""


class DailyLimitExhaustedError(ConnectorError):
    """The org's rolling 24-hour API request allowance is used up."""


@dataclass(frozen=True)
class ApiUsage:
    """`Sforce-Limit-Info: api-usage=used/limit` from the latest response."""

    used: int
    limit: int
    seen_at: datetime

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit


def parse_api_usage(header: str | None, now: datetime) -> ApiUsage | None:
    match = re.search(r"api-usage=(\d+)/(\d+)", header or "")
    return ApiUsage(int(match.group(1)), int(match.group(2)), now) if match else None


def first_error(content: Any) -> tuple[str, str]:
    """(errorCode, message) of a Salesforce error body `[{"errorCode", "message"}]`."""
    if isinstance(content, bytes | str):
        try:
            content = json.loads(content)
        except ValueError:
            return "", one_line(content.decode() if isinstance(content, bytes) else content)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        content = content[0]
    if isinstance(content, dict):
        code = content.get("errorCode") or content.get("statusCode") or content.get("error") or ""
        message = content.get("message") or content.get("error_description") or ""
        return str(code), one_line(message)
    return "", one_line(content)


def missing_field_error(message: str) -> MissingFieldError | None:
    match = NO_SUCH_COLUMN.search(message)
    if match is None:
        return None
    field_name, sobject = match.groups()
    return MissingFieldError(
        f"Salesforce has no field {field_name} on {sobject} that leadq may use: create it "
        f"({README_FIELDS}) or give the integration user access to it (field-level security), "
        "or remove it from the scoring model"
    )


def translate(error: Exception, usage: ApiUsage | None = None) -> Exception:
    """The one mapping from simple-salesforce / requests exceptions to retry.py's kinds.
    Returns the error itself when it is none of ours to translate."""
    if isinstance(error, SalesforceError):
        return translate_salesforce(error, usage)
    if isinstance(error, requests.Timeout):
        return TransientError("Salesforce did not answer in time", kind="timeout")
    if isinstance(error, requests.exceptions.SSLError) and "CERTIFICATE_VERIFY" in str(error):
        return ConnectorError(
            "the Salesforce server's TLS certificate is not trusted: check "
            f"{setting_name('instance_url')} and {setting_name('ca_bundle')}"
        )
    where = unreachable(error)
    if where is not None:
        return ConnectorError(
            f"cannot reach Salesforce at {where}: check {setting_name('instance_url')} (or "
            f"{setting_name('login_url')}) and the network"
        )
    if isinstance(error, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return TransientError("the connection to Salesforce dropped", kind="connection")
    if isinstance(error, json.JSONDecodeError):
        return TransientError("Salesforce sent a truncated answer", kind="connection")
    return error


def translate_salesforce(error: SalesforceError, usage: ApiUsage | None) -> Exception:
    code, message = first_error(error.content)
    if isinstance(error, SalesforceExpiredSession):
        return SessionExpiredError(f"{code}: {message}")
    if isinstance(error, SalesforceRefusedRequest):
        if code == "REQUEST_LIMIT_EXCEEDED":
            return request_limit_error(message, usage)
        return PermissionDeniedError(
            f"Salesforce refused access ({code}: {message}): {ACCESS_HINT}"
        )
    if isinstance(error, SalesforceMalformedRequest):
        return malformed_request_error(code, message)
    if isinstance(error, SalesforceResourceNotFound):
        return RecordNotFoundError(
            f"Salesforce answered {code or 'NOT_FOUND'} for {error.resource_name or error.url}: "
            f"check {setting_name('api_version')} and "
            f"{setting_name('instance_url')}"
        )
    if isinstance(error, SalesforceGeneralError) and error.status >= 500:
        return TransientError(
            f"Salesforce answered {error.status} ({code or 'server error'})", kind="server_error"
        )
    return ConnectorError(
        f"Salesforce refused a leadq request with {error.status} ({code}: {message}); "
        "please report this to leadq"
    )


def request_limit_error(message: str, usage: ApiUsage | None) -> Exception:
    if usage is not None and usage.exhausted:
        resets = (usage.seen_at + timedelta(hours=24)).strftime("%Y-%m-%d %H:%M UTC")
        return DailyLimitExhaustedError(
            f"the org's daily Salesforce API limit is used up ({usage.used:,} of "
            f"{usage.limit:,} requests in the last 24 hours). Salesforce counts a rolling 24 "
            f"hours, so requests free up as they age and all of them by {resets}; leadq stops "
            "until then (ask Salesforce for a higher limit if this recurs)"
        )
    used = f", api usage {usage.used:,}/{usage.limit:,}" if usage else ""
    return TransientError(
        f"Salesforce refused the request for now (REQUEST_LIMIT_EXCEEDED: {message}{used})",
        kind="rate_limited",
    )


def malformed_request_error(code: str, message: str) -> Exception:
    if code == "INVALID_FIELD":
        missing = missing_field_error(message)
        if missing is not None:
            return missing
    if code == "INVALID_TYPE":
        return PermissionDeniedError(f"Salesforce does not let leadq query this object "
                                     f"({code}: {message}): {ACCESS_HINT}")
    return ConnectorError(
        f"Salesforce refused a leadq request ({code}: {message}); please report this to leadq"
    )


def query_options(batch_size: int) -> dict[str, str]:
    """The header asking for query pages of `batch_size` records."""
    return {"Sforce-Query-Options": f"batchSize={batch_size}"}


def logged_in_client(
    logins: Sequence[Login], session: requests.Session, policy: CallPolicy, version: str
) -> Salesforce:
    """Log in with the first of `logins` (a request counted as "auth", unless it is a session
    id handed to us) and return a client built on the session id."""
    first = logins[0]
    if first.can_log_in:
        session_id, instance = policy.call("auth", lambda: attempt_login(first, session, version))
    else:
        session_id, instance = first.log_in(session, version)
    return Salesforce(session_id=session_id, instance=instance, session=session, version=version)


class SalesforceCalls:
    """The logged-in simple-salesforce client and the one way to send requests with it."""

    def __init__(
        self,
        client: Salesforce,
        policy: CallPolicy,
        logins: Sequence[Login] = (),
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.client = client
        self.policy = policy
        self.logins = list(logins)
        self.timeout = timeout
        self.usage: ApiUsage | None = None
        self.kept: KeptSessions | None = None  # where a login's session is kept for later runs
        self.logged_in: tuple[str, str] | None = None  # the session this process logged in to
        self._relogin_lock = threading.Lock()
        client.session.hooks["response"].append(self._remember_usage)

    # ---- sending ----------------------------------------------------------------------------
    def call(self, kind: str, action: Callable[[Salesforce], T]) -> T:
        """Send one request: rate-limited, counted as `kind`, retried when transient."""
        return self.policy.call(kind, lambda: self.attempt(action))

    def call_batch(
        self,
        kind: str,
        items: Sequence[Item],
        send: Callable[[Salesforce, Sequence[Item]], Sequence[Item]],
    ) -> list[Item]:
        """Send a batch; resend only the items `send` says failed transiently (see CallPolicy)."""
        return self.policy.call_batch(
            kind, items, lambda batch: self.attempt(lambda client: send(client, batch))
        )

    def attempt(self, action: Callable[[Salesforce], T]) -> T:
        client = self.client
        try:
            return action(client)
        except Exception as error:
            translated = translate(error, self.usage)
            if isinstance(translated, SessionExpiredError):
                self.log_in_again(client, str(translated))
                raise TransientError(
                    "the Salesforce session had expired; logged in again", retry_after=0.0,
                    kind="session_expired",
                ) from error
            if translated is error:
                raise
            raise translated from error

    def log_in_again(self, expired: Salesforce, reason: str) -> None:
        with self._relogin_lock:
            if self.client is not expired:
                return  # another thread already renewed the session
            login = next((login for login in self.logins if login.can_log_in), None)
            if login is None:
                code, _, message = reason.partition(": ")
                current = self.logins[0] if self.logins else SessionLogin("", "")
                raise current.refused(code, message)
            session = expired.session
            version = expired.sf_version
            session_id, instance = self.policy.call(
                "auth", lambda: attempt_login(login, session, version)
            )
            self.client = Salesforce(
                session_id=session_id, instance=instance, session=session, version=version
            )
            self.remember_login(session_id, instance)

    def remember_login(self, session_id: str, instance: str) -> None:
        """A login of this process opened this session: keep it for later runs."""
        self.logged_in = (session_id, instance)
        if self.kept is not None:
            self.kept.keep(session_id, instance)

    def keep_sessions(self, kept: KeptSessions) -> None:
        """Keep the sessions logins open from now on, and the one this process opened."""
        self.kept = kept
        if self.logged_in is not None:
            kept.keep(*self.logged_in)

    def _remember_usage(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        usage = parse_api_usage(response.headers.get("Sforce-Limit-Info"), datetime.now(UTC))
        if usage is not None:
            self.usage = usage

    # ---- queries ----------------------------------------------------------------------------
    def query_pages(
        self, soql: str, kind: str = "query", batch_size: int = 2000, query_all: bool = False
    ) -> Iterator[list[dict[str, Any]]]:
        """The records of a SOQL query, one page (one request) at a time; `query_all` sends it
        to queryAll (deleted and archived records too). A page may hold fewer records than
        `batch_size` ("there's no guarantee that the requested batch size is the actual batch
        size", REST API guide, headers_queryoptions): only `done` and `nextRecordsUrl` say
        whether more follow."""
        headers = query_options(batch_size)
        answer = self.call(kind, lambda client: client.query(
            soql, include_deleted=query_all, headers=headers, timeout=self.timeout
        ))
        yield from self.pages_from(answer, batch_size)

    def pages_from(
        self, answer: dict[str, Any], batch_size: int = 2000
    ) -> Iterator[list[dict[str, Any]]]:
        """The records of a query answer already in hand, page by page: its own, then each next
        page `nextRecordsUrl` names, one Query More request each."""
        headers = query_options(batch_size)
        while True:
            yield answer["records"]
            if answer.get("done", True) or not answer.get("nextRecordsUrl"):
                return
            next_url = answer["nextRecordsUrl"]
            answer = self.call("query_more", lambda client, url=next_url: client.query_more(
                url, identifier_is_url=True, headers=headers, timeout=self.timeout
            ))

    def count(self, soql: str) -> int:
        answer = self.call("query", lambda client: client.query(soql, timeout=self.timeout))
        return int(answer["totalSize"])

    def restful(self, kind: str, path: str, method: str = "GET", **kwargs: Any) -> Any:
        return self.call(kind, lambda client: client.restful(
            path, method=method, timeout=self.timeout, **kwargs
        ))
