"""Bulk API 2.0 query jobs for full pulls too large for REST paging.

One job per sObject: `POST jobs/query` (through `restful`), poll `GET jobs/query/{id}` until
JobComplete, then read the CSV results in pages of `page_records`, following `Sforce-Locator`
until Salesforce answers "null". Every one of those is a single request under the shared policy,
counted as "bulk". Bulk 2.0 refuses COUNT(), OFFSET and nested queries and does not promise an
order, so a bulk pull's pages are unordered (see `SalesforceConnector.pull_changed`). Finished
jobs are left to Salesforce, which deletes them after seven days.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from simple_salesforce import Salesforce
from simple_salesforce.util import exception_handler

from connectors.retry import ConnectorError, TransientError
from connectors.salesforce_calls import SalesforceCalls
from connectors.salesforce_records import Row

FINISHED_STATES = frozenset({"JobComplete", "Failed", "Aborted"})


@dataclass(frozen=True)
class BulkSettings:
    # as many as a REST query page: a results page is held whole, so its size sets the peak
    # memory of a full pull (10,000 a page: 254 MB at 200,000 people; 2,000: 167 MB)
    page_records: int = 2_000
    first_poll_seconds: float = 0.5
    longest_poll_seconds: float = 10.0
    give_up_seconds: float = 3600.0


@dataclass(frozen=True)
class ResultsPage:
    rows: list[Row]
    locator: str  # "" after the last page


class BulkQuery:
    def __init__(
        self,
        calls: SalesforceCalls,
        settings: BulkSettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.calls = calls
        self.settings = settings or BulkSettings()
        self._sleep = sleep

    def pages(self, soql: str) -> Iterator[list[Row]]:
        """The rows of `soql` (flat: relationship columns are named "Owner.IsActive"; every value
        is text, empty values None), one results page at a time."""
        job_id = self.start(soql)
        self.wait_until_done(job_id)
        locator = ""
        while True:
            page = self.calls.call(
                "bulk", lambda client, at=locator: self.results(client, job_id, at)
            )
            yield page.rows
            if not page.locator:
                return
            locator = page.locator

    def start(self, soql: str) -> str:
        job = self.calls.restful(
            "bulk", "jobs/query", method="POST",
            json={"operation": "query", "query": soql, "contentType": "CSV",
                  "columnDelimiter": "COMMA", "lineEnding": "LF"},
        )
        return str(job["id"])

    def wait_until_done(self, job_id: str) -> None:
        pause = self.settings.first_poll_seconds
        waited = 0.0
        while True:
            job = self.calls.restful("bulk", f"jobs/query/{job_id}")
            state = job.get("state")
            if state == "JobComplete":
                return
            if state in FINISHED_STATES:
                raise ConnectorError(
                    f"Salesforce's Bulk API query job {job_id} ended {state}: "
                    f"{job.get('errorMessage') or 'no reason given'}; try again later"
                )
            if waited >= self.settings.give_up_seconds:
                raise ConnectorError(
                    f"Salesforce's Bulk API query job {job_id} was still {state} after "
                    f"{waited:.0f} s; try again later"
                )
            self._sleep(pause)
            waited += pause
            pause = min(pause * 2, self.settings.longest_poll_seconds)

    def results(self, client: Salesforce, job_id: str, locator: str) -> ResultsPage:
        """One results request, through the client's session and headers (the results are CSV,
        which `restful` cannot parse)."""
        params: dict[str, Any] = {"maxRecords": self.settings.page_records}
        if locator:
            params["locator"] = locator
        response = client.session.get(
            f"{client.base_url}jobs/query/{job_id}/results",
            headers={**client.headers, "Accept": "text/csv"},
            params=params,
            timeout=self.calls.timeout,
        )
        if response.status_code >= 300:
            exception_handler(response, name="bulk2 query results")
        next_locator = response.headers.get("Sforce-Locator", "null")
        text = response.content.decode("utf-8").replace("\x00", "")
        rows = [
            {name: (value if value != "" else None) for name, value in record.items()}
            for record in csv.DictReader(io.StringIO(text))
        ]
        expected = response.headers.get("Sforce-NumberOfRecords")
        if expected is not None and expected.isdigit() and int(expected) != len(rows):
            raise TransientError(
                f"a Bulk API results page held {len(rows)} of {expected} records",
                kind="connection",
            )
        return ResultsPage(rows, "" if next_locator in ("null", "") else next_locator)
