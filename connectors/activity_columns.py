"""Activities from a CSV read as columns by pyarrow's streaming CSV reader, spooled by lead batch.

This is the fast path of `leadq score`: no Python object and no SQLite row per activity. Each
block of the file (a few MB) is read as columns, checked, matched to the leads file's order, and
appended to a temporary Arrow file per batch of leads; a batch is then read back as columns, in
parts of bounded size. Memory stays flat in leads and in activities.

It only takes files it reads exactly as the csv module would: UTF-8, no quote characters, every
row as wide as the header, ids and types present, dates it parses the way `parse_timestamp`
does, no cell near the csv module's limit. On anything else it gives up (`NotColumnar`), and the
caller reads the file row by row (`ActivityIndex`), which reports every problem with its line.
pyarrow is the optional `csv` extra (`pip install 'leadq[csv]'`); without it every file goes
row by row.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from connectors.csvfile import (
    BLOCK_TEXT,
    DETAILS,
    ActivityBlock,
    ActivityColumns,
    normalise_encoding,
    sniff_delimiter,
    spans_of,
)
from connectors.records import parse_timestamp

if TYPE_CHECKING:
    import pyarrow as pa

READ_BLOCK_BYTES = 1 << 20  # bytes pyarrow parses at a time
MOST_SPOOL_FILES = 256  # lead batches share a file past this many
CELL_LIMIT = 131_072  # the csv module's own limit (connectors.csvfile.MAX_CELL)
LINE_LIMIT = 1_048_576  # connectors.csvfile.MAX_LINE
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
    """The header's cells, the delimiter, and where the data starts."""
    first = handle.readline(LINE_LIMIT)
    start = 3 if first.startswith(b"\xef\xbb\xbf") else 0
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


class ActivitySpool:
    """The activities of a leads file's leads, split by batch of `batch_size` leads (in the order
    `lead_ids`, chunks of the file's lead ids, gives) into temporary Arrow files."""

    def __init__(
        self,
        path: Path,
        columns: ActivityColumns,
        lead_ids: Iterable[Sequence[str]],
        batch_size: int,
        encoding: str = "utf-8",
    ) -> None:
        import pyarrow as pa

        if normalise_encoding(encoding) != "utf-8-sig":
            raise NotColumnar(f"encoding {encoding}")
        self._pa = pa
        self.batch_size = batch_size
        self._lead_ids = pa.array([i for chunk in lead_ids for i in chunk], pa.string())
        batches = max(1, -(-len(self._lead_ids) // batch_size))
        self._batches_per_file = max(1, -(-batches // MOST_SPOOL_FILES))
        self._directory = tempfile.TemporaryDirectory(prefix="leadq-activities-")
        self._writers: dict[int, Any] = {}
        self._types = {name.strip().lower(): kind for name, kind in (columns.types or {}).items()}
        try:
            self._spool(path, columns)
        except BaseException:
            self.close()
            raise
        finally:
            for writer in self._writers.values():
                writer.close()

    def _spool(self, path: Path, columns: ActivityColumns) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        with path.open("rb") as handle:
            header, delimiter, start = _header(handle)
            wanted = [columns.lead_id, columns.type, columns.occurred_at]
            if any(column not in header for column in wanted) or len(set(header)) < len(header):
                raise NotColumnar("columns the row-by-row reader reports")
            details = [getattr(columns, name) for name in DETAILS]
            names = [f"c{i}" for i in range(len(header))]
            position = {column: names[header.index(column)] for column in header}
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
                for block in reader:
                    self._add(block, [position[c] for c in wanted], details, position)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError) as error:
                raise NotColumnar(str(error)) from None

    def _add(
        self,
        block: pa.RecordBatch,
        wanted: list[str],
        details: list[str | None],
        position: dict[str, str],
    ) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        _check_sizes(block)
        lead_ids, kinds, times = (pc.utf8_trim_whitespace(block[name]) for name in wanted)
        if (
            pc.any(pc.equal(pc.utf8_length(lead_ids), 0)).as_py()
            or pc.any(pc.equal(pc.utf8_length(kinds), 0)).as_py()
        ):
            raise NotColumnar("a blank lead id or type")
        ordinal = pc.index_in(lead_ids, value_set=self._lead_ids)
        known = pc.is_valid(ordinal)
        if not pc.all(known).as_py():
            ordinal, kinds, times = (pc.filter(a, known) for a in (ordinal, kinds, times))
            block = block.filter(known)
        texts = [self._canonical_types(kinds)]
        for column in details:
            cells = (
                pc.utf8_trim_whitespace(block[position[column]])
                if column in position
                else pa.nulls(len(block), pa.string())
            )
            texts.append(pc.if_else(pc.equal(pc.utf8_length(cells), 0), None, cells))
        table = pa.record_batch(
            [ordinal.cast(pa.int64()), pa.array(epoch_seconds(times)), *texts],
            names=["lead", "occurred_at", *BLOCK_TEXT],
        )
        self._write(table)

    def _canonical_types(self, kinds: pa.Array) -> pa.Array:
        """The model's `csv.activities.types` mapping, applied once per distinct name."""
        import pyarrow as pa

        if not self._types:
            return kinds
        encoded = kinds.dictionary_encode()
        names = [self._types.get(n.lower(), n) for n in encoded.dictionary.to_pylist()]
        return pa.array(names, pa.string()).take(encoded.indices)

    def _write(self, table: pa.RecordBatch) -> None:
        import pyarrow as pa

        files = table["lead"].to_numpy() // (self.batch_size * self._batches_per_file)
        order = np.argsort(files, kind="stable")
        ordered = table.take(pa.array(order))
        sorted_files = files[order]
        bounds = np.flatnonzero(np.diff(sorted_files)) + 1
        for start, stop in zip([0, *bounds.tolist()], [*bounds.tolist(), len(order)], strict=True):
            if stop > start:
                self._writer(int(sorted_files[start]), table.schema).write_batch(
                    ordered.slice(start, stop - start)
                )

    def _writer(self, number: int, schema: pa.Schema) -> Any:
        import pyarrow as pa

        if number not in self._writers:
            sink = pa.OSFile(str(self._file(number)), "wb")
            self._writers[number] = _Writer(pa.ipc.new_stream(sink, schema), sink)
        return self._writers[number]

    def _file(self, number: int) -> Path:
        return Path(self._directory.name) / f"batch-{number}.arrow"

    def blocks(
        self, first: int, lead_ids: Sequence[str], most: int
    ) -> Iterator[tuple[range, ActivityBlock]]:
        """The activities of the leads `first` … `first + len(lead_ids) - 1` (positions in the
        leads file), as blocks of at most `most` activities (a lead with more has its own)."""
        counts = np.zeros(len(lead_ids), dtype=np.int64)
        for part in self._parts(first, first + len(lead_ids)):
            counts += np.bincount(part["lead"].to_numpy() - first, minlength=len(lead_ids))
        for span in spans_of(counts.tolist(), most):
            low, high = first + span.start, first + span.stop
            yield span, _block(list(self._parts(low, high)), low, self._pa)

    def _parts(self, low: int, high: int) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa
        import pyarrow.compute as pc

        path = self._file(low // (self.batch_size * self._batches_per_file))
        if not path.exists():
            return
        with pa.OSFile(str(path), "rb") as source, pa.ipc.open_stream(source) as stream:
            for part in stream:
                lead = part["lead"]
                inside = pc.and_(pc.greater_equal(lead, low), pc.less(lead, high))
                yield part.filter(inside)

    def close(self) -> None:
        self._directory.cleanup()

    def __enter__(self) -> ActivitySpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Writer:
    def __init__(self, stream: Any, sink: Any) -> None:
        self._stream = stream
        self._sink = sink

    def write_batch(self, batch: Any) -> None:
        self._stream.write_batch(batch)

    def close(self) -> None:
        self._stream.close()
        self._sink.close()


def _check_sizes(block: pa.RecordBatch) -> None:
    """Give up on cells or lines near the csv module's limits: the row reader words those."""
    import pyarrow.compute as pc

    line = np.zeros(len(block), dtype=np.int64)
    for column in block.columns:
        lengths = pc.binary_length(column).to_numpy(zero_copy_only=False)
        if len(lengths) and lengths.max() >= CELL_LIMIT:
            raise NotColumnar("a cell near the csv module's limit")
        line += lengths
    if len(line) and line.max() + block.num_columns + 2 > LINE_LIMIT:
        raise NotColumnar("a line near the limit")


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


def _block(parts: list[pa.RecordBatch], first: int, pa: Any) -> ActivityBlock:
    schema = pa.schema(
        [("lead", pa.int64()), ("occurred_at", pa.float64())]
        + [(name, pa.string()) for name in BLOCK_TEXT]
    )
    table = pa.Table.from_batches(parts, schema=schema).combine_chunks()
    codes, values = {}, {}
    for name in BLOCK_TEXT:
        encoded = table[name].combine_chunks().dictionary_encode()
        distinct = encoded.dictionary.to_pylist()
        indices = encoded.indices.fill_null(len(distinct))
        codes[name] = indices.to_numpy(zero_copy_only=False).astype(np.int32)
        values[name] = [*distinct, None]
    return ActivityBlock(
        lead_index=table["lead"].to_numpy() - first,
        occurred_at=table["occurred_at"].to_numpy(),
        codes=codes,
        values=values,
    )
