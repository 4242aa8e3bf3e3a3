"""Run SOQL against the store and page the answer the way the REST API does.

A query opens a server-side cursor, as Salesforce does: a dedicated SQLite read connection whose
read transaction pins the database as it was when the query ran (WAL snapshot isolation), so the
answer's set and order never shift while the client pages, however much is written meanwhile.
The first page streams straight from the ordered index scan and `totalSize` is one COUNT in the
same snapshot; each `nextRecordsUrl` page fetches the next `batchSize` rows from the open
statement. A page asked for out of sequence (a client retrying after a lost answer) is re-read
with OFFSET from the same snapshot. Cursors close when their last page is served, after 15
minutes unused, or when more than MAX_OPEN_CURSORS are open (oldest first).

Pages are `batchSize` long (default and most 2,000, least 200), except that every second page
served is a quarter shorter: Salesforce does not promise the size ("there's no guarantee that the
requested batch size is the actual batch size. Changes are made as necessary to maximize
performance", REST API guide, headers_queryoptions), so no client may count on it.

Archived activities: Salesforce archives Events that ended and closed Tasks due more than 365 days
ago; `query` leaves them out and only `queryAll` returns them (REST API guide, resources_queryall:
"QueryAll … returns records that have been deleted because of a merge or delete … also returns
information about archived Task and Event records"; Salesforce Help, "Archived Activities").
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sandbox.salesforce import soql
from sandbox.salesforce.errors import SalesforceApiError
from sandbox.salesforce.ids import make_id
from sandbox.salesforce.schema import Schema
from sandbox.salesforce.soql_to_sql import BASE_ALIAS, Column, CompiledQuery, compile_query
from sandbox.salesforce.store import SalesforceStore
from sandbox.salesforce.values import render

ARCHIVE_AFTER = timedelta(days=365)
DEFAULT_BATCH = 2000
MIN_BATCH = 200
MAX_BATCH = 2000
MAX_OPEN_CURSORS = 20
CURSOR_IDLE_SECONDS = 15 * 60
SHORT_PAGE_EVERY = 2  # every second page served holds a quarter fewer records than asked
LOCATOR_PREFIX = "01g"


def batch_size_from(header: str | None) -> int:
    """`Sforce-Query-Options: batchSize=N`, clamped to Salesforce's 200–2000."""
    if not header:
        return DEFAULT_BATCH
    for option in header.split(","):
        name, _, value = option.strip().partition("=")
        if name.strip().lower() == "batchsize" and value.strip().isdigit():
            return max(MIN_BATCH, min(MAX_BATCH, int(value.strip())))
    return DEFAULT_BATCH


class ReadConnections:
    """A pool of read-only connections to the store's database file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def take(self) -> sqlite3.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        connection = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=30
        )
        connection.execute("PRAGMA query_only=1")
        connection.execute("PRAGMA cache_size=-16384")
        return connection

    def give_back(self, connection: sqlite3.Connection) -> None:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        with self._lock:
            self._idle.append(connection)

    def close(self) -> None:
        with self._lock:
            for connection in self._idle:
                connection.close()
            self._idle.clear()


def archived_excluded(sobject: str, today: date) -> str:
    """The SQL that leaves archived Tasks and Events out of a `query` (queryAll keeps them)."""
    cutoff = (today - ARCHIVE_AFTER).isoformat()
    if sobject == "Task":
        due = f'COALESCE({BASE_ALIAS}."ActivityDate", substr({BASE_ALIAS}."CreatedDate", 1, 10))'
        archived = f"""{BASE_ALIAS}."Status" = 'Completed' AND {due} < '{cutoff}'"""
    elif sobject == "Event":
        archived = f"""substr({BASE_ALIAS}."EndDateTime", 1, 10) < '{cutoff}'"""
    else:
        return ""
    return f" AND NOT COALESCE({archived}, 0)"


def select_sql(compiled: CompiledQuery, where: str) -> str:
    selected = []
    for column in compiled.columns:
        selected.append(column.sql)
        if column.relationship_id_sql:
            selected.append(column.relationship_id_sql)
    return (
        f"SELECT {', '.join(selected)} FROM {compiled.from_sql} WHERE {where} "
        f"ORDER BY {compiled.order_sql}"
    )


def limit_clause(limit: int | None, offset: int) -> str:
    if limit is None and not offset:
        return ""
    return f" LIMIT {int(limit) if limit is not None else -1} OFFSET {int(offset)}"


@dataclass
class Cursor:
    """One open query: its snapshot, its live statement and how far the client has read."""

    compiled: CompiledQuery
    sql: str
    total: int
    batch_size: int
    endpoint: str  # query | queryAll
    connection: sqlite3.Connection
    rows: sqlite3.Cursor
    position: int = 0
    pages_served: int = 0
    last_page: tuple[int, list[tuple[Any, ...]]] = (-1, [])
    touched: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, position: int) -> list[tuple[Any, ...]]:
        with self.lock:
            self.touched = time.monotonic()
            if position == self.last_page[0]:
                return self.last_page[1]
            if position != self.position:
                self.seek(position)
            page = self.rows.fetchmany(min(self.page_length(), max(0, self.total - position)))
            self.pages_served += 1
            self.position = position + len(page)
            self.last_page = (position, page)
            return page

    def page_length(self) -> int:
        if self.pages_served % SHORT_PAGE_EVERY == 1:
            return self.batch_size - self.batch_size // 4
        return self.batch_size

    def seek(self, position: int) -> None:
        limit = self.compiled.limit
        remaining = None if limit is None else max(0, limit - position)
        offset = (self.compiled.offset or 0) + position
        self.rows = self.connection.execute(
            self.sql + limit_clause(remaining, offset), self.compiled.params
        )
        self.position = position


class QueryEngine:
    def __init__(self, store: SalesforceStore, schema: Schema, today: Callable[[], date]) -> None:
        self.store = store
        self.schema = schema
        self.today = today
        self.readers = ReadConnections(store.path)
        self._cursors: OrderedDict[str, tuple[Cursor, Callable[[], None]]] = OrderedDict()
        self._lock = threading.Lock()
        self._locator_numbers = itertools.count(1)
        # sObjects the API user's profile cannot read (lower-case): queries answer INVALID_TYPE
        self.unreadable: frozenset[str] = frozenset()

    def run(
        self, text: str, *, include_deleted: bool, batch_size: int, version: str
    ) -> dict[str, Any]:
        compiled = compile_query(soql.parse(text), self.schema, self.today(), self.unreadable)
        where = compiled.filtered_where(include_deleted)
        if not include_deleted:
            where += archived_excluded(compiled.sobject.name, self.today())
        connection = self.readers.take()
        try:
            connection.execute("BEGIN")
            total = self.count(connection, compiled, where)
        except BaseException:
            self.readers.give_back(connection)
            raise
        if compiled.kind != "records":
            try:
                return self.counted_answer(connection, compiled, where, total)
            finally:
                self.readers.give_back(connection)
        sql = select_sql(compiled, where)
        rows = connection.execute(
            sql + limit_clause(compiled.limit, compiled.offset or 0), compiled.params
        )
        endpoint = "queryAll" if include_deleted else "query"
        cursor = Cursor(compiled, sql, total, batch_size, endpoint, connection, rows)
        locator = self.open_locator(cursor)
        return self.page(cursor, 0, locator, version)

    def more(self, locator: str, batch_size: int | None, version: str) -> dict[str, Any]:
        cursor_id, _, position_text = locator.partition("-")
        with self._lock:
            entry = self._cursors.get(cursor_id)
        if entry is None or not position_text.isdigit():
            raise SalesforceApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        cursor = entry[0]
        if batch_size is not None:
            cursor.batch_size = batch_size
        return self.page(cursor, int(position_text), cursor_id, version)

    def close(self) -> None:
        with self._lock:
            entries = list(self._cursors.values())
            self._cursors.clear()
        for _, release in entries:
            release()
        self.readers.close()

    # ---- SQL --------------------------------------------------------------------------------
    def count(self, connection: sqlite3.Connection, compiled: CompiledQuery, where: str) -> int:
        sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {compiled.from_sql} WHERE {where}"
        sql += limit_clause(compiled.limit, compiled.offset or 0) + ")"
        row = connection.execute(sql, compiled.params).fetchone()
        return int(row[0]) if row else 0

    def counted_answer(
        self, connection: sqlite3.Connection, compiled: CompiledQuery, where: str, total: int
    ) -> dict[str, Any]:
        if compiled.kind == "count":
            return {"totalSize": total, "done": True, "records": []}
        expressions = ", ".join(column.sql for column in compiled.columns)
        row = connection.execute(
            f"SELECT {expressions} FROM {compiled.from_sql} WHERE {where}", compiled.params
        ).fetchone()
        record: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
        for alias, value in zip(compiled.aggregate_aliases, row or (), strict=False):
            record[alias] = value
        return {"totalSize": 1, "done": True, "records": [record]}

    # ---- cursors and pages ------------------------------------------------------------------
    def open_locator(self, cursor: Cursor) -> str:
        locator = make_id(LOCATOR_PREFIX, next(self._locator_numbers))[:15]

        def release() -> None:
            with cursor.lock:
                cursor.rows.close()
                self.readers.give_back(cursor.connection)

        stale: list[Callable[[], None]] = []
        with self._lock:
            self._cursors[locator] = (cursor, release)
            idle_since = time.monotonic() - CURSOR_IDLE_SECONDS
            for key, (open_cursor, closer) in list(self._cursors.items()):
                if len(self._cursors) > MAX_OPEN_CURSORS or open_cursor.touched < idle_since:
                    del self._cursors[key]
                    stale.append(closer)
        for closer in stale:
            closer()
        return locator

    def finish(self, locator: str) -> None:
        with self._lock:
            entry = self._cursors.pop(locator, None)
        if entry is not None:
            entry[1]()

    def page(self, cursor: Cursor, position: int, locator: str, version: str) -> dict[str, Any]:
        rows = cursor.read(position)
        stop = position + len(rows)
        answer: dict[str, Any] = {"totalSize": cursor.total, "done": stop >= cursor.total}
        if answer["done"]:
            self.finish(locator)
        else:
            answer["nextRecordsUrl"] = (
                f"/services/data/v{version}/{cursor.endpoint}/{locator}-{stop}"
            )
        answer["records"] = [render_record(cursor.compiled, row, version) for row in rows]
        return answer


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

