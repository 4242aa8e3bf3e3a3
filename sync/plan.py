"""From a scored lead to the CRM update it needs: the desired values, diffed against what the CRM
holds now. Pure: the engine gathers the inputs and carries the plan out.

Rules (DESIGN.md, "Lifecycle and status" and "A sync run"):
- score moves smaller than `min_score_change` are not written unless grade, label or stage changed
  (or the model did); no difference, no write;
- the stage only moves forward in the CRM's order; a qualified lead that decays below the bar
  before sales worked it gets the recycle status instead of a demotion; a lead the model's
  `disqualify:` rules match gets the disqualified status instead (never promoted, never routed);
- a status somebody set by hand is never overwritten, nor an owner: the owner is written only for a
  routing decision, which is made only for leads without a human owner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

from connectors.records import Lead, LeadUpdate, parse_timestamp
from scoring.config import CrmLifecycle, ScoringModel
from scoring.predictive import predict
from scoring.qualify import ScoredBatch
from scoring.reasons import reasons_within
from scoring.routing import RoutingDecision

Crm = Literal["hubspot", "salesforce"]
FieldNamer = Callable[[str], str]
TextLimit = Callable[[str], int | None]
NUMERIC_OUTPUTS = ("score", "fit", "engagement", "priority", "probability")
PROBABILITY_STEP = 0.01  # a learned probability moving less than a point is not worth a write
DECISIVE_OUTPUTS = ("grade", "label", "model_version")
PROMOTION = "stage →"  # how the reason of a stage promotion begins


def is_promotion(why: str) -> bool:
    """Whether a change's reason says it promotes the lead's stage."""
    return why.startswith(PROMOTION)


def output_fields(model: ScoringModel, field_name: FieldNamer) -> dict[str, str]:
    """leadq output → CRM field, for the outputs the model writes (the learned probability too).
    `field_name` is the connector's (`Connector.field_name`): the model names fields HubSpot's
    way, Salesforce custom fields are `leadq_Score__c`."""
    configured = dict(model.output.fields.model_dump())
    if model.predictive is not None:
        configured["probability"] = model.predictive.field
        configured["probability_reasons"] = model.predictive.reasons_field
    return {output: field_name(name) for output, name in configured.items() if name}


@dataclass(frozen=True)
class Result:
    """What scoring concluded about one lead, as the planner needs it."""

    score: int
    fit: int
    engagement: int
    grade: str
    label: str
    priority: int
    stage: str
    reasons: str
    model_version: str
    probability: float | None = None
    probability_reasons: str | None = None
    stage_rule: str | None = None  # the id (or place) of the stage rule that placed the lead
    stage_reason: str = ""
    hand_raiser: bool = False  # a demo or contact request that qualifies on its own
    disqualified: str | None = None  # the id of the `disqualify:` rule the lead matched

    @classmethod
    def all_of(cls, scored: ScoredBatch) -> list[Result]:
        """One result per lead of a scored batch, the learned probability included."""
        return cls.some_of(scored, range(len(scored)))

    @classmethod
    def some_of(cls, scored: ScoredBatch, indices: Iterable[int]) -> list[Result]:
        """The results of the leads at `indices` of a scored batch."""
        model = scored.compiled.model
        rule_names = [rule.name(index) for index, rule in enumerate(model.stages)]
        prediction = (
            predict(scored, model.predictive, model.output.reasons_separator)
            if model.predictive
            else None
        )
        return [
            cls(
                score=int(scored.score[i]),
                fit=int(scored.fit[i]),
                engagement=int(scored.engagement[i]),
                grade=str(scored.grade[i]),
                label=str(scored.label[i]),
                priority=int(scored.priority[i]),
                stage=str(scored.stage[i]),
                reasons=str(scored.reasons_text[i]),
                model_version=scored.compiled.version,
                probability=round(float(prediction.probability[i]), 3) if prediction else None,
                probability_reasons=str(prediction.reasons_text[i]) if prediction else None,
                stage_rule=rule_names[scored.stage_rule[i]] if scored.stage_rule[i] >= 0 else None,
                stage_reason=str(scored.stage_reason[i]),
                hand_raiser=bool(scored.hand_raiser[i]),
                disqualified=scored.disqualified_by(i),
            )
            for i in indices
        ]


@dataclass(frozen=True)
class FieldChange:
    """One CRM field a plan writes on a lead: its value before and after, and why."""

    field: str
    before: Any
    after: Any
    why: str


@dataclass
class Plan:
    lead_id: str
    changes: list[FieldChange] = field(default_factory=list)

    def update(self, kind: Literal["lead", "contact"]) -> LeadUpdate | None:
        if not self.changes:
            return None
        return LeadUpdate(
            lead_id=self.lead_id,
            kind=kind,
            changes={change.field: change.after for change in self.changes},
            before={change.field: change.before for change in self.changes},
        )


@dataclass(frozen=True)
class Planner:
    model: ScoringModel
    crm: Crm
    min_score_change: int = 3
    field_name: FieldNamer = field(kw_only=True)
    text_limit: TextLimit = field(default=lambda _field: None, kw_only=True)
    """The connector's `text_limit`: reasons longer than their field are cut to it."""

    @property
    def lifecycle(self) -> CrmLifecycle:
        return getattr(self.model.lifecycle, self.crm)

    @property
    def qualified_stages(self) -> list[str]:
        """leadq stages that hand a lead to sales (routing's, or just `mql`)."""
        return self.model.routing.assign_stages if self.model.routing else ["mql"]

    @cached_property
    def fields(self) -> dict[str, str]:
        """Worked out once: it is asked for every lead of a run."""
        return output_fields(self.model, self.field_name)

    def shown_stage(self, lead: Lead) -> str:
        """The leadq stage the CRM shows now: qualified once at or past the qualified value."""
        lifecycle = self.lifecycle
        current = crm_value(lead, lifecycle.stage_field)
        order = lifecycle.stage_order
        for stage in self.qualified_stages:
            value = lifecycle.stage_values.get(stage)
            if value in order and current in order and order.index(current) >= order.index(value):
                return stage
        return self.model.default_stage

    def read_fields(self) -> list[str]:
        """CRM fields a connector must read so the planner can diff against them."""
        lifecycle = self.lifecycle
        extra = [lifecycle.stage_field, lifecycle.status_field]
        return list(dict.fromkeys([*self.fields.values(), *(f for f in extra if f)]))

    def plan(
        self,
        lead: Lead,
        result: Result,
        now: datetime,
        routing: RoutingDecision | None = None,
        recycled_by_us: bool = False,
    ) -> Plan:
        plan = Plan(lead.id)
        lifecycle = self._lifecycle_changes(lead, result, recycled_by_us)
        outputs = self._output_changes(lead, result, lifecycle_moves=bool(lifecycle))
        owner = self._owner_change(lead, routing)
        if outputs or lifecycle or owner:
            plan.changes += outputs + lifecycle + owner
            scored_at = self.fields.get("scored_at")
            if scored_at:
                plan.changes.append(
                    FieldChange(scored_at, lead.fields.get(scored_at), now.isoformat(), "scored")
                )
        return plan

    def _output_changes(
        self, lead: Lead, result: Result, lifecycle_moves: bool
    ) -> list[FieldChange]:
        desired = {
            "score": result.score,
            "fit": result.fit,
            "engagement": result.engagement,
            "grade": result.grade,
            "label": result.label,
            "priority": result.priority,
            "reasons": self._within_field("reasons", result.reasons),
            "model_version": result.model_version,
            "probability": result.probability,
            "probability_reasons": self._within_field(
                "probability_reasons", result.probability_reasons
            ),
        }
        changed = {
            output: (crm_field, lead.fields.get(crm_field), desired[output])
            for output, crm_field in self.fields.items()
            if output in desired and not _same(lead.fields.get(crm_field), desired[output])
        }
        decisive = any(output in changed for output in DECISIVE_OUTPUTS) or any(
            _missing(before) for _, before, _ in changed.values()
        )
        big_move = any(
            _moved(
                before,
                after,
                PROBABILITY_STEP if output == "probability" else self.min_score_change,
            )
            for output, (_, before, after) in changed.items()
            if output in NUMERIC_OUTPUTS
        )
        if not (decisive or big_move or lifecycle_moves):
            return []
        return [
            FieldChange(crm_field, before, after, f"{output} {_show(before)} → {after}")
            for output, (crm_field, before, after) in changed.items()
        ]

    def _within_field(self, output: str, reasons: str | None) -> str | None:
        """A reasons line cut on a reason boundary to the length of the CRM field receiving it."""
        crm_field = self.fields.get(output)
        limit = self.text_limit(crm_field) if crm_field and reasons else None
        if limit is None or reasons is None:
            return reasons
        return reasons_within(reasons, limit, self.model.output.reasons_separator)

    def _lifecycle_changes(
        self, lead: Lead, result: Result, recycled_by_us: bool
    ) -> list[FieldChange]:
        if self.crm == "salesforce" and lead.kind == "contact":
            return []  # a Salesforce Contact has no status: its lifecycle lives on opportunities
        lifecycle = self.lifecycle
        current_stage = crm_value(lead, lifecycle.stage_field)
        current_status = crm_value(lead, lifecycle.status_field)
        changes = []
        target = lifecycle.stage_values.get(result.stage)
        promotes = result.stage != self.model.default_stage and target is not None
        # A recycle status somebody set by hand (where it shares the stage field) stays.
        set_by_people = current_stage == lifecycle.recycle_status and not recycled_by_us
        if (
            promotes
            and not set_by_people
            and lifecycle.stage_field
            and _is_forward(current_stage, target, lifecycle)
        ):
            changes.append(
                FieldChange(lifecycle.stage_field, current_stage or None, target, _promoted(result))
            )
        if result.disqualified:
            changes += self._disqualify(lifecycle, result, current_status, recycled_by_us)
        elif result.stage in self.qualified_stages:
            changes += self._requalify(lifecycle, current_status, recycled_by_us)
        else:
            changes += self._recycle(lifecycle, result, current_stage, current_status)
        return changes

    def _requalify(
        self, lifecycle: CrmLifecycle, current_status: str, recycled_by_us: bool
    ) -> list[FieldChange]:
        """A lead leadq recycled qualifies again: give back the fresh status (where separate)."""
        status_field, fresh = lifecycle.status_field, lifecycle.requalified_status
        if (
            recycled_by_us
            and current_status == lifecycle.recycle_status
            and fresh
            and status_field
            and status_field != lifecycle.stage_field
        ):
            return [FieldChange(status_field, current_status, fresh, "qualified again")]
        return []

    def _disqualify(
        self, lifecycle: CrmLifecycle, result: Result, current_status: str, recycled_by_us: bool
    ) -> list[FieldChange]:
        """A lead that stopped fitting (a competitor, a student) before sales worked it gets the
        disqualified status, not the recycle one; a status a rep set stays."""
        status, field_name = lifecycle.disqualified_status, lifecycle.status_field
        ours = recycled_by_us and current_status == lifecycle.recycle_status
        if (
            status
            and field_name
            and current_status != status
            and (current_status in lifecycle.untouched_statuses or ours)
        ):
            return [FieldChange(field_name, current_status or None, status, result.stage_reason)]
        return []

    def _recycle(
        self,
        lifecycle: CrmLifecycle,
        result: Result,
        current_stage: str,
        current_status: str,
    ) -> list[FieldChange]:
        """A qualified lead decayed below the bar before sales worked it: recycle, not demote."""
        qualified_values = {lifecycle.stage_values.get(s) for s in self.qualified_stages}
        untouched = current_status in lifecycle.untouched_statuses
        if (
            current_stage in qualified_values
            and untouched
            and lifecycle.recycle_status
            and lifecycle.status_field
            and current_status != lifecycle.recycle_status
        ):
            return [
                FieldChange(
                    lifecycle.status_field,
                    current_status or None,
                    lifecycle.recycle_status,
                    f"decayed below the bar ({result.stage}) before sales worked it: recycled",
                )
            ]
        return []

    def _owner_change(self, lead: Lead, routing: RoutingDecision | None) -> list[FieldChange]:
        if routing is None or routing.owner_id is None or routing.owner_id == lead.owner_id:
            return []
        return [
            FieldChange(OWNER_FIELDS[self.crm], lead.owner_id, routing.owner_id, routing.reason)
        ]


def _promoted(result: Result) -> str:
    """Why a stage moved, as the audit keeps it: the stage, the rule's id and what met it."""
    why = f"{PROMOTION} {result.stage}"
    if result.stage_rule:
        why += f" by rule {result.stage_rule}"
    return f"{why} ({result.stage_reason})" if result.stage_reason else why


OWNER_FIELDS: dict[Crm, str] = {"hubspot": "hubspot_owner_id", "salesforce": "OwnerId"}
CANONICAL_ATTRIBUTES = {
    "lifecyclestage": "lifecycle_stage",
    "hs_lead_status": "lead_status",
    "Status": "lead_status",
}


def crm_value(lead: Lead, field_name: str | None) -> str:
    """The CRM's current value of a field, wherever the connector put it."""
    if field_name is None:
        return ""
    if field_name in lead.fields:
        value = lead.fields[field_name]
    else:
        value = getattr(lead, CANONICAL_ATTRIBUTES.get(field_name, ""), None)
    return str(value or "")


def crm_holds(lead: Lead, field_name: str, value: Any) -> bool:
    """Whether the CRM holds `value`, as leadq wrote it, in one of the lead's fields now."""
    if field_name in OWNER_FIELDS.values():
        current = lead.owner_id
    elif field_name in lead.fields:
        current = lead.fields[field_name]
    else:
        current = getattr(lead, CANONICAL_ATTRIBUTES.get(field_name, ""), None)
    return same_crm_value(current, value)


def same_crm_value(current: Any, value: Any) -> bool:
    """Whether a value read from the CRM is `value` as leadq wrote it (a number read back as text
    or float, a time in another notation, count as the same)."""
    return _same(current, value) or _same_time(current, value)


def _same_time(current: Any, value: Any) -> bool:
    if not isinstance(value, str) or not isinstance(current, datetime | str):
        return False
    try:
        moment = parse_timestamp(value)
        return moment is not None and parse_timestamp(current) == moment
    except ValueError:
        return False


def _is_forward(current: str, target: str, lifecycle: CrmLifecycle) -> bool:
    """True when moving from `current` to `target` goes forward (an empty stage is the start)."""
    if current == target:
        return False
    if not current:
        return True
    order = lifecycle.stage_order
    if current not in order:
        return False  # a value we do not know: somebody else's stage, leave it alone
    return order.index(target) > order.index(current)


def _same(before: Any, after: Any) -> bool:
    if _missing(before):
        return _missing(after)
    if isinstance(after, int | float) and not isinstance(after, bool):
        try:
            return float(before) == float(after)
        except (TypeError, ValueError):
            return False
    return str(before) == str(after)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _moved(before: Any, after: Any, threshold: int) -> bool:
    try:
        return abs(float(after) - float(before)) >= threshold
    except (TypeError, ValueError):
        return True


def _show(value: Any) -> str:
    return "(empty)" if _missing(value) else str(value)
