"""The scoring model a RevOps admin writes in YAML: every section, its defaults and its checks.

`scoring.loading` reads a file into a `ScoringModel` with located errors; `scoring.references`
checks what pydantic cannot see (fields that exist, ids used once, groups declared).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    field_validator,
    model_validator,
)

from scoring.conditions import Condition, FieldTest, walk
from scoring.engagement_config import (
    Engagement,
)
from scoring.frame import (
    BANT_CRITERIA,
    is_known_lead_path,
)
from scoring.handoff_config import (
    Handoff,
)
from scoring.model_types import (
    BLANK_VALUES,
    BROWSING_ACTIVITIES,
    HAND_RAISER,
    MOST_LABEL,
    Count,
    Label,
    Points,
    Positive,
    RuleId,
    Section,
    Weight,
    did_you_mean,
    lead_paths,
)


class FitRule(Section):
    id: RuleId
    label: Label
    when: Condition
    points: Points


class Grades(Section):
    """Minimum fit for each grade; below D is F."""

    A: Points = 80
    B: Points = 60
    C: Points = 40
    D: Points = 20

    @model_validator(mode="after")
    def _descending(self) -> Grades:
        if not self.A >= self.B >= self.C >= self.D:
            raise ValueError("grade thresholds must not increase from A to D")
        return self


class Fit(Section):
    max: Positive = 100
    grades: Grades = Grades()
    rules: list[FitRule] = Field(default_factory=list)


class Bant(Section):
    """Each criterion is met when its condition holds. Unset criteria are never met."""

    budget: Condition | None = None
    authority: Condition | None = None
    need: Condition | None = None
    timing: Condition | None = None


class Qualification(Section):
    """The fit × engagement matrix: label = grade letter (F counts as D) + engagement band."""

    engagement_bands: list[Points] = Field(
        default=[60, 40, 20],
        min_length=3,
        max_length=3,
        description="Minimum engagement for bands 1, 2 and 3; below the last is band 4",
    )
    priorities: dict[str, Count] = Field(
        default_factory=dict,
        description=(
            "Priority per label (1 = call first), and `hand_raiser` for leads a stage rule "
            "qualified on a hand-raise alone (default 1: they are called first); unlisted "
            "labels: letter rank + band, after hand-raisers"
        ),
    )
    browsing: list[str] = Field(
        default_factory=lambda: list(BROWSING_ACTIVITIES),
        description="Activity types the intent guard counts as browsing",
    )
    intent_guard: Literal["warn", "strict", "off"] = Field(
        default="warn",
        description=(
            "When browsing can earn as much engagement as a hand-raise: warn in `leadq "
            "validate`, refuse the model (strict), or say nothing (off)"
        ),
    )

    @property
    def hand_raiser_priority(self) -> int:
        return self.priorities.get(HAND_RAISER, 1)

    @field_validator("engagement_bands")
    @classmethod
    def _descending(cls, bands: list[float]) -> list[float]:
        if sorted(bands, reverse=True) != bands:
            raise ValueError("engagement bands must go from highest to lowest")
        return bands

    @field_validator("priorities")
    @classmethod
    def _known_labels(cls, priorities: dict[str, int]) -> dict[str, int]:
        labels = {f"{letter}{band}" for letter in "ABCD" for band in range(1, 5)}
        unknown = sorted(set(priorities) - labels - {HAND_RAISER})
        if unknown:
            raise ValueError(
                f"unknown label {unknown[0]!r}: labels run from A1 to D4 (and {HAND_RAISER})"
            )
        return priorities


class DisqualifyRule(Section):
    """A lead this matches is disqualified: never promoted or routed, and given the CRM's
    disqualified status (not the recycle one) while sales has not worked it."""

    id: RuleId
    label: Label
    when: Condition


class StageRule(Section):
    id: RuleId | None = Field(
        default=None, description="Named in the audit when the rule moves a lead's stage"
    )
    stage: str = Field(min_length=1)
    label: Label | None = None
    when: Condition

    def name(self, index: int) -> str:
        """The rule's id, or its place in the model."""
        return self.id or f"stages[{index}]"


class Score(Section):
    """The single 0–100 score: a weighted mean of fit and engagement, each scaled to 0–100."""

    fit_weight: Weight = 1
    engagement_weight: Weight = 1

    @model_validator(mode="after")
    def _some_weight(self) -> Score:
        if self.fit_weight + self.engagement_weight <= 0:
            raise ValueError("at least one of fit_weight and engagement_weight must be above 0")
        return self


class OutputFields(Section):
    """Which CRM field receives each result. Leave one out to not write it."""

    score: str | None = "leadq_score"
    fit: str | None = "leadq_fit"
    engagement: str | None = "leadq_engagement"
    grade: str | None = "leadq_grade"
    label: str | None = "leadq_label"
    priority: str | None = None
    reasons: str | None = "leadq_reasons"
    model_version: str | None = "leadq_model_version"
    scored_at: str | None = "leadq_scored_at"


class Output(Section):
    fields: OutputFields = OutputFields()
    reasons_top: int = Field(default=3, ge=1, le=20)
    reasons_separator: str = Field(default="; ", max_length=10)


class Dispositions(Section):
    """What a rep's status on a lead leadq handed off means (scoring/dispositions.py): the CRM's
    status values for each verdict. Rejected, not a fit and no response are negative outcomes for
    `backtest` and `learn`; accepted ones count as accepted in the handoff figures."""

    accepted: list[str] = Field(default_factory=list, description="Sales took the lead on")
    rejected: list[str] = Field(default_factory=list, description="Not a real lead")
    not_a_fit: list[str] = Field(default_factory=list, description="A real lead, the wrong buyer")
    no_response: list[str] = Field(
        default_factory=list, description="Sales tried and never reached the lead"
    )
    accepted_stages: list[str] = Field(
        default_factory=list, description="Stage values meaning sales took the lead on"
    )

    @model_validator(mode="after")
    def _one_verdict_each(self) -> Dispositions:
        seen: dict[str, str] = {}
        for verdict in ("accepted", "rejected", "not_a_fit", "no_response"):
            for value in getattr(self, verdict):
                if value in seen:
                    raise ValueError(f"status {value!r} is both {seen[value]} and {verdict}")
                seen[value] = verdict
        return self

    def statuses(self) -> list[str]:
        """Every status value the mapping names."""
        return [*self.accepted, *self.rejected, *self.not_a_fit, *self.no_response]


class CrmLifecycle(Section):
    """How leadq's stages, recycling and disqualifying map onto one CRM's fields and values."""

    stage_field: str | None = Field(
        description="The CRM field holding the stage; null: not written"
    )
    stage_values: dict[str, str] = Field(description="leadq stage → the CRM's value")
    stage_order: list[str] = Field(description="The CRM's stage values, earliest first")
    status_field: str | None = None
    untouched_statuses: list[str] = Field(
        default_factory=list,
        description="Statuses meaning sales has not worked the lead ('' = empty)",
    )
    recycle_status: str | None = Field(
        default=None, description="Set when a qualified lead decays before sales worked it"
    )
    requalified_status: str | None = Field(
        default=None, description="Set when a lead leadq recycled qualifies again"
    )
    disqualified_status: str | None = Field(
        default=None, description="Set when a `disqualify:` rule matches a lead sales never worked"
    )
    dispositions: Dispositions = Field(
        default_factory=Dispositions,
        description="What a rep's status on a handed-off lead means",
    )

    @model_validator(mode="after")
    def _stages_in_order(self) -> CrmLifecycle:
        unknown = [value for value in self.stage_values.values() if value not in self.stage_order]
        if unknown:
            raise ValueError(f"stage value {unknown[0]!r} is missing from stage_order")
        return self


HUBSPOT_LIFECYCLE = CrmLifecycle(
    stage_field="lifecyclestage",
    stage_values={"lead": "lead", "mql": "marketingqualifiedlead"},
    stage_order=[
        "subscriber",
        "lead",
        "marketingqualifiedlead",
        "salesqualifiedlead",
        "opportunity",
        "customer",
        "evangelist",
    ],
    status_field="hs_lead_status",
    untouched_statuses=["", "NEW"],
    recycle_status="BAD_TIMING",
    requalified_status="NEW",
    disqualified_status="UNQUALIFIED",
    dispositions=Dispositions(
        accepted=["IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "CONNECTED", "OPEN_DEAL"],
        rejected=["UNQUALIFIED"],
        accepted_stages=["salesqualifiedlead", "opportunity", "customer", "evangelist"],
    ),
)
SALESFORCE_LIFECYCLE = CrmLifecycle(
    stage_field="Status",
    stage_values={"lead": "Open - Not Contacted", "mql": "Marketing Qualified"},
    stage_order=[
        "Nurture",
        "Open - Not Contacted",
        "Marketing Qualified",
        "Working - Contacted",
        "Closed - Converted",
        "Closed - Not Converted",
    ],
    status_field="Status",
    untouched_statuses=["", "Open - Not Contacted", "Marketing Qualified"],
    recycle_status="Nurture",
    requalified_status="Marketing Qualified",
    disqualified_status="Closed - Not Converted",
    dispositions=Dispositions(
        accepted=["Working - Contacted", "Closed - Converted"],
        rejected=["Closed - Not Converted"],
    ),
)


class Lifecycle(Section):
    """Forward-only stages and recycling, per CRM. The defaults suit an untouched portal / org."""

    hubspot: CrmLifecycle = HUBSPOT_LIFECYCLE
    salesforce: CrmLifecycle = SALESFORCE_LIFECYCLE


class CsvActivities(Section):
    lead_id: str = "lead_id"
    type: str = "type"
    occurred_at: str = "occurred_at"
    url: str | None = "url"
    form: str | None = "form"
    campaign: str | None = "campaign"
    subject: str | None = "subject"
    types: dict[str, str] = Field(
        default_factory=dict, description="Map the file's activity names to leadq's types"
    )

    @field_validator("types")
    @classmethod
    def _no_blank_type(cls, types: dict[str, str]) -> dict[str, str]:
        blank = [name for name, canonical in types.items() if not canonical.strip()]
        if blank:
            raise ValueError(f"{blank[0]!r} maps to a blank activity type")
        return types


def _not_only_spaces(value: str) -> str:
    if not value.strip():
        raise ValueError(f"{value!r} is only spaces: empty cells are always missing")
    return value


Placeholder = Annotated[
    str, Field(min_length=1, max_length=MOST_LABEL), AfterValidator(_not_only_spaces)
]


class CsvMapping(Section):
    """Which column of a CSV export holds each lead field (default: the field's own name)."""

    columns: dict[str, str] = Field(
        default_factory=dict,
        description="leadq field path → column, e.g. company.employees: Employees",
    )
    activities: CsvActivities = CsvActivities()
    blank_values: list[Placeholder] = Field(
        default_factory=lambda: list(BLANK_VALUES),
        max_length=1000,
        description="Placeholder answers read as missing in every lead column but the id, and "
        "in activities' details (case and surrounding spaces ignored); [] for empty cells only",
    )

    @field_validator("columns")
    @classmethod
    def _known_paths(cls, columns: dict[str, str]) -> dict[str, str]:
        for path in columns:
            if not is_known_lead_path(path):
                raise ValueError(f"unknown lead field {path!r}{did_you_mean(path, lead_paths())}")
        return columns


class Predictive(Section):
    """An optional learned probability of converting, written beside the score.

    probability = 1 / (1 + exp(-(intercept + points / points_per_logit))), where `points` is the
    sum of the lead's rule points before the fit and engagement clamps. `leadq learn` fits both
    numbers; the rules that add the most points are the probability's reasons.
    """

    field: str = Field(default="leadq_probability", min_length=1)
    reasons_field: str | None = "leadq_probability_reasons"
    intercept: Points
    points_per_logit: Positive
    reasons_top: int = Field(default=3, ge=1, le=20)


class Learning(Section):
    """What `leadq learn` may try beyond the model's own rules, and what it must never use."""

    fields: list[str] = Field(default_factory=list, description="Extra lead fields to try")
    engagement_fields: list[str] = Field(
        default_factory=list,
        description="Numbers on the lead that are activity (visits, page views, contacts): "
        "tried as count rules for engagement, not as fit rules",
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="Fields learn must never use, e.g. ones known only after the outcome",
    )
    keep: list[str] = Field(
        default_factory=list,
        description="Fields learn flags as leaks but may use: known before the outcome",
    )
    units: dict[str, Label] = Field(
        default_factory=dict,
        description="What a numeric field counts, for its bins' labels: "
        "{fields.campaign: calls this campaign} gives '3+ calls this campaign'",
    )
    recency_half_life: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Weigh recent leads more when buyers' behaviour drifts: a lead counts half "
        "as much for each such share of the leads (in time order) that came after it, e.g. "
        "0.05; unset: every lead alike",
    )

    @field_validator("fields", "engagement_fields", "exclude", "keep", "units")
    @classmethod
    def _known_paths(cls, paths: list[str] | dict[str, str]) -> list[str] | dict[str, str]:
        for path in paths:
            if not is_known_lead_path(path):
                raise ValueError(f"unknown lead field {path!r}{did_you_mean(path, lead_paths())}")
        return paths


class PoolMember(Section):
    owner: str = Field(min_length=1, description="The owner's e-mail address or CRM owner id")
    weight: Positive = 1
    daily_cap: Count | None = Field(default=None, description="Overrides the rule's cap")

    @model_validator(mode="before")
    @classmethod
    def _bare_owner(cls, data: Any) -> Any:
        return {"owner": data} if isinstance(data, str) else data


class RoutingRule(Section):
    id: RuleId
    label: Label | None = None
    when: Condition | None = Field(default=None, description="No condition: every lead")
    pool: list[PoolMember] = Field(min_length=1)
    strategy: Literal["round_robin", "least_loaded", "fixed"] = "round_robin"
    daily_cap: Count | None = Field(default=None, description="Most new leads per owner a day")


class Routing(Section):
    """Who gets a lead that just qualified and has no human owner."""

    assign_stages: list[str] = Field(default=["mql"], min_length=1)
    account_owner_first: bool = Field(
        default=True, description="Keep the owner of the lead's company / matching account"
    )
    rules: list[RoutingRule] = Field(default_factory=list)
    fallback: str | None = Field(default=None, description="Owner or queue when no rule can")
    fallback_user: str | None = Field(
        default=None,
        description="A person for records a queue cannot own (Salesforce Contacts) when the "
        "fallback is a queue",
    )


class ScoringModel(Section):
    name: Label
    description: str | None = None
    fit: Fit = Fit()
    bant: Bant = Bant()
    engagement: Engagement = Engagement()
    qualification: Qualification = Qualification()
    stages: list[StageRule] = Field(default_factory=list)
    disqualify: list[DisqualifyRule] = Field(
        default_factory=list,
        description="Leads to disqualify (competitors, students): the first matching rule says why",
    )
    default_stage: str = "lead"
    score: Score = Score()
    output: Output = Output()
    csv: CsvMapping = CsvMapping()
    routing: Routing | None = None
    lifecycle: Lifecycle = Lifecycle()
    predictive: Predictive | None = None
    learn: Learning = Learning()
    handoff: Handoff | None = None

    def conditions(self) -> list[Condition]:
        """Every condition over leads in the model (fit, BANT, stages, routing)."""
        found: list[Condition] = [rule.when for rule in self.fit.rules]
        found += [c for c in (getattr(self.bant, n) for n in BANT_CRITERIA) if c is not None]
        found += [stage.when for stage in self.stages]
        found += [rule.when for rule in self.disqualify]
        if self.routing:
            found += [rule.when for rule in self.routing.rules if rule.when is not None]
        return found

    def custom_fields(self, learning: bool = False) -> tuple[list[str], list[str]]:
        """The custom lead fields and company fields the rules read (CRM property names); with
        `learning`, also those `learn.fields` names for `leadq learn` to try."""
        paths = {
            leaf.field
            for condition in self.conditions()
            for leaf in walk(condition)
            if isinstance(leaf, FieldTest)
        }
        paths |= set(self.engagement.count_fields())
        if learning:
            paths |= {*self.learn.fields, *self.learn.engagement_fields}
        lead = sorted(p.removeprefix("fields.") for p in paths if p.startswith("fields."))
        company = sorted(
            p.removeprefix("company.fields.") for p in paths if p.startswith("company.fields.")
        )
        return lead, company

    @property
    def version(self) -> str:
        """Content hash: the same rules give the same version, however the YAML is laid out."""
        unscored: dict[str, Any] = dict.fromkeys(("csv", "description", "learn", "handoff"), True)
        if self.predictive is None:
            unscored["predictive"] = True  # models without one keep the version they had
        # a rep's dispositions change no score; models that disqualify nobody keep their version
        per_crm = {"dispositions"} if self.disqualify else {"dispositions", "disqualified_status"}
        if not self.disqualify:
            unscored["disqualify"] = True
        unscored["lifecycle"] = {crm: per_crm for crm in ("hubspot", "salesforce")}
        scoring_part = self.model_dump(mode="json", exclude=unscored, by_alias=True)
        canonical = json.dumps(scoring_part, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the model file, for editor completion."""
    schema = ScoringModel.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "leadq scoring model"
    return schema
