"""Leak checks over the learning matrix: for each field, the evidence `scoring.leaks` weighs —
how well it ranks conversions alone and beside the others, its purest values, its name, and
when the CRM's field history says its values were set."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scoring.conversion_measures import roc_auc
from scoring.leaks import (
    DOMINANT_AUC,
    LEAK_PURITY,
    FieldEvidence,
    LateValues,
    PureValue,
    sales_entered_name,
)
from scoring.learn_candidates import MIN_SUPPORT_SHARE
from scoring.learn_features import Feature
from scoring.logistic import fit_logistic

LEAK_MIN_LEADS = 20


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
    keep: Collection[str],
    regularisation: float,
    history: Mapping[str, LateValues] | None = None,
) -> list[Suspect]:
    """The fields (sources of `features`) whose evidence reads like a leak; those in `keep`
    are marked kept."""
    suspects = []
    sources = list(dict.fromkeys(f.source for f in features))
    for source in sources:
        columns = [i for i, f in enumerate(features) if f.source == source]
        found = [features[i] for i in columns]
        alone = _alone_auc(matrix[:, columns], converted, numbers.get(source))
        together = None
        if alone >= DOMINANT_AUC:
            others = [i for i in range(len(features)) if i not in columns]
            together = _in_sample_auc(matrix[:, others], converted, regularisation)
        purest, pure_share = _purity(matrix[:, columns], converted, found)
        named = not found[0].existing and sales_entered_name(source)
        dated = (history or {}).get(source)
        evidence = FieldEvidence(source, alone, together, purest, pure_share, named, dated)
        reason = evidence.reason()
        if reason is not None:
            suspects.append(Suspect(source, alone, reason, kept=source in keep))
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

