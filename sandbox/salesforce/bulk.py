"""Bulk API 2.0 query jobs, as `sf.bulk2` drives them.

- `POST /jobs/query` `{"operation": "query"|"queryAll", "query": SOQL, "columnDelimiter",
  "lineEnding"}` → 200 with the job (`state` UploadComplete). The query is checked and run at
  once against a snapshot (as the REST query engine does) and its CSV written to a temporary file;
  aggregates (`COUNT()`) and OFFSET are refused with 400 INVALIDJOB, as Bulk 2.0 refuses them
  (ORDER BY and LIMIT are accepted: Salesforce only advises against them).
- `GET /jobs/query/{id}` → the job; it answers InProgress for the first `polls_before_complete`
  polls, then JobComplete with `numberRecordsProcessed`.
- `GET /jobs/query/{id}/results?maxRecords=&locator=` → CSV (header row, then records) with
  `Sforce-NumberOfRecords` (records in this answer) and `Sforce-Locator` (the next page's locator,
  the literal "null" on the last page). Asking before the job completes answers 409
  API_ERROR; an unknown locator 400 INVALIDLOCATOR (wording unconfirmed).
- `PATCH /jobs/query/{id}` `{"state": "Aborted"}`, `DELETE /jobs/query/{id}`, `GET /jobs/query`.

CSV values follow Bulk API conventions: every value quoted, the header's too (`"Id","Name"`; the
Bulk API 2.0 Developer Guide's query results examples), empty (`""`) for null, `true`/`false`,
datetimes in UTC as `2024-01-01T00:00:00.000Z`, relationship columns named `Owner.IsActive`.
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import tempfile
import threading
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from werkzeug.wrappers import Response

from sandbox.salesforce import soql
from sandbox.salesforce.errors import SalesforceApiError, json_response
from sandbox.salesforce.ids import make_id
from sandbox.salesforce.queries import QueryEngine
from sandbox.salesforce.soql_to_sql import Column, compile_query
from sandbox.salesforce.values import stored_datetime

JOB_PREFIX = "750"
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^",
              "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
ENGINE_BATCH = 2000


def invalid_job(message: str) -> SalesforceApiError:
    return SalesforceApiError(400, "INVALIDJOB", message)


def job_not_found() -> SalesforceApiError:
    return SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")


@dataclass
class QueryJob:
    """One query job: its definition, state and the CSV it produced."""

    id: str
    operation: str
    sobject: str
    created_by: str
    created: str
    delimiter: str
    line_ending: str
    header: bytes
    rows: IO[bytes]
    offsets: array = field(default_factory=lambda: array("q"))
    end: int = 0
    state: str = "UploadComplete"
    polls: int = 0

    @property
    def records(self) -> int:
        return len(self.offsets)

    def info(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": self.id, "operation": self.operation, "object": self.sobject,
            "createdById": self.created_by, "createdDate": self.created,
            "systemModstamp": self.created, "state": self.state,
            "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": 59.0,
            "jobType": "V2Query", "lineEnding": "CRLF" if self.line_ending == "\r\n" else "LF",
            "columnDelimiter": next(
                name for name, char in DELIMITERS.items() if char == self.delimiter
            ),
        }
        if self.state == "JobComplete":
            answer.update({"numberRecordsProcessed": self.records, "retries": 0,
                           "totalProcessingTime": 0})
        return answer

    def page(self, start: int, size: int) -> bytes:
        stop = min(self.records, start + size)
        begin = self.offsets[start] if start < self.records else self.end
        finish = self.offsets[stop] if stop < self.records else self.end
        self.rows.seek(begin)
        return self.header + self.rows.read(finish - begin)

    def close(self) -> None:
        self.rows.close()


class BulkQueries:
    """The org's Bulk API 2.0 query jobs."""

    def __init__(
        self, engine: QueryEngine, clock: Callable[[], datetime], workdir: Path | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.workdir = workdir
        self.polls_before_complete = 1
        self._jobs: dict[str, QueryJob] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    # ---- handlers ---------------------------------------------------------------------------
    def create(self, body: Any, user_id: str, version: str) -> Response:
        if not isinstance(body, dict):
            raise invalid_job("Expected a JSON object with operation and query")
        operation = body.get("operation")
        text = body.get("query")
        if operation not in ("query", "queryAll"):
            raise invalid_job(f"Invalid operation for a query job: {operation}")
        if not isinstance(text, str) or not text.strip():
            raise invalid_job("A query is required for a query job")
        delimiter = DELIMITERS.get(str(body.get("columnDelimiter") or "COMMA"))
        line_ending = LINE_ENDINGS.get(str(body.get("lineEnding") or "LF"))
        if delimiter is None or line_ending is None:
            raise invalid_job("Invalid columnDelimiter or lineEnding")
        job = self.run(text, operation, delimiter, line_ending, user_id, version)
        with self._lock:
            self._jobs[job.id] = job
        return json_response(job.info())

    def status(self, job_id: str) -> Response:
        job = self.job(job_id)
        with self._lock:
            if job.state in ("UploadComplete", "InProgress"):
                job.polls += 1
                job.state = (
                    "JobComplete" if job.polls > self.polls_before_complete else "InProgress"
                )
        return json_response(job.info())

    def results(self, job_id: str, max_records: str | None, locator: str | None) -> Response:
        job = self.job(job_id)
        if job.state != "JobComplete":
            raise SalesforceApiError(
                409, "API_ERROR", f"Job {job_id} is not complete: its state is {job.state}"
            )
        start = decode_locator(locator)
        size = parse_max_records(max_records) or max(job.records - start, 1)
        with self._lock:
            body = job.page(start, size)
        stop = min(job.records, start + size)
        response = Response(body, status=200, content_type="text/csv")
        response.headers["Sforce-NumberOfRecords"] = str(stop - start)
        response.headers["Sforce-Locator"] = encode_locator(stop) if stop < job.records else "null"
        return response

    def abort(self, job_id: str, body: Any) -> Response:
        job = self.job(job_id)
        if not isinstance(body, dict) or body.get("state") != "Aborted":
            raise invalid_job("A query job can only be set to Aborted")
        with self._lock:
            if job.state != "JobComplete":
                job.state = "Aborted"
        return json_response(job.info())

    def delete(self, job_id: str) -> Response:
        with self._lock:
            job = self._jobs.pop(job_id, None)
        if job is None:
            raise job_not_found()
        job.close()
        return Response(status=204)

    def all_jobs(self) -> Response:
        with self._lock:
            jobs = [job.info() for job in self._jobs.values()]
        return json_response({"done": True, "records": jobs, "nextRecordsUrl": None})

    def close(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
            self._jobs.clear()
        for job in jobs:
            job.close()

    # ---- running a job ----------------------------------------------------------------------
    def job(self, job_id: str) -> QueryJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise job_not_found()
        return job

    def run(self, text: str, operation: str, delimiter: str, line_ending: str, user_id: str,
            version: str) -> QueryJob:
        parsed = soql.parse(text)
        refuse_unsupported(parsed)
        compiled = compile_query(parsed, self.engine.schema, self.clock().date(),
                                 self.engine.unreadable)
        columns = compiled.columns
        job = QueryJob(
            id=make_id(JOB_PREFIX, next(self._numbers)),
            operation=operation,
            sobject=compiled.sobject.name,
            created_by=user_id,
            created=stored_datetime(self.clock()),
            delimiter=delimiter,
            line_ending=line_ending,
            header=csv_line([column_name(column) for column in columns], delimiter, line_ending),
            rows=tempfile.TemporaryFile(dir=self.workdir),  # noqa: SIM115 (closed by close())
        )
        include_deleted = operation == "queryAll"
        answer = self.engine.run(text, include_deleted=include_deleted, batch_size=ENGINE_BATCH,
                                 version=version)
        while True:
            for record in answer["records"]:
                job.offsets.append(job.rows.tell())
                job.rows.write(csv_line(
                    [csv_value(cell(record, column)) for column in columns], delimiter,
                    line_ending,
                ))
            if answer["done"]:
                break
            locator = answer["nextRecordsUrl"].rsplit("/", 1)[1]
            answer = self.engine.more(locator, ENGINE_BATCH, version)
        job.end = job.rows.tell()
        return job


def refuse_unsupported(parsed: soql.Query) -> None:
    if any(isinstance(item, soql.Count) for item in parsed.select):
        raise invalid_job("Aggregate functions such as COUNT() are not supported in Bulk API 2.0 "
                          "query jobs")
    if parsed.offset is not None:
        raise invalid_job("OFFSET is not supported in Bulk API 2.0 query jobs")


def column_name(column: Column) -> str:
    if column.relationship:
        return f"{column.relationship}.{column.field.name}"
    return column.field.name


def cell(record: dict[str, Any], column: Column) -> Any:
    if column.relationship is None:
        return record.get(column.field.name)
    related = record.get(column.relationship)
    return related.get(column.field.name) if isinstance(related, dict) else None


def csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    if len(text) == 28 and text.endswith("+0000") and text[10] == "T":
        return text[:-5] + "Z"  # REST renders +0000; Bulk API renders Z
    return text


def csv_line(values: list[str], delimiter: str, line_ending: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(
        buffer, delimiter=delimiter, lineterminator=line_ending, quoting=csv.QUOTE_ALL
    ).writerow(values)
    return buffer.getvalue().encode("utf-8")


def encode_locator(position: int) -> str:
    return base64.b64encode(str(position).encode()).decode().rstrip("=")


def decode_locator(locator: str | None) -> int:
    if not locator or locator == "null":
        return 0
    try:
        text = base64.b64decode(locator + "=" * (-len(locator) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        text = ""
    if not text.isdigit():
        raise SalesforceApiError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}")
    return int(text)


def parse_max_records(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    if not text.isdigit() or int(text) < 1:
        raise SalesforceApiError(400, "INVALIDMAXRECORDS", f"Invalid maxRecords: {text}")
    return int(text)
