"""SQLite storage for the emulated org: one table per sObject, one connection guarded by a lock.

Text columns compare case-insensitively (as SOQL does), booleans are 0/1, datetimes are stored as
the fixed-width UTC text the API renders. Every table keeps SQLite's rowid, which the query engine
uses to snapshot result sets for `nextRecordsUrl` paging.
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sandbox.salesforce.ids import BASE62, IdMinter
from sandbox.salesforce.schema import NUMBER_TYPES, TEXT_TYPES, FieldDef, Schema, SObjectDef

INDEXED_FIELDS = ("SystemModstamp", "LastModifiedDate", "CreatedDate", "Email", "Website")
# Keys of the synthetic org's records (people, companies, owners) → the ids they were given.
SYNTH_KEYS_DDL = (
    "CREATE TABLE IF NOT EXISTS synth_keys (key TEXT PRIMARY KEY, sobject TEXT NOT NULL, "
    "record_id TEXT NOT NULL) WITHOUT ROWID"
)


def column_ddl(field: FieldDef) -> str:
    if field.type in TEXT_TYPES:
        affinity = "TEXT COLLATE NOCASE"
    elif field.type == "boolean":
        affinity = "INTEGER NOT NULL DEFAULT 0"
    elif field.type == "int":
        affinity = "INTEGER"
    elif field.type in NUMBER_TYPES:
        affinity = "REAL"
    else:
        affinity = "TEXT"
    if field.name == "Id":
        affinity = "TEXT NOT NULL UNIQUE COLLATE NOCASE"
    return f'"{field.name}" {affinity}'


def table_ddl(sobject: SObjectDef) -> str:
    columns = ", ".join(column_ddl(field) for field in sobject.fields)
    return f"CREATE TABLE IF NOT EXISTS {sobject.table} ({columns})"


def indexes(sobject: SObjectDef) -> dict[str, tuple[str, ...]]:
    """Index name → columns. (IsDeleted, SystemModstamp) serves the incremental pull and makes
    the COUNT behind every query's totalSize an index-only scan."""
    found = {
        f"ix_{sobject.name}_{field.name}": (field.name,)
        for field in sobject.fields
        if field.type == "reference" or field.name in INDEXED_FIELDS
    }
    found[f"ix_{sobject.name}_live_modstamp"] = ("IsDeleted", "SystemModstamp")
    return found


def index_ddl(sobject: SObjectDef) -> list[str]:
    statements = []
    for name, columns in indexes(sobject).items():
        quoted = ", ".join(f'"{column}"' for column in columns)
        statements.append(f'CREATE INDEX IF NOT EXISTS "{name}" ON {sobject.table} ({quoted})')
    return statements


def drop_index_ddl(sobject: SObjectDef) -> list[str]:
    return [f'DROP INDEX IF EXISTS "{name}"' for name in indexes(sobject)]


class SalesforceStore:
    """The org's records. Thread-safe: every access holds one re-entrant lock."""

    def __init__(self, schema: Schema, path: Path | None = None) -> None:
        self.schema = schema
        # Always a file: query cursors read WAL snapshots through their own connections.
        self._tempdir = None if path else tempfile.TemporaryDirectory(prefix="leadq-sf-store-")
        self.path = path or Path(self._tempdir.name) / "org.db"  # type: ignore[union-attr]
        self._lock = threading.RLock()
        self._connection = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None
        )
        self._configure()
        self._create_tables()
        self.ids = IdMinter(start=self._highest_id_number() + 1)

    def _configure(self) -> None:
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=OFF",
            "PRAGMA temp_store=MEMORY",
            "PRAGMA cache_size=-262144",
        ):
            self._connection.execute(pragma)

    def _create_tables(self) -> None:
        with self.transaction() as connection:
            for sobject in self.schema.objects:
                connection.execute(table_ddl(sobject))
                for statement in index_ddl(sobject):
                    connection.execute(statement)
            connection.execute(SYNTH_KEYS_DDL)

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Load many rows without secondary indexes, then build them once (much faster than
        keeping a dozen B-trees in order row by row)."""
        with self.transaction() as connection:
            for sobject in self.schema.objects:
                for statement in drop_index_ddl(sobject):
                    connection.execute(statement)
        with self._lock:
            self._connection.execute("PRAGMA journal_mode=OFF")
        try:
            yield
        finally:
            with self.transaction() as connection:
                for sobject in self.schema.objects:
                    for statement in index_ddl(sobject):
                        connection.execute(statement)
                connection.execute("ANALYZE")
            with self._lock:
                self._connection.execute("PRAGMA journal_mode=WAL")

    def _highest_id_number(self) -> int:
        highest = 0
        for sobject in self.schema.objects:
            row = self.read_one(f'SELECT MAX(substr("Id", 7, 9)) FROM {sobject.table}')
            if row and row[0]:
                highest = max(highest, _base62_value(row[0]))
        return highest

    # ---- plumbing ---------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work; nested use joins the outer transaction."""
        with self._lock:
            if self._connection.in_transaction:
                yield self._connection
                return
            self._connection.execute("BEGIN")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection.execute(sql, params).fetchall()

    def read_one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with self._lock:
            return self._connection.execute(sql, params).fetchone()

    def close(self) -> None:
        with self._lock:
            self._connection.close()
        if self._tempdir is not None:
            self._tempdir.cleanup()

    # ---- records ----------------------------------------------------------------------------
    def sobject(self, name: str) -> SObjectDef:
        definition = self.schema.get(name)
        if definition is None:
            raise KeyError(name)
        return definition

    def insert(self, sobject: SObjectDef, rows: Iterable[dict[str, Any]]) -> None:
        """Insert rows (dicts keyed by canonical field names) that already carry their Id."""
        rows = list(rows)
        if not rows:
            return
        columns = list(rows[0])
        names = ", ".join(f'"{column}"' for column in columns)
        marks = ", ".join("?" for _ in columns)
        with self.transaction() as connection:
            connection.executemany(
                f"INSERT INTO {sobject.table} ({names}) VALUES ({marks})",
                [tuple(row.get(column) for column in columns) for row in rows],
            )

    def update(self, sobject: SObjectDef, record_id: str, values: dict[str, Any]) -> None:
        if not values:
            return
        assignments = ", ".join(f'"{column}" = ?' for column in values)
        with self.transaction() as connection:
            connection.execute(
                f'UPDATE {sobject.table} SET {assignments} WHERE "Id" = ?',
                (*values.values(), record_id),
            )

    def fetch(
        self, sobject: SObjectDef, ids: Sequence[str], fields: Sequence[FieldDef] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Stored rows by Id (deleted ones included), as dicts keyed by canonical field names."""
        fields = list(fields or sobject.fields)
        if not any(field.name == "Id" for field in fields):
            fields.insert(0, sobject.get_field("Id"))  # type: ignore[arg-type]
        names = ", ".join(f'"{field.name}"' for field in fields)
        found: dict[str, dict[str, Any]] = {}
        for chunk_start in range(0, len(ids), 500):
            chunk = list(ids[chunk_start : chunk_start + 500])
            marks = ", ".join("?" for _ in chunk)
            for row in self.read(
                f'SELECT {names} FROM {sobject.table} WHERE "Id" IN ({marks})', chunk
            ):
                record = {field.name: value for field, value in zip(fields, row, strict=True)}
                found[str(record["Id"]).lower()] = record
        return {record_id: found[record_id.lower()] for record_id in ids if record_id.lower() in
                found}

    def count(self, sobject: SObjectDef, include_deleted: bool = False) -> int:
        where = "" if include_deleted else ' WHERE "IsDeleted" = 0'
        row = self.read_one(f"SELECT COUNT(*) FROM {sobject.table}{where}")
        return int(row[0]) if row else 0

    # ---- synthetic keys ---------------------------------------------------------------------
    def remember_keys(self, entries: Iterable[tuple[str, str, str]]) -> None:
        with self.transaction() as connection:
            connection.executemany(
                "INSERT OR REPLACE INTO synth_keys (key, sobject, record_id) VALUES (?, ?, ?)",
                list(entries),
            )

    def ids_for_keys(self, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        """key → (sObject name, record id) for the keys the seed stored."""
        found: dict[str, tuple[str, str]] = {}
        for chunk_start in range(0, len(keys), 500):
            chunk = list(keys[chunk_start : chunk_start + 500])
            marks = ", ".join("?" for _ in chunk)
            for key, sobject, record_id in self.read(
                f"SELECT key, sobject, record_id FROM synth_keys WHERE key IN ({marks})", chunk
            ):
                found[key] = (sobject, record_id)
        return found


def _base62_value(text: str) -> int:
    value = 0
    for char in text:
        value = value * 62 + BASE62.index(char)
    return value
