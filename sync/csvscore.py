"""Score a CSV export end to end: stream leads, fetch their activities, score, write."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from connectors.activity_columns import ActivitySpool
from connectors.csvfile import (
    BLOCK_TEXT,
    EXCEL_CELL_LIMIT,
    SCORE_COLUMNS,
    ActivityBlock,
    ActivityIndex,
    CsvInputError,
    CsvLeadReader,
    ScoredCsvWriter,
    normalise_encoding,
    output_encoding_for,
)
from connectors.plain_csv import NotColumnar, pyarrow_available
from connectors.records import Lead
from scoring.config import ScoringModel
from scoring.explain import Explanation, explain
from scoring.frame import ActivityFrame, normalised
from scoring.qualify import ScoredBatch, compile_model, score_batch
from scoring.reasons import reasons_within
from sync.plan import Result

BATCH_SIZE = 10_000
ACTIVITIES_PER_BATCH = 100_000  # a batch of leads with more is scored in parts


@dataclass
class ScoredCsvBatch:
    rows: list[list[str]]
    leads: list[Lead]
    activities: int  # how many activities the scores counted in
    scored: ScoredBatch
    results: list[Result]


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
        self.reader = CsvLeadReader(leads, columns=model.csv.columns, encoding=encoding)
        self.activities = activities
        self.encoding = encoding
        self.batch_size = batch_size

    def batches(self, now: datetime) -> Iterator[ScoredCsvBatch]:
        """Scored batches of at most `batch_size` leads and `ACTIVITIES_PER_BATCH` activities
        (a batch of leads with many activities is scored in parts), read as columns: memory
        stays flat in leads and in activities."""
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
            leads=leads,
            activities=len(block) if block else 0,
            scored=scored,
            results=Result.all_of(scored),
        )

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
                )
            except (NotColumnar, CsvInputError):
                pass  # the row reader reads it, or reports the problem where it is
        return self._activity_index()

    def _activity_index(self) -> ActivityIndex | None:
        if self.activities is None:
            return None
        return ActivityIndex(self.activities, self.model.csv.activities, encoding=self.encoding)


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

    Cells a spreadsheet would run as formulas are neutralised unless `formula_guard` is off
    (`connectors.csvfile.formula_guarded`); reasons are cut to what a spreadsheet cell holds."""
    check_output(output, output_encoding)
    report = CsvScoreReport()
    writer: ScoredCsvWriter | None = None
    separator = run.model.output.reasons_separator
    try:
        for batch in run.batches(now):
            if writer is None:
                encoding = output_encoding or output_encoding_for(run.encoding, run.reader.had_bom)
                ours = {*SCORE_COLUMNS, *predictive_columns(run.model)}
                kept = [i for i, column in enumerate(run.reader.header) if column not in ours]
                writer = ScoredCsvWriter(
                    output,
                    [run.reader.header[i] for i in kept],
                    encoding,
                    predictive_columns(run.model),
                    formula_guard,
                )
            width = len(run.reader.header)
            columns = len(predictive_columns(run.model))
            writer.write(
                [*_kept(_padded(row, width), kept), *result_cells(result, columns, separator)]
                for row, result in zip(batch.rows, batch.results, strict=True)
            )
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


def _kept(row: list[str], kept: list[int]) -> list[str]:
    """The input columns that stay: a file scored before has its old leadq columns replaced."""
    return [row[i] for i in kept]


def _padded(row: list[str], width: int) -> list[str]:
    return row + [""] * (width - len(row)) if len(row) < width else row[:width]


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


def predictive_columns(model: ScoringModel) -> list[str]:
    """The learned probability's columns, when the model has one."""
    if model.predictive is None:
        return []
    return [c for c in (model.predictive.field, model.predictive.reasons_field) if c]


def _tally(report: CsvScoreReport, batch: ScoredCsvBatch, top: int) -> None:
    scored = batch.scored
    report.leads += len(batch.leads)
    report.activities += batch.activities
    for name, values in (("by_grade", scored.grade), ("by_stage", scored.stage)):
        counts = getattr(report, name)
        for value, count in zip(*np.unique(values.astype(str), return_counts=True), strict=True):
            counts[str(value)] = counts.get(str(value), 0) + int(count)
    best = np.lexsort((scored.priority, -scored.score))[:top]
    report.top.extend((batch.leads[i], batch.results[i]) for i in best.tolist())
    report.top.sort(key=lambda pair: (-pair[1].score, pair[1].priority))
    del report.top[top:]
