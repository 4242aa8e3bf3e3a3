"""The scored CSV: written beside the target and renamed into place only when every row
succeeded; cells a spreadsheet would run as formulas are guarded."""

from __future__ import annotations

import contextlib
import csv
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from connectors.csvfile import SCORE_COLUMNS, CsvInputError

EXCEL_CELL_LIMIT = 32_767  # characters: the most a spreadsheet cell holds (Excel)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_guarded(cell: object) -> object:
    """OWASP's defence against CSV injection: a text cell that a spreadsheet would run as a
    formula (it starts with = + - @, a tab or a carriage return) gets a leading apostrophe, so it
    shows as the text it is. A plain number (-5, +3.5, -1,200) is left as it is: a spreadsheet
    reads it as a number, and it can hold no formula."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) and not _is_number(cell):
        return "'" + cell
    return cell


def _guarded(column: Sequence[Any]) -> Sequence[Any]:
    """A column through `formula_guarded`, cell by cell only when some cell may start like a
    formula (one search of the column's text joined, for a column of text)."""
    if all(isinstance(cell, str) for cell in column[:1]):
        try:
            risky = _FORMULA_START.search("\n".join(column)) is not None
        except TypeError:  # not all text
            risky = True
    else:
        risky = any(isinstance(cell, str) and cell.startswith(FORMULA_STARTS) for cell in column)
    return [formula_guarded(cell) for cell in column] if risky else column


_FORMULA_START = re.compile("(?:^|\n)[" + re.escape("".join(FORMULA_STARTS)) + "]")


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return text == text.strip()


class ScoredCsvWriter:
    """Writes input columns plus leadq's columns; the file appears only when complete.

    With `formula_guard` (the default) every cell goes through `formula_guarded`."""

    def __init__(
        self,
        path: Path,
        header: Sequence[str],
        encoding: str = "utf-8-sig",
        extra_columns: Sequence[str] = (),
        formula_guard: bool = True,
    ) -> None:
        self.path = path
        self.encoding = encoding
        self.rows_written = 0
        self.formula_guard = formula_guard
        self.check_target(path)
        try:
            self._handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in commit/abort
                "w",
                encoding=encoding,
                newline="",
                dir=path.parent or Path(),
                prefix=f".{path.name}.",
                suffix=".partial",
                delete=False,
            )
        except OSError as error:
            raise CsvInputError(f"{path}: cannot be written ({error.strerror})") from None
        self._writer = csv.writer(self._handle.file)  # the file itself: no wrapper per write
        try:
            self.write([[*header, *SCORE_COLUMNS, *extra_columns]], counted=False)
        except CsvInputError:
            self.abort()
            raise

    @staticmethod
    def check_target(path: Path) -> None:
        """Refuse a target that cannot be a file: a directory, or one in a missing directory."""
        if path.is_dir():
            raise CsvInputError(
                f"{path} is a directory: give the file to write, e.g. {path / 'scored.csv'}"
            )
        if not path.parent.is_dir():
            raise CsvInputError(f"{path}: there is no directory {path.parent}; create it first")

    def write(self, rows: Iterable[Sequence[Any]], counted: bool = True) -> None:
        """Rows of as many cells as the header."""
        rows = list(rows)
        if rows:
            self.write_columns(list(zip(*rows, strict=True)), counted)

    def write_columns(self, columns: Sequence[Sequence[Any]], counted: bool = True) -> None:
        """Rows given as columns (every column as long): the formula guard looks at a column at
        a time and calls `formula_guarded` only on the cells that need it."""
        if self.formula_guard:
            columns = [_guarded(column) for column in columns]
        rows = list(zip(*columns, strict=True))
        try:
            self._writer.writerows(rows)
        except UnicodeEncodeError as error:
            character = error.object[error.start : error.end]
            raise CsvInputError(
                f"{self.path.name}: {character!r} cannot be written in {self.encoding}; "
                "use --output-encoding utf-8"
            ) from None
        self.rows_written += len(rows) if counted else 0

    def commit(self) -> None:
        self._handle.close()
        Path(self._handle.name).replace(self.path)

    def abort(self) -> None:
        self._handle.close()
        with contextlib.suppress(FileNotFoundError):
            Path(self._handle.name).unlink()
