"""Candidate rules a RevOps admin could have written, found among the training leads: one rule
per frequent value of a lead field, cumulative thresholds ("60 or more") on numeric fields, a rule
for a field left empty, one rule per activity type no engagement rule counts yet, and a count
rule for each number on the lead the model says is activity (`learn.engagement_fields`).

leadq's own output fields and the CRM's bookkeeping fields are never candidates
(`scoring.leaks.never_learned`); nor are identifiers, times and the scores themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from connectors.records import Lead
from scoring.backtest import LabelledLeads
from scoring.conditions import FieldTest, normalise_text, walk
from scoring.config import (
    FitRule,
    ScoringModel,
)
from scoring.engagement_config import (
    CountRule,
    EngagementRule,
)
from scoring.frame import BANT_CRITERIA, SCORE_FIELD_KINDS, TextColumn, lead_field_kind
from scoring.leaks import never_learned
from scoring.learn_features import Feature
from scoring.model_types import (
    shortened,
)
from scoring.rule_names import (
    field_name,
    field_slug,
    nice_number,
    number_words,
    quantity_of,
    singular,
    unique_id,
)

MIN_SUPPORT = 30  # a candidate rule must match at least this many leads, 0.5% of them, and
MIN_SUPPORT_SHARE = 0.005  # enough that ten conversions (or ten misses) were to be expected
MIN_EXPECTED_OUTCOMES = 10
NEARLY_ALL = 0.99  # a candidate matching more leads than this is near-constant: left out
MAX_VALUES_PER_FIELD = 30
MAX_DISTINCT_FOR_CATEGORIES = 2  # a number with more distinct values gets thresholds: they
# rank values the training leads never had (a rule per value would give those no points)
THRESHOLDS_PER_FIELD = 9  # deciles
ACTIVITY_COUNT_CAP = 3.0  # a candidate activity rule counts at most three (decayed) activities

NEVER_CANDIDATES = frozenset(
    {"id", "email", "first_name", "last_name", "name", "owner_id", "company.id", "company.name"}
)
DEFAULT_CANDIDATES = (
    "kind",
    "country",
    "state",
    "source",
    "lifecycle_stage",
    "lead_status",
    "email_domain",
    "title",
    "company.industry",
    "company.employees",
    "company.annual_revenue",
    "company.country",
)


def candidate_fields(model: ScoringModel, leads: Sequence[Lead]) -> list[str]:
    """Fields worth trying: those the model reads, the usual CRM ones and every custom field."""
    paths: list[str] = []
    conditions = [rule.when for rule in model.fit.rules]
    conditions += [c for c in (getattr(model.bant, n) for n in BANT_CRITERIA) if c]
    for condition in conditions:
        paths += [leaf.field for leaf in walk(condition) if isinstance(leaf, FieldTest)]
    paths += DEFAULT_CANDIDATES
    custom = {key for lead in leads for key in lead.fields}
    company_custom = {key for lead in leads if lead.company for key in lead.company.fields}
    paths += [f"fields.{key}" for key in sorted(custom)]
    paths += [f"company.fields.{key}" for key in sorted(company_custom)]
    paths += model.learn.fields
    excluded = set(model.learn.exclude) | NEVER_CANDIDATES | set(model.learn.engagement_fields)
    usable = []
    for path in dict.fromkeys(paths):
        if path in excluded or path in SCORE_FIELD_KINDS or path.startswith("bant."):
            continue
        if never_learned(path, model) is not None:
            continue
        if lead_field_kind(path) == "time":
            continue
        usable.append(path)
    return usable


def unlearnable_fields(model: ScoringModel, leads: Sequence[Lead]) -> dict[str, str]:
    """The leads' custom fields learn never uses (leadq's outputs, CRM bookkeeping), with why."""
    custom = {f"fields.{key}" for lead in leads for key in lead.fields}
    custom |= {f"company.fields.{key}" for lead in leads if lead.company
               for key in lead.company.fields}
    reasons = {path: never_learned(path, model) for path in sorted(custom)}
    return {path: reason for path, reason in reasons.items() if reason is not None}


def field_values(leads: Sequence[Lead], path: str) -> list[Any]:
    if path.startswith("company.fields."):
        key = path.removeprefix("company.fields.")
        return [lead.company.fields.get(key) if lead.company else None for lead in leads]
    if path.startswith("company."):
        name = path.removeprefix("company.")
        return [getattr(lead.company, name) if lead.company else None for lead in leads]
    if path.startswith("fields."):
        key = path.removeprefix("fields.")
        return [lead.fields.get(key) for lead in leads]
    return [getattr(lead, path) for lead in leads]


@dataclass(frozen=True)
class FieldSample:
    """One field among the training leads, read as the scoring engine reads it."""

    path: str
    text: TextColumn  # normalised text per lead (None = missing)
    numbers: np.ndarray  # float per lead, NaN when missing or not a number
    spelling: Callable[[int], str]  # a distinct value as the data writes it

    @property
    def size(self) -> int:
        return len(self.numbers)


@dataclass(frozen=True)
class Mentioned:
    """What the model's fit rules already say about a field: values named, thresholds drawn.

    Candidates skip them, so the proposal does not hold two rules that say the same thing
    (which would split the points between them and read as a contradiction).
    """

    values: frozenset[str] = frozenset()
    thresholds: frozenset[float] = frozenset()


def mentioned_by(model: ScoringModel, path: str) -> Mentioned:
    values: set[str] = set()
    thresholds: set[float] = set()
    for rule in model.fit.rules:
        for leaf in walk(rule.when):
            if not isinstance(leaf, FieldTest) or leaf.field != path:
                continue
            if leaf.op in ("eq", "in"):
                named = leaf.value if isinstance(leaf.value, list) else [leaf.value]
                values |= {text for text in map(normalise_text, named) if text is not None}
            elif leaf.op in ("gt", "gte", "lt", "lte") and isinstance(leaf.value, int | float):
                thresholds.add(float(leaf.value))
    return Mentioned(frozenset(values), frozenset(thresholds))


def min_support(leads: int, base_rate: float) -> int:
    rarer = min(base_rate, 1 - base_rate)
    expected = math.ceil(MIN_EXPECTED_OUTCOMES / rarer) if rarer > 0 else leads
    return max(MIN_SUPPORT, math.ceil(MIN_SUPPORT_SHARE * leads), expected)


def field_candidates(
    sample: FieldSample,
    taken: set[str],
    support: int,
    mentioned: Mentioned = Mentioned(),
    unit: str | None = None,
) -> list[Feature]:
    """Candidate rules for one field: a rule per frequent value, or thresholds on a number."""
    counts = np.bincount(sample.text.codes, minlength=len(sample.text.distinct))
    missing = sum(int(counts[i]) for i, value in enumerate(sample.text.distinct) if value is None)
    present = sample.size - missing
    if present == 0:
        return []
    parsed = ~np.isnan(sample.numbers)
    kind = lead_field_kind(sample.path)
    numeric = kind == "number" or (kind is None and parsed.sum() >= 0.95 * present)
    distinct = int(((counts > 0) & np.array([v is not None for v in sample.text.distinct])).sum())
    if numeric and distinct > MAX_DISTINCT_FOR_CATEGORIES:
        found = _threshold_candidates(sample, support, mentioned, taken, unit)
    elif distinct > 0.5 * present:
        return []  # an identifier, not a category
    else:
        found = _value_candidates(sample, counts, support, missing, mentioned, taken)
    if missing >= support:
        found.append(_missing_candidate(sample.path, taken, exclusive=_is_exclusive(found)))
    return found


def _value_candidates(
    sample: FieldSample,
    counts: np.ndarray,
    support: int,
    missing: int,
    mentioned: Mentioned,
    taken: set[str],
) -> list[Feature]:
    present = [
        i
        for i, value in enumerate(sample.text.distinct)
        if value is not None and value not in mentioned.values
    ]
    by_count = sorted(present, key=lambda i: -counts[i])[:MAX_VALUES_PER_FIELD]
    frequent = [i for i in by_count if counts[i] >= support]
    covered = sum(int(counts[i]) for i in frequent) + (missing if missing >= support else 0)
    # values covering every lead but too few to weigh: the most common becomes the reference
    # worth 0 (with those few), so a yes/no field gets one rule, not one per side
    uncovered = sample.size - covered
    exclusive = uncovered < max(support, (1 - NEARLY_ALL) * sample.size)
    found = []
    for code in frequent:
        shown = sample.spelling(code)
        rule_id = unique_id(f"{field_slug(sample.path)}_{shown}", taken)
        label = shortened(f"{field_name(sample.path)} is {shown}")
        rule = FitRule(
            id=rule_id, label=label, when=FieldTest(field=sample.path, value=shown), points=1
        )
        found.append(Feature(rule_id, label, "fit", sample.path, False, rule, exclusive=exclusive))
    return found


def _threshold_candidates(
    sample: FieldSample, support: int, mentioned: Mentioned, taken: set[str], unit: str | None
) -> list[Feature]:
    """Cumulative thresholds at the deciles ("60 or more"), each splitting off enough leads,
    and enough between one threshold and the next: the scorecard turns them into bins
    ("Age 40–59", "Age 60+"), each of which must hold enough leads too."""
    parsed = sample.numbers[~np.isnan(sample.numbers)]
    quantity = quantity_of(sample.path, unit, whole=bool(np.all(parsed == np.round(parsed))))
    quantiles = np.quantile(parsed, np.linspace(0, 1, THRESHOLDS_PER_FIELD + 2)[1:-1])
    found = []
    below_last = 0  # the leads under the last threshold kept
    for threshold in sorted({nice_number(q) for q in quantiles.tolist()}):
        below = int((parsed < threshold).sum())
        enough = min(below - below_last, len(parsed) - below) >= support
        if not enough or threshold in mentioned.thresholds:
            continue
        below_last = below
        rule_id = unique_id(f"{field_slug(sample.path)}_{number_words(threshold)}_plus", taken)
        label = shortened(quantity.at_least(threshold))
        when = FieldTest(field=sample.path, op="gte", value=threshold)
        rule = FitRule(id=rule_id, label=label, when=when, points=1)
        found.append(Feature(rule_id, label, "fit", sample.path, False, rule, quantity=quantity))
    return found


def _missing_candidate(path: str, taken: set[str], exclusive: bool) -> Feature:
    rule_id = unique_id(f"{field_slug(path)}_missing", taken)
    label = shortened(f"{field_name(path)} missing")
    rule = FitRule(id=rule_id, label=label, when=FieldTest(field=path, op="missing"), points=1)
    return Feature(rule_id, label, "fit", path, False, rule, exclusive=exclusive)


def _is_exclusive(found: Sequence[Feature]) -> bool:
    return bool(found) and all(feature.exclusive for feature in found)


def activity_candidates(
    labelled: LabelledLeads, model: ScoringModel, taken: set[str], support: int
) -> list[Feature]:
    """One rule per activity type that no engagement rule counts yet."""
    counted = {normalise_text(t) for rule in model.engagement.activity_rules for t in rule.activity}
    activities = labelled.activities()
    codes, names = activities.text("type")
    pairs = np.unique(np.stack([activities.lead_index, codes]), axis=1)
    leads_with_type = np.bincount(pairs[1], minlength=len(names)) if pairs.size else []
    found = []
    for code, kind in sorted(enumerate(names), key=lambda pair: str(pair[1])):
        if kind is None or kind in counted or leads_with_type[code] < support:
            continue
        rule_id = unique_id(f"activity_{kind}", taken)
        label = shortened(f"{kind.replace('_', ' ').capitalize()} (each, decayed)")
        rule = EngagementRule(
            id=rule_id, label=label, activity=[kind], points=1, cap=ACTIVITY_COUNT_CAP
        )
        found.append(
            Feature(rule_id, label, "engagement", kind, False, rule, unit_cap=ACTIVITY_COUNT_CAP)
        )
    return found




COUNT_SCALE_PERCENTILE = 90  # a candidate count rule's cap: the count most engaged leads reach


def count_candidates(
    sample: FieldSample, model: ScoringModel, taken: set[str], support: int
) -> list[Feature]:
    """A count rule for a number on the lead that is activity (`learn.engagement_fields`:
    visits, page views, contacts), unless a count rule reads it already: points per unit up to
    the count that most engaged leads reach, so that it moves engagement, not fit."""
    if sample.path in {rule.field for rule in model.engagement.count_rules}:
        return []
    numbers = sample.numbers[~np.isnan(sample.numbers)]
    active = numbers[numbers > 0]
    if len(active) < support or len(active) > NEARLY_ALL * sample.size:
        return []  # too few leads with any, or nearly every lead: its reason would be everyone's
    most = max(nice_number(float(np.percentile(active, COUNT_SCALE_PERCENTILE))), 1.0)
    rule_id = unique_id(field_slug(sample.path), taken)
    label = shortened(field_name(sample.path))
    units = quantity_of(sample.path, model.learn.units.get(sample.path), whole=True).unit
    rule = CountRule(
        id=rule_id,
        label=label,
        field=sample.path,
        points_per=1 / most,
        cap=1,
        unit=shortened(singular(units)) if units else None,
        units=shortened(units) if units else None,
    )
    return [Feature(rule_id, label, "engagement", sample.path, False, rule)]
