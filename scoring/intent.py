"""The intent guard: can browsing earn as much engagement as a hand-raise?

A classic points table (site visit 5, article 5, product page 10, inquiry 20) lets three article
views equal one inquiry and sixty page views outrank a demo request. From the model alone, this
module finds the hand-raises (the activity tests that qualify a lead on their own in a stage rule:
a demo request, a contact-form submission), the least engagement one of them earns, and the
fewest browsing activities (page views, e-mail opens and clicks by default:
`qualification.browsing`; and every count rule's units, such as visits on the lead) that earn as
much — naming the rules and the counts that do it.

Everything is computed for fresh activity (decay applies to both sides alike) and is pure: no
leads, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from scoring.conditions import ActivityTest, AnyOf, Condition
from scoring.config import (
    ScoringModel,
)
from scoring.engagement_config import (
    CountRule,
)
from scoring.model_types import (
    HAND_RAISER,
)

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class HandRaise:
    """One activity test that qualifies a lead on its own, and where the model says so."""

    test: ActivityTest
    loc: Loc
    stage_label: str


@dataclass(frozen=True)
class LeastHandRaise:
    """The hand-raise that earns the least engagement, and the rules that give it."""

    hand_raise: HandRaise
    activity: str
    points: float
    rules: tuple[str, ...]


@dataclass(frozen=True)
class IntentFinding:
    """A place where the model lets browsing reach a hand-raise."""

    loc: Loc
    message: str


def hand_raises(model: ScoringModel) -> list[HandRaise]:
    """The activity tests that alone move a lead out of the default stage."""
    found = []
    for index, rule in enumerate(model.stages):
        if rule.stage == model.default_stage:
            continue
        label = rule.label or rule.stage
        for test, loc in sufficient_tests(rule.when, ("stages", index, "when")):
            found.append(HandRaise(test, loc, label))
    return found


def hand_raise_condition(model: ScoringModel) -> Condition | None:
    """One condition true for every hand-raiser, or None when the model names no hand-raise."""
    tests = [found.test for found in hand_raises(model)]
    if not tests:
        return None
    return tests[0] if len(tests) == 1 else AnyOf(any=tests)


def intent_findings(model: ScoringModel) -> list[IntentFinding]:
    """Where browsing can earn as much as the least a hand-raise earns, or rank level with it."""
    raises = hand_raises(model)
    if not raises or model.qualification.intent_guard == "off":
        return []
    findings = list(_level_priorities(model))
    least = min(
        (_earned_by(model, found) for found in raises), key=lambda least: least.points
    )
    reached = _browsing_reaching(model, least.points) if least.points > 0 else {}
    if reached is not None:
        findings.append(IntentFinding(least.hand_raise.loc, _reach_message(least, reached)))
    return findings


def handoff_findings(model: ScoringModel) -> list[IntentFinding]:
    """SLA rules for hand-raisers in a model that names no hand-raise: they never match."""
    if model.handoff is None or hand_raises(model):
        return []
    return [
        IntentFinding(
            ("handoff", "sla", index, "hand_raiser"),
            f"SLA rule {rule.id!r} is for hand-raisers, and no stage rule qualifies a lead on a "
            "hand-raise alone (a demo or contact request): it never applies",
        )
        for index, rule in enumerate(model.handoff.sla)
        if rule.hand_raiser and "sla" in model.handoff.model_fields_set
    ]


# --------------------------------------------------------------------------- hand-raises


def sufficient_tests(
    condition: Condition, loc: Loc = ()
) -> Iterator[tuple[ActivityTest, Loc]]:
    """Activity tests that make `condition` true by themselves (an `any` of them, or one alone)."""
    if isinstance(condition, ActivityTest):
        yield condition, loc
    elif isinstance(condition, AnyOf):
        for index, option in enumerate(condition.any):
            yield from sufficient_tests(option, (*loc, "any", index))


def _earned_by(model: ScoringModel, found: HandRaise) -> LeastHandRaise:
    """The least engagement this hand-raise is sure to earn, over the activity types it allows."""
    options = [
        _earned_by_type(model, found, activity) for activity in found.test.activity
    ]
    return min(options, key=lambda option: option.points)


def _earned_by_type(model: ScoringModel, found: HandRaise, activity: str) -> LeastHandRaise:
    """Engagement from `min_count` fresh activities of one type, counting only the rules sure to
    match them: rules for that type with no `where`, or with the hand-raise's own `where`."""
    count = found.test.min_count
    by_group: dict[str | None, float] = {}
    names = []
    for rule in model.engagement.activity_rules:
        if activity not in rule.activity or rule.where not in (None, found.test.where):
            continue
        points = rule.points * (1 if rule.once else count)
        if rule.cap is not None:
            points = max(-rule.cap, min(rule.cap, points))
        by_group[rule.group] = by_group.get(rule.group, 0.0) + points
        names.append(rule.id)
    total = sum(_group_capped(model, group, points) for group, points in by_group.items())
    return LeastHandRaise(found, activity, _clamped(model, total), tuple(names))


# --------------------------------------------------------------------------- browsing


@dataclass(frozen=True)
class _Browsing:
    rule: str
    group: str | None
    points: float  # for one browsing activity (a count rule's: one unit, or its top bin)
    once: bool  # one activity gives all the rule can give
    allowance: float  # most points the rule can give; inf when nothing caps it


def _browsing_rules(model: ScoringModel) -> list[_Browsing]:
    """The rules browsing feeds: activity rules for `qualification.browsing`'s types, and every
    count rule (a count on the lead, such as visits, cannot show a hand-raise)."""
    browsing = set(model.qualification.browsing)
    found = []
    for rule in model.engagement.rules:
        if isinstance(rule, CountRule):
            found += _browsing_count(rule)
            continue
        if rule.points <= 0 or not browsing.intersection(rule.activity):
            continue
        if rule.cap is not None:
            allowance = min(rule.cap, rule.points) if rule.once else rule.cap
        else:
            allowance = rule.points if rule.once else math.inf
        found.append(_Browsing(rule.id, rule.group, rule.points, rule.once, allowance))
    return found


def _browsing_count(rule: CountRule) -> list[_Browsing]:
    top = max(found.points for found in rule.bins) if rule.bins else None
    points = top if top is not None else rule.points_per or 0.0
    if points <= 0:
        return []
    allowance = min(rule.cap or math.inf, top if top is not None else math.inf)
    return [_Browsing(rule.id, rule.group, points, top is not None, allowance)]


def _browsing_reaching(model: ScoringModel, target: float) -> dict[str, int] | None:
    """The fewest browsing activities (per rule) whose engagement reaches `target`, or None.

    Greedy by points per activity, within each rule's cap and its group's cap; each activity is
    counted for one rule only, so the counts are what it takes at most."""
    group_room = {group.id: group.cap for group in model.engagement.groups}
    total, counts = 0.0, {}
    for browsing in sorted(_browsing_rules(model), key=lambda b: -b.points):
        group = browsing.group
        room = group_room.get(group, math.inf) if group else math.inf
        taken = min(browsing.allowance, room, target - total)
        if taken <= 0:
            continue
        counts[browsing.rule] = 1 if browsing.once else math.ceil(taken / browsing.points)
        total += taken
        if group in group_room:
            group_room[group] = room - taken
        if total >= target:
            return counts
    return None


def _level_priorities(model: ScoringModel) -> Iterator[IntentFinding]:
    """Label priorities the admin set that rank browsing leads level with hand-raisers."""
    first = model.qualification.hand_raiser_priority
    level = [
        label
        for label, priority in model.qualification.priorities.items()
        if label != HAND_RAISER and priority <= first
    ]
    if level:
        verb, pronoun = ("has", "it") if len(level) == 1 else ("have", "them")
        yield IntentFinding(
            ("qualification", "priorities", level[0]),
            f"{', '.join(level)} {verb} a priority level with or ahead of hand-raisers "
            f"({HAND_RAISER}: {first}): a lead that only browses would be called as early as one "
            f"who asked for a demo; give {pronoun} a priority above {first}",
        )


# --------------------------------------------------------------------------- arithmetic


def _group_capped(model: ScoringModel, group: str | None, points: float) -> float:
    caps = {found.id: found.cap for found in model.engagement.groups}
    if group is None or group not in caps:
        return points
    return max(-caps[group], min(caps[group], points))


def _clamped(model: ScoringModel, total: float) -> float:
    return max(0.0, min(model.engagement.max, total))


def _points(value: float) -> str:
    return f"{value:g}"


def _reach_message(least: LeastHandRaise, counts: dict[str, int]) -> str:
    if not counts:
        return (
            f"a {least.activity} earns no engagement for {least.hand_raise.stage_label!r}, so "
            f"any browsing outscores it; give it an engagement rule of its own"
        )
    browsing = " + ".join(f"{count} × {rule}" for rule, count in counts.items())
    activities = sum(counts.values())
    earned_by = " + ".join(least.rules) or "no engagement rule"
    return (
        f"browsing can earn as much engagement as a hand-raise: {browsing} "
        f"({activities} browsing {'activity' if activities == 1 else 'activities'}) reach the "
        f"{_points(least.points)} points a {least.activity} earns for "
        f"{least.hand_raise.stage_label!r} ({earned_by}); cap browsing below it (a group cap "
        f"under engagement.groups) or give the hand-raise more points"
    )
