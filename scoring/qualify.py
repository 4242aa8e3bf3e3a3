"""Score a batch of leads: fit, grade, engagement, score, label, priority, stage and reasons.

`score_batch` is the one implementation; `score` is a batch of one. Both are pure: the caller
passes `now`, nothing here reads a clock, a file or the network.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import numpy as np
from pydantic import BaseModel, ConfigDict

from connectors.records import Activity, Lead
from scoring.conditions import ActivityTest, Evaluator, compile_condition, normalise_text
from scoring.config import (
    ScoringModel,
)
from scoring.disqualify import Disqualifier
from scoring.engagement import CountPoints, EngagementScorer
from scoring.fit import FitScorer
from scoring.frame import (
    ActivityFrame,
    LeadFrame,
    LeadTable,
    TextColumn,
    activity_field_kind,
    lead_field_kind,
)
from scoring.intent import hand_raise_condition
from scoring.model_types import (
    GRADES,
    HAND_RAISER,
)
from scoring.reasons import Reason, ReasonColumns, reasons_lines
from scoring.stage_reasons import stage_reasons

GRADE_LETTERS = np.array(GRADES, dtype=object)
GRADE_TEXTS = [normalise_text(grade) for grade in GRADES]
LABELS = np.array([f"{letter}{band}" for letter in "ABCD" for band in range(1, 5)], dtype=object)
LABEL_TEXTS = [normalise_text(label) for label in LABELS]


class Qualification(BaseModel):
    """Everything leadq concludes about one lead."""

    model_config = ConfigDict(frozen=True)

    lead_id: str
    fit: int
    grade: str
    engagement: int
    score: int
    label: str
    priority: int
    stage: str
    stage_rule: int | None  # index of the stage rule that matched; None = default stage
    hand_raiser: bool = False  # a hand-raise that qualifies on its own (demo or contact request)
    stage_reason: str = ""  # "MQL: Hand-raiser — demo request 3 days ago"; "" in the default stage
    disqualified: str | None = None  # the `disqualify:` rule's id that matched; never promoted
    bant: dict[str, bool]
    bant_count: int
    reasons: list[Reason]  # every contribution, largest first; caps included
    reasons_text: str  # the top reasons as one line, as written to the CRM
    model_version: str


class CompiledModel:
    """A scoring model turned into array operations, built once and reused for every batch."""

    def __init__(self, model: ScoringModel) -> None:
        self.model = model
        self.version = model.version
        self.fit = FitScorer(model)
        self.engagement = EngagementScorer(model)
        self.stages: list[Evaluator] = [
            compile_condition(rule.when, lead_field_kind) for rule in model.stages
        ]
        self.stage_names = np.array([rule.stage for rule in model.stages], dtype=object)
        self.disqualifier = Disqualifier(model.disqualify)
        self.reason_columns = ReasonColumns.for_model(model, self.engagement.group_caps)
        self._where_cache: dict[int, Evaluator | None] = {}
        bands = model.qualification.engagement_bands
        self._bands = np.array(bands, dtype=np.float64)
        hand_raise = hand_raise_condition(model)
        self.hand_raise: Evaluator | None = (
            compile_condition(hand_raise, lead_field_kind) if hand_raise is not None else None
        )
        self._priorities = _priority_table(model, after_hand_raisers=hand_raise is not None)

    def where_of(self, test: ActivityTest) -> Evaluator | None:
        key = id(test)
        if key not in self._where_cache:
            self._where_cache[key] = (
                compile_condition(test.where, activity_field_kind) if test.where else None
            )
        return self._where_cache[key]

    def engagement_band(self, engagement: np.ndarray) -> np.ndarray:
        """1 for the most engaged … 4 for the least."""
        reached = engagement[:, None] >= self._bands[None, :]
        return np.where(reached.any(axis=1), reached.argmax(axis=1), len(self._bands)) + 1

    def priority(
        self, letter_index: np.ndarray, band: np.ndarray, hand_raiser: np.ndarray
    ) -> np.ndarray:
        """The label's priority; hand-raisers first unless the model's priorities say otherwise."""
        by_label = self._priorities[letter_index, band - 1]
        first = self.model.qualification.hand_raiser_priority
        return np.where(hand_raiser, np.minimum(by_label, first), by_label)

    def hand_raisers(self, frame: LeadFrame) -> np.ndarray:
        if self.hand_raise is None:
            return np.zeros(frame.size, dtype=bool)
        return np.asarray(self.hand_raise(frame), dtype=bool)


def _priority_table(model: ScoringModel, after_hand_raisers: bool) -> np.ndarray:
    """Priority per label: letter rank + band (A1 → 1 … D4 → 7), one later when the model has
    hand-raisers, who come first; the labels the model lists keep their numbers."""
    table = np.add.outer(np.arange(4), np.arange(4)) + 1
    if after_hand_raisers:
        table += model.qualification.hand_raiser_priority
    for label, priority in model.qualification.priorities.items():
        if label != HAND_RAISER:
            table["ABCD".index(label[0]), int(label[1]) - 1] = priority
    return table


_compiled: dict[int, tuple[ScoringModel, CompiledModel]] = {}


def compile_model(model: ScoringModel) -> CompiledModel:
    cached = _compiled.get(id(model))
    if cached is None or cached[0] is not model:
        cached = (model, CompiledModel(model))
        _compiled[id(model)] = cached
    return cached[1]


@dataclass
class ScoredBatch:
    """The results of one batch, as columns; `qualification(i)` gives one lead's record."""

    lead_ids: list[str]
    fit: np.ndarray
    grade: np.ndarray
    engagement: np.ndarray
    score: np.ndarray
    label: np.ndarray
    priority: np.ndarray
    stage: np.ndarray
    stage_rule: np.ndarray
    stage_reason: np.ndarray  # why each lead is in its stage; first in the reasons line
    disqualified: np.ndarray  # index of the `disqualify:` rule that matched; -1: none
    hand_raiser: np.ndarray
    bant_met: dict[str, np.ndarray]
    bant_count: np.ndarray
    contributions: np.ndarray  # (leads, reason columns)
    compiled: CompiledModel
    counts: dict[int, CountPoints] = field(default_factory=dict)  # by reason column: counted

    def __len__(self) -> int:
        return len(self.lead_ids)

    @cached_property
    def reasons_text(self) -> np.ndarray:
        """The line written to the CRM: why the lead is in its stage, then its top rules."""
        output = self.compiled.model.output
        rules = reasons_lines(
            self.contributions,
            self.compiled.reason_columns,
            output.reasons_top,
            output.reasons_separator,
            self.counts,
        )
        both = (self.stage_reason != "") & (rules != "")
        joined = np.where(both, self.stage_reason + output.reasons_separator, self.stage_reason)
        return (joined + rules).astype(object)

    def qualification(self, index: int) -> Qualification:
        return Qualification(
            lead_id=self.lead_ids[index],
            fit=int(self.fit[index]),
            grade=str(self.grade[index]),
            engagement=int(self.engagement[index]),
            score=int(self.score[index]),
            label=str(self.label[index]),
            priority=int(self.priority[index]),
            stage=str(self.stage[index]),
            stage_rule=None if self.stage_rule[index] < 0 else int(self.stage_rule[index]),
            hand_raiser=bool(self.hand_raiser[index]),
            stage_reason=str(self.stage_reason[index]),
            disqualified=self.disqualified_by(index),
            bant={name: bool(values[index]) for name, values in self.bant_met.items()},
            bant_count=int(self.bant_count[index]),
            reasons=self.compiled.reason_columns.reasons(
                self.contributions[index],
                {column: float(found.count[index]) for column, found in self.counts.items()},
            ),
            reasons_text=str(self.reasons_text[index]),
            model_version=self.compiled.version,
        )

    def disqualified_by(self, index: int) -> str | None:
        """The id of the `disqualify:` rule the lead at `index` matched, if any."""
        rule = int(self.disqualified[index])
        return self.compiled.model.disqualify[rule].id if rule >= 0 else None

    def __iter__(self):
        return (self.qualification(i) for i in range(len(self)))


def score_batch(
    leads: Sequence[Lead] | LeadTable,
    activities: Iterable[Activity] | ActivityFrame,
    model: ScoringModel | CompiledModel,
    now: datetime,
) -> ScoredBatch:
    """Score many leads at once, given as records or as columns (a `LeadTable`). Activities
    after `now` are ignored (they have not happened)."""
    compiled = model if isinstance(model, CompiledModel) else compile_model(model)
    epoch_now = now.timestamp()
    if not isinstance(activities, ActivityFrame):
        ids = leads.ids if isinstance(leads, LeadTable) else [lead.id for lead in leads]
        position = {lead_id: index for index, lead_id in enumerate(ids)}
        activities = ActivityFrame.from_records(activities, position, epoch_now)
    activities.now = epoch_now
    frame = LeadFrame(leads, activities, epoch_now, compiled.where_of)
    return score_frame(frame, compiled)


def score(
    lead: Lead, activities: Iterable[Activity], model: ScoringModel | CompiledModel, now: datetime
) -> Qualification:
    """Score one lead: the same computation as a batch of one."""
    return score_batch([lead], activities, model, now).qualification(0)


def score_frame(frame: LeadFrame, compiled: CompiledModel) -> ScoredBatch:
    model = compiled.model
    bant = compiled.fit.bant(frame)
    fit_points = compiled.fit.contributions(frame)
    engagement = compiled.engagement.scored(frame)
    engagement_points = engagement.contributions
    fit_total, fit_clamp = _clamped(fit_points.sum(axis=1), model.fit.max)
    engagement_total, engagement_clamp = _clamped(
        engagement_points.sum(axis=1), model.engagement.max
    )
    grade_index = compiled.fit.grade_index(fit_total)
    grade = GRADE_LETTERS[grade_index]
    letter_index = np.minimum(grade_index, 3)  # F leads sit in row D
    band = compiled.engagement_band(engagement_total)
    label_code = letter_index * 4 + band - 1
    label = LABELS[label_code]
    disqualified = compiled.disqualifier.matches(frame)
    out = disqualified >= 0  # never promoted, never called first, whatever they score
    hand_raiser = compiled.hand_raisers(frame) & ~out
    priority = compiled.priority(letter_index, band, hand_raiser)
    weights = model.score
    combined = (
        (
            weights.fit_weight * fit_total / model.fit.max
            + weights.engagement_weight * engagement_total / model.engagement.max
        )
        * 100
        / (weights.fit_weight + weights.engagement_weight)
    )
    combined = np.rint(combined).astype(np.int64)
    for name, values in (
        ("fit", fit_total),
        ("engagement", engagement_total),
        ("score", combined),
        ("priority", priority),
    ):
        frame.set_computed(name, values)
    frame.set_computed("grade", grade, TextColumn(grade_index, GRADE_TEXTS))
    frame.set_computed("label", label, TextColumn(label_code, LABEL_TEXTS))
    stage, stage_rule = _stages(frame, compiled)
    stage_reason = stage_reasons(frame, model.stages, model.default_stage, stage_rule)
    if out.any():
        stage[out] = model.default_stage
        stage_rule[out] = -1
        why = compiled.disqualifier.reasons(frame, disqualified)
        stage_reason = np.where(out, why, stage_reason)
    contributions = np.hstack(
        [fit_points, fit_clamp[:, None], engagement_points, engagement_clamp[:, None]]
    )
    return ScoredBatch(
        lead_ids=frame.ids,
        fit=fit_total,
        grade=grade,
        engagement=engagement_total,
        score=combined,
        label=label,
        priority=priority,
        stage=stage,
        stage_rule=stage_rule,
        stage_reason=stage_reason,
        disqualified=disqualified,
        hand_raiser=hand_raiser,
        bant_met=bant.met,
        bant_count=bant.count,
        contributions=contributions,
        compiled=compiled,
        counts={
            fit_points.shape[1] + 1 + column: counted  # after the fit rules and the fit clamp
            for column, counted in engagement.counts.items()
        },
    )


def _clamped(total: np.ndarray, maximum: float) -> tuple[np.ndarray, np.ndarray]:
    """Whole points in [0, maximum], and the adjustment that clamping made."""
    clamped = np.clip(total, 0, maximum)
    return np.rint(clamped).astype(np.int64), clamped - total


def _stages(frame: LeadFrame, compiled: CompiledModel) -> tuple[np.ndarray, np.ndarray]:
    """The first stage rule that matches wins; leads no rule matches keep the default stage."""
    stage = np.full(frame.size, compiled.model.default_stage, dtype=object)
    matched = np.full(frame.size, -1, dtype=np.int64)
    for index in range(len(compiled.stages) - 1, -1, -1):
        hit = compiled.stages[index](frame)
        stage[hit] = compiled.stage_names[index]
        matched[hit] = index
    return stage, matched
