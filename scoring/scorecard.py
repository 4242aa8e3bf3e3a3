"""Turn learned weights into a scorecard a RevOps admin can read, review and adopt.

Weights (log-odds per rule match, or per decayed activity) become whole points on rules: one
scale for every rule, so 10 points mean the same odds wherever they are given, and the score
(fit and engagement weighted by their maxima) stays a straight sum of points. Values of a field
that together cover every lead are shifted so the weakest is worth 0 (and left out); values
worth the same points are merged into one `in` rule. Grades and the MQL threshold follow a sales
capacity ("200/month", or a share of leads). The proposal is written as a leadq model file, with
each rule's evidence as a comment, and compared with the current model change by change.

Pure: no I/O, no clock. scikit-learn only through `scoring.learn.fit_logistic`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import yaml

from scoring.backtest import (
    BacktestResult,
    LabelledLeads,
    ScoredLeads,
    measure,
    roc_auc,
    score_as_of_cutoffs,
    split_text,
    stratified_folds,
    time_ordered_split,
)
from scoring.conditions import FieldTest, walk
from scoring.config import (
    Engagement,
    EngagementGroup,
    EngagementRule,
    Fit,
    FitRule,
    Grades,
    Predictive,
    Qualification,
    Score,
    ScoringModel,
    StageRule,
)
from scoring.frame import BANT_CRITERIA, SCORE_FIELD_KINDS
from scoring.learn import (
    MIN_RULE_POINTS,
    Evidence,
    Feature,
    Learned,
    Learner,
    evidence_of,
    field_slug,
    fit_logistic,
    points_per_logit,
    shift_exclusive_groups,
    unique_id,
)
from scoring.loading import parse_model
from scoring.predictive import is_every_lead, rule_points

DEFAULT_SHARE = 0.10
BASE_RULE_ID = "base"


# --------------------------------------------------------------------------- capacity


@dataclass(frozen=True)
class Capacity:
    """How many leads sales can take: a number per day, week or month, or a share of leads."""

    amount: float
    per: Literal["share", "day", "week", "month"]

    @property
    def text(self) -> str:
        return (
            f"{self.amount:.0%} of leads" if self.per == "share" else f"{self.amount:g}/{self.per}"
        )

    def share(self, labelled: LabelledLeads) -> float:
        if self.per == "share":
            return self.amount
        if labelled.ordered_by != "created_at":
            raise ValueError(
                f"--capacity {self.text} needs the leads' creation dates (created_at) to know how "
                "many leads arrive per period; give a share instead, e.g. --capacity 10%"
            )
        days = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}[self.per]
        span_days = max((labelled.order.max() - labelled.order.min()) / 86400.0, days)
        arriving = len(labelled) / (span_days / days)
        return min(1.0, self.amount / arriving)


def parse_capacity(text: str) -> Capacity:
    cleaned = text.strip().lower().replace(",", "").replace(" ", "")
    share = re.fullmatch(r"(\d+(?:\.\d+)?)%", cleaned)
    if share and 0 < float(share.group(1)) <= 100:
        return Capacity(float(share.group(1)) / 100, "share")
    rate = re.fullmatch(r"(\d+(?:\.\d+)?)/(day|week|month)", cleaned)
    if rate and float(rate.group(1)) > 0:
        return Capacity(float(rate.group(1)), rate.group(2))  # type: ignore[arg-type]
    raise ValueError(
        f"capacity {text!r} is not understood; write leads per period (200/month, 50/week, "
        "10/day) or a share of leads (10%)"
    )


# --------------------------------------------------------------------------- evidence and changes


@dataclass(frozen=True)
class Change:
    kind: Literal["added", "changed", "removed"]
    what: str  # e.g. "fit rule senior_title", "grade A", "MQL threshold"
    label: str
    before: str
    after: str
    evidence: Evidence | None = None
    why: str = ""


@dataclass(frozen=True)
class Scorecard:
    model: ScoringModel
    evidence: dict[str, Evidence]
    points_per_logit: float
    share: float
    capacity_text: str
    mql_threshold: int
    removed: dict[str, str] = field(default_factory=dict)  # rule id → why it was dropped


# --------------------------------------------------------------------------- points


@dataclass
class _Rules:
    fit: list[FitRule]
    engagement: list[EngagementRule]
    evidence: dict[str, Evidence]
    removed: dict[str, str]


def build_scorecard(
    learned: Learned,
    model: ScoringModel,
    capacity: Capacity | None,
    left_out: dict[str, str] | None = None,
) -> Scorecard:
    """The proposed model: points from `learned`, thresholds for `capacity`."""
    weights = shift_exclusive_groups(learned.features, learned.weights)
    scale = points_per_logit(learned.matrix @ weights)
    points = np.rint(weights * scale)
    rules = _rules_from_points(learned, model, points, weights)
    for rule_id, evidence in learned.dropped.items():
        rules.removed[rule_id] = f"worth under {MIN_RULE_POINTS} points: it barely moves the odds"
        rules.evidence[rule_id] = evidence
    for rule_id, why in (left_out or {}).items():
        rules.removed.setdefault(rule_id, why)
    draft = _draft_model(model, learned, rules, points)
    scored = score_as_of_cutoffs(learned.train, draft)
    share, capacity_text = _target_share(capacity, learned.train, model)
    final = _with_thresholds(draft, model, scored, share, capacity_text)
    final = _with_predictive(final, scored, learned.converted, model)
    return Scorecard(
        model=final,
        evidence=rules.evidence,
        points_per_logit=scale,
        share=share,
        capacity_text=capacity_text,
        mql_threshold=_mql_threshold_of(final),
        removed=rules.removed,
    )


def _rules_from_points(
    learned: Learned, model: ScoringModel, points: np.ndarray, weights: np.ndarray
) -> _Rules:
    rules = _Rules([], [], {}, {})
    taken = {f.id for f in learned.features}
    merged_sources: set[tuple[str, float]] = set()
    for index, feature in enumerate(learned.features):
        evidence = _evidence(learned, [index], float(weights[index]), points)
        value = float(points[index])
        if value == 0:
            if feature.existing:
                rules.removed[feature.id] = "its learned weight rounds to 0 points"
                rules.evidence[feature.id] = evidence
            continue
        if feature.kind == "engagement":
            rules.engagement.append(_engagement_rule(feature, value))
            rules.evidence[feature.id] = evidence
            continue
        twins = _same_points_values(learned.features, points, index)
        if len(twins) > 1:
            key = (feature.source, value)
            if key not in merged_sources:
                merged_sources.add(key)
                rule = _merged_rule(learned.features, twins, value, taken)
                rules.fit.append(rule)
                weight = float(weights[index])
                rules.evidence[rule.id] = _evidence(learned, twins, weight, points)
            continue
        rules.fit.append(feature.rule.model_copy(update={"points": value}))  # type: ignore[arg-type]
        rules.evidence[feature.id] = evidence
    return rules


def _evidence(
    learned: Learned, columns: Sequence[int], weight: float, points: np.ndarray | None = None
) -> Evidence:
    matched = (learned.matrix[:, list(columns)] > 0).any(axis=1)
    evidence = evidence_of(matched, learned.converted, weight)
    base = float(learned.converted.mean()) if len(learned.converted) else 0.0
    against = (evidence.rate - base) * weight < 0 and evidence.leads > 0
    if points is not None and against:
        return replace(evidence, note=_overlap_note(learned, matched, list(columns), points))
    return evidence


def _overlap_note(learned: Learned, matched: np.ndarray, own: list[int], points: np.ndarray) -> str:
    """Name the rule sharing most of these leads: the points are what is left after it."""
    best, best_share = -1, 0.0
    for index in range(len(learned.features)):
        if index in own or points[index] == 0:
            continue
        share = float((matched & (learned.matrix[:, index] > 0)).sum()) / max(matched.sum(), 1)
        if share > best_share:
            best, best_share = index, share
    if best < 0 or best_share < 0.5:
        return "points net of the other rules these leads match"
    other = learned.features[best]
    return f"net of {other.label!r} ({int(points[best]):+d}), which {best_share:.0%} of them match"


def _is_value_rule(feature: Feature) -> bool:
    rule = feature.rule
    return (
        not feature.existing
        and isinstance(rule, FitRule)
        and isinstance(rule.when, FieldTest)
        and rule.when.op == "eq"
    )


def _same_points_values(features: Sequence[Feature], points: np.ndarray, index: int) -> list[int]:
    feature = features[index]
    if not _is_value_rule(feature):
        return [index]
    return [
        i
        for i, other in enumerate(features)
        if _is_value_rule(other) and other.source == feature.source and points[i] == points[index]
    ]


def _merged_rule(
    features: Sequence[Feature], members: Sequence[int], value: float, taken: set[str]
) -> FitRule:
    path = features[members[0]].source
    shown = [str(features[i].rule.when.value) for i in members]  # type: ignore[union-attr]
    first_label = features[members[0]].label
    name = first_label[: first_label.rindex(" is ")]
    rule_id = unique_id(f"{field_slug(path)}_{'_'.join(shown)}", taken)
    return FitRule(
        id=rule_id,
        label=f"{name} is {_or_list(shown)}",
        when=FieldTest(field=path, op="in", value=shown),
        points=value,
    )


def _or_list(values: Sequence[str]) -> str:
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + f" or {values[-1]}"


def _engagement_rule(feature: Feature, points: float) -> EngagementRule:
    rule = feature.rule
    assert isinstance(rule, EngagementRule)
    cap = round(feature.unit_cap * abs(points), 1) if feature.unit_cap else None
    return rule.model_copy(update={"points": points, "cap": cap})


# --------------------------------------------------------------------------- the model


def _draft_model(
    model: ScoringModel, learned: Learned, rules: _Rules, points: np.ndarray
) -> ScoringModel:
    fit_columns = [i for i, f in enumerate(learned.features) if f.kind == "fit"]
    engagement_columns = [i for i, f in enumerate(learned.features) if f.kind == "engagement"]
    fit_sum = learned.matrix[:, fit_columns] @ points[fit_columns]
    base = math.ceil(max(0.0, -float(np.percentile(fit_sum, 0.5)))) if len(fit_sum) else 0
    fit_rules = rules.fit
    if base:
        base_rule = FitRule(
            id=unique_id(BASE_RULE_ID, {r.id for r in fit_rules}),
            label="Base points (every lead)",
            when=FieldTest(field="id", op="exists"),
            points=base,
        )
        fit_rules = [base_rule, *fit_rules]
    engagement_sum = np.maximum(
        learned.matrix[:, engagement_columns] @ points[engagement_columns], 0
    )
    fit_max = _round_up(float(fit_sum.max() + base) if len(fit_sum) else 100)
    has_engagement = bool(rules.engagement) and float(engagement_sum.max(initial=0)) > 0
    engagement_max = _round_up(float(engagement_sum.max())) if has_engagement else 100
    old = model.engagement
    return model.model_copy(
        update={
            "name": f"{model.name} (learned)",
            "fit": Fit(max=fit_max, grades=model.fit.grades, rules=fit_rules),
            "engagement": _scaled_engagement(old, rules.engagement, engagement_max),
            "qualification": _scaled_bands(model.qualification, old.max, engagement_max),
            "score": Score(
                fit_weight=fit_max, engagement_weight=engagement_max if has_engagement else 0
            ),
            "predictive": None,
        }
    )


def _round_up(value: float, step: int = 5) -> float:
    return float(max(step, math.ceil(value / step) * step))


def _scaled_engagement(
    old: Engagement, rules: Sequence[EngagementRule], maximum: float
) -> Engagement:
    """Keep each group cap, scaled as much as its most re-weighted member rule."""
    before = {rule.id: rule for rule in old.rules}
    groups: list[EngagementGroup] = []
    for group in old.groups:
        ratios = [
            abs(rule.points) / abs(before[rule.id].points)
            for rule in rules
            if rule.group == group.id and rule.id in before and before[rule.id].points
        ]
        if ratios:
            groups.append(group.model_copy(update={"cap": round(group.cap * max(ratios), 1)}))
    kept = {group.id for group in groups}
    orphans_ungrouped = [
        rule
        if rule.group is None or rule.group in kept
        else rule.model_copy(update={"group": None})
        for rule in rules
    ]
    return Engagement(max=maximum, decay=old.decay, groups=groups, rules=orphans_ungrouped)


def _scaled_bands(qualification: Qualification, old_max: float, new_max: float) -> Qualification:
    bands = [round(band / old_max * new_max) for band in qualification.engagement_bands]
    return qualification.model_copy(update={"engagement_bands": bands})


def _reads_scores(stage: StageRule) -> bool:
    return any(
        isinstance(leaf, FieldTest) and (leaf.field in SCORE_FIELD_KINDS)
        for leaf in walk(stage.when)
    )


def _target_share(
    capacity: Capacity | None, train: LabelledLeads, model: ScoringModel
) -> tuple[float, str]:
    """The capacity as a share of leads, and in words; without one, keep today's MQL volume."""
    if capacity is not None:
        return capacity.share(train), capacity.text
    if model.stages:
        current = score_as_of_cutoffs(train, model)
        passed = float((current.stage_rule >= 0).mean())
        if passed > 0:
            return passed, f"today's MQL volume, {passed:.1%} of leads"
    return DEFAULT_SHARE, f"{DEFAULT_SHARE:.0%} of leads (no capacity given)"


def _with_thresholds(
    draft: ScoringModel,
    model: ScoringModel,
    scored: ScoredLeads,
    share: float,
    capacity_text: str,
) -> ScoringModel:
    kept = [stage for stage in model.stages if not _reads_scores(stage)]
    kept_hit = np.zeros(len(scored.score), dtype=bool)
    for index, stage in enumerate(model.stages):
        if stage in kept:
            kept_hit |= scored.stage_rule == index  # draft keeps the model's stages as they are
    threshold = _smallest_threshold(scored.score, share, kept_hit)
    stage_name = model.stages[0].stage if model.stages else "mql"
    mql = StageRule(
        stage=stage_name,
        label=f"Score {threshold} or more (sales capacity: {capacity_text})",
        when=FieldTest(field="score", op="gte", value=threshold),
    )
    grades = _grades_for(scored.fit, share)
    return draft.model_copy(
        update={
            "fit": draft.fit.model_copy(update={"grades": grades}),
            "stages": [mql, *kept],
        }
    )


def _smallest_threshold(score: np.ndarray, share: float, already: np.ndarray) -> int:
    """The lowest score whose MQLs (with the ones other rules pass) stay within `share`."""
    for threshold in range(0, 101):
        if float(((score >= threshold) | already).mean()) <= share:
            return threshold
    return 100


def _grades_for(fit: np.ndarray, share: float) -> Grades:
    """A for the best `share` of fit, B for twice that, C four times, D eight times."""
    thresholds = []
    for multiple in (1, 2, 4, 8):
        wanted = min(share * multiple, 0.95)
        thresholds.append(float(_smallest_fit(fit, wanted)))
    for i in range(1, 4):
        thresholds[i] = min(thresholds[i], thresholds[i - 1])
    a, b, c, d = thresholds
    return Grades(A=a, B=b, C=c, D=d)


def _smallest_fit(fit: np.ndarray, share: float) -> int:
    candidates = np.unique(np.rint(fit))
    for value in candidates:
        if float((fit >= value).mean()) <= share:
            return int(value)
    return int(candidates.max()) + 1 if len(candidates) else 0


def _with_predictive(
    model: ScoringModel, scored: ScoredLeads, converted: np.ndarray, current: ScoringModel
) -> ScoringModel:
    """Calibrate the probability on the rule points (a one-feature logistic fit)."""
    points = rule_points(scored.contributions, len(model.fit.rules))
    intercept, weights = fit_logistic(points[:, None], converted, 1e6)
    if weights[0] <= 0:
        return model
    fields = current.predictive or Predictive(intercept=0, points_per_logit=1)
    return model.model_copy(
        update={
            "predictive": fields.model_copy(
                update={
                    "intercept": round(intercept, 4),
                    "points_per_logit": round(1 / float(weights[0]), 3),
                }
            )
        }
    )


def _mql_threshold_of(model: ScoringModel) -> int:
    return int(model.stages[0].when.value)  # type: ignore[union-attr]


# --------------------------------------------------------------------------- the diff


def compare(current: ScoringModel, card: Scorecard) -> list[Change]:
    """Every change from the current model to the proposal, with its evidence."""
    proposed = card.model
    changes = _rule_changes("fit rule", current.fit.rules, proposed.fit.rules, card)
    changes += _rule_changes(
        "engagement rule", current.engagement.rules, proposed.engagement.rules, card
    )
    changes += _setting_changes(current, proposed, card)
    return changes


def _rule_changes(
    what: str,
    before: Sequence[FitRule | EngagementRule],
    after: Sequence[FitRule | EngagementRule],
    card: Scorecard,
) -> list[Change]:
    old = {rule.id: rule for rule in before}
    new = {rule.id: rule for rule in after}
    changes = []
    for rule in after:
        evidence = card.evidence.get(rule.id)
        if rule.id not in old:
            changes.append(
                Change(
                    "added",
                    f"{what} {rule.id}",
                    rule.label,
                    "—",
                    _points(rule.points),
                    evidence,
                    evidence.note if evidence else _why_added(rule),
                )
            )
        elif old[rule.id].points != rule.points:
            changes.append(
                Change(
                    "changed",
                    f"{what} {rule.id}",
                    rule.label,
                    _points(old[rule.id].points),
                    _points(rule.points),
                    evidence,
                    evidence.note if evidence else "",
                )
            )
    for rule in before:
        if rule.id not in new:
            changes.append(
                Change(
                    "removed",
                    f"{what} {rule.id}",
                    rule.label,
                    _points(rule.points),
                    "—",
                    card.evidence.get(rule.id),
                    card.removed.get(rule.id, ""),
                )
            )
    return changes


def _why_added(rule: FitRule | EngagementRule) -> str:
    if isinstance(rule, FitRule) and is_every_lead(rule):
        return "every lead starts with these, so no lead's fit falls below 0 and ties there"
    return ""


def _points(value: float) -> str:
    return f"{value:+g}"


def _setting_changes(
    current: ScoringModel, proposed: ScoringModel, card: Scorecard
) -> list[Change]:
    pairs: list[tuple[str, str, Any, Any]] = [
        ("fit max", "Most fit points", current.fit.max, proposed.fit.max),
        (
            "engagement max",
            "Most engagement points",
            current.engagement.max,
            proposed.engagement.max,
        ),
    ]
    for grade in ("A", "B", "C", "D"):
        pairs.append(
            (
                f"grade {grade}",
                f"Lowest fit for grade {grade}",
                getattr(current.fit.grades, grade),
                getattr(proposed.fit.grades, grade),
            )
        )
    changes = [
        Change("changed", what, label, f"{before:g}", f"{after:g}")
        for what, label, before, after in pairs
        if before != after
    ]
    changes.append(
        Change(
            "changed" if current.stages else "added",
            "MQL threshold",
            "Leads passed to sales",
            _stages_text(current),
            f"score ≥ {card.mql_threshold}",
            why=f"sales capacity: {card.capacity_text}",
        )
    )
    if proposed.predictive is not None:
        changes.append(
            Change(
                "changed" if current.predictive else "added",
                "predictive",
                f"Probability in {proposed.predictive.field}",
                "—" if current.predictive is None else "learned before",
                f"intercept {proposed.predictive.intercept:g}, "
                f"{proposed.predictive.points_per_logit:g} points per log-odds",
            )
        )
    return changes


def _stages_text(model: ScoringModel) -> str:
    if not model.stages:
        return "no stage rules"
    return "; ".join(stage.label or stage.stage for stage in model.stages)


# --------------------------------------------------------------------------- YAML


def render_yaml(card: Scorecard, header: Sequence[str] = ()) -> str:
    """The proposal as a leadq model file, each rule with its evidence as a comment."""
    model = card.model
    lines = [f"# {line}" if line else "#" for line in header]
    lines += _block({"name": model.name})
    if model.description:
        lines += _block({"description": " ".join(model.description.split())})
    lines += ["", "fit:", f"  max: {_flow(_whole(model.fit.max))}"]
    lines.append(f"  grades: {_flow(_dump(model.fit.grades))}")
    lines += _rules_block(model.fit.rules, card)
    if any(getattr(model.bant, name) for name in BANT_CRITERIA):
        lines += ["", *_block({"bant": _dump(model.bant)})]
    engagement = model.engagement
    lines += ["", "engagement:", f"  max: {_flow(_whole(engagement.max))}"]
    lines.append(f"  decay: {_flow(_dump(engagement.decay))}")
    lines.append("  groups:" + ("" if engagement.groups else " []"))
    lines += [f"    - {_flow(_dump(group))}" for group in engagement.groups]
    lines += _rules_block(engagement.rules, card)
    lines += ["", f"qualification: {_flow(_dump(model.qualification, compact=True))}"]
    lines += ["", "stages:", *(f"  - {_flow(_dump(stage))}" for stage in model.stages)]
    lines += _block({"default_stage": model.default_stage})
    lines += ["", f"score: {_flow(_dump(model.score))}"]
    sections = {
        "output": _dump(model.output, compact=True),
        "csv": _dump(model.csv, compact=True),
        "predictive": _dump(model.predictive) if model.predictive else None,
        "learn": _dump(model.learn, compact=True),
    }
    for key, value in sections.items():
        if value:
            lines += ["", *_block({key: value})]
    text = "\n".join(lines) + "\n"
    parse_model(text, source="proposed.yaml")  # a proposal leadq cannot load is a bug here
    return text


def _rules_block(rules: Sequence[FitRule | EngagementRule], card: Scorecard) -> list[str]:
    if not rules:
        return ["  rules: []"]
    lines = ["  rules:"]
    for rule in rules:
        evidence = card.evidence.get(rule.id)
        if evidence is not None:
            lines.append(f"    # {evidence.comment()}")
        lines.append(f"    - {_flow(_rule_dict(rule))}")
    return lines


def _rule_dict(rule: FitRule | EngagementRule) -> dict[str, Any]:
    data = rule.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    data["points"] = rule.points
    for name in ("when", "where"):
        condition = getattr(rule, name, None)
        if condition is not None:
            data[name] = condition.model_dump(mode="json", by_alias=True, exclude_none=True)
    order = ["id", "label", "when", "activity", "where", "points"]
    ordered = {key: data[key] for key in order if key in data}
    ordered.update({key: value for key, value in data.items() if key not in ordered})
    if isinstance(rule, EngagementRule) and len(rule.activity) == 1:
        ordered["activity"] = rule.activity[0]
    return _whole(ordered)


def _whole(value: Any) -> Any:
    """60.0 → 60, all the way down: points and thresholds read as people write them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole(item) for item in value]
    return value


def _dump(section: Any, compact: bool = False) -> Any:
    """A section as plain data; `compact` leaves out settings at their defaults."""
    data = section.model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude_defaults=compact
    )
    return _whole(data)


def _flow(data: Any) -> str:
    if not isinstance(data, dict | list):
        return yaml.safe_dump(data).removesuffix("...\n").strip()  # a lone scalar: no `...`
    return yaml.safe_dump(
        data, default_flow_style=True, sort_keys=False, allow_unicode=True, width=10**6
    ).strip()


def _block(data: dict[str, Any]) -> list[str]:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return text.rstrip("\n").split("\n")


# --------------------------------------------------------------------------- a learning run


@dataclass(frozen=True)
class Estimate:
    """How well learning generalises, measured on leads the learned model never saw."""

    fold_aucs: list[float]
    out_of_fold: BacktestResult | None  # each lead scored by the fold model that left it out
    latest: BacktestResult | None  # learned on the earlier leads, measured on the latest

    @property
    def mean_fold_auc(self) -> float | None:
        return float(np.mean(self.fold_aucs)) if self.fold_aucs else None


def propose(
    learner: Learner, capacity: Capacity | None, rows: np.ndarray | None = None
) -> Scorecard:
    """Learn on `rows` (default: every lead) and turn the weights into a proposed model."""
    left_out = {source: "looks like it leaks the outcome" for source in learner.excluded}
    return build_scorecard(learner.learn(rows), learner.model, capacity, left_out)


def estimate(
    learner: Learner, capacity: Capacity | None, folds: int, test_share: float | None
) -> Estimate:
    labelled = learner.labelled
    fold_aucs: list[float] = []
    pooled: list[tuple[np.ndarray, ScoredLeads]] = []
    last_model = learner.model
    for train, test in stratified_folds(labelled.converted, folds) if folds >= 2 else []:
        card = propose(learner, capacity, train)
        scored = score_as_of_cutoffs(labelled.subset(test), card.model)
        fold_aucs.append(roc_auc(labelled.converted[test], scored.score))
        pooled.append((test, scored))
        last_model = card.model
    out_of_fold = (
        measure(labelled, _pooled(pooled, len(labelled)), _per_fold_threshold(last_model))
        if pooled
        else None
    )
    latest = None
    if test_share is not None:
        earlier, later = time_ordered_split(labelled, test_share)
        card = propose(learner, capacity, earlier)
        recent = labelled.subset(later)
        split = split_text(labelled, test_share, len(later))
        latest = measure(recent, score_as_of_cutoffs(recent, card.model), card.model, split)
    return Estimate(fold_aucs, out_of_fold, latest)


def _pooled(parts: Sequence[tuple[np.ndarray, ScoredLeads]], size: int) -> ScoredLeads:
    names = ("score", "fit", "engagement", "grade", "label", "stage", "stage_rule")
    columns: dict[str, np.ndarray] = {}
    for name in names:
        first = getattr(parts[0][1], name)
        column = np.empty(size, dtype=first.dtype)
        for rows, scored in parts:
            column[rows] = getattr(scored, name)
        columns[name] = column
    probability = None
    if all(scored.probability is not None for _, scored in parts):
        probability = np.empty(size)
        for rows, scored in parts:
            probability[rows] = scored.probability
    return ScoredLeads(**columns, contributions=np.zeros((size, 0)), probability=probability)


def _per_fold_threshold(model: ScoringModel) -> ScoringModel:
    if not model.stages:
        return model
    first = model.stages[0].model_copy(update={"label": "Learned MQL threshold (per fold)"})
    return model.model_copy(update={"stages": [first, *model.stages[1:]]})
