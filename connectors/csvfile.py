"""CSV in, scored CSV out: leadq without a CRM.

Leads are read as a stream, a batch at a time, so a file of a million rows never sits in memory.
Activities (optional, in their own file, in any order) are first copied into a temporary SQLite
file indexed by lead id, then fetched batch by batch. The scored file is written beside the target
and renamed into place only when every row succeeded: a failed run leaves no partial output.

Encodings: UTF-8 with or without BOM (the default) and legacy exports such as CP932 / Shift_JIS
from Japanese Excel (`encoding="cp932"`). A file that is not in the encoding given is refused with
the line where decoding failed.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from pydantic import ValidationError

from connectors.records import Activity, Company, Lead, parse_timestamp

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


def normalise_encoding(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
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


class _DecodedLines:
    """Decodes a file line by line, so a decoding error can name its line."""

    def __init__(self, stream: BinaryIO, source: str, encoding: str) -> None:
        self.stream = stream
        self.source = source
        self.encoding = encoding
        self.decoder = codecs.getincrementaldecoder(normalise_encoding(encoding))("strict")
        self.line = 0
        self.had_bom = stream.peek(3)[:3] == codecs.BOM_UTF8 if hasattr(stream, "peek") else False

    def __iter__(self) -> Iterator[str]:
        for raw in self.stream:
            try:
                text = self.decoder.decode(raw)
            except UnicodeDecodeError:
                raise CsvInputError(
                    f"{self.source}: line {self.line + 1} is not valid {self.encoding}; "
                    f"{_encoding_hint(self.encoding)}"
                ) from None
            self.line += 1
            yield text


def _encoding_hint(encoding: str) -> str:
    if encoding.startswith("utf"):
        return "if the file came from Excel in Japan, use --encoding cp932"
    return "if the file is UTF-8, use --encoding utf-8"


def _sniff_delimiter(first_line: str) -> str:
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@contextlib.contextmanager
def open_csv(
    path: Path, encoding: str = "utf-8", delimiter: str | None = None
) -> Iterator[tuple[list[str], Iterator[tuple[int, list[str]]], bool]]:
    """Open a CSV: its header, an iterator of (line number, cells), and whether it had a BOM."""
    normalise_encoding(encoding)
    try:
        stream = path.open("rb")
    except FileNotFoundError:
        raise CsvInputError(f"{path}: file not found") from None
    with stream:
        lines = _DecodedLines(stream, path.name, encoding)
        line_iter = iter(lines)
        first = next(line_iter, None)
        if first is None:
            raise CsvInputError(f"{path.name}: the file is empty")
        chosen = delimiter or _sniff_delimiter(first)
        header = [cell.strip() for cell in next(csv.reader([first], delimiter=chosen))]

        def rows() -> Iterator[tuple[int, list[str]]]:
            for cells in csv.reader(line_iter, delimiter=chosen):
                if cells and any(cell.strip() for cell in cells):
                    yield lines.line, cells

        yield header, rows(), lines.had_bom


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
    ) -> None:
        self.path = path
        self.columns = LeadColumns(columns or {})
        self.encoding = encoding
        self.delimiter = delimiter
        self.header: list[str] = []
        self.mapping: dict[str, str] = {}
        self.had_bom = False

    def batches(self, size: int = 10_000) -> Iterator[list[tuple[list[str], Lead]]]:
        with open_csv(self.path, self.encoding, self.delimiter) as (header, rows, had_bom):
            self.header = header
            self.had_bom = had_bom
            self.mapping = self.columns.resolve(header, self.path.name)
            positions = {path: header.index(column) for path, column in self.mapping.items()}
            batch: list[tuple[list[str], Lead]] = []
            for line, cells in rows:
                batch.append((cells, self._lead(line, cells, positions)))
                if len(batch) >= size:
                    yield batch
                    batch = []
            if batch:
                yield batch

    def _lead(self, line: int, cells: list[str], positions: dict[str, int]) -> Lead:
        values = {path: cells[i] if i < len(cells) else "" for path, i in positions.items()}
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


class ActivityIndex:
    """Activities from a CSV, spooled into a temporary SQLite file and looked up by lead."""

    def __init__(self, path: Path, columns: ActivityColumns, encoding: str = "utf-8") -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="leadq-activities-")
        self._db = sqlite3.connect(Path(self._directory.name) / "activities.sqlite")
        self._db.execute(
            "CREATE TABLE activity (lead_id TEXT, type TEXT, occurred_at TEXT, "
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
                (self._row(path, line, cells, positions, types) for line, cells in rows),
            )
        self._db.commit()

    @staticmethod
    def _row(
        path: Path, line: int, cells: list[str], positions: list[int | None], types: dict[str, str]
    ) -> tuple[Any, ...]:
        values = [cells[i].strip() if i is not None and i < len(cells) else "" for i in positions]
        kind = values[1]
        values[1] = types.get(kind.lower(), kind)
        try:
            occurred = parse_timestamp(values[2])
        except ValueError:
            occurred = None
        if occurred is None:
            raise CsvInputError(f"{path.name} line {line}: {values[2]!r} is not a date and time")
        values[2] = occurred.isoformat()
        return tuple(value or None for value in values)

    def for_leads(self, lead_ids: Iterable[str]) -> list[Activity]:
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (lead_id TEXT PRIMARY KEY)")
        self._db.execute("DELETE FROM wanted")
        self._db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", ((i,) for i in lead_ids))
        found = self._db.execute(
            "SELECT a.lead_id, a.type, a.occurred_at, a.url, a.form, a.campaign, a.subject "
            "FROM activity a JOIN wanted w ON a.lead_id = w.lead_id"
        )
        return [
            Activity(
                lead_id=row[0],
                type=row[1],
                occurred_at=row[2],
                url=row[3],
                form=row[4],
                campaign=row[5],
                subject=row[6],
            )
            for row in found
        ]

    def close(self) -> None:
        self._db.close()
        self._directory.cleanup()

    def __enter__(self) -> ActivityIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ScoredCsvWriter:
    """Writes input columns plus leadq's columns; the file appears only when complete."""

    def __init__(
        self,
        path: Path,
        header: Sequence[str],
        encoding: str = "utf-8-sig",
        extra_columns: Sequence[str] = (),
    ) -> None:
        self.path = path
        self.encoding = encoding
        self.rows_written = 0
        self._handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in commit/abort
            "w",
            encoding=encoding,
            newline="",
            dir=path.parent or Path(),
            prefix=f".{path.name}.",
            suffix=".partial",
            delete=False,
        )
        self._writer = csv.writer(self._handle)
        self._writer.writerow([*header, *SCORE_COLUMNS, *extra_columns])

    def write(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            try:
                self._writer.writerow(row)
            except UnicodeEncodeError as error:
                character = error.object[error.start : error.end]
                raise CsvInputError(
                    f"{self.path.name}: {character!r} cannot be written in {self.encoding}; "
                    "use --output-encoding utf-8"
                ) from None
            self.rows_written += 1

    def commit(self) -> None:
        self._handle.close()
        Path(self._handle.name).replace(self.path)

    def abort(self) -> None:
        self._handle.close()
        with contextlib.suppress(FileNotFoundError):
            Path(self._handle.name).unlink()
