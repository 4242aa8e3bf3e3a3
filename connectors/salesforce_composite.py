"""Several SOQL queries in one request, through Salesforce's Composite resource (`POST
/services/data/vXX.X/composite`, REST API guide, resources-composite-composite-post): the whole
series counts as one API call, and up to 5 of its subrequests may be queries — so queries go five
to a request.

A query whose answer continues (`nextRecordsUrl`) is read on with ordinary Query More requests,
and a subrequest that failed raises exactly what the same query sent alone raises (the status
and error body simple-salesforce would have turned into its exception, translated once by
salesforce_calls.translate): a missing field, an object the user may not read, a limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from connectors.salesforce_calls import SalesforceCalls, query_options

MAX_QUERIES = 5  # query subrequests Salesforce runs in one composite request
ROLLED_BACK = "PROCESSING_HALTED"  # what the other subrequests answer when allOrNone fails one
# simple-salesforce's own map from a status to its exception (simple_salesforce.util)
ERRORS_BY_STATUS: dict[int, type[SalesforceError]] = {
    300: SalesforceMoreThanOneRecord,
    400: SalesforceMalformedRequest,
    401: SalesforceExpiredSession,
    403: SalesforceRefusedRequest,
    404: SalesforceResourceNotFound,
}

Record = dict[str, Any]


class CompositeQueries:
    """Queries sent together, five to a Composite request, each read to its last page."""

    def __init__(self, calls: SalesforceCalls, batch_size: int) -> None:
        self.calls = calls
        self.batch_size = batch_size

    def records_of(self, queries: Sequence[str], kind: str = "composite") -> list[list[Record]]:
        """Every record each query selects, in the order of `queries`."""
        found: list[list[Record]] = []
        for start in range(0, len(queries), MAX_QUERIES):
            group = queries[start : start + MAX_QUERIES]
            answers = self.calls.call(kind, lambda client, group=group: self.send(client, group))
            for answer in answers:
                pages = self.calls.pages_from(answer, self.batch_size)
                found.append([record for page in pages for record in page])
        return found

    def send(self, client: Salesforce, queries: Sequence[str]) -> list[dict[str, Any]]:
        """One composite request of these queries; their first pages, in order."""
        urls = [query_url(client, soql) for soql in queries]
        headers = query_options(self.batch_size)
        body = {
            "allOrNone": False,
            "compositeRequest": [
                {"method": "GET", "url": url, "referenceId": f"query{index}",
                 "httpHeaders": headers}
                for index, url in enumerate(urls)
            ],
        }
        answer = client.restful("composite", method="POST", json=body,
                                timeout=self.calls.timeout)
        results = {result["referenceId"]: result for result in answer["compositeResponse"]}
        ordered = [results[f"query{index}"] for index in range(len(urls))]
        failed = [(url, result) for url, result in zip(urls, ordered, strict=True)
                  if result["httpStatusCode"] >= 300]
        if failed:
            raise subrequest_error(*first_cause(failed))
        return [result["body"] for result in ordered]


def query_url(client: Salesforce, soql: str) -> str:
    """The url of the query resource as a subrequest names it (no host: /services/data/…)."""
    return f"/services/data/v{client.sf_version}/query/?{urlencode({'q': soql})}"


def first_cause(failed: list[tuple[str, dict[str, Any]]]) -> tuple[str, dict[str, Any]]:
    """The subrequest that failed of itself, not one rolled back because another failed."""
    for url, result in failed:
        if not is_rolled_back(result["body"]):
            return url, result
    return failed[0]


def is_rolled_back(body: Any) -> bool:
    return isinstance(body, list) and bool(body) and isinstance(body[0], dict) and (
        body[0].get("errorCode") == ROLLED_BACK
    )


def subrequest_error(url: str, result: dict[str, Any]) -> SalesforceError:
    """The exception simple-salesforce raises for the same answer to the query sent alone."""
    status = int(result["httpStatusCode"])
    error_class = ERRORS_BY_STATUS.get(status, SalesforceGeneralError)
    return error_class(url, status, "query", result.get("body"))
