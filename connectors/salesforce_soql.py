"""SOQL text for the Salesforce connector: literals, and id lists split so every query's URL stays
under Salesforce's URI limit (REST queries are GETs: the whole SOQL travels in the query string).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from urllib.parse import quote_plus

MAX_URI_LENGTH = 16_000  # Salesforce refuses request URIs over 16,384 characters


def datetime_literal(moment: datetime) -> str:
    """SOQL datetime literals are unquoted UTC timestamps, to the millisecond SystemModstamp
    carries: 2024-01-01T00:00:00.123Z (cut to whole seconds, a cursor would re-read or skip the
    records of its last second)."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def string_literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere (`text` must hold no % or _ of its own)."""
    return string_literal(f"%{text}%")


def encoded_length(text: str) -> int:
    """How long `text` is once requests has put it in a query string."""
    return len(quote_plus(text))


def within_uri(
    terms: Sequence[str], fixed_length: int, separator: str = ",", limit: int = MAX_URI_LENGTH
) -> Iterator[list[str]]:
    """Split `terms` (already SOQL text, e.g. quoted ids) into runs whose joined, encoded length
    plus `fixed_length` (the URL without them) stays within `limit`."""
    budget = limit - fixed_length
    separator_cost = encoded_length(separator)
    batch: list[str] = []
    used = 0
    for term in terms:
        cost = encoded_length(term) + (separator_cost if batch else 0)
        if batch and used + cost > budget:
            yield batch
            batch, used = [], 0
            cost = encoded_length(term)
        batch.append(term)
        used += cost
    if batch:
        yield batch


def id_list(ids: Sequence[str]) -> str:
    return ",".join(string_literal(record_id) for record_id in ids)


def where(conditions: Sequence[str]) -> str:
    """A SOQL WHERE clause joining `conditions` with AND (none: no clause)."""
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""
