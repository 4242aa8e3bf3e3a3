"""Backtest: how well does a scoring model predict the conversions that really happened?

Every lead is scored **as of a cut-off before its outcome**: a lead whose outcome has a time is
scored with only the activities that happened strictly before it; a lead without one is scored as
of the end of the data (`now`). Nothing that happened after the outcome leaks into its score.
Cut-offs are grouped by whole days (rounded up, after the later activities are removed), so a
backtest costs one scoring pass per day of history rather than one per lead; decay and
`within_days` windows then see each lead at most a day later than its exact cut-off.

The figures (computed by `scoring.conversion_measures`): ROC AUC; precision, recall and volume at
every candidate MQL threshold; conversion rate and lift by grade, label and score decile;
calibration of the score bands; what the stage rules pass to sales; the gains (lift) curve and
the score distribution by outcome. An optional time-ordered split measures only the most recent
leads.

Pure: numpy and the scoring core; no I/O, no clock (the caller passes `now`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from connectors.records import Activity, Lead, Outcome
from scoring.conditions import ActivityTest, Evaluator
from scoring.config import (
    ScoringModel,
)
from scoring.conversion_measures import (
    SCORE_BANDS,
    Segment,
    StagePass,
    ThresholdRow,
    band_name,
    bands_out_of_order,
    gains_curve,
    roc_auc,
    score_bands,
    score_deciles,
    score_distribution,
    segments,
    stage_passes,
    threshold_table,
)
from scoring.frame import (
    ACTIVITY_DETAILS,
    SCORE_FIELD_KINDS,
    ActivityFrame,
    LeadFrame,
    TextColumn,
    to_number,
)
from scoring.model_types import (
    GRADES,
)
from scoring.predictive import predict
from scoring.qualify import CompiledModel, ScoredBatch, compile_model, score_frame

SECONDS_PER_DAY = 86400.0


# --------------------------------------------------------------------------- labelled leads


class SharedLeadFrame(LeadFrame):
    """A batch of leads whose field columns come from `SharedLeadColumns`, read once for every pass.

    Backtest and learn score the same leads many times (per cut-off day, per fold, per model);
    reading each field out of the records once, for all leads, keeps every pass pure numpy.
    """

    def __init__(
        self,
        shared: SharedLeadColumns,
        rows: np.ndarray,
        activities: ActivityFrame,
        now: float,
        compile_where: Callable[[ActivityTest], Evaluator | None],
    ) -> None:
        super().__init__([shared.leads[i] for i in rows.tolist()], activities, now, compile_where)
        self._shared = shared.columns
        self._rows = rows
        self._texts: dict[str, TextColumn] = {}

    def text(self, path: str) -> TextColumn:
        if path in SCORE_FIELD_KINDS:  # computed by this pass: fit, grade, bant.count, …
            return super().text(path)
        if path not in self._texts:
            self._texts[path] = self._only_values_present(self._shared.text(path))
        return self._texts[path]

    def _only_values_present(self, column: TextColumn) -> TextColumn:
        """The shared column for these rows, listing only the values they hold: conditions
        test each distinct value once, so a batch must not carry every value of every lead."""
        used, local = np.unique(column.codes[self._rows], return_inverse=True)
        return TextColumn(local.astype(np.int32).ravel(), [column.distinct[i] for i in used])

    def number(self, path: str) -> np.ndarray:
        if path in SCORE_FIELD_KINDS:
            return super().number(path)
        return self._shared.number(path)[self._rows]

    def time(self, path: str) -> np.ndarray:
        if path in SCORE_FIELD_KINDS:
            return super().time(path)
        return self._shared.time(path)[self._rows]


class ParsedOnceLeadFrame(LeadFrame):
    """Shared lead columns: numbers parsed once per distinct value rather than per lead."""

    def __init__(self, leads: list[Lead]) -> None:
        nothing = ActivityFrame.from_records([], {}, 0.0)
        super().__init__(leads, nothing, 0.0, lambda test: None)
        self._parsed: dict[str, np.ndarray] = {}

    def number(self, path: str) -> np.ndarray:
        if path not in self._parsed:
            codes, distinct = self.text(path)
            per_value = np.array([to_number(value) for value in distinct], dtype=np.float64)
            self._parsed[path] = per_value[codes] if len(distinct) else np.full(self.size, np.nan)
        return self._parsed[path]


@dataclass(frozen=True)
class SharedLeadColumns:
    """Every lead and every activity before its lead's cut-off, as columns built once and
    shared by every subset and scoring pass (cut-off days, folds, models)."""

    leads: list[Lead]
    columns: LeadFrame  # typed lead columns, each built once on first use
    activities: ActivityFrame  # lead_index: position in `leads`

    @classmethod
    def build(cls, leads: list[Lead], activities: list[Activity]) -> SharedLeadColumns:
        position = {lead.id: index for index, lead in enumerate(leads)}
        return cls(
            leads=leads,
            columns=ParsedOnceLeadFrame(leads),
            activities=ActivityFrame.from_records(activities, position, 0.0),
        )

    def activities_of(self, rows: np.ndarray, now: float) -> ActivityFrame:
        """The activities of the leads at `rows`, their lead_index local to `rows`."""
        local = np.full(len(self.leads), -1, dtype=np.int64)
        local[rows] = np.arange(len(rows))
        mine = np.flatnonzero(local[self.activities.lead_index] >= 0)
        columns = {
            name: self.activities.text(name).take(mine) for name in ("type", *ACTIVITY_DETAILS)
        }
        return ActivityFrame(
            lead_index=local[self.activities.lead_index[mine]],
            occurred_at=self.activities.occurred_at[mine],
            columns=columns,
            now=now,
        )


@dataclass(frozen=True)
class LabelledLeads:
    """Leads with their outcomes, each lead cut off before its outcome.

    Only activities before a lead's cut-off are kept. `rows` are the leads' positions in the
    `shared` columns, so subsets (folds, time splits) share the columns already read.
    """

    shared: SharedLeadColumns
    rows: np.ndarray
    converted: np.ndarray  # bool per lead
    cutoff: np.ndarray  # epoch seconds per lead: the moment it is scored as of
    has_outcome_time: np.ndarray  # bool per lead: cut off at its outcome, not at `now`
    order: np.ndarray  # time-ordering key per lead (created_at, else position in the source)
    ordered_by: str  # "created_at" or "source order"
    now: datetime

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def leads(self) -> list[Lead]:
        return [self.shared.leads[i] for i in self.rows.tolist()]

    @property
    def converted_count(self) -> int:
        return int(self.converted.sum())

    @property
    def base_rate(self) -> float:
        return float(self.converted.mean()) if len(self) else 0.0

    def subset(self, rows: np.ndarray) -> LabelledLeads:
        rows = np.asarray(rows, dtype=np.int64)
        return replace(
            self,
            rows=self.rows[rows],
            converted=self.converted[rows],
            cutoff=self.cutoff[rows],
            has_outcome_time=self.has_outcome_time[rows],
            order=self.order[rows],
        )

    def activities(self, now: float = 0.0) -> ActivityFrame:
        return self.shared.activities_of(self.rows, now)


def labelled_from_records(
    leads: Iterable[Lead],
    activities: Iterable[Activity],
    outcomes: Iterable[Outcome],
    now: datetime,
) -> LabelledLeads:
    """Join a connector's leads, activities and Outcome stream. A lead without an outcome
    record has not converted (yet) and is scored as of `now`."""
    lead_list = list(leads)
    by_id = {outcome.lead_id: outcome for outcome in outcomes}
    converted = np.array(
        [bool(by_id[lead.id].converted) if lead.id in by_id else False for lead in lead_list],
        dtype=bool,
    )
    outcome_at = np.array(
        [_epoch(by_id[lead.id].at) if lead.id in by_id else math.nan for lead in lead_list],
        dtype=np.float64,
    )
    return cut_off_before_outcomes(lead_list, activities, converted, outcome_at, now)


def cut_off_before_outcomes(
    leads: list[Lead],
    activities: Iterable[Activity],
    converted: np.ndarray,
    outcome_at: np.ndarray,
    now: datetime,
) -> LabelledLeads:
    """Keep, for each lead, only the activities strictly before its outcome (or by `now`)."""
    end = now.timestamp()
    has_time = ~np.isnan(outcome_at)
    cutoff = np.where(has_time, np.minimum(np.nan_to_num(outcome_at, nan=end), end), end)
    position = {lead.id: index for index, lead in enumerate(leads)}
    kept = []
    for activity in activities:
        index = position.get(activity.lead_id)
        if index is None:
            continue
        moment = activity.occurred_at.timestamp()
        if moment < cutoff[index] if has_time[index] else moment <= end:
            kept.append(activity)
    order, ordered_by = _time_order(leads)
    return LabelledLeads(
        shared=SharedLeadColumns.build(leads, kept),
        rows=np.arange(len(leads), dtype=np.int64),
        converted=np.asarray(converted, dtype=bool),
        cutoff=cutoff,
        has_outcome_time=has_time,
        order=order,
        ordered_by=ordered_by,
        now=now,
    )


def _epoch(moment: datetime | None) -> float:
    return math.nan if moment is None else moment.timestamp()


def _time_order(leads: Sequence[Lead]) -> tuple[np.ndarray, str]:
    created = np.array([_epoch(lead.created_at) for lead in leads], dtype=np.float64)
    if len(leads) and not np.isnan(created).any():
        return created, "created_at"
    return np.arange(len(leads), dtype=np.float64), "source order"


# --------------------------------------------------------------------------- splits


def time_ordered_split(labelled: LabelledLeads, test_share: float) -> tuple[np.ndarray, np.ndarray]:
    """(earlier rows, latest rows): the last `test_share` of leads in time order."""
    if not 0 < test_share < 1:
        raise ValueError("the test share must be between 0 and 1, e.g. 0.2")
    order = np.argsort(labelled.order, kind="stable")
    first_test = round(len(order) * (1 - test_share))
    return np.sort(order[:first_test]), np.sort(order[first_test:])


def split_text(labelled: LabelledLeads, test_share: float, measured: int) -> str:
    return (
        f"latest {test_share:.0%} of leads by {labelled.ordered_by}: "
        f"{measured:,} of {len(labelled):,}"
    )


def stratified_folds(
    converted: np.ndarray, folds: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, test rows) per fold; each fold holds its share of conversions."""
    rng = np.random.default_rng(seed)
    assignment = np.empty(len(converted), dtype=np.int64)
    for outcome in (True, False):
        rows = np.flatnonzero(converted == outcome)
        rng.shuffle(rows)
        assignment[rows] = np.arange(len(rows)) % folds
    return [
        (np.flatnonzero(assignment != fold), np.flatnonzero(assignment == fold))
        for fold in range(folds)
    ]


# --------------------------------------------------------------------------- scoring as of cut-offs


@dataclass(frozen=True)
class ScoredLeads:
    """A model's results for every labelled lead, each scored as of its cut-off."""

    score: np.ndarray
    fit: np.ndarray
    engagement: np.ndarray
    grade: np.ndarray
    label: np.ndarray
    stage: np.ndarray
    stage_rule: np.ndarray
    contributions: np.ndarray  # (leads, reason columns), as ScoredBatch.contributions
    probability: np.ndarray | None  # when the model has a predictive section


def score_as_of_cutoffs(labelled: LabelledLeads, model: ScoringModel) -> ScoredLeads:
    compiled = compile_model(model)
    size = len(labelled)
    width = len(compiled.reason_columns.columns)
    columns: dict[str, np.ndarray] = {
        "score": np.zeros(size),
        "fit": np.zeros(size),
        "engagement": np.zeros(size),
        "grade": np.empty(size, dtype=object),
        "label": np.empty(size, dtype=object),
        "stage": np.empty(size, dtype=object),
        "stage_rule": np.full(size, -1, dtype=np.int64),
    }
    contributions = np.zeros((size, width))
    probability = np.zeros(size) if model.predictive else None
    for moment, rows in _cutoff_groups(labelled):
        scored = _score_group(labelled, labelled.rows[rows], moment, compiled)
        for name, values in columns.items():
            values[rows] = getattr(scored, name)
        contributions[rows] = scored.contributions
        if probability is not None and model.predictive is not None:
            probability[rows] = predict(scored, model.predictive).probability
    return ScoredLeads(**columns, contributions=contributions, probability=probability)


def _score_group(
    labelled: LabelledLeads, shared_rows: np.ndarray, moment: float, compiled: CompiledModel
) -> ScoredBatch:
    """score_batch for the leads at `shared_rows`, as of `moment`, from the shared columns."""
    activities = labelled.shared.activities_of(shared_rows, moment)
    frame = SharedLeadFrame(labelled.shared, shared_rows, activities, moment, compiled.where_of)
    return score_frame(frame, compiled)


def _cutoff_groups(labelled: LabelledLeads) -> list[tuple[float, np.ndarray]]:
    end = labelled.now.timestamp()
    whole_days = np.ceil(labelled.cutoff / SECONDS_PER_DAY) * SECONDS_PER_DAY
    moment = np.where(labelled.has_outcome_time, np.minimum(whole_days, end), end)
    distinct, inverse = np.unique(moment, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(distinct) + 1))
    return [(float(value), order[bounds[i] : bounds[i + 1]]) for i, value in enumerate(distinct)]


# --------------------------------------------------------------------------- the backtest


@dataclass(frozen=True)
class BacktestResult:
    model_name: str
    model_version: str
    leads: int
    converted: int
    base_rate: float
    auc: float
    probability_auc: float | None
    thresholds: list[ThresholdRow]
    by_grade: list[Segment]
    by_label: list[Segment]
    by_decile: list[Segment]
    by_band: list[Segment]
    bands_out_of_order: list[str]
    stages: list[StagePass]
    gains: list[tuple[float, float]]
    distribution: list[tuple[int, float, float]]
    cutoffs: str  # how leads were cut off, in words
    split: str | None  # the time-ordered split, in words, when one was used
    notes: list[str] = field(default_factory=list)

    @property
    def top_decile_lift(self) -> float:
        return self.by_decile[0].lift if self.by_decile else 0.0

    @property
    def passed_to_sales(self) -> StagePass | None:
        """Everything the stage rules moved out of the default stage, as one line."""
        passed = [p for p in self.stages if p.rule != "no rule matched"]
        if not passed:
            return None
        leads = sum(p.leads for p in passed)
        hits = sum(p.converted for p in passed)
        return StagePass(
            stage=", ".join(sorted({p.stage for p in passed})),
            rule="any stage rule",
            leads=leads,
            converted=hits,
            rate=hits / leads,
            share_of_conversions=hits / self.converted if self.converted else 0.0,
        )


def run_backtest(
    labelled: LabelledLeads,
    model: ScoringModel,
    test_share: float | None = None,
    notes: Sequence[str] = (),
) -> BacktestResult:
    """Score every lead as of its cut-off and measure. With `test_share`, measure only the
    latest share of leads in time order (a time-ordered split)."""
    split = None
    if test_share is not None:
        _, latest = time_ordered_split(labelled, test_share)
        split = split_text(labelled, test_share, len(latest))
        labelled = labelled.subset(latest)
    scored = score_as_of_cutoffs(labelled, model)
    return measure(labelled, scored, model, split=split, notes=notes)


def measure(
    labelled: LabelledLeads,
    scored: ScoredLeads,
    model: ScoringModel,
    split: str | None = None,
    notes: Sequence[str] = (),
) -> BacktestResult:
    converted, score = labelled.converted, scored.score.astype(np.float64)
    bands = segments(
        converted, score_bands(score), [band_name(b) for b in SCORE_BANDS], scored.probability
    )
    return BacktestResult(
        model_name=model.name,
        model_version=model.version,
        leads=len(labelled),
        converted=labelled.converted_count,
        base_rate=labelled.base_rate,
        auc=roc_auc(converted, score),
        probability_auc=(
            roc_auc(converted, scored.probability) if scored.probability is not None else None
        ),
        thresholds=threshold_table(converted, score),
        by_grade=segments(converted, scored.grade, GRADES),
        by_label=segments(
            converted, scored.label, [f"{g}{b}" for g in "ABCD" for b in range(1, 5)]
        ),
        by_decile=segments(converted, score_deciles(score), [str(d) for d in range(1, 11)]),
        by_band=bands,
        bands_out_of_order=bands_out_of_order(bands),
        stages=stage_passes(converted, scored.stage, scored.stage_rule, model),
        gains=gains_curve(converted, score),
        distribution=score_distribution(converted, score),
        cutoffs=describe_cutoffs(labelled),
        split=split,
        notes=list(notes),
    )


def describe_cutoffs(labelled: LabelledLeads) -> str:
    timed = int(labelled.has_outcome_time.sum())
    end = f"{labelled.now:%Y-%m-%d %H:%M} UTC"
    if timed == 0:
        return f"every lead scored as of {end} (no outcome times)"
    return (
        f"{timed:,} leads scored as of their outcome (activities before it only), "
        f"{len(labelled) - timed:,} as of {end}"
    )
