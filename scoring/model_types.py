"""What every section of the scoring model is built from: bounded numbers, ids and labels, the
frozen `Section` base, and the words of "did you mean" hints."""

from __future__ import annotations

import difflib
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from scoring.frame import (
    COMPANY_FIELD_KINDS,
    LEAD_FIELD_KINDS,
)

GRADES = ("A", "B", "C", "D", "F")
HAND_RAISER = "hand_raiser"  # the priorities key for leads qualified by a hand-raise
# What the intent guard counts as browsing unless the model says otherwise: reading, not asking.
BROWSING_ACTIVITIES = ("page_view", "pricing_page_view", "email_open", "email_click")

# What a form left blank writes instead of nothing: read as missing in CSV files unless the
# model's csv.blank_values says otherwise.
BLANK_VALUES = ("-", "--", "N/A", "Select", "Please select")

# Bounds far beyond any real model and far below what would overflow a score, a reason's points
# or a CRM field: every number finite, every name short enough to read in one line.
MOST = 1_000_000  # points, thresholds, caps, maxima, weights, days and counts, in size
MOST_LABEL = 200  # characters in a label or the model's name
MOST_ID = 100  # characters in a rule or group id

Identifier = Annotated[str, Field(min_length=1, max_length=MOST_ID)]
RuleId = Annotated[Identifier, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$")]
Label = Annotated[str, Field(min_length=1, max_length=MOST_LABEL)]
Points = Annotated[float, Field(allow_inf_nan=False, ge=-MOST, le=MOST)]
Positive = Annotated[float, Field(allow_inf_nan=False, gt=0, le=MOST)]
Weight = Annotated[float, Field(allow_inf_nan=False, ge=0, le=MOST)]
Count = Annotated[int, Field(ge=0, le=MOST)]


def shortened(label: str) -> str:
    """A label made from data (learn's proposals), cut to fit `MOST_LABEL` with an ellipsis."""
    return label if len(label) <= MOST_LABEL else label[: MOST_LABEL - 1] + "…"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- words for errors


def lead_paths() -> list[str]:
    """Every lead field a rule can name, company fields included."""
    return [*LEAD_FIELD_KINDS, *(f"company.{name}" for name in COMPANY_FIELD_KINDS)]


def closest(word: str, options: list[str]) -> str | None:
    """The option `word` was most likely meant to be, if any is close."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, options: list[str]) -> str:
    """The hint after an unknown name: the closest option, or every option when there are few."""
    close = closest(word, options)
    if close:
        return f"; did you mean {close!r}?"
    if len(options) <= 8:
        return f" (known: {', '.join(options)})"
    return ""
