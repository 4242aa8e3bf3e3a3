"""Learn: fit better points for a scoring model from real outcomes.

The features are the model's own: whether each fit rule matches, the decayed (and capped) count
of activities each engagement rule counts, plus candidates a RevOps admin could have written —
one rule per frequent value of a lead field, cumulative thresholds ("60 or more") on numeric
fields, and one rule per activity type no engagement rule counts yet. All of them are computed by
the scoring engine itself, as of each lead's cut-off (see `scoring.backtest`), so what is learned
is exactly what the model will compute. A regularised logistic regression weighs them;
`scoring.scorecard` turns the weights into points on rules, grades and an MQL threshold.

leadq's own output fields and the CRM's bookkeeping fields are never candidates. Before fitting,
every other field is checked for leaks (`scoring.leaks`): a field that alone predicts (nearly)
perfectly, better than all the others together, whose (nearly) always converting values hold a
good share of the conversions, or that is named like a field sales fill in and predicts well, is
most likely known only after the outcome (a call's duration, a lifecycle stage of "customer", a
rep's rating). Such fields are left out unless the caller keeps them on purpose (`learn.keep`).

scikit-learn is imported only when fitting, so the scoring core never needs it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from connectors.records import Lead
from scoring.backtest import LabelledLeads, roc_auc, score_as_of_cutoffs
from scoring.conditions import FieldTest, normalise_text, walk
from scoring.config import MOST, EngagementRule, Fit, FitRule, ScoringModel, shortened
from scoring.frame import BANT_CRITERIA, SCORE_FIELD_KINDS, TextColumn, lead_field_kind
from scoring.leaks import (
    DOMINANT_AUC,
    LEAK_PURITY,
    FieldEvidence,
    LateValues,
    PureValue,
    late_values,
    never_learned,
    sales_entered_name,
)

# Einstein Lead Scoring asks for 1,000 leads and 120 conversions; so do we.
MIN_LEADS = 1000
MIN_CONVERTED = 120
MIN_SUPPORT = 30  # a candidate rule must match at least this many leads, 0.5% of them, and
MIN_SUPPORT_SHARE = 0.005  # enough that ten conversions (or ten misses) were to be expected
MIN_EXPECTED_OUTCOMES = 10
MAX_RULES = 29  # a scorecard a person can read: 30 rules with the base points every lead gets
NEARLY_ALL = 0.99  # a candidate matching more leads than this is near-constant: left out
MAX_VALUES_PER_FIELD = 30
MAX_DISTINCT_FOR_CATEGORIES = 12  # numbers with more distinct values get thresholds
THRESHOLDS_PER_FIELD = 7  # octiles
ACTIVITY_COUNT_CAP = 3.0  # a candidate activity rule counts at most three (decayed) activities
DEFAULT_REGULARISATION = 0.01  # C of the logistic regression on standardised features
POINTS_SPAN = 100  # the middle 98% of leads spread over about this many points
MIN_RULE_POINTS = 2  # a rule worth less is noise on the scorecard: left out, and the rest refitted

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

LEAK_MIN_LEADS = 20


class TooFewOutcomesError(ValueError):
    """Not enough outcomes to learn from; the message says how many are needed."""


@dataclass(frozen=True)
class LearnSettings:
    regularisation: float = DEFAULT_REGULARISATION
    min_leads: int = MIN_LEADS
    min_converted: int = MIN_CONVERTED
    keep: tuple[str, ...] = ()  # fields to use even though they look like leaks
    max_rules: int = MAX_RULES  # the most rules a proposal holds (the model's kept ones first)

    def keeping(self, model: ScoringModel) -> LearnSettings:
        """These settings with the model's own `learn.keep` added."""
        return replace(self, keep=tuple(dict.fromkeys([*self.keep, *model.learn.keep])))


def check_outcomes(labelled: LabelledLeads, settings: LearnSettings) -> None:
    leads, converted = len(labelled), labelled.converted_count
    others = leads - converted
    if leads >= settings.min_leads and min(converted, others) >= settings.min_converted:
        return
    raise TooFewOutcomesError(
        f"too few outcomes to learn from: {leads:,} leads, {converted:,} converted, "
        f"{others:,} not. learn needs at least {settings.min_leads:,} leads with "
        f"{settings.min_converted:,} converted and {settings.min_converted:,} not converted "
        "(Einstein Lead Scoring asks for 1,000 leads and 120 conversions)"
    )


# --------------------------------------------------------------------------- features


@dataclass(frozen=True)
class Feature:
    """One column of the learning matrix: an existing rule or a candidate one (points 1)."""

    id: str
    label: str
    kind: Literal["fit", "engagement"]
    source: str  # the field path, activity type or existing rule id it comes from
    existing: bool
    rule: FitRule | EngagementRule
    exclusive: bool = False  # a value of a field whose kept values cover every lead
    unit_cap: float | None = None  # engagement: the most (decayed) activities counted


def existing_features(model: ScoringModel) -> list[Feature]:
    fit = [Feature(rule.id, rule.label, "fit", rule.id, True, rule) for rule in model.fit.rules]
    engagement = [
        Feature(
            rule.id,
            rule.label,
            "engagement",
            rule.id,
            True,
            rule,
            unit_cap=rule.cap / abs(rule.points) if rule.cap and rule.points else rule.cap,
        )
        for rule in model.engagement.rules
    ]
    return fit + engagement


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
    excluded = set(model.learn.exclude) | NEVER_CANDIDATES
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
    sample: FieldSample, taken: set[str], support: int, mentioned: Mentioned = Mentioned()
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
        numbers = sample.numbers[parsed]
        found = _threshold_candidates(sample.path, numbers, support, mentioned, taken)
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
    # values covering every lead but too few to weigh: the weakest becomes the reference worth
    # 0 (with those few), so a yes/no field gets one rule, not one per side
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
    path: str, numbers: np.ndarray, support: int, mentioned: Mentioned, taken: set[str]
) -> list[Feature]:
    """Cumulative thresholds at the octiles ("60 or more"), each splitting off enough leads."""
    quantiles = np.quantile(numbers, np.linspace(0, 1, THRESHOLDS_PER_FIELD + 2)[1:-1])
    found = []
    for threshold in sorted({nice_number(q) for q in quantiles.tolist()}):
        above = int((numbers >= threshold).sum())
        if above < support or len(numbers) - above < support or threshold in mentioned.thresholds:
            continue
        shown = f"{threshold:,g}"
        words = f"{'minus_' if threshold < 0 else ''}{abs(threshold):g}"
        rule_id = unique_id(f"{field_slug(path)}_{words}_plus", taken)
        label = shortened(f"{field_name(path)} {shown} or more")
        rule = FitRule(
            id=rule_id, label=label, when=FieldTest(field=path, op="gte", value=threshold), points=1
        )
        found.append(Feature(rule_id, label, "fit", path, False, rule))
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
    counted = {normalise_text(t) for rule in model.engagement.rules for t in rule.activity}
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


def field_slug(path: str) -> str:
    """company.country → company_country, fields.emp.var.rate → emp_var_rate."""
    short = path.removeprefix("fields.").removeprefix("company.fields.")
    return re.sub(r"[^A-Za-z0-9]+", "_", short).strip("_").lower()


def field_name(path: str) -> str:
    """company.annual_revenue → Company annual revenue."""
    words = field_slug(path).replace("_", " ")
    return words[:1].upper() + words[1:]


def unique_id(text: str, taken: set[str]) -> str:
    """A rule id from free text: letters, digits and underscores, starting with a letter."""
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "rule"
    if not slug[0].isalpha():
        slug = f"r_{slug}"
    candidate, number = slug, 2
    while candidate in taken:
        candidate, number = f"{slug}_{number}", number + 1
    taken.add(candidate)
    return candidate


def nice_number(value: float) -> float:
    """Two significant digits: thresholds a person would write (4.857 → 4.9, 5,191 → 5,200)."""
    if value == 0 or not math.isfinite(value):
        return 0.0
    digits = 1 - math.floor(math.log10(abs(value)))
    rounded = round(value, digits)
    return float(int(rounded)) if float(rounded).is_integer() else float(rounded)


def feature_model(model: ScoringModel, features: Sequence[Feature]) -> ScoringModel:
    """A model whose contributions are the features: every rule gives 1 point per match."""
    fit_rules = [f.rule.model_copy(update={"points": 1}) for f in features if f.kind == "fit"]
    engagement_rules = [
        f.rule.model_copy(update={"points": 1, "cap": f.unit_cap, "group": None})
        for f in features
        if f.kind == "engagement"
    ]
    huge = MOST  # never reached: each feature gives a few points at most
    return model.model_copy(
        update={
            "fit": Fit(max=huge, rules=fit_rules),  # type: ignore[list-item]
            "engagement": model.engagement.model_copy(
                update={"max": huge, "groups": [], "rules": engagement_rules}
            ),
            "stages": [],
            "predictive": None,
        }
    )


def feature_matrix(
    labelled: LabelledLeads, model: ScoringModel, features: Sequence[Feature]
) -> np.ndarray:
    """(leads × features): matches and decayed counts, each lead as of its cut-off."""
    scored = score_as_of_cutoffs(labelled, feature_model(model, features))
    fit_count = sum(1 for f in features if f.kind == "fit")
    engagement_count = len(features) - fit_count
    fit_part = scored.contributions[:, :fit_count]
    engagement_part = scored.contributions[:, fit_count + 1 : fit_count + 1 + engagement_count]
    matrix = np.zeros((len(labelled), len(features)))
    fit_columns = [i for i, f in enumerate(features) if f.kind == "fit"]
    engagement_columns = [i for i, f in enumerate(features) if f.kind == "engagement"]
    matrix[:, fit_columns] = fit_part
    matrix[:, engagement_columns] = engagement_part
    return matrix


# --------------------------------------------------------------------------- leaks


@dataclass(frozen=True)
class Suspect:
    """A field (or rule) that looks like it leaks the outcome, with the evidence."""

    source: str
    auc: float
    reason: str
    kept: bool

    @property
    def warning(self) -> str:
        action = (
            "kept, as asked"
            if self.kept
            else f"left out; if it is known before the outcome, list it under learn.keep in "
            f"the model (or pass --keep {self.source})"
        )
        return f"{self.source} looks like it leaks the outcome: {self.reason}. {action}"


def find_leaks(
    features: Sequence[Feature],
    matrix: np.ndarray,
    converted: np.ndarray,
    numbers: dict[str, np.ndarray],
    settings: LearnSettings,
    history: Mapping[str, LateValues] | None = None,
) -> list[Suspect]:
    suspects = []
    sources = list(dict.fromkeys(f.source for f in features))
    for source in sources:
        columns = [i for i, f in enumerate(features) if f.source == source]
        found = [features[i] for i in columns]
        alone = _alone_auc(matrix[:, columns], converted, numbers.get(source))
        together = None
        if alone >= DOMINANT_AUC:
            others = [i for i in range(len(features)) if i not in columns]
            together = _in_sample_auc(matrix[:, others], converted, settings.regularisation)
        purest, pure_share = _purity(matrix[:, columns], converted, found)
        named = not found[0].existing and sales_entered_name(source)
        dated = (history or {}).get(source)
        evidence = FieldEvidence(source, alone, together, purest, pure_share, named, dated)
        reason = evidence.reason()
        if reason is not None:
            suspects.append(Suspect(source, alone, reason, kept=source in settings.keep))
    return suspects


def _alone_auc(columns: np.ndarray, converted: np.ndarray, numbers: np.ndarray | None) -> float:
    """How well one field ranks conversions by itself, in its better direction."""
    pattern = _patterns(columns > 0)
    rates = np.bincount(pattern, weights=converted) / np.bincount(pattern)
    best = roc_auc(converted, rates[pattern])
    if numbers is not None and (~np.isnan(numbers)).mean() > 0.5:
        filled = np.nan_to_num(numbers, nan=np.nanmin(numbers) - 1)
        direct = roc_auc(converted, filled)
        best = max(best, direct, 1 - direct)
    return float(best)


def _patterns(matches: np.ndarray) -> np.ndarray:
    """A code per row for its combination of matches (0 … number of distinct combinations)."""
    if matches.shape[1] <= 62:
        keys = matches.astype(np.int64) @ (np.int64(1) << np.arange(matches.shape[1]))
        return np.unique(keys, return_inverse=True)[1].ravel()
    return np.unique(matches, axis=0, return_inverse=True)[1].ravel()


def _purity(
    columns: np.ndarray, converted: np.ndarray, features: Sequence[Feature]
) -> tuple[PureValue | None, float]:
    """The best-converting value with enough leads, and the share of all conversions on values
    that (nearly) always converted. Nothing when most leads convert: purity says little then."""
    if converted.mean() >= 0.5 or not converted.any():
        return None, 0.0
    floor = max(LEAK_MIN_LEADS, math.ceil(MIN_SUPPORT_SHARE * len(converted)))
    purest: PureValue | None = None
    pure = np.zeros(len(converted), dtype=bool)
    for index, feature in enumerate(features):
        members = columns[:, index] > 0
        leads = int(members.sum())
        if leads < floor:
            continue
        rate = float(converted[members].mean())
        if purest is None or rate > purest.rate:
            purest = PureValue(feature.label, leads, rate)
        if rate >= LEAK_PURITY:
            pure |= members
    return purest, float(converted[pure].sum() / converted.sum())


def _in_sample_auc(matrix: np.ndarray, converted: np.ndarray, regularisation: float) -> float:
    if matrix.shape[1] == 0:
        return 0.5
    intercept, weights = fit_logistic(matrix, converted, regularisation)
    return roc_auc(converted, matrix @ weights + intercept)


# --------------------------------------------------------------------------- fitting


def fit_logistic(
    matrix: np.ndarray, converted: np.ndarray, regularisation: float
) -> tuple[float, np.ndarray]:
    """(intercept, weight per feature) of an L2-regularised logistic regression.

    Features are standardised for the fit (so one regularisation suits counts and flags alike)
    and the weights converted back to one unit of each feature.
    """
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    spread = matrix.std(axis=0)
    varies = spread > 0
    centre = matrix[:, varies].mean(axis=0)
    scaled = (matrix[:, varies] - centre) / spread[varies]
    with threadpool_limits(1):  # one thread is faster than contended BLAS on small problems
        fitted = LogisticRegression(C=regularisation, max_iter=1000).fit(scaled, converted)
    weights = np.zeros(matrix.shape[1])
    weights[varies] = fitted.coef_[0] / spread[varies]
    intercept = float(fitted.intercept_[0] - (weights[varies] * centre).sum())
    return intercept, weights


# --------------------------------------------------------------------------- the learner


@dataclass
class Learned:
    """The fitted weights over the features, with what is needed to explain them."""

    features: list[Feature]
    matrix: np.ndarray  # training leads × features
    converted: np.ndarray
    intercept: float
    weights: np.ndarray
    train: LabelledLeads
    dropped: dict[str, Evidence] = field(default_factory=dict)  # the model's rules left out
    # the model's rules nearly every lead matches: left out, they would be every lead's reason
    too_common: dict[str, Evidence] = field(default_factory=dict)


@dataclass(frozen=True)
class Evidence:
    """What the training leads say about one rule."""

    leads: int  # training leads the rule matched (engagement: with a counted activity)
    converted: int
    weight: float  # learned log-odds per match (engagement: per decayed activity)
    note: str = ""  # why the points point the other way than the rule's own conversion rate

    @property
    def rate(self) -> float:
        return self.converted / self.leads if self.leads else 0.0

    def comment(self) -> str:
        text = f"{self.leads:,} leads, {self.rate:.1%} converted, weight {self.weight:+.2f}"
        return f"{text}; {self.note}" if self.note else text


def evidence_of(matched: np.ndarray, converted: np.ndarray, weight: float) -> Evidence:
    return Evidence(int(matched.sum()), int(converted[matched].sum()), weight)


@dataclass
class Learner:
    """Learns on any subset of the labelled leads: all of them, or a fold for an estimate."""

    labelled: LabelledLeads
    model: ScoringModel
    settings: LearnSettings = field(default_factory=LearnSettings)
    _excluded: set[str] = field(default_factory=set)

    @property
    def excluded(self) -> frozenset[str]:
        """Fields (and rules) left out because they look like leaks."""
        return frozenset(self._excluded)

    def sample(self, path: str, rows: np.ndarray) -> FieldSample:
        columns = self.labelled.shared.columns
        picked = self.labelled.rows[rows]
        text = columns.text(path)
        leads = self.labelled.shared.leads

        def spelling(code: int) -> str:
            first = int(np.flatnonzero(text.codes == code)[0])
            return str(field_values([leads[first]], path)[0]).strip()

        return FieldSample(path, text.take(picked), columns.number(path)[picked], spelling)

    def features(self, rows: np.ndarray) -> list[Feature]:
        """The model's rules and the candidates found among the leads at `rows`."""
        existing = existing_features(self.model)
        taken = {f.id for f in existing}
        train = self.labelled.subset(rows)
        candidates: list[Feature] = []
        support = min_support(len(train), train.base_rate)
        for path in candidate_fields(self.model, train.leads):
            sample = self.sample(path, rows)
            candidates += field_candidates(sample, taken, support, mentioned_by(self.model, path))
        candidates += activity_candidates(train, self.model, taken, support)
        return [f for f in existing + candidates if f.source not in self._excluded]

    def find_leaks(self, set_at: Mapping[str, np.ndarray] | None = None) -> list[Suspect]:
        """Check every field on all leads; suspects not kept are left out of later fits.
        `set_at`: from the CRM's field history, when each lead's current value of a field was
        set (epoch seconds per lead, NaN: unknown), by field path."""
        rows = np.arange(len(self.labelled))
        features = self.features(rows)
        matrix = feature_matrix(self.labelled, self.model, features)
        shared_numbers = self.labelled.shared.columns.number
        numbers = {
            f.source: shared_numbers(f.source)[self.labelled.rows]
            for f in features
            if f.kind == "fit" and not f.existing
        }
        labelled = self.labelled
        history = {
            path: late_values(times, labelled.converted, labelled.cutoff,
                              labelled.has_outcome_time)
            for path, times in (set_at or {}).items()
        }
        suspects = find_leaks(features, matrix, labelled.converted, numbers, self.settings,
                              history)
        self._excluded |= {s.source for s in suspects if not s.kept}
        return suspects

    def learn(self, rows: np.ndarray | None = None) -> Learned:
        """Fit, leave out the new rules worth next to nothing, and fit again without them."""
        rows = np.arange(len(self.labelled)) if rows is None else rows
        train = self.labelled.subset(rows)
        features = self.features(rows)
        matrix = feature_matrix(train, self.model, features)
        common = matched_by_nearly_all(features, matrix)
        too_common = {
            f.id: evidence_of(matrix[:, i] > 0, train.converted, 0.0)
            for i, f in enumerate(features)
            if common[i]
        }
        informative = ~duplicate_columns(features, matrix) & ~near_constant(features, matrix)
        features, matrix = _without(features, matrix, informative & ~common)
        regularisation = self.settings.regularisation
        intercept, weights = fit_logistic(matrix, train.converted, regularisation)
        keep = worth_keeping(features, matrix, weights) & ~against_the_trend(features, weights)
        keep &= within_rule_budget(features, matrix, weights, keep, self.settings.max_rules)
        dropped = {
            f.id: evidence_of(matrix[:, i] > 0, train.converted, float(weights[i]))
            for i, f in enumerate(features)
            if f.existing and not keep[i]
        }
        if not keep.all():
            features, matrix = _without(features, matrix, keep)
            intercept, weights = fit_logistic(matrix, train.converted, regularisation)
        return Learned(
            features, matrix, train.converted, intercept, weights, train, dropped, too_common
        )


def against_the_trend(features: Sequence[Feature], weights: np.ndarray) -> np.ndarray:
    """Thresholds ("60 or more") whose weight runs against the rest of their field's: the
    points over a field's thresholds add up, so one against the trend makes more of the field
    worth less somewhere ("Visits 1 or more -9" beside "Visits 5 or more +20"). Left out, the
    field's points only rise (or only fall) with its value."""
    thresholds: dict[str, list[int]] = {}
    for index, feature in enumerate(features):
        when = getattr(feature.rule, "when", None)
        if not feature.existing and isinstance(when, FieldTest) and when.op == "gte":
            thresholds.setdefault(feature.source, []).append(index)
    against = np.zeros(len(features), dtype=bool)
    for members in thresholds.values():
        trend = np.sign(weights[members].sum())
        for index in members:
            against[index] = np.sign(weights[index]) == -trend != 0
    return against


def within_rule_budget(
    features: Sequence[Feature], matrix: np.ndarray, weights: np.ndarray, keep: np.ndarray,
    most: int,
) -> np.ndarray:
    """Of the kept candidates, the strongest (weight × spread across leads) that fit beside the
    model's kept rules in `most` rules: a scorecard a person can read (a sparse fit)."""
    shifted = shift_exclusive_groups(features, weights)
    strength = np.abs(shifted) * matrix.std(axis=0)
    candidates = [i for i, f in enumerate(features) if keep[i] and not f.existing]
    room = max(0, most - sum(1 for i, f in enumerate(features) if keep[i] and f.existing))
    allowed = np.ones(len(features), dtype=bool)
    for index in sorted(candidates, key=lambda i: -strength[i])[room:]:
        allowed[index] = False
    return allowed


def duplicate_columns(features: Sequence[Feature], matrix: np.ndarray) -> np.ndarray:
    """Candidates that match exactly the leads an earlier rule matches (e.g. every company
    field is missing for the same leads): they would only split that rule's points."""
    seen: set[bytes] = set()
    duplicate = np.zeros(len(features), dtype=bool)
    for index, feature in enumerate(features):
        key = np.ascontiguousarray(matrix[:, index]).tobytes()
        duplicate[index] = key in seen and not feature.existing
        seen.add(key)
    return duplicate


def near_constant(features: Sequence[Feature], matrix: np.ndarray) -> np.ndarray:
    """Candidates matching nearly every lead or nearly none: their points would only cancel
    out against the others (and would become every lead's reason)."""
    share = (matrix > 0).mean(axis=0) if len(matrix) else np.zeros(len(features))
    candidate = np.array([not feature.existing for feature in features], dtype=bool)
    return candidate & ((share > NEARLY_ALL) | (share < MIN_SUPPORT_SHARE))


def matched_by_nearly_all(features: Sequence[Feature], matrix: np.ndarray) -> np.ndarray:
    """The model's own rules that nearly every lead matches: their points move every score
    alike, so they rank nothing, and they would be every lead's top reason in the CRM."""
    share = (matrix > 0).mean(axis=0) if len(matrix) else np.zeros(len(features))
    existing = np.array([feature.existing for feature in features], dtype=bool)
    return existing & (share > NEARLY_ALL)


def shift_exclusive_groups(features: Sequence[Feature], weights: np.ndarray) -> np.ndarray:
    """Values covering every lead: make the weakest worth 0 (a constant shift of the odds)."""
    shifted = weights.copy()
    for source in {f.source for f in features if f.exclusive}:
        members = [i for i, f in enumerate(features) if f.exclusive and f.source == source]
        shifted[members] -= shifted[members].min()
    return shifted


def points_per_logit(linear: np.ndarray) -> float:
    """The scale that spreads the middle 98% of leads over about POINTS_SPAN points."""
    low, high = np.percentile(linear, [1, 99]) if len(linear) else (0.0, 1.0)
    span = float(high - low)
    return POINTS_SPAN / span if span > 1e-9 else 10.0


def worth_keeping(
    features: Sequence[Feature], matrix: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Rules worth at least MIN_RULE_POINTS on the scale the scorecard will use."""
    shifted = shift_exclusive_groups(features, weights)
    return np.abs(shifted * points_per_logit(matrix @ shifted)) >= MIN_RULE_POINTS


def _without(
    features: Sequence[Feature], matrix: np.ndarray, keep: np.ndarray
) -> tuple[list[Feature], np.ndarray]:
    """Drop features; a field that lost values no longer covers every lead (the dropped
    values join the field's weakest one as the reference)."""
    dropped_sources = {f.source for f, kept in zip(features, keep, strict=True) if not kept}
    kept_features = [
        replace(f, exclusive=f.exclusive and f.source not in dropped_sources)
        for f, kept in zip(features, keep, strict=True)
        if kept
    ]
    return kept_features, matrix[:, keep]
