"""`leadq preview`: what a model would do to the live CRM before it goes live — scored without
writing anything.

A preview is a full dry run that keeps only totals: the grade, label and stage distribution, how
many leads would become qualified now, how many the model would have qualified in each of the last
four weeks (the same leads and activities scored as of each week's end, leads created later left
out), who would get them under the routing rules, and the rules that give the most points.
Memory stays flat in the number of leads: one batch at a time, counters only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from connectors.records import Lead
from scoring.config import ScoringModel
from scoring.frame import LeadFrame
from scoring.qualify import CompiledModel, ScoredBatch, score_frame
from sync.engine import Assignment, RunReport

WEEKS = 4
WEEK = timedelta(days=7)


@dataclass
class RuleTotal:
    label: str
    kind: str
    points: float = 0.0
    leads: int = 0


@dataclass
class Preview:
    """The totals of a preview run."""

    model_name: str
    model_version: str
    now: datetime
    qualified_stages: tuple[str, ...]
    leads: int = 0
    grades: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    stages: Counter[str] = field(default_factory=Counter)
    qualified_now: int = 0  # scored into a qualified stage, whatever the CRM shows
    newly_qualified: int = 0  # … and not in a qualified stage in the CRM yet
    weekly: list[int] = field(default_factory=lambda: [0] * WEEKS)  # newest week first
    owners: Counter[str] = field(default_factory=Counter)
    unassigned: int = 0
    rules: dict[str, RuleTotal] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def per_week(self) -> float:
        return sum(self.weekly) / WEEKS

    def top_rules(self, count: int = 10) -> list[RuleTotal]:
        return sorted(self.rules.values(), key=lambda rule: -abs(rule.points))[:count]

    def finish(self, report: RunReport) -> Preview:
        """Add what the dry run's report knows: requests, time (and, from the owners counted
        as assigned, how many new MQLs no owner would get)."""
        self.unassigned = max(0, self.newly_qualified - sum(self.owners.values()))
        self.requests = dict(report.requests)
        self.seconds = report.seconds
        return self


class PreviewCollector:
    """Watches each scored batch of a dry run and keeps the totals."""

    def __init__(
        self,
        model: ScoringModel,
        compiled: CompiledModel,
        shown_stage: Callable[[Lead], str | None],
        now: datetime,
    ) -> None:
        qualified = model.routing.assign_stages if model.routing else ["mql"]
        self.compiled = compiled
        self.shown_stage = shown_stage
        self.preview = Preview(model.name, compiled.version, now, tuple(qualified))

    def __call__(self, leads: Sequence[Lead], frame: LeadFrame, scored: ScoredBatch) -> None:
        preview = self.preview
        preview.leads += len(leads)
        preview.grades.update(scored.grade.tolist())
        preview.labels.update(scored.label.tolist())
        preview.stages.update(scored.stage.tolist())
        qualified = self._qualified(scored.stage)
        shown = np.array([self.shown_stage(lead) in preview.qualified_stages for lead in leads])
        preview.qualified_now += int(qualified.sum())
        preview.newly_qualified += int((qualified & ~shown).sum())
        self._count_weeks(leads, frame, qualified)
        self._count_rules(scored)

    def assigned(self, assignments: Sequence[Assignment]) -> None:
        """Count who would get the new MQLs, as the run assigns them."""
        self.preview.owners.update(assignment.owner_name for assignment in assignments)

    def _qualified(self, stages: np.ndarray) -> np.ndarray:
        return np.isin(stages.astype(str), self.preview.qualified_stages)

    def _count_weeks(
        self, leads: Sequence[Lead], frame: LeadFrame, now_qualified: np.ndarray
    ) -> None:
        """Leads the model qualifies in each of the last weeks: qualified at the week's end and
        not at its start (scored as of then, from the activities that had happened)."""
        created = np.array(
            [lead.created_at.timestamp() if lead.created_at else -np.inf for lead in leads]
        )
        later = now_qualified
        for week in range(WEEKS):
            moment = frame.now - (week + 1) * WEEK.total_seconds()
            earlier = self._qualified(self._stages_as_of(frame, moment)) & (created <= moment)
            self.preview.weekly[week] += int((later & ~earlier).sum())
            later = earlier

    def _stages_as_of(self, frame: LeadFrame, moment: float) -> np.ndarray:
        return score_frame(frame.as_of(moment), self.compiled).stage

    def _count_rules(self, scored: ScoredBatch) -> None:
        contributions = scored.contributions
        for index, column in enumerate(self.compiled.reason_columns.columns):
            points = contributions[:, index]
            matched = int(np.count_nonzero(np.abs(points) >= 0.005))
            if not matched:
                continue
            total = self.preview.rules.setdefault(
                column.rule, RuleTotal(column.label, column.kind)
            )
            total.points += float(points.sum())
            total.leads += matched
