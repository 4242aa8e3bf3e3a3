"""The Composite resource, `POST /services/data/vXX.X/composite`: several REST requests in one
call that counts as one API request, each answered inside one `compositeResponse`.

What Salesforce documents (REST API Developer Guide):
- resources-composite-composite-post
  (https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-composite-post.html):
  "The entire series of requests counts as a single call toward your API limits"; up to 25
  subrequests in one call, and up to 5 of them query operations (Query, QueryAll and the Query
  More requests that fetch a query's next batch); supported resources are the sObject resources,
  Query, QueryAll and sObject Collections, under /services/data/vXX.X/.
- requests-composite
  (https://developer.salesforce.com/docs/platform/api-rest/guide/requests-composite.html): the
  body is `{"allOrNone", "collateSubrequests", "compositeRequest" (required)}`; a subrequest is
  `{"method" (required: POST, PUT, PATCH, GET or DELETE, case-sensitive), "url" (required),
  "referenceId" (required: letters, numbers and underscores only), "body", "httpHeaders"}`; a
  subrequest that sets Accept, Authorization or Content-Type in `httpHeaders` fails the whole
  request with HTTP 400; any other header of the requested resource applies to it.
- resources-composite-subrequest-result
  (https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-subrequest-result.html):
  each result is `{"body", "httpHeaders", "httpStatusCode", "referenceId"}`, an error's body the
  usual `[{"message", "errorCode", "fields"}]`; the top-level answer is HTTP 200 either way; with
  `allOrNone: true`, when one subrequest fails every other one answers 400.

Unconfirmed, so the emulator takes the strictest reading: the error code and message of a
refused composite request (the guide names the 400 only; these use INVALID_BATCH_REQUEST, which
tests/e2e's conformance oracle counts as a malformed request), a duplicate referenceId (refused),
a subrequest of a later API version than the composite request's own (refused, as Composite
Batch documents), and the body of the subrequests `allOrNone` rolls back (PROCESSING_HALTED).

The emulator runs GET subrequests only — the reads leadq sends. A write or a `@{reference}`
Salesforce would run is refused as not emulated (also recorded by conformance), so no test can
pass on something the emulator only pretends to do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from werkzeug.wrappers import Response

from sandbox.salesforce.context import Call
from sandbox.salesforce.errors import SalesforceApiError, json_response

MAX_SUBREQUESTS = 25
MAX_QUERY_SUBREQUESTS = 5
METHODS = frozenset({"POST", "PUT", "PATCH", "GET", "DELETE"})
INHERITED_HEADERS = frozenset({"accept", "authorization", "content-type"})
REFERENCE_ID = re.compile(r"^[A-Za-z0-9_]+$")
DATA_URL = re.compile(r"^/services/data/v(?P<version>\d{2,3}\.\d)/(?P<resource>[^?]*)")
QUERY_RESOURCES = ("query", "queryAll")
ROLLED_BACK_MESSAGE = (
    "The transaction was rolled back since another operation in the same transaction failed."
)


@dataclass(frozen=True)
class Subrequest:
    method: str
    url: str
    reference_id: str
    headers: dict[str, str] = field(default_factory=dict)


# runs one subrequest as the REST endpoint it names would, without counting it as an API call
SendSubrequest = Callable[[Call, Subrequest], Response]


def refused(message: str) -> SalesforceApiError:
    return SalesforceApiError(400, "INVALID_BATCH_REQUEST", message)


def composite(call: Call, send: SendSubrequest) -> Response:
    """Run the subrequests in order and answer every one of them."""
    body = call.json_body()
    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise SalesforceApiError(
            400, "JSON_PARSER_ERROR", "compositeRequest is required: a list of subrequests"
        )
    all_or_none = body.get("allOrNone", False)
    if not isinstance(all_or_none, bool):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "allOrNone must be a boolean")
    subrequests = parsed_subrequests(body["compositeRequest"], call.version)
    results = [subresult(sub, send(call, sub)) for sub in subrequests]
    if all_or_none and any(result["httpStatusCode"] >= 400 for result in results):
        results = [result if result["httpStatusCode"] >= 400 else rolled_back(result)
                   for result in results]
    return json_response({"compositeResponse": results})


def parsed_subrequests(entries: list[Any], version: str) -> list[Subrequest]:
    if not entries:
        raise refused("compositeRequest must hold at least one subrequest")
    if len(entries) > MAX_SUBREQUESTS:
        raise refused(f"a composite request may hold at most {MAX_SUBREQUESTS} subrequests, "
                      f"not {len(entries)}")
    subrequests = [parsed_subrequest(entry, version) for entry in entries]
    seen: set[str] = set()
    for sub in subrequests:
        if sub.reference_id in seen:
            raise refused(f"Duplicate referenceId provided in the request: {sub.reference_id}")
        seen.add(sub.reference_id)
    queries = sum(is_query(sub.url) for sub in subrequests)
    if queries > MAX_QUERY_SUBREQUESTS:
        raise refused(f"a composite request may hold at most {MAX_QUERY_SUBREQUESTS} query "
                      f"subrequests (Query, QueryAll, Query More), not {queries}")
    return subrequests


def parsed_subrequest(entry: Any, version: str) -> Subrequest:
    if not isinstance(entry, dict):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Every subrequest must be an object")
    reference_id = entry.get("referenceId")
    if not isinstance(reference_id, str) or not reference_id:
        raise refused("referenceId is required in every subrequest")
    if not REFERENCE_ID.match(reference_id):
        raise refused(f"referenceId {reference_id!r} may hold only letters, numbers and "
                      "underscores")
    method = entry.get("method")
    if method not in METHODS:
        raise refused(f"{reference_id}: method must be one of POST, PUT, PATCH, GET, DELETE "
                      f"(case-sensitive), not {method!r}")
    url = entry.get("url")
    if not isinstance(url, str) or not url:
        raise refused(f"{reference_id}: url is required")
    match = DATA_URL.match(url)
    if match is None:
        raise refused(f"{reference_id}: the url must begin with /services/data/vXX.X/, "
                      f"not {url[:80]!r}")
    if float(match.group("version")) > float(version):
        raise refused(f"{reference_id}: the url's API version {match.group('version')} is "
                      f"later than the composite request's {version}")
    headers = entry.get("httpHeaders") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in headers.items()
    ):
        raise refused(f"{reference_id}: httpHeaders must map header names to strings")
    inherited = sorted(name for name in headers if name.lower() in INHERITED_HEADERS)
    if inherited:
        raise refused(f"{reference_id}: a subrequest inherits {', '.join(inherited)} from the "
                      "composite request and may not set it")
    if method != "GET" or "@{" in unquote_plus(url) or "body" in entry:
        raise refused(f"{reference_id}: the sandbox emulates GET subrequests without references "
                      "only (Salesforce would run this one)")
    return Subrequest(method, url, reference_id, dict(headers))


def is_query(url: str) -> bool:
    match = DATA_URL.match(url)
    return match is not None and match.group("resource").split("/")[0] in QUERY_RESOURCES


def subresult(sub: Subrequest, response: Response) -> dict[str, Any]:
    text = response.get_data(as_text=True)
    return {
        "body": json.loads(text) if text else None,
        "httpHeaders": {},  # a query's answer carries none here; Content-Length never
        "httpStatusCode": response.status_code,
        "referenceId": sub.reference_id,
    }


def rolled_back(result: dict[str, Any]) -> dict[str, Any]:
    return {
        **result,
        "body": [{"errorCode": "PROCESSING_HALTED", "message": ROLLED_BACK_MESSAGE}],
        "httpStatusCode": 400,
    }


def subrequest_path(url: str) -> tuple[str, str]:
    """(path, query string) of a subrequest's url."""
    parts = urlsplit(url)
    return parts.path, parts.query
