"""Problems in a scoring model that pydantic cannot see: unknown fields, ops that do not suit a
field's kind, ids used twice, groups that do not exist. Each comes with its place in the file."""

from __future__ import annotations

from collections.abc import Iterator

from scoring.conditions import (
    ORDERING_OPS,
    ActivityTest,
    AllOf,
    AnyOf,
    Condition,
    FieldKindOf,
    FieldTest,
    NotOf,
)
from scoring.config import (
    ScoringModel,
)
from scoring.engagement_config import (
    EngagementRule,
)
from scoring.frame import (
    ACTIVITY_FIELD_KINDS,
    BANT_CRITERIA,
    SCORE_FIELD_KINDS,
    activity_field_kind,
    lead_field_kind,
)
from scoring.model_types import (
    did_you_mean,
    lead_paths,
)

Loc = tuple[str | int, ...]  # a place in the model: ("fit", "rules", 2, "points")


def check_references(model: ScoringModel) -> Iterator[tuple[Loc, str]]:
    """Problems pydantic cannot see: unknown fields, ids used twice, groups that do not exist."""
    yield from _unique_ids(("fit", "rules"), [rule.id for rule in model.fit.rules])
    yield from _unique_ids(("engagement", "rules"), [rule.id for rule in model.engagement.rules])
    yield from _unique_ids(("engagement", "groups"), [g.id for g in model.engagement.groups])
    lead_and_bant = {*lead_paths(), "bant.count", *(f"bant.{c}" for c in BANT_CRITERIA)}
    everything = {*lead_and_bant, *SCORE_FIELD_KINDS}
    for index, rule in enumerate(model.fit.rules):
        yield from _check_condition(rule.when, ("fit", "rules", index, "when"), lead_and_bant)
    for criterion in BANT_CRITERIA:
        condition = getattr(model.bant, criterion)
        if condition is not None:
            yield from _check_condition(condition, ("bant", criterion), set(lead_paths()))
    groups = {group.id for group in model.engagement.groups}
    for index, rule in enumerate(model.engagement.rules):
        loc: Loc = ("engagement", "rules", index)
        if rule.group is not None and rule.group not in groups:
            known = ", ".join(sorted(groups)) or "none are declared under engagement.groups"
            yield (*loc, "group"), f"unknown group {rule.group!r} (groups: {known})"
        if isinstance(rule, EngagementRule) and rule.where is not None:
            yield from _check_where(rule.where, (*loc, "where"))
    for index, stage in enumerate(model.stages):
        yield from _check_condition(stage.when, ("stages", index, "when"), everything)
    yield from _check_routing(model, everything)
    yield from _check_handoff(model)


def custom_field_uses(model: ScoringModel) -> Iterator[tuple[Loc, str]]:
    """Where the model reads a custom lead field (`fields.X`): (the place of its `field`, X)."""
    places: list[tuple[Condition, Loc]] = [
        (rule.when, ("fit", "rules", index, "when")) for index, rule in enumerate(model.fit.rules)
    ]
    places += [
        (condition, ("bant", name)) for name in BANT_CRITERIA
        if (condition := getattr(model.bant, name)) is not None
    ]
    places += [(stage.when, ("stages", index, "when")) for index, stage in enumerate(model.stages)]
    if model.routing is not None:
        places += [
            (rule.when, ("routing", "rules", index, "when"))
            for index, rule in enumerate(model.routing.rules) if rule.when is not None
        ]
    for condition, loc in places:
        for leaf_loc, leaf in _leaves(condition, loc):
            if isinstance(leaf, FieldTest) and leaf.field.startswith("fields."):
                yield (*leaf_loc, "field"), leaf.field.removeprefix("fields.")
    for index, rule in enumerate(model.engagement.rules):
        if isinstance(rule, EngagementRule):
            continue
        for key in ("field", "last_activity"):
            path = getattr(rule, key)
            if path is not None and path.startswith("fields."):
                yield ("engagement", "rules", index, key), path.removeprefix("fields.")


def _check_routing(model: ScoringModel, known: set[str]) -> Iterator[tuple[Loc, str]]:
    if model.routing is None:
        return
    yield from _unique_ids(("routing", "rules"), [rule.id for rule in model.routing.rules])
    for index, rule in enumerate(model.routing.rules):
        if rule.when is not None:
            yield from _check_condition(rule.when, ("routing", "rules", index, "when"), known)


def _check_handoff(model: ScoringModel) -> Iterator[tuple[Loc, str]]:
    if model.handoff is None:
        return
    yield from _unique_ids(("handoff", "sla"), [rule.id for rule in model.handoff.sla])
    stage_ids = [stage.id for stage in model.stages if stage.id]
    for index, rule in enumerate(model.handoff.sla):
        for place, rule_id in enumerate(rule.stage_rules or []):
            if rule_id not in stage_ids:
                known = ", ".join(stage_ids) or "no stage rule has an id"
                yield (("handoff", "sla", index, "stage_rules", place),
                       f"unknown stage rule {rule_id!r} (stage rule ids: {known})")


def _unique_ids(loc: Loc, ids: list[str]) -> Iterator[tuple[Loc, str]]:
    seen: set[str] = set()
    for index, rule_id in enumerate(ids):
        if rule_id in seen:
            yield (*loc, index, "id"), f"id {rule_id!r} is used twice"
        seen.add(rule_id)


def _check_condition(condition: Condition, loc: Loc, known: set[str]) -> Iterator[tuple[Loc, str]]:
    if isinstance(condition, AllOf | AnyOf):
        parts = condition.all if isinstance(condition, AllOf) else condition.any
        key = "all" if isinstance(condition, AllOf) else "any"
        for index, part in enumerate(parts):
            yield from _check_condition(part, (*loc, key, index), known)
    elif isinstance(condition, NotOf):
        yield from _check_condition(condition.not_, (*loc, "not"), known)
    elif isinstance(condition, ActivityTest):
        if condition.where is not None:
            yield from _check_where(condition.where, (*loc, "where"))
    else:
        yield from _check_field(condition, loc, known, lead_field_kind)


def _check_where(condition: Condition, loc: Loc) -> Iterator[tuple[Loc, str]]:
    for leaf_loc, leaf in _leaves(condition, loc):
        if isinstance(leaf, ActivityTest):
            yield leaf_loc, "an activity test cannot sit inside `where`"
        else:
            yield from _check_field(leaf, leaf_loc, set(ACTIVITY_FIELD_KINDS), activity_field_kind)


def _leaves(condition: Condition, loc: Loc) -> Iterator[tuple[Loc, FieldTest | ActivityTest]]:
    if isinstance(condition, AllOf):
        for index, part in enumerate(condition.all):
            yield from _leaves(part, (*loc, "all", index))
    elif isinstance(condition, AnyOf):
        for index, part in enumerate(condition.any):
            yield from _leaves(part, (*loc, "any", index))
    elif isinstance(condition, NotOf):
        yield from _leaves(condition.not_, (*loc, "not"))
    else:
        yield loc, condition


def _check_field(
    test: FieldTest, loc: Loc, known: set[str], kind_of: FieldKindOf
) -> Iterator[tuple[Loc, str]]:
    path = test.field
    custom = path.startswith(("fields.", "company.fields.")) and known != set(ACTIVITY_FIELD_KINDS)
    if path not in known and not custom:
        options = (
            list(ACTIVITY_FIELD_KINDS) if known == set(ACTIVITY_FIELD_KINDS) else sorted(known)
        )
        yield (*loc, "field"), f"unknown field {path!r}{did_you_mean(path, options)}"
        return
    kind = kind_of(path)
    if kind == "text" and test.op in ORDERING_OPS:
        yield (*loc, "op"), f"{path} is text; '{test.op}' compares numbers or dates"
    if kind in ("number", "flag") and test.op in ("contains", "matches"):
        yield (*loc, "op"), f"{path} is a {kind}; '{test.op}' works on text"
    if test.op == "within_days" and kind not in ("time", None):
        yield (*loc, "op"), f"{path} is not a date; 'within_days' needs a date field"
