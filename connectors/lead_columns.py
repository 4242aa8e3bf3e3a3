"""Leads from a CSV read as columns by pyarrow (the fast path of `leadq score`): a batch is its
rows' cells and typed columns per field, without a `Lead` object per row.

It reads only what `plain_csv` reads, and only a file with an id column and values the row reader
(`CsvLeadReader`) accepts: ids present and each once, numbers, dates and `kind` as `Lead` parses
them. On anything else it gives up (`NotColumnar`) and the caller reads the file row by row,
which words every problem with its line.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from connectors.csvfile import NO_PLACEHOLDERS, BlankValues, CsvInputError, LeadColumns
from connectors.plain_csv import NotColumnar, epoch_seconds, plain_csv

if TYPE_CHECKING:
    import pyarrow as pa

NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
NUMBER_PATHS = {"company.employees": True, "company.annual_revenue": False}  # whole numbers?
TIME_PATHS = ("created_at", "updated_at")
KINDS = {"lead", "contact"}
DERIVED = {"email_domain"}  # computed from another column, as `Lead` does


@dataclass(frozen=True)
class Factorised:
    """A column's cells as codes into its distinct values (as read: not stripped)."""

    codes: np.ndarray
    values: list[str]

    def values_at(self) -> np.ndarray:
        """Each row's value (an object array)."""
        return np.array(self.values, dtype=object)[self.codes]


class LeadColumnsBatch:
    """Some consecutive leads of the file: their ids, their rows' cells, and per field path
    (`title`, `company.employees`, `fields.Plan`) its column."""

    def __init__(
        self,
        table: pa.Table,
        mapping: dict[str, int],
        ids: list[str],
        blank: BlankValues = NO_PLACEHOLDERS,
    ) -> None:
        self._table = table
        self._mapping = mapping
        self.ids = ids
        self.blank = blank
        self.numbers: dict[str, np.ndarray] = _numbers(table, mapping, blank)

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self) -> list[tuple[str, ...]]:
        """Every row's cells, as read."""
        return list(zip(*(column.to_pylist() for column in self._table.columns), strict=True))

    def cells(self, index: int) -> list[str]:
        return [column[index].as_py() for column in self._table.columns]

    def paths(self) -> list[str]:
        return [*self._mapping, *DERIVED]

    def text(self, path: str) -> Factorised | None:
        """The cells of a field as text; None when the file has no column for it."""
        if path == "email_domain":
            email = self.text("email")
            if email is None:
                return None
            return Factorised(email.codes, [_domain(value) for value in email.values])
        if path == "id":
            return _factorised(self._table.column(self._mapping["id"]), self.ids)
        if path not in self._mapping:
            return None
        return _factorised(self._table.column(self._mapping[path]), blank=self.blank)

    def slice(self, start: int, stop: int) -> LeadColumnsBatch:
        part = LeadColumnsBatch.__new__(LeadColumnsBatch)
        part._table = self._table.slice(start, stop - start)
        part._mapping = self._mapping
        part.ids = self.ids[start:stop]
        part.blank = self.blank
        part.numbers = {path: values[start:stop] for path, values in self.numbers.items()}
        return part


def _domain(email: str | None) -> str | None:
    """`Lead.email_domain` of an e-mail cell."""
    address = (email or "").strip()
    return address.rsplit("@", 1)[1].lower() if "@" in address else None


def _factorised(
    column: Any, ids: list[str] | None = None, blank: BlankValues = NO_PLACEHOLDERS
) -> Factorised:
    """A column's cells as codes into its distinct values, placeholders (`blank`) read as ""."""
    if ids is not None:  # the ids, stripped as `Lead` strips them
        distinct = list(dict.fromkeys(ids))
        position = {value: code for code, value in enumerate(distinct)}
        return Factorised(np.fromiter(map(position.__getitem__, ids), np.int32, len(ids)), distinct)
    encoded = column.combine_chunks().dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    values = encoded.dictionary.to_pylist()
    return Factorised(codes, [blank.cleared(value) for value in values] if blank.values else values)


def _numbers(
    table: pa.Table, mapping: dict[str, int], blank: BlankValues
) -> dict[str, np.ndarray]:
    """The number and time fields `Lead` parses, checked as it checks them (NaN = blank)."""
    import pyarrow.compute as pc

    found: dict[str, np.ndarray] = {}
    for path, whole in NUMBER_PATHS.items():
        if path in mapping:
            cells = _factorised(table.column(mapping[path]), blank=blank)
            lookup = np.array([_number(value, whole) for value in cells.values], np.float64)
            found[path] = lookup[cells.codes] if len(lookup) else np.zeros(0)
    for path in TIME_PATHS:
        if path in mapping:
            cells = pc.utf8_trim_whitespace(table.column(mapping[path]).combine_chunks())
            empty = pc.equal(pc.utf8_length(cells), 0).to_numpy(zero_copy_only=False)
            if blank.values:
                as_read = _factorised(table.column(mapping[path]), blank=blank)
                empty = empty | (as_read.values_at() == "")
            times = np.full(len(cells), np.nan)
            present = np.flatnonzero(~empty)
            if len(present):
                import pyarrow as pa

                times[present] = epoch_seconds(cells.take(pa.array(present)))
            found[path] = times
    if "kind" in mapping:
        kinds = _factorised(table.column(mapping["kind"]))
        if any(value.strip() not in KINDS for value in kinds.values):
            raise NotColumnar("a kind the row reader refuses")
    return found


def _number(cell: str, whole: bool) -> float:
    """A number cell as `Lead` reads it ("1,200" → 1200; blank → NaN); NotColumnar otherwise."""
    text = cell.replace(",", "").strip()
    if not cell.strip():
        return np.nan
    if not NUMBER.fullmatch(text):
        raise NotColumnar("a number the row reader words")
    value = float(text)
    if not np.isfinite(value) or (whole and not value.is_integer()):
        raise NotColumnar("a number the row reader refuses")
    return value


class ColumnarLeadReader:
    """Streams a leads CSV as `LeadColumnsBatch`es. `header` and `had_bom` are set once read."""

    def __init__(
        self,
        path: Path,
        columns: dict[str, str],
        encoding: str = "utf-8",
        blank_values: Iterable[str] = (),
    ) -> None:
        self.path = path
        self.columns = LeadColumns(columns)
        self.blank = BlankValues.of(blank_values)
        self.encoding = encoding
        self.header: list[str] = []
        self.had_bom = False

    def lead_ids(self) -> list[str]:
        """Every lead id, in file order: each present and once, or `NotColumnar`."""
        import pyarrow as pa
        import pyarrow.compute as pc

        ids: list[str] = []
        with plain_csv(self.path, self.encoding) as (header, _, blocks):
            column = self._mapping(header)["id"]
            for block in blocks:
                ids.extend(pc.utf8_trim_whitespace(block.column(column)).to_pylist())
        if not all(ids):
            raise NotColumnar("a blank lead id: the row reader says where")
        distinct = pc.count_distinct(pa.array(ids, pa.string())).as_py()
        if distinct != len(ids):
            raise NotColumnar("a lead id comes again: the row reader says where")
        return ids

    def batches(self, size: int) -> Iterator[LeadColumnsBatch]:
        import pyarrow as pa
        import pyarrow.compute as pc

        with plain_csv(self.path, self.encoding) as (header, had_bom, blocks):
            self.header, self.had_bom = header, had_bom
            mapping = self._mapping(header)
            pending: list[pa.RecordBatch] = []
            held = 0
            for block in itertools.chain(blocks, [None]):
                if block is not None:
                    pending.append(block)
                    held += len(block)
                while held >= size or (block is None and held):
                    table = pa.Table.from_batches(pending).combine_chunks()
                    part, rest = table.slice(0, size), table.slice(size)
                    pending, held = rest.to_batches(), len(rest)
                    ids = pc.utf8_trim_whitespace(part.column(mapping["id"])).to_pylist()
                    if not all(ids):
                        raise NotColumnar("a blank lead id: the row reader says where")
                    yield LeadColumnsBatch(part, mapping, ids, self.blank)

    def _mapping(self, header: list[str]) -> dict[str, int]:
        try:
            resolved = self.columns.resolve(header, self.path.name)
        except CsvInputError:
            raise NotColumnar("the row reader words the mapping problem") from None
        if "id" not in resolved:
            raise NotColumnar("leads numbered by line: the row reader counts lines")
        return {path: header.index(column) for path, column in resolved.items()}
