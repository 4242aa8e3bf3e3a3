"""The values leadq last wrote to each lead, in the SQLite state store."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sync.packed_json import pack_json, unpack_json
from sync.state import FieldValues, Scalar, chunked, iso_utc, validated_values
from sync.state_sqlite.connections import IN_CLAUSE_SIZE, SqliteFile


class SqliteWritten(SqliteFile):
    """Per lead, the values leadq last wrote: how a run recognises its echoes."""

    def last_written(self, crm: str, lead_ids: Iterable[str]) -> dict[str, FieldValues]:
        unique_ids = list(dict.fromkeys(lead_ids))
        found: dict[str, FieldValues] = {}
        with self._reading() as connection:
            for chunk in chunked(unique_ids, IN_CLAUSE_SIZE):
                found.update(_written_rows(connection, crm, chunk))
        return found

    def record_written(
        self, crm: str, values: Mapping[str, Mapping[str, Scalar]], run_id: str, at: datetime
    ) -> None:
        checked = validated_values(values)
        written_at = iso_utc(at)
        with self._writing() as connection:
            for chunk in chunked(list(checked), IN_CLAUSE_SIZE):
                earlier = _written_rows(connection, crm, chunk)
                connection.executemany(
                    "INSERT OR REPLACE INTO written"
                    " (crm, lead_id, field_values, run_id, written_at) VALUES (?, ?, ?, ?, ?)",
                    [
                        (
                            crm,
                            lead_id,
                            pack_json({**earlier.get(lead_id, {}), **checked[lead_id]}),
                            run_id,
                            written_at,
                        )
                        for lead_id in chunk
                    ],
                )

    def forget_leads(self, crm: str, lead_ids: Iterable[str]) -> None:
        unique_ids = list(dict.fromkeys(lead_ids))
        with self._writing() as connection:
            connection.executemany(
                "DELETE FROM written WHERE crm = ? AND lead_id = ?",
                [(crm, lead_id) for lead_id in unique_ids],
            )


def _written_rows(
    connection: sqlite3.Connection, crm: str, lead_ids: Sequence[str]
) -> dict[str, FieldValues]:
    placeholders = ", ".join("?" * len(lead_ids))
    rows = connection.execute(
        f"SELECT lead_id, field_values FROM written WHERE crm = ? AND lead_id IN ({placeholders})",
        (crm, *lead_ids),
    ).fetchall()
    return {lead_id: written_values(values) for lead_id, values in rows}


def written_values(stored: str | bytes) -> FieldValues:
    """A lead's values as stored: packed (schema 6 on), or JSON text (before)."""
    values: FieldValues = unpack_json(stored) if isinstance(stored, bytes) else json.loads(stored)
    return values
