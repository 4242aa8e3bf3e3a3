"""What a REST handler works with: the org's store, writer and query engine, and the request."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request

from sandbox.salesforce.assignment import auto_assign_requested
from sandbox.salesforce.bulk import BulkQueries
from sandbox.salesforce.errors import SalesforceApiError
from sandbox.salesforce.queries import QueryEngine
from sandbox.salesforce.schema import SObjectDef
from sandbox.salesforce.store import SalesforceStore
from sandbox.salesforce.writes import RecordWriter, WriteOptions


@dataclass
class Org:
    store: SalesforceStore
    writer: RecordWriter
    queries: QueryEngine
    clock: Callable[[], datetime]
    record_fails: Callable[[], bool]
    bulk: BulkQueries


@dataclass
class Call:
    """One authenticated REST request."""

    org: Org
    request: Request
    version: str
    user_id: str

    def json_body(self) -> Any:
        try:
            return json.loads(self.request.get_data(as_text=True) or "null")
        except json.JSONDecodeError as error:
            raise SalesforceApiError(
                400, "JSON_PARSER_ERROR", f"Unexpected character at [line: {error.lineno}, "
                f"column: {error.colno}]",
            ) from error

    def sobject(self, name: str) -> SObjectDef:
        definition = self.org.store.schema.get(name)
        if definition is None:
            raise SalesforceApiError(
                404, "NOT_FOUND", f"The requested resource does not exist"
                f" (sObject type '{name}' is not supported)",
            )
        return definition

    def write_options(self, all_or_none: bool = False, per_record_faults: bool = False) -> (
        WriteOptions
    ):
        return WriteOptions(
            auto_assign=auto_assign_requested(self.request.headers.get("Sforce-Auto-Assign")),
            all_or_none=all_or_none,
            fails=self.org.record_fails if per_record_faults else (lambda: False),
        )
