"""A readable account of one lead's score: every rule that counted and the activities behind it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from connectors.records import Activity, Lead
from scoring.config import (
    ScoringModel,
)
from scoring.engagement_config import (
    CountRule,
)
from scoring.frame import SECONDS_PER_DAY, ActivityFrame, LeadFrame
from scoring.qualify import CompiledModel, Qualification, compile_model, score_frame
from scoring.reasons import quantity


class CountedActivity(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str
    occurred_at: datetime
    age_days: float
    points: float
    detail: str | None


class RuleEvidence(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule: str
    label: str
    points: float  # what the rule gave in the end (after `once` and its cap)
    activities: list[CountedActivity]  # most recent first
    counted: str | None = None  # a count rule's: the count on the lead, and its last activity


class Explanation(BaseModel):
    model_config = ConfigDict(frozen=True)

    lead: Lead
    qualification: Qualification
    engagement: list[RuleEvidence]
    stage_label: str | None
    model_name: str
    decay: str


def explain(
    lead: Lead,
    activities: Iterable[Activity],
    model: ScoringModel | CompiledModel,
    now: datetime,
) -> Explanation:
    compiled = model if isinstance(model, CompiledModel) else compile_model(model)
    kept = [a for a in activities if a.lead_id == lead.id]
    frame_activities = ActivityFrame.from_records(kept, {lead.id: 0}, now.timestamp())
    frame = LeadFrame([lead], frame_activities, now.timestamp(), compiled.where_of)
    qualification = score_frame(frame, compiled).qualification(0)
    given = {reason.rule: reason.points for reason in qualification.reasons}
    evidence = []
    for column, rule in enumerate(compiled.engagement.rules):
        if isinstance(rule, CountRule):
            counted = _count_evidence(frame, compiled, column, rule)
            if counted is not None:
                evidence.append(
                    RuleEvidence(
                        rule=rule.id,
                        label=rule.label,
                        points=given.get(rule.id, 0.0),
                        activities=[],
                        counted=counted,
                    )
                )
            continue
        found = compiled.engagement.matches(frame, column)
        if not len(found.rows):
            continue
        counted = sorted(
            (
                _counted(kept[row], age, points)
                for row, age, points in zip(
                    found.rows.tolist(), found.age_days.tolist(), found.points.tolist(), strict=True
                )
            ),
            key=lambda item: item.age_days,
        )
        evidence.append(
            RuleEvidence(
                rule=rule.id, label=rule.label, points=given.get(rule.id, 0.0), activities=counted
            )
        )
    stage_rule = qualification.stage_rule
    return Explanation(
        lead=lead,
        qualification=qualification,
        engagement=evidence,
        stage_label=compiled.model.stages[stage_rule].label if stage_rule is not None else None,
        model_name=compiled.model.name,
        decay=_describe_decay(compiled.model),
    )


def _count_evidence(
    frame: LeadFrame, compiled: CompiledModel, column: int, rule: CountRule
) -> str | None:
    """`12 visits on the lead, the last 7.0 d ago`; None when the lead has no count."""
    count = float(compiled.engagement.counted(frame, column).count[0])
    if count != count:
        return None
    described = f"{quantity(count, rule)} on the lead"
    if rule.last_activity is not None:
        latest = float(frame.time(rule.last_activity)[0])
        if latest == latest:
            age = max(frame.now - latest, 0.0) / SECONDS_PER_DAY
            described += f", the last {round(age, 1):g} d ago"
    return described


def _counted(activity: Activity, age_days: float, points: float) -> CountedActivity:
    detail = activity.url or activity.form or activity.campaign or activity.subject
    return CountedActivity(
        type=activity.type,
        occurred_at=activity.occurred_at,
        age_days=round(age_days, 1),
        points=round(points, 2),
        detail=detail,
    )


def _describe_decay(model: ScoringModel) -> str:
    decay = model.engagement.decay
    if decay.half_life_days is not None:
        return f"half-life {decay.half_life_days:g} days"
    if decay.percent_per_month is not None:
        return f"{decay.percent_per_month:g}% of the points per month"
    return "no decay"
