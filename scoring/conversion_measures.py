"""How well scores rank the leads that converted: ROC AUC; precision, recall and volume at each
candidate MQL threshold; conversion and lift by segment (grade, label, score decile, score band);
score bands out of order; what each stage rule passes to sales; the gains curve and the score
distribution by outcome.

Pure: numpy arrays in (who converted, their scores, their segments), figures out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scoring.config import ScoringModel

SCORE_BANDS = tuple(range(0, 100, 10))  # 0–9, 10–19, … 90–100
MIN_BAND_LEADS = 30  # smaller bands are too noisy to call out of order


def roc_auc(converted: np.ndarray, score: np.ndarray) -> float:
    """The chance that a random converted lead outscores a random other one (ties count half)."""
    positives = int(converted.sum())
    negatives = len(converted) - positives
    if positives == 0 or negatives == 0:
        return math.nan
    ranks = _average_ranks(np.asarray(score, dtype=np.float64))
    return float(
        (ranks[converted].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def _average_ranks(values: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    first_rank = np.cumsum(counts) - counts + 1
    return (first_rank + (counts - 1) / 2.0)[inverse]


@dataclass(frozen=True)
class ThresholdRow:
    threshold: int  # MQL when score ≥ threshold
    leads: int
    share: float
    converted: int
    precision: float
    recall: float
    lift: float


def threshold_table(converted: np.ndarray, score: np.ndarray) -> list[ThresholdRow]:
    """Precision, recall and volume if leads scoring at least each value became MQLs."""
    total, positives = len(converted), int(converted.sum())
    base = positives / total if total else 0.0
    rows = []
    for threshold in range(0, 101):
        passed = score >= threshold
        leads = int(passed.sum())
        hits = int(converted[passed].sum())
        precision = hits / leads if leads else 0.0
        rows.append(
            ThresholdRow(
                threshold=threshold,
                leads=leads,
                share=leads / total if total else 0.0,
                converted=hits,
                precision=precision,
                recall=hits / positives if positives else 0.0,
                lift=precision / base if base else 0.0,
            )
        )
    return rows


@dataclass(frozen=True)
class Segment:
    name: str
    leads: int
    converted: int
    rate: float
    lift: float
    share_of_conversions: float
    mean_probability: float | None = None


def segments(
    converted: np.ndarray,
    keys: np.ndarray,
    order: Sequence[str],
    probability: np.ndarray | None = None,
) -> list[Segment]:
    """Conversion rate and lift of each group of leads, in `order`; empty groups left out."""
    base = float(converted.mean()) if len(converted) else 0.0
    positives = int(converted.sum())
    found = []
    keys = keys.astype(str)
    for name in order:
        members = keys == name
        leads = int(members.sum())
        if not leads:
            continue
        hits = int(converted[members].sum())
        rate = hits / leads
        found.append(
            Segment(
                name=name,
                leads=leads,
                converted=hits,
                rate=rate,
                lift=rate / base if base else 0.0,
                share_of_conversions=hits / positives if positives else 0.0,
                mean_probability=(
                    float(probability[members].mean()) if probability is not None else None
                ),
            )
        )
    return found


def score_deciles(score: np.ndarray) -> np.ndarray:
    """'1' for the top tenth of scores … '10' for the bottom; ties keep the source order."""
    ranked = np.argsort(-score, kind="stable")
    decile = np.empty(len(score), dtype=np.int64)
    decile[ranked] = np.arange(len(score)) * 10 // max(len(score), 1) + 1
    return decile.astype(str)


def score_bands(score: np.ndarray) -> np.ndarray:
    low = np.minimum(np.floor_divide(np.clip(score, 0, 100), 10) * 10, 90).astype(np.int64)
    return np.array([band_name(int(value)) for value in low], dtype=object)


def band_name(low: int) -> str:
    return f"{low}–{low + 9}" if low < 90 else "90–100"


def bands_out_of_order(bands: Sequence[Segment]) -> list[str]:
    """Bands (with enough leads) converting worse than a lower band: the score misorders them."""
    solid = [band for band in bands if band.leads >= MIN_BAND_LEADS]
    found = []
    best_below = -1.0
    for band in solid:
        if band.rate < best_below:
            found.append(band.name)
        best_below = max(best_below, band.rate)
    return found


@dataclass(frozen=True)
class StagePass:
    stage: str
    rule: str  # the stage rule's label, or "no rule matched"
    leads: int
    converted: int
    rate: float
    share_of_conversions: float


def stage_passes(
    converted: np.ndarray, stage: np.ndarray, stage_rule: np.ndarray, model: ScoringModel
) -> list[StagePass]:
    """How many leads each stage rule (first match wins) passes on, and how they converted."""
    positives = int(converted.sum())
    names = [rule.label or f"rule {i + 1}" for i, rule in enumerate(model.stages)]
    passes = []
    for index in [*range(len(model.stages)), -1]:
        members = stage_rule == index
        leads = int(members.sum())
        if not leads:
            continue
        hits = int(converted[members].sum())
        passes.append(
            StagePass(
                stage=str(stage[members][0]),
                rule=names[index] if index >= 0 else "no rule matched",
                leads=leads,
                converted=hits,
                rate=hits / leads,
                share_of_conversions=hits / positives if positives else 0.0,
            )
        )
    return passes


def gains_curve(
    converted: np.ndarray, score: np.ndarray, points: int = 100
) -> list[tuple[float, float]]:
    """(share of leads worked, share of conversions found) working leads from the top score."""
    if not len(score) or not converted.any():
        return [(0.0, 0.0), (1.0, 1.0)]
    ranked = converted[np.argsort(-score, kind="stable")]
    found = np.concatenate([[0], np.cumsum(ranked)]) / ranked.sum()
    steps = np.linspace(0, len(ranked), points + 1).round().astype(np.int64)
    return [(step / len(ranked), float(found[step])) for step in steps.tolist()]


def score_distribution(
    converted: np.ndarray, score: np.ndarray, width: int = 5
) -> list[tuple[int, float, float]]:
    """(bin start, share of converted leads, share of the others) per `width`-point score bin."""
    edges = np.arange(0, 101 + width, width)
    edges[-1] = 101
    converted_counts, _ = np.histogram(score[converted], bins=edges)
    other_counts, _ = np.histogram(score[~converted], bins=edges)
    positives, negatives = max(int(converted.sum()), 1), max(int((~converted).sum()), 1)
    return [
        (int(start), float(c / positives), float(o / negatives))
        for start, c, o in zip(edges[:-1], converted_counts, other_counts, strict=True)
    ]
