"""How learned rules are named: ids, labels and thresholds as a person would write them."""

from __future__ import annotations

import math
import re


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

