"""Run SOQL against the store and page the answer the way the REST API does.

A query's matching rowids are snapshot when it runs (as Salesforce keeps a server-side cursor);
each page then reads the current values of its slice of rows. The first page and every
`nextRecordsUrl` page cost one indexed lookup of at most `batchSize` rows.
"""

from __future__ import annotations

import itertools
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sandbox.salesforce import soql
from sandbox.salesforce.errors import SalesforceApiError
from sandbox.salesforce.ids import make_id
from sandbox.salesforce.schema import Schema
from sandbox.salesforce.store import SalesforceStore
from sandbox.salesforce.translate import BASE_ALIAS, Column, CompiledQuery, compile_query
from sandbox.salesforce.values import render

DEFAULT_BATCH = 2000
MIN_BATCH = 200
MAX_BATCH = 2000
MAX_OPEN_CURSORS = 200
LOCATOR_PREFIX = "01g"


@dataclass
class Cursor:
    compiled: CompiledQuery
    rowids: array
    batch_size: int
    endpoint: str  # query | queryAll


def batch_size_from(header: str | None) -> int:
    """`Sforce-Query-Options: batchSize=N`, clamped to Salesforce's 200–2000."""
    if not header:
        return DEFAULT_BATCH
    for option in header.split(","):
        name, _, value = option.strip().partition("=")
        if name.strip().lower() == "batchsize" and value.strip().isdigit():
            return max(MIN_BATCH, min(MAX_BATCH, int(value.strip())))
    return DEFAULT_BATCH


class QueryEngine:
    def __init__(self, store: SalesforceStore, schema: Schema, today: Callable[[], date]) -> None:
        self.store = store
        self.schema = schema
        self.today = today
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._lock = threading.Lock()
        self._locator_numbers = itertools.count(1)

    def run(
        self, text: str, *, include_deleted: bool, batch_size: int, version: str
    ) -> dict[str, Any]:
        compiled = compile_query(soql.parse(text), self.schema, self.today())
        where = compiled.filtered_where(include_deleted)
        if compiled.kind == "count":
            return {"totalSize": self.count(compiled, where), "done": True, "records": []}
        if compiled.kind == "aggregate":
            return self.aggregate(compiled, where)
        rowids = self.snapshot(compiled, where)
        endpoint = "queryAll" if include_deleted else "query"
        cursor = Cursor(compiled, rowids, batch_size, endpoint)
        return self.page(cursor, 0, self.open_locator(cursor), version)

    def more(self, locator: str, batch_size: int | None, version: str) -> dict[str, Any]:
        cursor_id, _, position_text = locator.partition("-")
        with self._lock:
            cursor = self._cursors.get(cursor_id)
        if cursor is None or not position_text.isdigit():
            raise SalesforceApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        if batch_size is not None:
            cursor.batch_size = batch_size
        return self.page(cursor, int(position_text), cursor_id, version)

    # ---- SQL --------------------------------------------------------------------------------
    def count(self, compiled: CompiledQuery, where: str) -> int:
        sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {compiled.from_sql} WHERE {where}"
        sql += _limit_clause(compiled) + ")"
        row = self.store.read_one(sql, compiled.params)
        return int(row[0]) if row else 0

    def aggregate(self, compiled: CompiledQuery, where: str) -> dict[str, Any]:
        expressions = ", ".join(column.sql for column in compiled.columns)
        row = self.store.read_one(
            f"SELECT {expressions} FROM {compiled.from_sql} WHERE {where}", compiled.params
        )
        record: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
        for alias, value in zip(compiled.aggregate_aliases, row or (), strict=False):
            record[alias] = value
        return {"totalSize": 1, "done": True, "records": [record]}

    def snapshot(self, compiled: CompiledQuery, where: str) -> array:
        sql = (
            f"SELECT {BASE_ALIAS}.rowid FROM {compiled.from_sql} WHERE {where} "
            f"ORDER BY {compiled.order_sql}{_limit_clause(compiled)}"
        )
        with self.store.transaction() as connection:
            rows = connection.execute(sql, compiled.params)
            return array("q", (rowid for (rowid,) in rows))

    def fetch_rows(self, compiled: CompiledQuery, rowids: list[int]) -> list[tuple[Any, ...]]:
        if not rowids:
            return []
        selected = [f"{BASE_ALIAS}.rowid"]
        for column in compiled.columns:
            selected.append(column.sql)
            if column.relationship_id_sql:
                selected.append(column.relationship_id_sql)
        marks = ", ".join("?" for _ in rowids)
        sql = (
            f"SELECT {', '.join(selected)} FROM {compiled.from_sql} "
            f"WHERE {BASE_ALIAS}.rowid IN ({marks})"
        )
        by_rowid = {row[0]: row[1:] for row in self.store.read(sql, rowids)}
        return [by_rowid[rowid] for rowid in rowids if rowid in by_rowid]

    # ---- pages ------------------------------------------------------------------------------
    def open_locator(self, cursor: Cursor) -> str:
        locator = make_id(LOCATOR_PREFIX, next(self._locator_numbers))[:15]
        with self._lock:
            self._cursors[locator] = cursor
            while len(self._cursors) > MAX_OPEN_CURSORS:
                self._cursors.popitem(last=False)
        return locator

    def page(self, cursor: Cursor, position: int, locator: str, version: str) -> dict[str, Any]:
        stop = min(position + cursor.batch_size, len(cursor.rowids))
        rows = self.fetch_rows(cursor.compiled, list(cursor.rowids[position:stop]))
        records = [render_record(cursor.compiled, row, version) for row in rows]
        total = len(cursor.rowids)
        answer: dict[str, Any] = {"totalSize": total, "done": stop >= total}
        if not answer["done"]:
            answer["nextRecordsUrl"] = (
                f"/services/data/v{version}/{cursor.endpoint}/{locator}-{stop}"
            )
        else:
            with self._lock:
                self._cursors.pop(locator, None)
        answer["records"] = records
        return answer


def _limit_clause(compiled: CompiledQuery) -> str:
    if compiled.limit is None and compiled.offset is None:
        return ""
    limit = compiled.limit if compiled.limit is not None else -1
    return f" LIMIT {int(limit)} OFFSET {int(compiled.offset or 0)}"


def record_url(version: str, sobject: str, record_id: str) -> str:
    return f"/services/data/v{version}/sobjects/{sobject}/{record_id}"


def render_record(compiled: CompiledQuery, row: tuple[Any, ...], version: str) -> dict[str, Any]:
    """One query record: attributes, then the selected fields in order, relationship fields
    nested under their relationship (null when the lookup is empty)."""
    values = iter(row)
    record_id = None
    pending: list[tuple[Column, Any, Any]] = []
    for column in compiled.columns:
        value = next(values)
        related_id = next(values) if column.relationship_id_sql else None
        pending.append((column, value, related_id))
        if column.relationship is None and column.field.name == "Id":
            record_id = value
    record: dict[str, Any] = {"attributes": {"type": compiled.sobject.name}}
    if record_id is not None:
        record["attributes"]["url"] = record_url(version, compiled.sobject.name, record_id)
    for column, value, related_id in pending:
        if column.relationship is None:
            record[column.field.name] = render(column.field, value)
            continue
        _set_related(record, column, value, related_id, compiled, version)
    return record


def _set_related(
    record: dict[str, Any],
    column: Column,
    value: Any,
    related_id: Any,
    compiled: CompiledQuery,
    version: str,
) -> None:
    relationship = column.relationship
    assert relationship is not None
    if related_id is None:
        record[relationship] = None
        return
    nested = record.get(relationship)
    if nested is None:
        target_type = column.relationship_type or "Name"
        concrete = _concrete_type(compiled, related_id) if target_type == "Name" else target_type
        nested = {"attributes": {"type": target_type, "url": record_url(version, concrete,
                                                                        related_id)}}
        record[relationship] = nested
    nested[column.field.name] = render(column.field, value)


def _concrete_type(compiled: CompiledQuery, related_id: str) -> str:
    prefixes = {"005": "User", "00G": "Group", "00Q": "Lead", "003": "Contact"}
    return prefixes.get(str(related_id)[:3], compiled.sobject.name)
