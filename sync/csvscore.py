"""Score a CSV export end to end: stream leads, fetch their activities, score, write."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

import numpy as np

from connectors.activity_columns import ActivitySpool
from connectors.csv_activity_index import (
    BLOCK_TEXT,
    ActivityBlock,
    ActivityIndex,
)
from connectors.csvfile import (
    SCORE_COLUMNS,
    CsvInputError,
    CsvLeadReader,
    normalise_encoding,
    output_encoding_for,
)
from connectors.lead_columns import ColumnarLeadReader, LeadColumnsBatch
from connectors.plain_csv import NotColumnar, pyarrow_available
from connectors.records import Lead
from connectors.scored_csv import (
    EXCEL_CELL_LIMIT,
    ScoredCsvWriter,
)
from scoring.config import ScoringModel
from scoring.explain import Explanation, explain
from scoring.frame import ActivityFrame, LeadColumn, LeadTable, RawText, normalised
from scoring.predictive import predict
from scoring.qualify import ScoredBatch, compile_model, score_batch
from scoring.reasons import reasons_within
from sync.plan import Result

BATCH_SIZE = 10_000
ACTIVITIES_PER_BATCH = 100_000  # a batch of leads with more is scored in parts


@dataclass
class ScoredCsvBatch:
    rows: Sequence[Sequence[str]]  # the input cells of each lead
    lead_at: Callable[[int], Lead]  # a lead as a record, built when asked for
    activities: int  # how many activities the scores counted in
    scored: ScoredBatch

    @cached_property
    def leads(self) -> list[Lead]:
        return [self.lead_at(index) for index in range(len(self.rows))]

    @cached_property
    def results(self) -> list[Result]:
        return Result.all_of(self.scored)


@dataclass
class CsvScoreReport:
    leads: int = 0
    activities: int = 0
    by_grade: dict[str, int] = field(default_factory=dict)
    by_stage: dict[str, int] = field(default_factory=dict)
    top: list[tuple[Lead, Result]] = field(default_factory=list)


class CsvScoringRun:
    """One pass over a leads CSV (and optionally its activities CSV) with one model."""

    def __init__(
        self,
        model: ScoringModel,
        leads: Path,
        activities: Path | None = None,
        encoding: str = "utf-8",
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.model = model
        self.compiled = compile_model(model)
        self.reader = CsvLeadReader(
            leads,
            columns=model.csv.columns,
            encoding=encoding,
            blank_values=model.csv.blank_values,
        )
        self.activities = activities
        self.encoding = encoding
        self.batch_size = batch_size
        self.read_by: CsvLeadReader | ColumnarLeadReader = self.reader

    def batches(self, now: datetime, columnar: bool = False) -> Iterator[ScoredCsvBatch]:
        """Scored batches of at most `batch_size` leads and `ACTIVITIES_PER_BATCH` activities
        (a batch of leads with many activities is scored in parts): memory stays flat in leads
        and in activities. `columnar`: leads read by pyarrow as columns, with no record per lead
        (`NotColumnar` when the file needs the row reader)."""
        if columnar:
            yield from self._columnar_batches(now)
            return
        self.read_by = self.reader
        source = self._activity_source()
        try:
            for number, batch in enumerate(self.reader.batches(self.batch_size)):
                if source is None:
                    yield self._scored(batch, None, now)
                    continue
                ids = [lead.id for _, lead in batch]
                first = number * self.batch_size
                for span, block in source.blocks(first, ids, ACTIVITIES_PER_BATCH):
                    yield self._scored(batch[span.start : span.stop], block, now)
        finally:
            if source:
                source.close()

    def _scored(
        self, part: list[tuple[list[str], Lead]], block: ActivityBlock | None, now: datetime
    ) -> ScoredCsvBatch:
        leads = [lead for _, lead in part]
        scored = score_batch(leads, activity_frame(block, now), self.compiled, now)
        return ScoredCsvBatch(
            rows=[row for row, _ in part],
            lead_at=leads.__getitem__,
            activities=len(block) if block else 0,
            scored=scored,
        )

    def _columnar_batches(self, now: datetime) -> Iterator[ScoredCsvBatch]:
        reader = ColumnarLeadReader(
            self.reader.path, self.model.csv.columns, self.encoding, self.model.csv.blank_values
        )
        ids = reader.lead_ids()
        spool = (
            ActivitySpool(
                self.activities,
                self.model.csv.activities,
                [ids],
                self.batch_size,
                self.encoding,
                self.model.csv.blank_values,
            )
            if self.activities is not None
            else None
        )
        self.read_by = reader
        try:
            for number, batch in enumerate(reader.batches(self.batch_size)):
                if spool is None:
                    yield self._scored_columns(batch, None, now)
                    continue
                first = number * self.batch_size
                for span, block in spool.blocks(first, batch.ids, ACTIVITIES_PER_BATCH):
                    yield self._scored_columns(batch.slice(span.start, span.stop), block, now)
        finally:
            if spool is not None:
                spool.close()

    def _scored_columns(
        self, part: LeadColumnsBatch, block: ActivityBlock | None, now: datetime
    ) -> ScoredCsvBatch:
        table = LeadTable(part.ids, LazyLeadColumns(part))
        scored = score_batch(table, activity_frame(block, now), self.compiled, now)
        header = self.read_by.header
        return ScoredCsvBatch(
            rows=part.rows(),
            lead_at=lambda index: self._lead_of(header, part.cells(index)),
            activities=len(block) if block else 0,
            scored=scored,
        )

    def _lead_of(self, header: list[str], cells: list[str]) -> Lead:
        try:
            return self.reader.lead_of(header, cells)
        except CsvInputError:
            raise NotColumnar("the row reader says where") from None

    def explain(self, lead_id: str, now: datetime) -> Explanation | None:
        """One lead's explanation, or None when the file has no such lead. Only that lead is
        scored, and its activities are looked up once."""
        for batch in self.reader.batches(self.batch_size):
            lead = next((lead for _, lead in batch if lead.id == lead_id), None)
            if lead is not None:
                index = self._activity_index()
                try:
                    activities = index.for_leads([lead.id]) if index else []
                finally:
                    if index:
                        index.close()
                return explain(lead, activities, self.compiled, now)
        return None

    def _activity_source(self) -> ActivitySpool | ActivityIndex | None:
        """The activities as columns by lead batch: read by pyarrow when it reads the file
        exactly as the row reader would, else row by row (which words every problem)."""
        if self.activities is None:
            return None
        if pyarrow_available():
            try:
                return ActivitySpool(
                    self.activities,
                    self.model.csv.activities,
                    self.reader.lead_ids(),
                    self.batch_size,
                    self.encoding,
                    self.model.csv.blank_values,
                )
            except (NotColumnar, CsvInputError):
                pass  # the row reader reads it, or reports the problem where it is
        return self._activity_index()

    def _activity_index(self) -> ActivityIndex | None:
        if self.activities is None:
            return None
        return ActivityIndex(
            self.activities,
            self.model.csv.activities,
            encoding=self.encoding,
            blank_values=self.model.csv.blank_values,
        )


class LazyLeadColumns(Mapping[str, LeadColumn]):
    """A batch's columns as scoring asks for them, each built once, when first read."""

    def __init__(self, batch: LeadColumnsBatch) -> None:
        self._batch = batch
        self._built: dict[str, LeadColumn] = {}

    def __getitem__(self, path: str) -> LeadColumn:
        if path not in self._built:
            column = self._column(path)
            if column is None:
                raise KeyError(path)
            self._built[path] = column
        return self._built[path]

    def _column(self, path: str) -> LeadColumn | None:
        if path in ("name", "company.id"):  # built by `Lead` from other fields
            raise NotColumnar(f"{path} is read from lead records")
        if path in self._batch.numbers:
            return self._batch.numbers[path]
        text = self._batch.text(path)
        if text is None and path == "kind":
            return RawText(np.zeros(len(self._batch), dtype=np.int32), ["lead"])
        return None if text is None else RawText(text.codes, text.values)

    def __iter__(self) -> Iterator[str]:
        return iter(self._batch.paths())

    def __len__(self) -> int:
        return len(self._batch.paths())


def activity_frame(block: ActivityBlock | None, now: datetime) -> ActivityFrame:
    """The columns the CSV spool gives, as scoring reads them (no activities: an empty frame)."""
    if block is None:
        return ActivityFrame.from_records([], {}, now.timestamp())
    columns = {name: normalised(block.codes[name], block.values[name]) for name in BLOCK_TEXT}
    return ActivityFrame(block.lead_index, block.occurred_at, columns, now.timestamp())


def score_csv(
    run: CsvScoringRun,
    output: Path,
    now: datetime,
    output_encoding: str | None = None,
    top: int = 10,
    formula_guard: bool = True,
) -> CsvScoreReport:
    """Write `output` with every input column plus leadq's; nothing is written on error.

    Leads are read as columns by pyarrow when it reads the files exactly as the row reader
    would; else (or when pyarrow is not installed) row by row: the same file either way, and
    every problem worded by the row reader with its line.
    Cells a spreadsheet would run as formulas are neutralised unless `formula_guard` is off
    (`connectors.scored_csv.formula_guarded`); reasons are cut to what a spreadsheet cell holds."""
    check_output(output, output_encoding)
    if pyarrow_available():
        try:
            return _written(run, output, now, output_encoding, top, formula_guard, columnar=True)
        except NotColumnar:
            pass  # the row reader reads it, or says where the problem is
    return _written(run, output, now, output_encoding, top, formula_guard, columnar=False)


def _written(
    run: CsvScoringRun,
    output: Path,
    now: datetime,
    output_encoding: str | None,
    top: int,
    formula_guard: bool,
    columnar: bool,
) -> CsvScoreReport:
    report = CsvScoreReport()
    writer: ScoredCsvWriter | None = None
    predictive = predictive_columns(run.model)
    try:
        for batch in run.batches(now, columnar):
            header = run.read_by.header
            if writer is None:
                encoding = output_encoding or output_encoding_for(run.encoding, run.read_by.had_bom)
                ours = {*SCORE_COLUMNS, *predictive}
                kept = [i for i, column in enumerate(header) if column not in ours]
                writer = ScoredCsvWriter(
                    output, [header[i] for i in kept], encoding, predictive, formula_guard
                )
            inputs = list(zip(*(_padded(row, len(header)) for row in batch.rows), strict=True))
            separator = run.model.output.reasons_separator
            results = result_columns(batch.scored, len(predictive), separator)
            writer.write_columns([*(inputs[i] for i in kept), *results])
            _tally(report, batch, top)
        if writer is None:
            raise CsvInputError(f"{run.reader.path.name}: no leads in the file")
        writer.commit()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return report


def check_output(output: Path, output_encoding: str | None) -> None:
    """Refuse, before reading anything, an output that cannot be written."""
    ScoredCsvWriter.check_target(output)
    if output_encoding is not None:
        try:
            normalise_encoding(output_encoding)
        except CsvInputError:
            raise CsvInputError(
                f"--output-encoding {output_encoding!r} is not an encoding; try utf-8 or utf-8-sig"
            ) from None


def _padded(row: Sequence[str], width: int) -> Sequence[str]:
    if len(row) == width:
        return row
    return [*row, *[""] * (width - len(row))] if len(row) < width else row[:width]


def result_cells(
    result: Result, predictive_columns: int = 0, separator: str = "; "
) -> list[object]:
    """leadq's output columns for one lead: `SCORE_COLUMNS`, then the learned probability's.
    Reasons lines are cut (on a reason boundary) to what a spreadsheet cell holds."""
    cells: list[object] = [
        result.score,
        result.fit,
        result.engagement,
        result.grade,
        result.label,
        result.priority,
        result.stage,
        reasons_within(result.reasons, EXCEL_CELL_LIMIT, separator),
        result.model_version,
    ]
    probability_reasons = reasons_within(
        result.probability_reasons or "", EXCEL_CELL_LIMIT, separator
    )
    return cells + [result.probability, probability_reasons][:predictive_columns]


def result_columns(
    scored: ScoredBatch, predictive_columns: int = 0, separator: str = "; "
) -> list[list[object]]:
    """`result_cells` of every lead of a batch, as columns."""
    reasons = scored.reasons_text.tolist()
    columns: list[list[object]] = [
        scored.score.tolist(),
        scored.fit.tolist(),
        scored.engagement.tolist(),
        [str(grade) for grade in scored.grade.tolist()],
        [str(label) for label in scored.label.tolist()],
        scored.priority.tolist(),
        [str(stage) for stage in scored.stage.tolist()],
        [reasons_within(str(line), EXCEL_CELL_LIMIT, separator) for line in reasons],
        [scored.compiled.version] * len(scored),
    ]
    model = scored.compiled.model
    if predictive_columns and model.predictive is not None:
        prediction = predict(scored, model.predictive, separator)
        probability = [round(float(p), 3) for p in prediction.probability.tolist()]
        why = [reasons_within(str(r), EXCEL_CELL_LIMIT, separator) for r in prediction.reasons_text]
        columns += [probability, why][:predictive_columns]
    return columns


def predictive_columns(model: ScoringModel) -> list[str]:
    """The learned probability's columns, when the model has one."""
    if model.predictive is None:
        return []
    return [c for c in (model.predictive.field, model.predictive.reasons_field) if c]


def _tally(report: CsvScoreReport, batch: ScoredCsvBatch, top: int) -> None:
    scored = batch.scored
    report.leads += len(batch.rows)
    report.activities += batch.activities
    for name, values in (("by_grade", scored.grade), ("by_stage", scored.stage)):
        counts = getattr(report, name)
        for value, count in zip(*np.unique(values.astype(str), return_counts=True), strict=True):
            counts[str(value)] = counts.get(str(value), 0) + int(count)
    best = np.lexsort((scored.priority, -scored.score))[:top].tolist()
    results = Result.some_of(scored, best)
    report.top.extend((batch.lead_at(i), result) for i, result in zip(best, results, strict=True))
    report.top.sort(key=lambda pair: (-pair[1].score, pair[1].priority))
    del report.top[top:]
