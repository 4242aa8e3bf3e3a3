"""The HubSpot portal's state in SQLite: records, associations, activities, owners, properties.

One connection, serialised by a re-entrant lock, so the threaded server can share it. Records of
every object type live in one table; their property values are a JSON object of strings, except
the three computed properties (`hs_object_id`, the create date and the last-modified date), which
are the columns `id`, `created_ms` and `updated_ms` so that paging and incremental searches use an
index. Contacts also keep their lower-cased e-mail in a column (unique while not archived).

`written_ms` is the wall-clock time of the last write: the search index delay hides records
written too recently. `source_key` ties a seeded record to its synthetic-org key.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sandbox.hubspot.schema import (
    OBJECT_TYPES,
    Option,
    PropertyDefinition,
    PropertyGroup,
    default_groups,
    default_properties,
    format_ms,
)
from sandbox.hubspot.search import contains_token

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    written_ms INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0,
    archived_ms INTEGER,
    email TEXT,
    source_key TEXT,
    props TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS associations (
    from_type TEXT NOT NULL,
    from_id INTEGER NOT NULL,
    to_type TEXT NOT NULL,
    to_id INTEGER NOT NULL,
    type_ids TEXT NOT NULL,
    PRIMARY KEY (from_type, from_id, to_type, to_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activities (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    event_type TEXT,
    occurred_ms INTEGER NOT NULL,
    url TEXT,
    form TEXT,
    campaign TEXT,
    subject TEXT
);
CREATE TABLE IF NOT EXISTS owners (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    user_id INTEGER,
    type TEXT NOT NULL,
    teams TEXT NOT NULL,
    archived INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    source_key TEXT
);
CREATE TABLE IF NOT EXISTS property_history (
    record_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    value TEXT NOT NULL,
    source_type TEXT NOT NULL,
    source_id TEXT
);
CREATE TABLE IF NOT EXISTS custom_properties (
    object_type TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (object_type, name)
);
CREATE TABLE IF NOT EXISTS custom_groups (
    object_type TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (object_type, name)
);
"""

# Secondary indexes, by name: dropped while a fresh store is bulk-loaded, then built once.
_INDEXES = {
    "records_by_type": "ON records(type, archived, id)",
    "records_by_modified": "ON records(type, archived, updated_ms, id)",
    "records_by_email": "ON records(email) WHERE email IS NOT NULL AND archived = 0",
    "records_by_source_key": "ON records(source_key) WHERE source_key IS NOT NULL",
    # the companies search by domain (leadq's account owners): the very expression search.py
    # compiles a string filter to, so IN walks the index instead of every company's JSON
    "records_by_domain": """ON records(type, lower(json_extract(props, '$."domain"')))""",
    "activities_by_contact": "ON activities(contact_id, occurred_ms)",
    "activities_by_time": "ON activities(occurred_ms)",
    "history_by_record": "ON property_history(record_id, name, timestamp_ms)",
}
_UNIQUE_INDEXES = frozenset({"records_by_email"})

_RECORD_COLUMNS = "id, type, created_ms, updated_ms, archived, archived_ms, props"


@dataclass(frozen=True)
class StoredRecord:
    id: int
    object_type: str
    created_ms: int
    updated_ms: int
    archived: bool
    archived_ms: int | None
    properties: dict[str, str]

    def value(self, name: str) -> str | None:
        """A property's string value, computed ones included; None when unset."""
        object_type = OBJECT_TYPES[self.object_type]
        if name == "hs_object_id":
            return str(self.id)
        if name == object_type.created_property:
            return format_ms(self.created_ms)
        if name == object_type.modified_property:
            return format_ms(self.updated_ms)
        value = self.properties.get(name)
        return value if value != "" else None


@dataclass(frozen=True)
class NewRecord:
    id: int
    object_type: str
    created_ms: int
    updated_ms: int
    properties: dict[str, str]
    source_key: str | None = None

    def row(self, written_ms: int) -> tuple[Any, ...]:
        email = self.properties.get("email") if self.object_type == "contacts" else None
        return (
            self.id,
            self.object_type,
            self.created_ms,
            self.updated_ms,
            written_ms,
            email.lower() if email else None,
            self.source_key,
            json.dumps(self.properties, separators=(",", ":")),
        )


@dataclass(frozen=True)
class HistoryEntry:
    """One value a record's property held from `timestamp_ms` on, and who set it."""

    record_id: int
    name: str
    timestamp_ms: int
    value: str
    source_type: str
    source_id: str | None = None

    def row(self) -> tuple[Any, ...]:
        return (self.record_id, self.name, self.timestamp_ms, self.value, self.source_type,
                self.source_id)


@dataclass(frozen=True)
class Association:
    from_type: str
    from_id: int
    to_type: str
    to_id: int
    type_ids: tuple[int, ...]

    def row(self) -> tuple[Any, ...]:
        return (
            self.from_type,
            self.from_id,
            self.to_type,
            self.to_id,
            ",".join(str(type_id) for type_id in self.type_ids),
        )


@dataclass(frozen=True)
class ActivityRow:
    id: int
    contact_id: int
    kind: str
    event_type: str | None
    occurred_ms: int
    url: str | None = None
    form: str | None = None
    campaign: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class OwnerRow:
    id: int
    email: str
    first_name: str
    last_name: str
    user_id: int | None
    type: str
    teams: tuple[tuple[int, str, bool], ...]
    archived: bool
    created_ms: int
    updated_ms: int
    source_key: str | None = None


class HubSpotStore:
    """A portal's records in one SQLite file. Thread-safe: every call holds one lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=OFF",
            "PRAGMA temp_store=MEMORY",
            "PRAGMA cache_size=-262144",
            "PRAGMA mmap_size=1073741824",
        ):
            self._db.execute(pragma)
        self._db.executescript(_SCHEMA)
        self._create_indexes()
        self._db.create_function("hs_contains_token", 2, contains_token, deterministic=True)
        self._next_id = self._scalar("SELECT coalesce(max(id), 0) + 1 FROM records") or 1
        self._definitions: dict[str, dict[str, PropertyDefinition]] = {}
        self._groups: dict[str, dict[str, PropertyGroup]] = {}
        self._load_properties()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- transactions ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock; the outermost transaction commits, or rolls back on an exception."""
        with self._lock:
            outermost = self._depth == 0
            if outermost:
                self._db.execute("BEGIN")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outermost:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outermost:
                self._db.execute("COMMIT")

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Load an empty store without maintaining indexes row by row; build them at the end."""
        with self._lock:
            empty = not self._scalar("SELECT count(*) FROM records")
            if empty:
                for name in _INDEXES:
                    self._db.execute(f"DROP INDEX IF EXISTS {name}")
            try:
                yield
            finally:
                if empty:
                    self._create_indexes()

    def _create_indexes(self) -> None:
        for name, definition in _INDEXES.items():
            unique = "UNIQUE " if name in _UNIQUE_INDEXES else ""
            self._db.execute(f"CREATE {unique}INDEX IF NOT EXISTS {name} {definition}")
        self._db.execute("ANALYZE")

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            row = self._db.execute(sql, params).fetchone()
        return row[0] if row else None

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # ---- properties -----------------------------------------------------------------------------

    def _load_properties(self) -> None:
        for object_type in OBJECT_TYPES.values():
            self._definitions[object_type.name] = {
                definition.name: definition for definition in default_properties(object_type)
            }
            self._groups[object_type.name] = {
                group.name: group for group in default_groups(object_type)
            }
        for object_type, body in self._rows("SELECT object_type, body FROM custom_properties"):
            definition = _definition_from_json(json.loads(body))
            self._definitions[object_type][definition.name] = definition
        for object_type, body in self._rows("SELECT object_type, body FROM custom_groups"):
            group = PropertyGroup(**json.loads(body))
            self._groups[object_type][group.name] = group

    def definitions(self, object_type: str) -> dict[str, PropertyDefinition]:
        with self._lock:
            return self._definitions[object_type]

    def groups(self, object_type: str) -> dict[str, PropertyGroup]:
        with self._lock:
            return self._groups[object_type]

    def add_property(self, object_type: str, definition: PropertyDefinition) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO custom_properties VALUES (?, ?, ?)",
                (object_type, definition.name, json.dumps(asdict(definition))),
            )
            self._definitions[object_type] = {
                **self._definitions[object_type], definition.name: definition
            }

    def add_group(self, object_type: str, group: PropertyGroup) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO custom_groups VALUES (?, ?, ?)",
                (object_type, group.name, json.dumps(asdict(group))),
            )
            self._groups[object_type] = {**self._groups[object_type], group.name: group}

    # ---- records --------------------------------------------------------------------------------

    def allocate_ids(self, count: int) -> range:
        with self._lock:
            first = self._next_id
            self._next_id += count
            return range(first, first + count)

    def insert_records(self, records: Iterable[NewRecord], written_ms: int = 0) -> None:
        with self.transaction():
            self._db.executemany(
                "INSERT INTO records (id, type, created_ms, updated_ms, written_ms, email,"
                " source_key, props) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (record.row(written_ms) for record in records),
            )

    def rewrite_record(
        self, record_id: int, properties: dict[str, str], updated_ms: int, written_ms: int
    ) -> None:
        """Replace a record's stored properties and move its last-modified date."""
        email = properties.get("email")
        with self.transaction():
            self._db.execute(
                "UPDATE records SET props = ?, updated_ms = ?, written_ms = ?,"
                " email = CASE WHEN type = 'contacts' THEN ? ELSE NULL END WHERE id = ?",
                (
                    json.dumps(properties, separators=(",", ":")),
                    updated_ms,
                    written_ms,
                    email.lower() if email else None,
                    record_id,
                ),
            )

    def insert_history(self, entries: Iterable[HistoryEntry]) -> None:
        with self.transaction():
            self._db.executemany(
                "INSERT INTO property_history (record_id, name, timestamp_ms, value, source_type,"
                " source_id) VALUES (?, ?, ?, ?, ?, ?)",
                (entry.row() for entry in entries),
            )

    def history(self, record_id: int, name: str) -> list[HistoryEntry]:
        """The recorded values of one property of one record, newest first."""
        rows = self._rows(
            "SELECT record_id, name, timestamp_ms, value, source_type, source_id"
            " FROM property_history WHERE record_id = ? AND name = ?"
            " ORDER BY timestamp_ms DESC, rowid DESC",
            (record_id, name),
        )
        return [HistoryEntry(*row) for row in rows]

    def archive_records(self, ids: Sequence[int], archived_ms: int) -> None:
        with self.transaction():
            self._db.executemany(
                "UPDATE records SET archived = 1, archived_ms = ?, updated_ms = ?, written_ms = ?"
                " WHERE id = ? AND archived = 0",
                [(archived_ms, archived_ms, archived_ms, record_id) for record_id in ids],
            )

    def restore_records(self, ids: Sequence[int], restored_ms: int) -> None:
        """Bring archived records back (HubSpot's recycle bin); the e-mail index applies again."""
        with self.transaction():
            self._db.executemany(
                "UPDATE records SET archived = 0, archived_ms = NULL, updated_ms = ?,"
                " written_ms = ? WHERE id = ? AND archived = 1",
                [(restored_ms, restored_ms, record_id) for record_id in ids],
            )

    def records(
        self, object_type: str, ids: Sequence[int], archived: bool = False
    ) -> dict[int, StoredRecord]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._rows(
            f"SELECT {_RECORD_COLUMNS} FROM records"
            f" WHERE id IN ({marks}) AND type = ? AND archived = ?",
            [*ids, object_type, int(archived)],
        )
        return {row[0]: _record(row) for row in rows}

    def records_by_email(self, emails: Sequence[str]) -> dict[str, StoredRecord]:
        lowered = [email.lower() for email in emails if email]
        if not lowered:
            return {}
        marks = ",".join("?" * len(lowered))
        rows = self._rows(
            f"SELECT {_RECORD_COLUMNS}, email FROM records"
            f" WHERE email IN ({marks}) AND archived = 0",
            lowered,
        )
        return {row[-1]: _record(row[:-1]) for row in rows}

    def records_by_source_key(self, keys: Sequence[str]) -> dict[str, StoredRecord]:
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        rows = self._rows(
            f"SELECT {_RECORD_COLUMNS}, source_key FROM records"
            f" WHERE source_key IN ({marks}) AND archived = 0",
            list(keys),
        )
        return {row[-1]: _record(row[:-1]) for row in rows}

    def records_by_property(
        self, object_type: str, name: str, values: Sequence[str], archived: bool = False
    ) -> dict[str, StoredRecord]:
        """Records whose (unique) property `name` has one of `values`, keyed by that value."""
        if not values:
            return {}
        marks = ",".join("?" * len(values))
        path = f'$."{name}"'
        rows = self._rows(
            f"SELECT {_RECORD_COLUMNS}, json_extract(props, ?) FROM records"
            f" WHERE type = ? AND archived = ? AND json_extract(props, ?) IN ({marks})",
            [path, object_type, int(archived), path, *values],
        )
        return {row[-1]: _record(row[:-1]) for row in rows}

    def page(
        self, object_type: str, after_id: int, limit: int, archived: bool = False
    ) -> list[StoredRecord]:
        rows = self._rows(
            f"SELECT {_RECORD_COLUMNS} FROM records"
            " WHERE type = ? AND archived = ? AND id > ? ORDER BY id LIMIT ?",
            (object_type, int(archived), after_id, limit),
        )
        return [_record(row) for row in rows]

    def search(
        self,
        object_type: str,
        where: str,
        params: Sequence[Any],
        order_by: str,
        limit: int,
        offset: int,
        visible_before_ms: int | None,
    ) -> tuple[int, list[StoredRecord]]:
        """Records matching `where` (already compiled by the search module), and their total."""
        conditions = f"type = ? AND archived = 0 AND ({where})"
        arguments: list[Any] = [object_type, *params]
        if visible_before_ms is not None:
            conditions += " AND written_ms <= ?"
            arguments.append(visible_before_ms)
        with self._lock:
            total = self._scalar(f"SELECT count(*) FROM records WHERE {conditions}", arguments)
            rows = self._rows(
                f"SELECT {_RECORD_COLUMNS} FROM records WHERE {conditions}"
                f" ORDER BY {order_by} LIMIT ? OFFSET ?",
                [*arguments, limit, offset],
            )
        return int(total), [_record(row) for row in rows]

    def count(self, object_type: str, archived: bool = False) -> int:
        return int(
            self._scalar(
                "SELECT count(*) FROM records WHERE type = ? AND archived = ?",
                (object_type, int(archived)),
            )
        )

    # ---- associations ---------------------------------------------------------------------------

    def associate(self, associations: Iterable[Association]) -> None:
        with self.transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO associations VALUES (?, ?, ?, ?, ?)",
                (association.row() for association in associations),
            )

    def associations(
        self, from_type: str, from_ids: Sequence[int], to_type: str
    ) -> dict[int, list[tuple[int, tuple[int, ...]]]]:
        """For each from-id, its (to-id, type ids) pairs, ordered by to-id."""
        found: dict[int, list[tuple[int, tuple[int, ...]]]] = {}
        for chunk_start in range(0, len(from_ids), 500):
            chunk = list(from_ids[chunk_start : chunk_start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._rows(
                "SELECT from_id, to_id, type_ids FROM associations"
                f" WHERE from_type = ? AND to_type = ? AND from_id IN ({marks})"
                " ORDER BY from_id, to_id",
                [from_type, to_type, *chunk],
            )
            for from_id, to_id, type_ids in rows:
                found.setdefault(from_id, []).append(
                    (to_id, tuple(int(part) for part in type_ids.split(",")))
                )
        return found

    # ---- activities -----------------------------------------------------------------------------

    def insert_activities(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Rows of (contact_id, kind, event_type, occurred_ms, url, form, campaign, subject)."""
        with self.transaction():
            self._db.executemany(
                "INSERT INTO activities (contact_id, kind, event_type, occurred_ms, url, form,"
                " campaign, subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def activities_of(self, contact_id: int) -> list[ActivityRow]:
        rows = self._rows(
            "SELECT * FROM activities WHERE contact_id = ? ORDER BY occurred_ms, id",
            (contact_id,),
        )
        return [ActivityRow(*row) for row in rows]

    def events_page(
        self,
        *,
        contact_id: int | None,
        event_type: str | None,
        occurred_after_ms: int | None,
        occurred_before_ms: int | None,
        cursor: tuple[int, int] | None,
        limit: int,
        descending: bool,
    ) -> list[ActivityRow]:
        conditions, params = ["event_type IS NOT NULL"], []
        for sql, value in (
            ("contact_id = ?", contact_id),
            ("event_type = ?", event_type),
            ("occurred_ms > ?", occurred_after_ms),
            ("occurred_ms < ?", occurred_before_ms),
        ):
            if value is not None:
                conditions.append(sql)
                params.append(value)
        if cursor is not None:
            conditions.append("(occurred_ms, id) < (?, ?)" if descending
                              else "(occurred_ms, id) > (?, ?)")
            params.extend(cursor)
        direction = "DESC" if descending else "ASC"
        rows = self._rows(
            f"SELECT * FROM activities WHERE {' AND '.join(conditions)}"
            f" ORDER BY occurred_ms {direction}, id {direction} LIMIT ?",
            [*params, limit],
        )
        return [ActivityRow(*row) for row in rows]

    # ---- owners ---------------------------------------------------------------------------------

    def replace_owners(self, owners: Iterable[OwnerRow]) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM owners")
            self._db.executemany(
                "INSERT INTO owners VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (owner.id, owner.email, owner.first_name, owner.last_name, owner.user_id,
                     owner.type, json.dumps(owner.teams), int(owner.archived), owner.created_ms,
                     owner.updated_ms, owner.source_key)
                    for owner in owners
                ],
            )

    def owners_page(
        self, after_id: int, limit: int, email: str | None, archived: bool
    ) -> list[OwnerRow]:
        conditions, params = ["id > ?", "archived = ?"], [after_id, int(archived)]
        if email:
            conditions.append("lower(email) = ?")
            params.append(email.lower())
        rows = self._rows(
            f"SELECT * FROM owners WHERE {' AND '.join(conditions)} ORDER BY id LIMIT ?",
            [*params, limit],
        )
        return [_owner(row) for row in rows]

    def owner(self, owner_id: int) -> OwnerRow | None:
        rows = self._rows("SELECT * FROM owners WHERE id = ?", (owner_id,))
        return _owner(rows[0]) if rows else None

    def size_bytes(self) -> int:
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return self.path.stat().st_size


def _record(row: Sequence[Any]) -> StoredRecord:
    record_id, object_type, created_ms, updated_ms, archived, archived_ms, props = row
    return StoredRecord(
        id=record_id,
        object_type=object_type,
        created_ms=created_ms,
        updated_ms=updated_ms,
        archived=bool(archived),
        archived_ms=archived_ms,
        properties=json.loads(props),
    )


def _owner(row: Sequence[Any]) -> OwnerRow:
    (owner_id, email, first_name, last_name, user_id, owner_type, teams, archived, created_ms,
     updated_ms, source_key) = row
    return OwnerRow(
        id=owner_id,
        email=email,
        first_name=first_name,
        last_name=last_name,
        user_id=user_id,
        type=owner_type,
        teams=tuple(tuple(team) for team in json.loads(teams)),  # type: ignore[misc]
        archived=bool(archived),
        created_ms=created_ms,
        updated_ms=updated_ms,
        source_key=source_key,
    )


def _definition_from_json(body: dict[str, Any]) -> PropertyDefinition:
    options = tuple(Option(**option) for option in body.pop("options", ()))
    return PropertyDefinition(**body, options=options)

