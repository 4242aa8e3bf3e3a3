"""The model's `engagement:` section: activity rules, count rules over numbers on the lead,
groups with shared caps, and decay."""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from scoring.conditions import Condition
from scoring.frame import (
    is_known_lead_path,
    lead_field_kind,
)
from scoring.model_types import (
    MOST,
    Identifier,
    Label,
    Points,
    Positive,
    RuleId,
    Section,
    did_you_mean,
    lead_paths,
)


class Decay(Section):
    """How an activity's points fade with age. Give one of the two, or neither (no decay)."""

    half_life_days: Positive | None = None
    percent_per_month: Positive | None = Field(default=None, le=100)

    @model_validator(mode="after")
    def _one_kind(self) -> Decay:
        if self.half_life_days is not None and self.percent_per_month is not None:
            raise ValueError("give half_life_days or percent_per_month, not both")
        return self


class EngagementGroup(Section):
    id: Identifier
    label: Label | None = None
    cap: Positive


# `activity: page_view` or `activity: [page_view, pricing_page_view]`
ONE_OR_MORE_TYPES = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
    ]
}


class EngagementRule(Section):
    id: RuleId
    label: Label
    activity: Annotated[list[str], WithJsonSchema(ONE_OR_MORE_TYPES)] = Field(min_length=1)
    where: Condition | None = None
    points: Points
    cap: Positive | None = Field(default=None, description="Most points (in size) this rule gives")
    once: bool = Field(default=False, description="Count only the most recent matching activity")
    within_days: Positive | None = None
    decay: bool = Field(default=True, description="false: points do not fade (e.g. unsubscribe)")
    group: Identifier | None = None

    @field_validator("activity", mode="before")
    @classmethod
    def _one_type_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @property
    def strongest(self) -> float:
        """The points one matching activity gives."""
        return self.points


class CountBin(Section):
    """Points for a count of at least `gte` (the first bin reached, from the highest, counts)."""

    gte: Annotated[float, Field(allow_inf_nan=False, ge=-MOST, le=MOST)]
    points: Points


class CountRule(Section):
    """An engagement rule over a number on the lead (visits, page views, minutes on site), for
    CRMs and exports that carry activity as counts rather than as events: `points_per` unit (up
    to `cap`), or the points of the highest bin the count reaches. A count has no time of its
    own: its points decay only when `last_activity` names the lead's date of its latest one."""

    id: RuleId
    label: Label
    field: str = Field(description="The lead field holding the count, e.g. fields.num_visits")
    points_per: Points | None = Field(default=None, description="Points for each unit counted")
    bins: list[CountBin] | None = Field(
        default=None, min_length=1, description="From the highest `gte` down; the first reached"
    )
    unit: Label | None = Field(default=None, description="What one of the count is: visit")
    units: Label | None = Field(default=None, description="Its plural (default: unit + s)")
    cap: Positive | None = Field(default=None, description="Most points (in size) this rule gives")
    last_activity: str | None = Field(
        default=None,
        description="The lead's date field of the latest activity counted: the points decay "
        "with its age (engagement.decay); unnamed: no decay",
    )
    within_days: Positive | None = Field(
        default=None, description="No points when last_activity is older (or missing)"
    )
    decay: bool = Field(default=True, description="false: points do not fade")
    group: Identifier | None = None

    @field_validator("field", "last_activity")
    @classmethod
    def _a_field_of_its_kind(cls, path: str | None, info: ValidationInfo) -> str | None:
        """`field` names a number, `last_activity` a date (custom fields: any)."""
        if path is None:
            return path
        if not is_known_lead_path(path):
            raise ValueError(f"unknown lead field {path!r}{did_you_mean(path, lead_paths())}")
        kind = lead_field_kind(path)
        if info.field_name == "field" and kind not in ("number", None):
            raise ValueError(f"{path} is {kind}; a count rule reads a number")
        if info.field_name == "last_activity" and kind not in ("time", None):
            raise ValueError(f"{path} is not a date; last_activity names a date field")
        return path

    @field_validator("bins")
    @classmethod
    def _highest_first(cls, bins: list[CountBin] | None) -> list[CountBin] | None:
        floors = [found.gte for found in bins or []]
        if any(lower >= higher for higher, lower in itertools.pairwise(floors)):
            raise ValueError("bins must go from the highest gte down, each gte once")
        return bins

    @model_validator(mode="after")
    def _points_one_way(self) -> CountRule:
        if (self.points_per is None) == (self.bins is None):
            raise ValueError("give points_per or bins (one of them)")
        if self.within_days is not None and self.last_activity is None:
            raise ValueError("within_days needs last_activity: a count has no date of its own")
        return self

    @property
    def plural(self) -> str | None:
        """The unit for a count other than 1."""
        return self.units or (f"{self.unit}s" if self.unit else None)

    @property
    def strongest(self) -> float:
        """The most the rule gives, signed: its cap or its largest bin (uncapped: one unit)."""
        if self.bins is not None:
            return max((found.points for found in self.bins), key=abs)
        per = self.points_per or 0.0
        return math.copysign(self.cap, per) if self.cap is not None else per

    def scaled_to(self, points: float, digits: int | None = None) -> CountRule:
        """The same rule with its strongest points `points` (each bin, the points per unit and
        the cap scaled alike), rounded to `digits` decimals when given."""
        strongest = self.strongest
        factor = points / strongest if strongest else 0.0

        def scaled(value: float) -> float:
            return value * factor if digits is None else round(value * factor, digits)

        if self.bins is not None:
            bins = [step.model_copy(update={"points": scaled(step.points)}) for step in self.bins]
            return self.model_copy(update={"bins": bins})
        cap = abs(points) if self.cap is not None else None
        return self.model_copy(update={"points_per": scaled(self.points_per or 0.0), "cap": cap})

    @property
    def points_text(self) -> str:
        """The points in a few words: `+2 a visit, at most 20`, `10+: +15, 3+: +8`."""
        if self.bins is not None:
            return ", ".join(f"{found.gte:g}+: {found.points:+g}" for found in self.bins)
        text = f"{self.points_per or 0:+g} per {self.unit or 'unit'}"
        return text + (f", at most {self.cap:g}" if self.cap is not None else "")


def _engagement_rule_kind(data: Any) -> str:
    if isinstance(data, BaseModel):
        return "<count>" if isinstance(data, CountRule) else "<activity>"
    return "<count>" if isinstance(data, dict) and "field" in data else "<activity>"


AnyEngagementRule = Annotated[
    Annotated[EngagementRule, Tag("<activity>")] | Annotated[CountRule, Tag("<count>")],
    Discriminator(_engagement_rule_kind),
]


class Engagement(Section):
    max: Positive = 100
    decay: Decay = Decay()
    groups: list[EngagementGroup] = Field(default_factory=list)
    rules: list[AnyEngagementRule] = Field(
        default_factory=list,
        description="Activity rules ({activity, points …}) and count rules ({field, points_per "
        "or bins …}) over numbers on the lead",
    )

    @property
    def activity_rules(self) -> list[EngagementRule]:
        """The rules that read activities (not numbers on the lead)."""
        return [rule for rule in self.rules if isinstance(rule, EngagementRule)]

    @property
    def count_rules(self) -> list[CountRule]:
        return [rule for rule in self.rules if isinstance(rule, CountRule)]

    def count_fields(self) -> list[str]:
        """The lead fields the count rules read: counts, and dates of the latest activity."""
        fields = [rule.field for rule in self.count_rules]
        fields += [rule.last_activity for rule in self.count_rules if rule.last_activity]
        return list(dict.fromkeys(fields))
