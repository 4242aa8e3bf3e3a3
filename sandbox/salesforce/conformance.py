"""The emulator as a test oracle: requests a real org would refuse as malformed, and answers that
stray from the shapes the emulator declares, are recorded as violations.

A violation is not an answer a client may meet in production and handle (an expired session, a
missing field, a rate limit): it is a request no correct client sends — a SOQL syntax error or
an escape SOQL does not know, an sObject Collection of more than 200 records or 10 chunks, a URI
past 16,384 characters, a SOAP login from API 65.0, a JWT whose audience is not
login/test.salesforce.com, a queue as the owner of an object that takes Users only — or an answer
of the emulator's own that breaks its declared shape. `recorded()` lists every violation of every
emulator in this process, so a test suite can fail any test whose client caused one
(tests/e2e/conftest.py), while the emulator's own contract tests provoke them on purpose.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

# error codes with which Salesforce refuses a request as malformed (never an org's state)
MALFORMED_CODES = frozenset({
    "MALFORMED_QUERY", "INVALID_BATCH_REQUEST", "JSON_PARSER_ERROR", "EXCEEDED_ID_LIMIT",
    "URI_TOO_LONG", "MISSING_ARGUMENT", "METHOD_NOT_ALLOWED", "INVALID_QUERY_LOCATOR",
})
# per-record errors in sObject Collections that only a wrong request causes
WRONG_TARGET = "id value of incorrect type"
LOGIN_REFUSALS = ("UNSUPPORTED_API_VERSION", "audience is invalid", "unsupported_grant_type")


@dataclass(frozen=True)
class Violation:
    method: str
    path: str
    what: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}: {self.what}"


_recorded: list[Violation] = []
_lock = threading.Lock()


def recorded() -> list[Violation]:
    """Every violation any Salesforce emulator in this process has seen, oldest first."""
    with _lock:
        return list(_recorded)


def record(violation: Violation) -> None:
    with _lock:
        _recorded.append(violation)


def inspect(request: Request, response: Response) -> None:
    """Record what is wrong with this exchange, if anything."""
    for what in problems(request, response):
        record(Violation(request.method, request.path, what))


def problems(request: Request, response: Response) -> list[str]:
    body = response.get_data(as_text=True)
    path = request.path
    if "/services/Soap/u/" in path or path.endswith("/oauth2/token"):
        return [f"login refused: {word}" for word in LOGIN_REFUSALS if word in body]
    if not path.startswith("/services/data/") or "json" not in (response.content_type or ""):
        return []
    try:
        answer = json.loads(body)
    except ValueError:
        return ["the answer is not JSON"]
    if response.status_code >= 400:
        return error_problems(answer)
    check = shape_check(request.method, path)
    found = [f"answer shape: {problem}" for problem in check(answer)] if check else []
    if request.method in ("PATCH", "POST") and path.endswith("/composite/sobjects"):
        found += [
            f"record refused: {error.get('message')}"
            for result in answer if isinstance(result, dict)
            for error in result.get("errors") or []
            if isinstance(error, dict) and WRONG_TARGET in str(error.get("message"))
        ]
    return found


def error_problems(answer: Any) -> list[str]:
    if not (isinstance(answer, list) and answer and all(
        isinstance(entry, dict) and isinstance(entry.get("message"), str)
        and isinstance(entry.get("errorCode"), str) for entry in answer
    )):
        return ["answer shape: an error is [{message, errorCode}]"]
    return [f"refused as malformed: {entry['errorCode']}: {' '.join(entry['message'].split())}"
            for entry in answer if entry["errorCode"] in MALFORMED_CODES]


Check = Callable[[Any], list[str]]


def shape_check(method: str, path: str) -> Check | None:
    tail = path.split("/services/data/", 1)[-1].split("/", 1)[-1].rstrip("/")
    if method == "GET" and tail.split("/")[0] in ("query", "queryAll"):
        return query_shape
    if method in ("PATCH", "POST") and tail == "composite/sobjects":
        return save_results_shape
    if method == "GET" and tail.startswith("sobjects/") and tail.endswith("/describe"):
        return describe_shape
    return None


def query_shape(answer: Any) -> list[str]:
    if not isinstance(answer, dict):
        return ["a query answer is an object"]
    found = []
    if not isinstance(answer.get("totalSize"), int) or not isinstance(answer.get("done"), bool):
        found.append("totalSize (integer) and done (boolean) are required")
    records = answer.get("records")
    if not isinstance(records, list) or not all(
        isinstance(record, dict) and isinstance(record.get("attributes"), dict)
        and isinstance(record["attributes"].get("type"), str) for record in records
    ):
        found.append("records is a list of records with attributes.type")
    if answer.get("done") is False and not isinstance(answer.get("nextRecordsUrl"), str):
        found.append("a query not done gives nextRecordsUrl")
    return found


def save_results_shape(answer: Any) -> list[str]:
    if not isinstance(answer, list) or not all(
        isinstance(result, dict) and isinstance(result.get("success"), bool)
        and "id" in result and isinstance(result.get("errors"), list)
        and all(isinstance(error, dict) and isinstance(error.get("statusCode"), str)
                for error in result["errors"])
        for result in answer
    ):
        return ["save results are [{id, success, errors: [{statusCode, message, fields}]}]"]
    return []


def describe_shape(answer: Any) -> list[str]:
    fields = answer.get("fields") if isinstance(answer, dict) else None
    if not isinstance(answer, dict) or not isinstance(answer.get("name"), str) or not (
        isinstance(fields, list) and all(
            isinstance(entry, dict) and isinstance(entry.get("name"), str)
            and isinstance(entry.get("type"), str) for entry in fields
        )
    ):
        return ["describe is {name, fields: [{name, type, …}]}"]
    return []
