"""Turn learned weights into a scorecard a RevOps admin can read, review and adopt.

Weights (log-odds per rule match, or per decayed activity) become whole points on rules: one
scale for every rule, so 10 points mean the same odds wherever they are given, and the same
scale in every fold and in the final fit (`scoring.learn_selection.points_per_logit`): the fit
and engagement maxima add up to 100, so a lead's score is the sum of its points. Values of a
field that together cover every lead are shifted so the most common is worth 0 (and left out);
values worth the same points are merged into one `in` rule; a numeric field's thresholds become
bins with units (`scoring.scorecard_bins`). Grades and the MQL threshold follow a sales
capacity ("200/month", or a share of leads). `scoring.proposal_yaml` writes the proposal as a
leadq model file with each rule's evidence as a comment; `scoring.proposal_diff` compares it with
the current model change by change; `scoring.crossvalidation` measures it on unseen leads.

Pure: no I/O, no clock. scikit-learn only through `scoring.logistic.fit_logistic`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from scoring.backtest import (
    LabelledLeads,
    ScoredLeads,
    score_as_of_cutoffs,
)
from scoring.conditions import FieldTest, walk
from scoring.config import (
    Fit,
    FitRule,
    Grades,
    Predictive,
    Qualification,
    Score,
    ScoringModel,
    StageRule,
)
from scoring.engagement_config import (
    CountRule,
    Engagement,
    EngagementGroup,
    EngagementRule,
)
from scoring.frame import SCORE_FIELD_KINDS
from scoring.learn import Evidence, Learned, Learner, evidence_of
from scoring.learn_features import Feature
from scoring.learn_selection import (
    MIN_RULE_POINTS,
    SCORE_POINTS,
    TAIL,
    points_per_logit,
    shift_exclusive_groups,
    split_sums,
)
from scoring.logistic import fit_logistic
from scoring.model_types import (
    shortened,
)
from scoring.predictive import rule_points
from scoring.rule_names import field_slug, unique_id
from scoring.scorecard_bins import is_threshold, numeric_bins
from scoring.stability import Stability

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
        return min(1.0, self.amount / self.arriving(labelled))

    def arriving(self, labelled: LabelledLeads) -> float:
        """Leads created per period over the history, by `created_at`.

        Measured between the 1st and 99th percentile of creation times, so a few stray records
        (imported years before the rest, or dated in the future) do not stretch the history.
        """
        days = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}.get(self.per, 1.0)
        low, high = np.percentile(labelled.order, [1, 99])
        inside = int(((labelled.order >= low) & (labelled.order <= high)).sum())
        span_days = max((high - low) / 86400.0, days)
        return inside / (span_days / days)

    def passing_text(self, passed_share: float, labelled: LabelledLeads) -> str:
        """How many leads a threshold passing `passed_share` of them sends, in the capacity's
        own terms: "about 47/month over the history" or "9.8% of leads"."""
        if self.per == "share" or labelled.ordered_by != "created_at":
            return f"{passed_share:.1%} of leads"
        return f"about {passed_share * self.arriving(labelled):,.0f}/{self.per} over the history"


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


# --------------------------------------------------------------------------- the scorecard


@dataclass(frozen=True)
class Scorecard:
    """The proposed model, with the evidence for each rule and how its thresholds were set."""

    model: ScoringModel
    evidence: dict[str, Evidence]
    points_per_logit: float
    share: float
    capacity_text: str
    mql_threshold: int
    removed: dict[str, str] = field(default_factory=dict)  # rule id → why it was dropped
    passing_text: str = ""  # how many leads the MQL stage rules pass over the history
    # the learned columns (candidates, model rules) each rule is made of, and their points:
    # what `scoring.stability` follows from fold to fold
    rule_features: dict[str, tuple[str, ...]] = field(default_factory=dict)
    feature_points: dict[str, float] = field(default_factory=dict)
    learned_from: tuple[str, ...] = ()  # the ids of every column of the final fit
    stability: dict[str, Stability] = field(default_factory=dict)  # rule id → across the folds
    unstable: dict[str, tuple[str, Stability]] = field(default_factory=dict)  # left-out
    # candidates: id → (label, how the folds saw it)


def propose(
    learner: Learner,
    capacity: Capacity | None,
    rows: np.ndarray | None = None,
    given: Sequence[Feature] | None = None,
) -> Scorecard:
    """Learn on `rows` (default: every lead) and turn the weights into a proposed model;
    `given`: the features to weigh (default: the candidates found among those leads)."""
    return proposed(learner, learner.learn(rows, given), capacity)


def proposed(learner: Learner, learned: Learned, capacity: Capacity | None) -> Scorecard:
    """The scorecard of what `learner` learned."""
    left_out = {source: "looks like it leaks the outcome" for source in learner.excluded}
    return build_scorecard(
        learned, learner.model, capacity, left_out, learner.labelled, today=learner.today
    )


# --------------------------------------------------------------------------- points


@dataclass
class _Rules:
    fit: list[FitRule]
    engagement: list[EngagementRule | CountRule]
    evidence: dict[str, Evidence]
    removed: dict[str, str]
    features: dict[str, tuple[str, ...]] = field(default_factory=dict)  # rule id → its columns
    feature_points: dict[str, float] = field(default_factory=dict)  # column id → its points

    def add(
        self,
        rule: FitRule | EngagementRule | CountRule,
        features: Sequence[str],
        evidence: Evidence,
    ) -> None:
        if isinstance(rule, EngagementRule | CountRule):
            self.engagement.append(rule)
        else:
            self.fit.append(rule)
        self.evidence[rule.id] = evidence
        self.features[rule.id] = tuple(features)
        points = rule.strongest if isinstance(rule, CountRule) else rule.points
        self.feature_points.update(dict.fromkeys(features, points))


def build_scorecard(
    learned: Learned,
    model: ScoringModel,
    capacity: Capacity | None,
    left_out: dict[str, str] | None = None,
    history: LabelledLeads | None = None,
    today: ScoringModel | None = None,
) -> Scorecard:
    """The proposed model: points from `learned`, thresholds for `capacity`.

    A capacity per period is turned into a share of leads by how many leads `history` (default:
    the leads learned from) receives per period: a fold or an earlier part of the leads holds
    fewer of them than the whole history over the same months. Without a capacity the MQL
    volume of `today`'s model (default: `model`) is kept."""
    weights, scale, points = _points(learned)
    rules = _rules_from_points(learned, model, points, weights)
    for rule_id, evidence in learned.dropped.items():
        rules.removed[rule_id] = f"worth under {MIN_RULE_POINTS} points: it barely moves the odds"
        rules.evidence[rule_id] = evidence
    for rule_id, evidence in learned.too_common.items():
        rules.removed[rule_id] = (
            f"{evidence.leads / max(len(learned.train), 1):.1%} of leads match it: its points "
            "move every score alike and would be every lead's top reason"
        )
        rules.evidence[rule_id] = evidence
    for rule_id, evidence in learned.too_rare.items():
        rules.removed[rule_id] = (
            f"only {evidence.leads:,} of the leads learned from match it "
            f"({evidence.leads / max(len(learned.train), 1):.1%}): too few to weigh its points"
        )
        rules.evidence[rule_id] = evidence
    for rule_id, why in (left_out or {}).items():
        rules.removed.setdefault(rule_id, why)
    draft = _draft_model(model, learned, rules, points)
    scored = score_as_of_cutoffs(learned.train, draft)
    history = learned.train if history is None else history
    share, capacity_text = _target_share(capacity, learned.train, today or model, history)
    final = _with_thresholds(draft, model, scored, share, capacity_text)
    passed = float(
        ((scored.score >= _mql_threshold_of(final)) | _kept_passes(model, scored)).mean()
    )
    per = capacity or Capacity(share, "share")
    final = _with_predictive(final, scored, learned.converted, model)
    return Scorecard(
        model=final,
        evidence=rules.evidence,
        points_per_logit=scale,
        share=share,
        capacity_text=capacity_text,
        mql_threshold=_mql_threshold_of(final),
        removed=rules.removed,
        passing_text=per.passing_text(passed, history),
        rule_features=rules.features,
        feature_points=rules.feature_points,
        learned_from=tuple(f.id for f in learned.features),
    )


def feature_points(learned: Learned, model: ScoringModel) -> dict[str, float]:
    """The points each learned column gets on the scorecard (a bin's, a merged rule's), as
    `build_scorecard` gives them, without scoring the leads for thresholds: what
    `scoring.stability` follows from fold to fold."""
    weights, _, points = _points(learned)
    return _rules_from_points(learned, model, points, weights).feature_points


def _points(learned: Learned) -> tuple[np.ndarray, float, np.ndarray]:
    """(weights with each value group's most common value at 0, points per logit, points)."""
    weights = shift_exclusive_groups(learned.features, learned.weights, learned.matrix)
    scale = points_per_logit(learned.features, learned.matrix, weights)
    return weights, scale, np.rint(weights * scale)


def _rules_from_points(
    learned: Learned, model: ScoringModel, points: np.ndarray, weights: np.ndarray
) -> _Rules:
    rules = _Rules([], [], {}, {})
    taken = {f.id for f in learned.features}
    merged_sources: set[tuple[str, float]] = set()
    binned: set[str] = set()
    for index, feature in enumerate(learned.features):
        if is_threshold(feature):
            if feature.source not in binned:
                binned.add(feature.source)
                _add_bins(rules, learned, points, weights, feature.source, taken)
            continue
        evidence = _evidence(learned, [index], float(weights[index]), points)
        value = float(points[index])
        if value == 0:
            if feature.existing:
                rules.removed[feature.id] = "its learned weight rounds to 0 points"
                rules.evidence[feature.id] = evidence
            continue
        if feature.kind == "engagement":
            rules.add(_engagement_rule(feature, value), [feature.id], evidence)
            continue
        twins = _same_points_values(learned.features, points, index)
        if len(twins) > 1:
            key = (feature.source, value)
            if key not in merged_sources:
                merged_sources.add(key)
                rule = _merged_rule(learned.features, twins, value, taken)
                weight = float(weights[index])
                members = [learned.features[i].id for i in twins]
                rules.add(rule, members, _evidence(learned, twins, weight, points))
            continue
        rules.add(feature.rule.model_copy(update={"points": value}), [feature.id], evidence)
    return rules


def _add_bins(
    rules: _Rules,
    learned: Learned,
    points: np.ndarray,
    weights: np.ndarray,
    source: str,
    taken: set[str],
) -> None:
    """A numeric field's thresholds as bins, each with the evidence of the leads in it."""
    own = [i for i, f in enumerate(learned.features) if is_threshold(f) and f.source == source]
    for found in numeric_bins(learned.features, learned.matrix, points, weights, source, taken):
        evidence = _evidence_of_leads(learned, found.matched, own, found.weight, points)
        rules.add(found.rule, [found.starts_at], evidence)


def _evidence(
    learned: Learned, columns: Sequence[int], weight: float, points: np.ndarray | None = None
) -> Evidence:
    matched = (learned.matrix[:, list(columns)] > 0).any(axis=1)
    return _evidence_of_leads(learned, matched, list(columns), weight, points)


def _evidence_of_leads(
    learned: Learned,
    matched: np.ndarray,
    own: list[int],
    weight: float,
    points: np.ndarray | None = None,
) -> Evidence:
    evidence = evidence_of(matched, learned.converted, weight)
    base = float(learned.converted.mean()) if len(learned.converted) else 0.0
    against = (evidence.rate - base) * weight < 0 and evidence.leads > 0
    if points is not None and against:
        return replace(evidence, note=_overlap_note(learned, matched, own, points))
    return evidence


def _overlap_note(learned: Learned, matched: np.ndarray, own: list[int], points: np.ndarray) -> str:
    """Name the rule sharing most of these leads: the points are what is left after it."""
    best, best_share = -1, 0.0
    for index, feature in enumerate(learned.features):
        if index in own or points[index] == 0 or is_threshold(feature):
            continue  # (a threshold's points are not a rule's: its bins add them up)
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
        label=shortened(f"{name} is {_or_list(shown)}"),
        when=FieldTest(field=path, op="in", value=shown),
        points=value,
    )


def _or_list(values: Sequence[str]) -> str:
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + f" or {values[-1]}"


def _engagement_rule(feature: Feature, points: float) -> EngagementRule | CountRule:
    rule = feature.rule
    if isinstance(rule, CountRule):  # scaled as a whole: its strongest gives `points`
        return rule.scaled_to(points, digits=2)
    assert isinstance(rule, EngagementRule)
    cap = round(feature.unit_cap * abs(points), 1) if feature.unit_cap else None
    return rule.model_copy(update={"points": points, "cap": cap})


# --------------------------------------------------------------------------- the model


def _draft_model(
    model: ScoringModel, learned: Learned, rules: _Rules, points: np.ndarray
) -> ScoringModel:
    """The learned rules on the score's own scale: fit and engagement maxima add up to 100, so
    a lead's score is its points added up (the lowest 0.5% of fits clamped to 0, the top 0.5% of
    engagement to its maximum)."""
    fit_sum, engagement_sum = split_sums(learned.features, learned.matrix, points)
    base = math.ceil(max(0.0, -float(np.percentile(fit_sum, TAIL)))) if len(fit_sum) else 0
    fit_rules = rules.fit
    if base:
        base_rule = FitRule(
            id=unique_id(BASE_RULE_ID, {r.id for r in fit_rules}),
            label="Base points (every lead)",
            when=FieldTest(field="id", op="exists"),
            points=base,
        )
        fit_rules = [base_rule, *fit_rules]
    has_engagement = bool(rules.engagement) and float(engagement_sum.max(initial=0)) > 0
    engagement_top = float(np.percentile(engagement_sum, 100 - TAIL)) if has_engagement else 0
    engagement_max = min(max(1, math.ceil(engagement_top)), SCORE_POINTS - 1)
    fit_max = SCORE_POINTS - engagement_max if has_engagement else SCORE_POINTS
    old = model.engagement
    engagement_max = engagement_max if has_engagement else old.max
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


def _scaled_engagement(
    old: Engagement, rules: Sequence[EngagementRule | CountRule], maximum: float
) -> Engagement:
    """Keep each group cap, scaled as much as its most re-weighted member rule."""
    before = {rule.id: rule for rule in old.rules}
    groups: list[EngagementGroup] = []
    for group in old.groups:
        ratios = [
            abs(rule.strongest) / abs(before[rule.id].strongest)
            for rule in rules
            if rule.group == group.id and rule.id in before and before[rule.id].strongest
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
    capacity: Capacity | None, train: LabelledLeads, model: ScoringModel, history: LabelledLeads
) -> tuple[float, str]:
    """The capacity as a share of leads, and in words; without one, keep today's MQL volume."""
    if capacity is not None:
        return capacity.share(history), capacity.text
    if model.stages:
        current = score_as_of_cutoffs(train, model)
        passed = float((current.stage_rule >= 0).mean())
        if passed > 0:
            return passed, f"today's MQL volume, {passed:.1%} of leads"
    return DEFAULT_SHARE, f"{DEFAULT_SHARE:.0%} of leads (no capacity given)"


def _kept_passes(model: ScoringModel, scored: ScoredLeads) -> np.ndarray:
    """The leads a stage rule that reads no score passes (the proposal keeps those rules);
    `scored` by the draft, which keeps the model's stages as they are."""
    kept = np.zeros(len(scored.score), dtype=bool)
    for index, stage in enumerate(model.stages):
        if not _reads_scores(stage):
            kept |= scored.stage_rule == index
    return kept


def _with_thresholds(
    draft: ScoringModel,
    model: ScoringModel,
    scored: ScoredLeads,
    share: float,
    capacity_text: str,
) -> ScoringModel:
    kept = [stage for stage in model.stages if not _reads_scores(stage)]
    threshold = _smallest_threshold(scored.score, share, _kept_passes(model, scored))
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
