"""Learn: fit better points for a scoring model from real outcomes.

The features are the model's own: whether each fit rule matches, the decayed (and capped) count
of activities each engagement rule counts, plus candidates a RevOps admin could have written
(`scoring.learn_candidates`). All of them are computed by the scoring engine itself, as of each
lead's cut-off (`scoring.learn_features`), so what is learned is exactly what the model will
compute. A regularised logistic regression (`scoring.logistic`) weighs them; columns that would
only split or cancel points are left out (`scoring.learn_selection`); `scoring.scorecard` turns
the weights into points on rules, grades and an MQL threshold.

leadq's own output fields and the CRM's bookkeeping fields are never candidates. Before fitting,
every other field is checked for leaks (`scoring.leaks`, over the matrix in
`scoring.learn_leaks`): a field that alone predicts (nearly) perfectly, better than all the
others together, whose (nearly) always converting values hold a good share of the conversions,
or that is named like a field sales fill in and predicts well, is most likely known only after
the outcome (a call's duration, a lifecycle stage of "customer", a rep's rating). Such fields
are left out unless the caller keeps them on purpose (`learn.keep`).

scikit-learn is imported only when fitting, so the scoring core never needs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from scoring.backtest import LabelledLeads
from scoring.config import ScoringModel
from scoring.leaks import DatedValues, late_values
from scoring.learn_candidates import (
    FieldSample,
    activity_candidates,
    candidate_fields,
    count_candidates,
    field_candidates,
    field_values,
    mentioned_by,
    min_support,
)
from scoring.learn_features import Feature, existing_features, feature_matrix
from scoring.learn_leaks import Suspect, find_leaks
from scoring.learn_selection import (
    against_the_trend,
    duplicate_columns,
    matched_by_nearly_all,
    matched_by_too_few,
    near_constant,
    within_rule_budget,
    without,
    worth_keeping,
)
from scoring.logistic import fit_logistic
from scoring.recency import recency_weights

# Einstein Lead Scoring asks for 1,000 leads and 120 conversions; so do we.
MIN_LEADS = 1000
MIN_CONVERTED = 120
MAX_RULES = 29  # a scorecard a person can read: 30 rules with the base points every lead gets
DEFAULT_REGULARISATION = 0.01  # C of the logistic regression on standardised features


class TooFewOutcomesError(ValueError):
    """Not enough outcomes to learn from; the message says how many are needed."""


@dataclass(frozen=True)
class LearnSettings:
    regularisation: float = DEFAULT_REGULARISATION
    min_leads: int = MIN_LEADS
    min_converted: int = MIN_CONVERTED
    keep: tuple[str, ...] = ()  # fields to use even though they look like leaks
    max_rules: int = MAX_RULES  # the most rules a proposal holds (the model's kept ones first)
    recency_half_life: float | None = None  # recent leads count more (`scoring.recency`)
    fresh: bool = False  # learn from the leads alone: the model's own rules are not used

    def keeping(self, model: ScoringModel) -> LearnSettings:
        """These settings with the model's own `learn.keep` added (and its
        `learn.recency_half_life` unless these settings name one)."""
        return replace(
            self,
            keep=tuple(dict.fromkeys([*self.keep, *model.learn.keep])),
            recency_half_life=self.recency_half_life or model.learn.recency_half_life,
        )


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
    # the model's rules too few leads match to weigh (fewer than a candidate needs)
    too_rare: dict[str, Evidence] = field(default_factory=dict)


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
    reserved: frozenset[str] = frozenset()  # rule ids a new rule must not take (fresh: the
    # current model's, so the diff never reads a new rule as a changed one)
    current: ScoringModel | None = None  # the model in use, when `model` is not it (fresh): its
    # MQL volume is today's
    _excluded: set[str] = field(default_factory=set)
    _matrix_cache: tuple[tuple[str, ...], np.ndarray] | None = field(default=None, repr=False)

    @property
    def today(self) -> ScoringModel:
        """The model in use today: whose MQL volume a proposal keeps without a capacity."""
        return self.current or self.model

    def _matrix_of(self, features: Sequence[Feature]) -> np.ndarray:
        """The features over every labelled lead (each as of its cut-off, so any rows of it are
        what those leads alone give); the last one is kept for the next refit."""
        key = tuple(f.id for f in features)
        if self._matrix_cache is None or self._matrix_cache[0] != key:
            self._matrix_cache = (key, feature_matrix(self.labelled, self.model, features))
        return self._matrix_cache[1]

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
        taken = {f.id for f in existing} | set(self.reserved)
        train = self.labelled.subset(rows)
        candidates: list[Feature] = []
        support = min_support(len(train), train.base_rate)
        for path in candidate_fields(self.model, train.leads):
            sample = self.sample(path, rows)
            mentioned, unit = mentioned_by(self.model, path), self.model.learn.units.get(path)
            candidates += field_candidates(sample, taken, support, mentioned, unit)
        candidates += activity_candidates(train, self.model, taken, support)
        for path in self.model.learn.engagement_fields:
            candidates += count_candidates(self.sample(path, rows), self.model, taken, support)
        return [f for f in existing + candidates if f.source not in self._excluded]

    def find_leaks(self, set_at: Mapping[str, DatedValues] | None = None) -> list[Suspect]:
        """Check every field on all leads; suspects not kept are left out of later fits.
        `set_at`: from the CRM's field history, when each lead's value of a field was set and
        when the lead was handed off (scoring.leaks.DatedValues), by field path."""
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
        suspects = find_leaks(features, matrix, labelled.converted, numbers, self.settings.keep,
                              self.settings.regularisation, history)
        self._excluded |= {s.source for s in suspects if not s.kept}
        return suspects

    def learn(
        self, rows: np.ndarray | None = None, given: Sequence[Feature] | None = None
    ) -> Learned:
        """Fit, leave out the new rules worth next to nothing, and fit again without them.
        `given`: weigh these features (a proposal's own, refitted on other leads to see how
        stable its points are) instead of finding candidates among the leads at `rows`."""
        rows = np.arange(len(self.labelled)) if rows is None else rows
        train = self.labelled.subset(rows)
        too_common: dict[str, Evidence] = {}
        too_rare: dict[str, Evidence] = {}
        if given is not None:  # chosen already: weighed as they are, on these leads
            features = list(given)
            matrix = self._matrix_of(features)[rows]
        else:
            features = self.features(rows)
            matrix = feature_matrix(train, self.model, features)
            common = matched_by_nearly_all(features, matrix)
            rare = matched_by_too_few(features, matrix, min_support(len(train), train.base_rate))
            too_common, too_rare = (
                {
                    f.id: evidence_of(matrix[:, i] > 0, train.converted, 0.0)
                    for i, f in enumerate(features)
                    if which[i]
                }
                for which in (common, rare)
            )
            informative = ~duplicate_columns(features, matrix) & ~near_constant(features, matrix)
            features, matrix = without(features, matrix, informative & ~common & ~rare)
        regularisation = self.settings.regularisation
        counts = recency_weights(train.order, self.settings.recency_half_life)
        intercept, weights = fit_logistic(matrix, train.converted, regularisation, counts)
        keep = worth_keeping(features, matrix, weights) & ~against_the_trend(features, weights)
        keep &= within_rule_budget(features, matrix, weights, keep, self.settings.max_rules)
        dropped = {
            f.id: evidence_of(matrix[:, i] > 0, train.converted, float(weights[i]))
            for i, f in enumerate(features)
            if f.existing and not keep[i]
        }
        if not keep.all():
            features, matrix = without(features, matrix, keep)
            intercept, weights = fit_logistic(matrix, train.converted, regularisation, counts)
        return Learned(
            features, matrix, train.converted, intercept, weights, train, dropped, too_common,
            too_rare,
        )

