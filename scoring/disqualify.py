"""Disqualify: leads the model's `disqualify:` rules match (a competitor, a student, a personal
e-mail address) are not the kind of lead sales should get, however they score. The first matching
rule says why: `Disqualified: Competitor domain (acme.com)` (its label, then the value it tested
when the rule tests one field)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scoring.conditions import Evaluator, FieldTest, compile_condition
from scoring.config import DisqualifyRule
from scoring.frame import LeadFrame, lead_field_kind

TITLE = "Disqualified"


class Disqualifier:
    def __init__(self, rules: list[DisqualifyRule]) -> None:
        self.rules = rules
        self._evaluators: list[Evaluator] = [
            compile_condition(rule.when, lead_field_kind) for rule in rules
        ]

    def matches(self, frame: LeadFrame) -> np.ndarray:
        """The index of the first rule each lead matches; -1 for leads no rule disqualifies."""
        matched = np.full(frame.size, -1, dtype=np.int64)
        for index in range(len(self._evaluators) - 1, -1, -1):
            matched[np.asarray(self._evaluators[index](frame), dtype=bool)] = index
        return matched

    def reasons(self, frame: LeadFrame, matched: np.ndarray) -> np.ndarray:
        """`Disqualified: <label> (<value>)` per disqualified lead, "" for the others."""
        lines = np.full(frame.size, "", dtype=object)
        for index, rule in enumerate(self.rules):
            placed = np.flatnonzero(matched == index)
            if not len(placed):
                continue
            title = f"{TITLE}: {rule.label}"
            lines[placed] = title
            if isinstance(rule.when, FieldTest) and rule.when.op not in ("exists", "missing"):
                values = _shown(frame, rule.when.field)
                for row in placed.tolist():
                    value = values[row]
                    if value is not None and str(value).strip():
                        lines[row] = f"{title} ({value})"
        return lines


def _shown(frame: LeadFrame, path: str) -> Sequence[Any]:
    """A field's values as the reason shows them: text as the rules compare it (normalised, the
    same whether the leads came as records or as columns), anything else as it is."""
    if lead_field_kind(path) == "text":
        return frame.text(path).values()
    return frame.raw(path)
