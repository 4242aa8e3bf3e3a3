"""Why a lead is in its stage, as the first reason the CRM shows:
`MQL: Hand-raiser — demo request 3 days ago`.

The stage rule that placed the lead gives the title (its label, or its id); when the rule can be
met by an activity alone (a hand-raise), the most recent activity that met it says what and when.
"""

from __future__ import annotations

import numpy as np

from scoring.config import StageRule
from scoring.frame import SECONDS_PER_DAY, LeadFrame, TextColumn
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
        for lead, row in zip(placed.tolist(), latest.tolist(), strict=True):
            lines[lead] = title if row < 0 else f"{title} — {_described(frame, row)}"
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


def _described(frame: LeadFrame, row: int) -> str:
    activities = frame.activities
    kind = str(_value_at(activities.text("type"), row) or "activity").replace("_", " ")
    form = _value_at(activities.text("form"), row)
    what = f"{kind} ({form})" if form else kind
    days = int((frame.now - activities.occurred_at[row]) // SECONDS_PER_DAY)
    when = "today" if days <= 0 else "yesterday" if days == 1 else f"{days} days ago"
    return f"{what} {when}"


def _value_at(column: TextColumn, row: int) -> str | None:
    return column.distinct[int(column.codes[row])]
