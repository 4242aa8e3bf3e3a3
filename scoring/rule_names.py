"""How learned rules are named: ids, labels and thresholds as a person would write them."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


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



# plural nouns that make a numeric field a count: "page_views" → "10+ page views"
COUNTED = frozenset(
    (
        "visits", "views", "pageviews", "calls", "emails", "opens", "clicks", "downloads",
        "sessions", "meetings", "employees", "days", "hours", "minutes", "seconds", "weeks",
        "months", "years", "contacts", "attempts", "messages", "replies", "submissions",
        "webinars", "events", "orders", "purchases", "users", "seats", "locations", "pages",
        "tickets",
    )
)  # fmt: skip
COUNT_PREFIXES = ("number of ", "num ", "nr of ", "no of ", "count of ")


@dataclass(frozen=True)
class Quantity:
    """A numeric field as its bins name it: "10+ visits" with a unit, "Age 60+" without one."""

    name: str  # the field's name, capitalised: "Age", "Euribor 3m"
    unit: str | None  # what the number counts: "visits", "calls this campaign"
    whole: bool  # every value a whole number: bins read "5–9", not "5 to under 10"

    def at_least(self, low: float) -> str:
        """The top bin: "10+ visits", "Age 60+", "Rate -1.8 or more"."""
        if self.unit:
            return f"{_shown(low)}+ {self.unit}"
        if low < 0:
            return f"{self.name} {_shown(low)} or more"
        return f"{self.name} {_shown(low)}+"

    def from_to(self, low: float, high: float) -> str:
        """A bin from `low` up to (not including) `high`: "5–9 visits", "Age 40–59", "Euribor 3m
        1.2 to under 4.9", or one whole value alone: "1 call this campaign"."""
        if self.whole and high - 1 == low:
            return self._one(low)
        if self.whole:
            joint = " to " if low < 0 or high < 0 else "–"
            numbers = f"{_shown(low)}{joint}{_shown(high - 1)}"
        else:
            numbers = f"{_shown(low)} to under {_shown(high)}"
        return f"{numbers} {self.unit}" if self.unit else f"{self.name} {numbers}"

    def _one(self, value: float) -> str:
        if not self.unit:
            return f"{self.name} {_shown(value)}"
        return f"{_shown(value)} {singular(self.unit) if value == 1 else self.unit}"


def singular(units: str) -> str:
    """One of a unit: "calls this campaign" → "call this campaign", "visits" → "visit"."""
    first, _, rest = units.partition(" ")
    if first.endswith("s") and not first.endswith("ss"):
        first = first[:-1]
    return " ".join(part for part in (first, rest) if part)


def quantity_of(path: str, unit: str | None, whole: bool) -> Quantity:
    """`unit` from the model's `learn.units`, else read from the field's name when it names a
    count ("company.employees" → employees, "fields.num_calls" → calls), else none."""
    return Quantity(field_name(path), unit or counted_unit(path), whole)


def counted_unit(path: str) -> str | None:
    words = field_name(path).lower().removeprefix("company ")
    for prefix in COUNT_PREFIXES:
        if words.startswith(prefix) and len(words) > len(prefix):
            return words[len(prefix):]
    if words.endswith(" count"):
        noun = words.removesuffix(" count")
        return noun if noun.endswith("s") else f"{noun}s"
    return words if words.split()[-1:] and words.split()[-1] in COUNTED else None


def _shown(value: float) -> str:
    """1,000,000 (not 1e+06), 4.9, -36."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,g}"


def number_words(value: float) -> str:
    """A number as part of a rule id: 49000000, minus_36, 4.9 (unique_id makes it 4_9)."""
    shown = str(int(abs(value))) if float(value).is_integer() else f"{abs(value):g}"
    return f"{'minus_' if value < 0 else ''}{shown}"
