"""Activities from a CSV read as columns by pyarrow's streaming CSV reader, spooled by lead batch.

This is the fast path of `leadq score`: no Python object and no SQLite row per activity. Each
block of the file (a few MB) is read as columns, checked, matched to the leads file's order, and
appended to a temporary Arrow file per batch of leads; a batch is then read back as columns, in
parts of bounded size. Memory stays flat in leads and in activities.

It only takes files `plain_csv` takes, with ids and types present and dates it parses the way
`parse_timestamp` does. On anything else it gives up (`NotColumnar`), and the caller reads the
file row by row (`ActivityIndex`), which reports every problem with its line.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from connectors.csv_activity_index import (
    BLOCK_TEXT,
    DETAILS,
    ActivityBlock,
    ActivityColumns,
    spans_of,
)
from connectors.csvfile import (
    BlankValues,
)
from connectors.plain_csv import NotColumnar, epoch_seconds, plain_csv

if TYPE_CHECKING:
    import pyarrow as pa

MOST_SPOOL_FILES = 256  # lead batches share a file past this many


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
        blank_values: Iterable[str] = (),
    ) -> None:
        import pyarrow as pa

        self._pa = pa
        self._blank = BlankValues.of(blank_values)  # placeholders in url, form, campaign, subject
        self._encoding = encoding
        self.batch_size = batch_size
        self._position = {lead_id: i for i, lead_id in enumerate(itertools.chain(*lead_ids))}
        batches = max(1, -(-len(self._position) // batch_size))
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
        with plain_csv(path, self._encoding) as (header, _, blocks):
            wanted = [columns.lead_id, columns.type, columns.occurred_at]
            if any(column not in header for column in wanted):
                raise NotColumnar("columns the row-by-row reader reports")
            details = [getattr(columns, name) for name in DETAILS]
            position = {column: header.index(column) for column in header}
            for block in blocks:
                self._add(block, [position[c] for c in wanted], details, position)

    def _add(
        self,
        block: pa.RecordBatch,
        wanted: list[int],
        details: list[str | None],
        position: dict[str, int],
    ) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        lead_ids, kinds, times = (pc.utf8_trim_whitespace(block[name]) for name in wanted)
        if (
            pc.any(pc.equal(pc.utf8_length(lead_ids), 0)).as_py()
            or pc.any(pc.equal(pc.utf8_length(kinds), 0)).as_py()
        ):
            raise NotColumnar("a blank lead id or type")
        ordinal = self._ordinals(lead_ids)
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
            texts.append(self._without_placeholders(cells))
        table = pa.record_batch(
            [ordinal.cast(pa.int64()), pa.array(epoch_seconds(times)), *texts],
            names=["lead", "occurred_at", *BLOCK_TEXT],
        )
        self._write(table)

    def _without_placeholders(self, cells: pa.Array) -> pa.Array:
        """Empty cells and placeholder answers (`blank_values`) as nulls."""
        import pyarrow as pa

        encoded = cells.dictionary_encode()
        kept = [None if value in self._blank else value for value in encoded.dictionary.to_pylist()]
        return pa.array(kept, pa.string()).take(encoded.indices)

    def _ordinals(self, lead_ids: pa.Array) -> pa.Array:
        """Each activity's lead as its position in the leads file (null: no such lead)."""
        import pyarrow as pa

        encoded = lead_ids.dictionary_encode()
        found = [self._position.get(i) for i in encoded.dictionary.to_pylist()]
        return pa.array(found, pa.int64()).take(encoded.indices)

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
