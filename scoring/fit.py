"""Fit: is this the kind of customer we win? Rule points over lead and company fields, and BANT."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.conditions import Evaluator, compile_condition
from scoring.config import ScoringModel
from scoring.frame import BANT_CRITERIA, LeadFrame, lead_field_kind


@dataclass(frozen=True)
class BantResult:
    met: dict[str, np.ndarray]  # criterion → bool per lead
    count: np.ndarray


class FitScorer:
    def __init__(self, model: ScoringModel) -> None:
        self.model = model
        self._bant: list[tuple[str, Evaluator]] = [
            (name, compile_condition(condition, lead_field_kind))
            for name in BANT_CRITERIA
            if (condition := getattr(model.bant, name)) is not None
        ]
        self._rules: list[Evaluator] = [
            compile_condition(rule.when, lead_field_kind) for rule in model.fit.rules
        ]
        self._points = np.array([rule.points for rule in model.fit.rules], dtype=np.float64)
        grades = model.fit.grades
        self._thresholds = np.array([grades.A, grades.B, grades.C, grades.D])

    def bant(self, frame: LeadFrame) -> BantResult:
        """Evaluate BANT and publish it to the frame, so fit and stage rules can use it."""
        met = {name: np.zeros(frame.size, dtype=bool) for name in BANT_CRITERIA}
        for name, evaluate in self._bant:
            met[name] = evaluate(frame)
        count = np.sum(list(met.values()), axis=0, dtype=np.int64) if met else np.zeros(0)
        for name, values in met.items():
            frame.set_computed(f"bant.{name}", values)
        frame.set_computed("bant.count", count)
        return BantResult(met=met, count=count)

    def contributions(self, frame: LeadFrame) -> np.ndarray:
        """Points each fit rule gives each lead: shape (leads, rules)."""
        matrix = np.zeros((frame.size, len(self._rules)), dtype=np.float64)
        for column, evaluate in enumerate(self._rules):
            matrix[:, column] = np.where(evaluate(frame), self._points[column], 0.0)
        return matrix

    def grade_index(self, fit: np.ndarray) -> np.ndarray:
        """0 (A) … 4 (F) per lead (config.GRADES): the best grade whose threshold fit reaches."""
        reached = fit[:, None] >= self._thresholds[None, :]
        return np.where(reached.any(axis=1), reached.argmax(axis=1), len(self._thresholds))
