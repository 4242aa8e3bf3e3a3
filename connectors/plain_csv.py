"""CSV files pyarrow's streaming reader reads exactly as Python's csv module does: the fast path
of `leadq score` (leads and activities as columns, no Python object per row).

`plain_csv` only takes what both read the same way: UTF-8 (with or without a BOM), no quote
character and no NUL anywhere, every row as wide as the header, no duplicate column names, no cell
or line near the csv module's limits. On anything else it gives up with `NotColumnar`, and the
caller reads the file row by row, which words every problem with its line. pyarrow is the
optional `csv` extra (`pip install 'leadq[csv]'`); without it every file goes row by row.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from connectors.csvfile import MAX_CELL, MAX_LINE, normalise_encoding, sniff_delimiter
from connectors.records import parse_timestamp

if TYPE_CHECKING:
    import pyarrow as pa

BOM = b"\xef\xbb\xbf"
READ_BLOCK_BYTES = 1 << 20  # bytes pyarrow parses at a time
_NAIVE = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?"
NAIVE_TIME = f"^{_NAIVE}$"
ZONED_TIME = f"^{_NAIVE}(?:Z|[+-]\\d{{2}}:?\\d{{2}})$"


class NotColumnar(Exception):  # noqa: N818 - a signal to take the row-by-row path, not an error
    """This file is not one the columnar reader takes exactly; read it row by row."""


def pyarrow_available() -> bool:
    try:
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return False
    return True


class _QuoteFreeStream:
    """The file's bytes after the header line, for pyarrow; gives up at a quote or a NUL byte
    (quoting rules where the csv module and pyarrow differ are left to the row-by-row path)."""

    def __init__(self, handle: Any, start: int) -> None:
        self._handle = handle
        self._handle.seek(start)
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        if b'"' in chunk or b"\0" in chunk:
            raise NotColumnar("quoted cells")
        return chunk

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


def _header(handle: Any) -> tuple[list[str], str, int]:
    """The header's cells, the delimiter, and where the data starts (after the BOM and header)."""
    first = handle.readline(MAX_LINE)
    start = len(BOM) if first.startswith(BOM) else 0
    raw = first[start:]
    line_end = re.search(rb"\r\n?|\n", raw)
    if line_end is None or b'"' in raw or b"\0" in raw:
        raise NotColumnar("no plain header line")
    text = raw[: line_end.start()]
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        raise NotColumnar("not UTF-8") from None
    delimiter = sniff_delimiter(decoded)
    return [cell.strip() for cell in decoded.split(delimiter)], delimiter, start + line_end.end()


def _check_sizes(block: pa.RecordBatch) -> None:
    """Give up on cells or lines near the csv module's limits: the row reader words those."""
    import pyarrow.compute as pc

    line = np.zeros(len(block), dtype=np.int64)
    for column in block.columns:
        lengths = pc.binary_length(column).to_numpy(zero_copy_only=False)
        if len(lengths) and lengths.max() >= MAX_CELL:
            raise NotColumnar("a cell near the csv module's limit")
        line += lengths
    if len(line) and line.max() + block.num_columns + 2 > MAX_LINE:
        raise NotColumnar("a line near the limit")


@contextlib.contextmanager
def plain_csv(
    path: Path, encoding: str = "utf-8"
) -> Iterator[tuple[list[str], bool, Iterator[pa.RecordBatch]]]:
    """The header (cells stripped), whether the file starts with a BOM, and its rows as blocks of
    text columns (column i of the block is column i of the header)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if normalise_encoding(encoding) != "utf-8-sig":
        raise NotColumnar(f"encoding {encoding}")
    try:
        handle = path.open("rb")
    except OSError:
        raise NotColumnar("the row reader says why it cannot be read") from None
    with handle:
        header, delimiter, start = _header(handle)
        had_bom = start > 0 and handle.seek(0) == 0 and handle.read(3) == BOM
        if len(set(header)) < len(header):
            raise NotColumnar("duplicate column names")
        names = [f"c{i}" for i in range(len(header))]
        try:
            reader = pacsv.open_csv(
                _QuoteFreeStream(handle, start),
                read_options=pacsv.ReadOptions(column_names=names, block_size=READ_BLOCK_BYTES),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=False),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise NotColumnar(str(error)) from None
        yield header, had_bom, _checked(reader)


def _checked(reader: Any) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    while True:
        try:
            block = reader.read_next_batch()
        except StopIteration:
            return
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError) as error:
            raise NotColumnar(str(error)) from None
        _check_sizes(block)
        yield block


def epoch_seconds(times: pa.Array) -> np.ndarray:
    """ISO 8601 times as epoch seconds, as `parse_timestamp` reads them (naive = UTC); pyarrow
    parses the plain forms both read the same way, `parse_timestamp` the others."""
    import pyarrow as pa
    import pyarrow.compute as pc

    naive = pc.match_substring_regex(times, NAIVE_TIME)
    zoned = pc.match_substring_regex(times, ZONED_TIME)
    micros = np.zeros(len(times), dtype=np.int64)
    try:
        for mask, kind in ((naive, pa.timestamp("us")), (zoned, pa.timestamp("us", "UTC"))):
            rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
            if len(rows):
                parsed = pc.cast(times.take(pa.array(rows)), kind)
                micros[rows] = parsed.cast(pa.int64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        raise NotColumnar("a date pyarrow does not read") from None
    seconds = micros / 1e6
    plain = naive.to_numpy(zero_copy_only=False) | zoned.to_numpy(zero_copy_only=False)
    other = np.flatnonzero(~plain)
    for row in other.tolist():
        seconds[row] = _python_epoch(times[row].as_py())
    return seconds


def _python_epoch(text: str) -> float:
    try:
        parsed = parse_timestamp(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise NotColumnar("not a date")
    return parsed.timestamp()
