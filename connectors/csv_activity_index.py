"""Activities of a CSV file, in any order, filed by lead: copied once into a temporary SQLite
file indexed by lead id, then fetched a batch of leads at a time (as columns or records)."""

from __future__ import annotations

import sqlite3
import tempfile
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from connectors.csvfile import BlankValues, CsvInputError, open_csv
from connectors.records import Activity, parse_timestamp


class ActivityColumns(Protocol):
    """Which column holds each part of an activity (the model's `csv.activities`)."""

    lead_id: str
    type: str
    occurred_at: str
    url: str | None
    form: str | None
    campaign: str | None
    subject: str | None
    types: dict[str, str]


DETAILS = ("url", "form", "campaign", "subject")


BLOCK_TEXT = ("type", *DETAILS)  # the text columns of an ActivityBlock, in the spool's order
_FETCH_ROWS = 10_000


@dataclass(frozen=True)
class ActivityBlock:
    """Some leads' activities as columns: `lead_index` (a position in the leads asked for),
    `occurred_at` (epoch seconds), and per text column `codes` into its distinct `values`."""

    lead_index: np.ndarray
    occurred_at: np.ndarray
    codes: dict[str, np.ndarray]
    values: dict[str, list[str | None]]

    def __len__(self) -> int:
        return len(self.lead_index)


def spans_of(counts: Sequence[int], most: int) -> list[range]:
    """Consecutive runs of leads (given their activity counts) holding at most `most` activities
    each; a lead with more has a run of its own."""
    spans: list[range] = []
    start, held = 0, 0
    for position, count in enumerate(counts):
        if held and held + count > most:
            spans.append(range(start, position))
            start, held = position, 0
        held += count
    if start < len(counts) or not spans:
        spans.append(range(start, len(counts)))
    return spans


class ActivityIndex:
    """Activities from a CSV, spooled into a temporary SQLite file and looked up by lead: as
    columns for scoring (`spans`, `block`: memory bounded however many activities a lead
    batch has), or as records (`for_leads`)."""

    def __init__(
        self,
        path: Path,
        columns: ActivityColumns,
        encoding: str = "utf-8",
        blank_values: Iterable[str] = (),
    ) -> None:
        self._blank = BlankValues.of(blank_values)  # placeholders in url, form, campaign, subject
        self._directory = tempfile.TemporaryDirectory(prefix="leadq-activities-")
        self._db = sqlite3.connect(Path(self._directory.name) / "activities.sqlite")
        self._db.execute(
            "CREATE TABLE activity (lead_id TEXT, type TEXT, occurred_at REAL, "
            "url TEXT, form TEXT, campaign TEXT, subject TEXT)"
        )
        self._load(path, columns, encoding)
        self._db.execute("CREATE INDEX activity_lead ON activity (lead_id)")

    def _load(self, path: Path, columns: ActivityColumns, encoding: str) -> None:
        types = {
            name.strip().lower(): canonical for name, canonical in (columns.types or {}).items()
        }
        with open_csv(path, encoding) as (header, rows, _):
            required = {"lead id": columns.lead_id, "type": columns.type}
            required["time"] = columns.occurred_at
            for role, column in required.items():
                if column not in header:
                    raise CsvInputError(
                        f"{path.name}: no {role} column {column!r} (csv.activities in the model). "
                        f"Columns are: {', '.join(header)}"
                    )
            wanted = [columns.lead_id, columns.type, columns.occurred_at]
            wanted += [getattr(columns, name) for name in DETAILS]
            positions = [header.index(c) if c in header else None for c in wanted]
            self._db.executemany(
                "INSERT INTO activity VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self._row(path, line, cells, positions, types, self._blank)
                 for line, cells in rows),
            )
        self._db.commit()

    @staticmethod
    def _row(
        path: Path,
        line: int,
        cells: list[str],
        positions: list[int | None],
        types: dict[str, str],
        blank: BlankValues,
    ) -> tuple[Any, ...]:
        values = [cells[i].strip() if i is not None and i < len(cells) else "" for i in positions]
        for role, value in (("lead id", values[0]), ("activity type", values[1])):
            if not value:
                raise CsvInputError(f"{path.name} line {line}: the {role} is empty")
        kind = values[1]
        values[1] = types.get(kind.lower(), kind)
        try:
            occurred = parse_timestamp(values[2])
        except ValueError:
            occurred = None
        if occurred is None:
            raise CsvInputError(f"{path.name} line {line}: {values[2]!r} is not a date and time")
        lead_id, kind, _, *details = (value or None for value in values)
        details = [None if detail in blank else detail for detail in details]
        return (lead_id, kind, occurred.timestamp(), *details)

    def for_leads(self, lead_ids: Iterable[str]) -> list[Activity]:
        """The activities of these leads as records (for one lead's explanation, or outcomes)."""
        return [
            Activity(
                lead_id=row[0],
                type=row[1],
                occurred_at=datetime.fromtimestamp(row[2], UTC),
                url=row[3],
                form=row[4],
                campaign=row[5],
                subject=row[6],
            )
            for row in self._rows_of(lead_ids)
        ]

    def spans(self, lead_ids: Sequence[str], most: int) -> list[range]:
        """Consecutive runs of `lead_ids` (as positions) with at most `most` activities each (a
        lead with more has a run of its own), so that no block holds more than that."""
        self._want(lead_ids)
        counts = dict(
            self._db.execute(
                "SELECT a.lead_id, COUNT(*) FROM activity a JOIN wanted w "
                "ON a.lead_id = w.lead_id GROUP BY a.lead_id"
            )
        )
        return spans_of([counts.get(lead_id, 0) for lead_id in lead_ids], most)

    def blocks(
        self, first: int, lead_ids: Sequence[str], most: int
    ) -> Iterator[tuple[range, ActivityBlock]]:
        """The activities of `lead_ids` as blocks of at most `most` activities (a lead with more
        has its own), each with the positions of its leads in `lead_ids`. (`first`, the position
        of the first lead in its file, is for the columnar reader, which files by position.)"""
        for span in self.spans(lead_ids, most):
            yield span, self.block(lead_ids[span.start : span.stop])

    def block(self, lead_ids: Sequence[str]) -> ActivityBlock:
        """The activities of these leads as columns, without an object per activity: whose
        each is (a position in `lead_ids`), when, and each text column factorised."""
        position = {lead_id: index for index, lead_id in enumerate(lead_ids)}
        leads, times = array("q"), array("d")
        codes = {name: array("i") for name in BLOCK_TEXT}
        seen: dict[str, dict[str | None, int]] = {name: {} for name in BLOCK_TEXT}
        rows = self._rows_of(lead_ids)
        while chunk := rows.fetchmany(_FETCH_ROWS):
            ids, kinds, moments, *details = zip(*chunk, strict=True)
            leads.extend(map(position.__getitem__, ids))
            times.extend(moments)
            for name, values in zip(BLOCK_TEXT, (kinds, *details), strict=True):
                index = seen[name]
                codes[name].extend(index.setdefault(value, len(index)) for value in values)
        return ActivityBlock(
            lead_index=np.frombuffer(leads, dtype=np.int64),
            occurred_at=np.frombuffer(times, dtype=np.float64),
            codes={name: np.frombuffer(codes[name], dtype=np.int32) for name in BLOCK_TEXT},
            values={name: list(seen[name]) for name in BLOCK_TEXT},
        )

    def _want(self, lead_ids: Iterable[str]) -> None:
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (lead_id TEXT PRIMARY KEY)")
        self._db.execute("DELETE FROM wanted")
        self._db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", ((i,) for i in lead_ids))

    def _rows_of(self, lead_ids: Iterable[str]) -> sqlite3.Cursor:
        self._want(lead_ids)
        return self._db.execute(
            "SELECT a.lead_id, a.type, a.occurred_at, a.url, a.form, a.campaign, a.subject "
            "FROM activity a JOIN wanted w ON a.lead_id = w.lead_id"
        )

    def close(self) -> None:
        self._db.close()
        self._directory.cleanup()

    def __enter__(self) -> ActivityIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
