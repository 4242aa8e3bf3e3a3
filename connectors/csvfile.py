"""Reading a leads CSV: leadq without a CRM.

Leads are read as a stream, a batch at a time, so a file of a million rows never sits in memory.
Activities (optional, in their own file, in any order) are filed by lead in
`connectors/csv_activity_index.py`; the scored file is written by `connectors/scored_csv.py`.

Encodings: UTF-8 with or without BOM (the default) and legacy exports such as CP932 / Shift_JIS
from Japanese Excel (`encoding="cp932"`). A file that is not in the encoding given is refused with
the line where decoding failed.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from connectors.records import Company, Lead

LEGACY_ENCODINGS = {"cp932", "shift_jis", "ms932", "sjis", "shift-jis", "windows-31j", "euc_jp"}
# a column named like one of these feeds it; any other unmapped column becomes a custom field
STANDARD_LEAD_FIELDS = set(Lead.model_fields) - {"company", "fields"}
STANDARD_COMPANY_FIELDS = set(Company.model_fields) - {"fields"}
SCORE_COLUMNS = (
    "leadq_score",
    "leadq_fit",
    "leadq_engagement",
    "leadq_grade",
    "leadq_label",
    "leadq_priority",
    "leadq_stage",
    "leadq_reasons",
    "leadq_model_version",
)


class CsvInputError(ValueError):
    """A CSV file leadq cannot read, with the file and line to look at."""


@dataclass(frozen=True)
class LeadColumns:
    """Which column feeds which lead field (paths such as `company.employees`)."""

    columns: dict[str, str]

    def resolve(self, header: Sequence[str], source: str) -> dict[str, str]:
        """Map every field to a column of this file; unmapped columns become custom fields.
        Without an `id` column (named or mapped) there is no `id` path: leads are numbered."""
        resolved = {path: column for path, column in self.columns.items()}
        company_paths = (f"company.{name}" for name in STANDARD_COMPANY_FIELDS)
        for path in ("id", *STANDARD_LEAD_FIELDS, *company_paths):
            if path not in resolved and path in header:
                resolved[path] = path
        mapped = set(resolved.values())
        for column in header:
            if column not in mapped and column:
                resolved[f"fields.{column}"] = column
        missing = [column for column in resolved.values() if column not in header]
        if missing:
            raise CsvInputError(
                f"{source}: no column {missing[0]!r} (mapped in the model's csv.columns). "
                f"Columns are: {', '.join(header)}"
            )
        return resolved


@dataclass(frozen=True)
class BlankValues:
    """Placeholder answers read as missing (a form's "Select", "N/A"), ignoring case and
    surrounding spaces; an empty cell is always missing."""

    values: frozenset[str] = frozenset()

    @classmethod
    def of(cls, values: Iterable[str]) -> BlankValues:
        return cls(frozenset(value.strip().lower() for value in values))

    def __contains__(self, cell: object) -> bool:
        return isinstance(cell, str) and (not cell.strip() or cell.strip().lower() in self.values)

    def cleared(self, cell: str) -> str:
        """The cell, or "" when it is a placeholder."""
        return "" if self.values and cell in self else cell


NO_PLACEHOLDERS = BlankValues()  # only empty cells are missing


def normalise_encoding(encoding: str) -> str:
    """The codec's own name for a text encoding (UTF-8 read with or without a BOM)."""
    try:
        name = codecs.lookup(encoding).name
        "".encode(name)  # refuses codecs that are not text encodings (base64, rot13 …)
    except LookupError:
        raise CsvInputError(f"unknown encoding {encoding!r}; try utf-8 or cp932") from None
    return "utf-8-sig" if name == "utf-8" else name


def output_encoding_for(input_encoding: str, had_bom: bool) -> str:
    """Keep the input's encoding (and its BOM, or lack of one). Legacy Japanese encodings cannot
    hold every reason text: for them write UTF-8 with a BOM, which Excel opens correctly."""
    name = normalise_encoding(input_encoding)
    if name in LEGACY_ENCODINGS or name.replace("-", "_") in LEGACY_ENCODINGS:
        return "utf-8-sig"
    if name == "utf-8-sig" and not had_bom:
        return "utf-8"
    return name


MAX_CELL = 131_072  # characters: the csv module's own limit, a cell no export holds
MAX_LINE = 1_048_576  # characters: past it the file is not a CSV of leads or activities
_CHUNK = 1 << 16  # bytes decoded at a time
_LINE_ENDS = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")  # after \n, \r\n or a lone \r


class _DecodedLines:
    """Decodes a file a chunk at a time and splits it into lines at \\n, \\r\\n or a lone \\r
    (old Mac exports), line ends kept as the csv module wants them. It counts lines, so that a
    decoding error or a line too long to be CSV names its line."""

    def __init__(self, stream: BinaryIO, source: str, encoding: str) -> None:
        self.stream = stream
        self.source = source
        self.encoding = encoding
        self.codec = normalise_encoding(encoding)
        self.decoder = codecs.getincrementaldecoder(self.codec)("strict")
        self.line = 0
        self.had_bom = stream.peek(3)[:3] == codecs.BOM_UTF8 if hasattr(stream, "peek") else False

    def __iter__(self) -> Iterator[str]:
        pending = ""
        while chunk := self.stream.read(_CHUNK):
            pending += self._decode(chunk, pending, final=False)
            held = "\r" if pending.endswith("\r") else ""  # a \n may follow in the next chunk
            *complete, pending = _LINE_ENDS.split(pending[: len(pending) - len(held)])
            yield from self._counted(complete)
            pending += held
            if len(pending) > MAX_LINE:
                raise CsvInputError(
                    f"{self.source} line {self.line + 1}: the line is longer than {MAX_LINE:,} "
                    "characters; is this the right file?"
                )
        pending += self._decode(b"", pending, final=True)
        yield from self._counted(line for line in _LINE_ENDS.split(pending) if line)

    def _counted(self, lines: Iterable[str]) -> Iterator[str]:
        for line in lines:
            self.line += 1
            yield line

    def _decode(self, chunk: bytes, pending: str, final: bool) -> str:
        try:
            return self.decoder.decode(chunk, final)
        except UnicodeError as error:  # UnicodeDecodeError, or UTF-16 without its BOM
            before = pending
            if isinstance(error, UnicodeDecodeError):
                before += error.object[: error.start].decode(self.codec, "replace")
            line = self.line + 1 + len(_LINE_ENDS.split(before)) - 1
            raise CsvInputError(
                f"{self.source}: line {line} is not valid {self.encoding}; "
                f"{_encoding_hint(self.encoding)}"
            ) from None


def _encoding_hint(encoding: str) -> str:
    if normalise_encoding(encoding) == "utf-8-sig":
        return "if the file came from Excel in Japan, use --encoding cp932"
    return "if the file is UTF-8, use --encoding utf-8"


def sniff_delimiter(first_line: str) -> str:
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_problem(source: str, line: int, error: csv.Error) -> CsvInputError:
    """A csv module error as the line of the file to fix (`line`: where the row starts)."""
    text = str(error)
    if text.startswith("field larger than field limit"):
        problem = f"a cell is longer than {MAX_CELL:,} characters; is this the right file?"
    elif text == "unexpected end of data":
        problem = 'a quoted cell starting on this line is never closed (a missing ")'
    elif "expected after" in text:
        problem = (
            "the quotes of the row starting here do not pair up: a quoted cell ends at a "
            'delimiter, and a quote inside it is written ""'
        )
    else:
        problem = f"not valid CSV ({text})"
    return CsvInputError(f"{source} line {line}: {problem}")


def _open_for_reading(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise CsvInputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise CsvInputError(f"{path}: is a directory, not a CSV file") from None
    except OSError as error:
        raise CsvInputError(f"{path}: cannot be read ({error.strerror})") from None


@contextlib.contextmanager
def open_csv(
    path: Path, encoding: str = "utf-8", delimiter: str | None = None
) -> Iterator[tuple[list[str], Iterator[tuple[int, list[str]]], bool]]:
    """Open a CSV: its header, an iterator of (line number, cells), and whether it had a BOM.

    The line number is where the row starts. A row with more cells than the header is refused
    unless the extra cells are blank (a trailing delimiter): their values would be lost.
    """
    normalise_encoding(encoding)
    with _open_for_reading(path) as stream:
        lines = _DecodedLines(stream, path.name, encoding)
        line_iter = iter(lines)
        first = next(line_iter, None)
        if first is None:
            raise CsvInputError(f"{path.name}: the file is empty")
        chosen = delimiter or sniff_delimiter(first)
        header = [cell.strip() for cell in _header_cells(path.name, first, chosen)]

        def rows() -> Iterator[tuple[int, list[str]]]:
            reader = csv.reader(line_iter, delimiter=chosen, strict=True)
            while True:
                start = lines.line + 1
                try:
                    cells = next(reader, None)
                except csv.Error as error:
                    raise _csv_problem(path.name, start, error) from None
                if cells is None:
                    return
                if cells and any(cell.strip() for cell in cells):
                    _check_width(path.name, start, cells, len(header))
                    yield start, cells

        yield header, rows(), lines.had_bom


def _header_cells(source: str, first: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([first], delimiter=delimiter, strict=True))
    except csv.Error as error:
        raise _csv_problem(source, 1, error) from None


def _check_width(source: str, line: int, cells: list[str], width: int) -> None:
    if len(cells) > width and any(cell.strip() for cell in cells[width:]):
        raise CsvInputError(
            f"{source} line {line}: {len(cells)} cells, but the header names {width} columns; "
            "a value holding the delimiter must be quoted"
        )


class CsvLeadReader:
    """Streams leads from a CSV export in batches, keeping each row for the scored output.

    A file without an id column (none named `id`, none mapped to it) gives each lead its line
    number as its id: the first lead under the header is lead "2". Once reading started,
    `header` is the file's header and `mapping` which column feeds which lead field.
    """

    def __init__(
        self,
        path: Path,
        columns: dict[str, str] | None = None,
        encoding: str = "utf-8",
        delimiter: str | None = None,
        blank_values: Iterable[str] = (),
    ) -> None:
        self.path = path
        self.columns = LeadColumns(columns or {})
        self.blank = BlankValues.of(blank_values)
        self.encoding = encoding
        self.delimiter = delimiter
        self.header: list[str] = []
        self.mapping: dict[str, str] = {}
        self.had_bom = False

    def batches(self, size: int = 10_000) -> Iterator[list[tuple[list[str], Lead]]]:
        """The leads in batches of `size`, each with its row; a lead id that comes again is
        refused with both lines (it would be scored twice)."""
        with (
            open_csv(self.path, self.encoding, self.delimiter) as (header, rows, had_bom),
            LeadIdRegister(self.path.name) as seen,
        ):
            self.header = header
            self.had_bom = had_bom
            self.mapping = self.columns.resolve(header, self.path.name)
            positions = {path: header.index(column) for path, column in self.mapping.items()}
            batch: list[tuple[list[str], Lead]] = []
            lines: list[int] = []
            for line, cells in rows:
                batch.append((cells, self._lead(line, cells, positions)))
                lines.append(line)
                if len(batch) >= size:
                    seen.add([lead.id for _, lead in batch], lines)
                    yield batch
                    batch, lines = [], []
            if batch:
                seen.add([lead.id for _, lead in batch], lines)
                yield batch

    def lead_ids(self, chunk: int = 50_000) -> Iterator[list[str]]:
        """The leads' ids in file order, in chunks, without building leads: what the columnar
        activity reader files activities by. Problems are reported by `batches`."""
        with open_csv(self.path, self.encoding, self.delimiter) as (header, rows, _):
            mapping = self.columns.resolve(header, self.path.name)
            column = header.index(mapping["id"]) if "id" in mapping else None
            ids: list[str] = []
            for line, cells in rows:
                if column is None:
                    ids.append(str(line))
                else:
                    ids.append(cells[column].strip() if column < len(cells) else "")
                if len(ids) >= chunk:
                    yield ids
                    ids = []
            yield ids

    def lead_of(self, header: list[str], cells: Sequence[str]) -> Lead:
        """One row of a file with this header as the lead `batches` reads from it (for a
        reader that reads the rows another way); errors name no line."""
        mapping = self.columns.resolve(header, self.path.name)
        self.header = header
        positions = {path: header.index(column) for path, column in mapping.items()}
        return self._lead(0, list(cells), positions)

    def _lead(self, line: int, cells: list[str], positions: dict[str, int]) -> Lead:
        values = {path: cells[i] if i < len(cells) else "" for path, i in positions.items()}
        if self.blank.values:  # placeholders ("Select", "N/A") read as blank; never the id
            values = {path: value if path == "id" else self.blank.cleared(value)
                      for path, value in values.items()}
        lead: dict[str, Any] = {"fields": {}}
        company: dict[str, Any] = {"fields": {}}
        for path, value in values.items():
            if path.startswith("company.fields."):
                company["fields"][path.removeprefix("company.fields.")] = value or None
            elif path.startswith("company."):
                company[path.removeprefix("company.")] = value
            elif path.startswith("fields."):
                lead["fields"][path.removeprefix("fields.")] = value or None
            else:
                lead[path] = value
        if "id" not in positions:
            lead["id"] = str(line)
        if not lead["id"].strip():
            raise CsvInputError(f"{self.path.name} line {line}: the lead id is empty")
        if any(v for k, v in company.items() if k != "fields") or company["fields"]:
            company.setdefault("id", company.get("domain") or company.get("name") or lead["id"])
            lead["company"] = company
        try:
            return Lead.model_validate(lead)
        except ValidationError as error:
            raise CsvInputError(self._describe(line, error, positions)) from None

    def _describe(self, line: int, error: ValidationError, positions: dict[str, int]) -> str:
        detail = error.errors()[0]
        path = ".".join(str(part) for part in detail["loc"] if part != "fields")
        column = self.header[positions[path]] if path in positions else path
        value = detail.get("input")
        return f"{self.path.name} line {line}: {column}: {value!r} is not valid ({detail['msg']})"


_IDS_PER_QUERY = 500  # below SQLite's limit on bound parameters


class LeadIdRegister:
    """The lead ids of a file read so far, with their lines, kept in a temporary SQLite file so
    that memory stays flat however many leads the file holds."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._db = sqlite3.connect("")  # "": a private temporary file, deleted on close
        self._db.execute("CREATE TABLE seen (id TEXT PRIMARY KEY, line INTEGER NOT NULL)")

    def add(self, lead_ids: Sequence[str], lines: Sequence[int]) -> None:
        """Remember a batch of ids; raise CsvInputError at the first one seen before."""
        first_line: dict[str, int] = {}
        for lead_id, line in zip(lead_ids, lines, strict=True):
            if lead_id in first_line:
                raise self._repeated(lead_id, first_line[lead_id], line)
            first_line[lead_id] = line
        for start in range(0, len(lead_ids), _IDS_PER_QUERY):
            chunk = lead_ids[start : start + _IDS_PER_QUERY]
            places = ",".join("?" * len(chunk))
            earlier = self._db.execute(
                f"SELECT id, line FROM seen WHERE id IN ({places}) ORDER BY line LIMIT 1", chunk
            ).fetchone()
            if earlier is not None:
                raise self._repeated(earlier[0], earlier[1], first_line[earlier[0]])
        self._db.executemany("INSERT INTO seen VALUES (?, ?)", first_line.items())

    def _repeated(self, lead_id: str, first: int, again: int) -> CsvInputError:
        return CsvInputError(
            f"{self.source} line {again}: lead id {lead_id!r} again (first on line {first}); "
            "each lead must appear once"
        )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LeadIdRegister:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
