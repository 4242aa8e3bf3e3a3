"""Why a lead is in its stage, as the first reason the CRM shows:
`MQL: Hand-raiser — demo request 3 days ago`.

The stage rule that placed the lead gives the title (its label, or its id); when the rule can be
met by an activity alone (a hand-raise), the most recent activity that met it says what and when.
"""

from __future__ import annotations

import numpy as np

from scoring.config import StageRule
from scoring.frame import SECONDS_PER_DAY, LeadFrame
from scoring.intent import sufficient_tests


def stage_reasons(
    frame: LeadFrame, rules: list[StageRule], default_stage: str, stage_rule: np.ndarray
) -> np.ndarray:
    """One line per lead ("" for leads in the default stage)."""
    lines = np.full(frame.size, "", dtype=object)
    for index, rule in enumerate(rules):
        placed = np.flatnonzero(stage_rule == index)
        if not len(placed) or rule.stage == default_stage:
            continue
        title = f"{stage_title(rule.stage)}: {rule.label or rule.name(index)}"
        latest = _latest_hand_raise(frame, rule, placed)
        lines[placed] = title
        met = latest >= 0
        if met.any():
            lines[placed[met]] = title + " — " + _described(frame, latest[met])
    return lines


def stage_title(stage: str) -> str:
    """mql → MQL, sql → SQL, opportunity → Opportunity."""
    return stage.upper() if len(stage) <= 3 else stage.capitalize()


def _latest_hand_raise(frame: LeadFrame, rule: StageRule, placed: np.ndarray) -> np.ndarray:
    """For the leads the rule placed: the row of the newest activity that meets one of its
    activity tests on its own, or -1."""
    best = np.full(len(placed), -1, dtype=np.int64)
    best_time = np.full(len(placed), -np.inf)
    occurred = frame.activities.occurred_at
    for test, _ in sufficient_tests(rule.when):
        rows = frame.latest_activity(test)[placed]
        times = np.where(rows >= 0, occurred[np.maximum(rows, 0)], -np.inf)
        newer = times > best_time
        best = np.where(newer, rows, best)
        best_time = np.where(newer, times, best_time)
    return best


def _described(frame: LeadFrame, rows: np.ndarray) -> np.ndarray:
    """"demo request 3 days ago" for each row: built once per distinct type, form and age."""
    activities = frame.activities
    types, forms = activities.text("type"), activities.text("form")
    days = np.maximum((frame.now - activities.occurred_at[rows]) // SECONDS_PER_DAY, 0)
    keys = np.stack([types.codes[rows], forms.codes[rows], days.astype(np.int64)], axis=1)
    distinct, inverse = np.unique(keys, axis=0, return_inverse=True)
    texts = np.array(
        [
            _text(types.distinct[kind], forms.distinct[form], int(age))
            for kind, form, age in distinct
        ],
        dtype=object,
    )
    return texts[inverse.reshape(-1)]


def _text(kind: str | None, form: str | None, days: int) -> str:
    what = str(kind or "activity").replace("_", " ")
    if form:
        what += f" ({form})"
    when = "today" if days == 0 else "yesterday" if days == 1 else f"{days} days ago"
    return f"{what} {when}"
