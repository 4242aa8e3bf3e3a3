"""The CRM search request: validation, and its compilation into SQL over the records table.

`filterGroups` are ORed, the filters inside a group ANDed. Values compare the way HubSpot compares
them for the property's type: numbers numerically, datetimes as instants (a filter may give epoch
milliseconds or an ISO string), dates as days, strings and enumerations case-insensitively.
A record without the property matches NEQ, NOT_IN and NOT_CONTAINS_TOKEN (as in HubSpot, where a
missing value is "not equal" to anything) and none of the positive operators.

Limits: at most 5 groups, 6 filters per group, 18 filters in all (HubSpot's changelog of August
2024, "Expanded Filtering Capabilities", raised its own to 5, 10 and 25: the sandbox keeps the
stricter ones); at most 100 values in an IN or NOT_IN filter (the figure leadq's keyset pull
relies on: unconfirmed by a primary source, so enforced); `limit` at most 200 (default 10); no page
may reach past the 10,000th result.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any

from sandbox.hubspot.errors import ApiError, bad_request, error_body
from sandbox.hubspot.schema import (
    InvalidValueError,
    ObjectType,
    PropertyDefinition,
    comparable_filter_value,
    parse_moment_ms,
)

MAX_RESULTS = 10_000  # HubSpot's cap on one query's results (PortalSettings can lower it)
MAX_LIMIT = 200
DEFAULT_LIMIT = 10
MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_VALUES = 100  # in one IN / NOT_IN filter
OPERATORS = frozenset(
    {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
     "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
)
_COMPARISONS = {"EQ": "=", "NEQ": "=", "LT": "<", "LTE": "<=", "GT": ">", "GTE": ">="}
_QUERY_PROPERTIES = {
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
    "companies": ("name", "domain", "website", "phone"),
}


@dataclass(frozen=True)
class CompiledSearch:
    where: str
    params: list[Any]
    order_by: str
    properties: list[str] | None
    limit: int
    offset: int


@dataclass(frozen=True)
class _Operand:
    sql: str
    kind: str  # "column" (ids and epoch ms), "email" (lower-cased) or the property's type
    definition: PropertyDefinition


def contains_token(value: str | None, token: str | None) -> int:
    """HubSpot-like token match: whole words, `*` wildcards, or the domain of an e-mail."""
    if value is None or token is None:
        return 0
    text, wanted = value.lower(), str(token).lower().strip()
    pieces = [text, *re.split(r"\s+", text), *text.split("@")[1:]]
    if "*" in wanted:
        return int(any(fnmatch.fnmatchcase(piece, wanted) for piece in pieces))
    words = re.split(r"[^\w]+", text)
    return int(wanted in pieces or wanted in words)


def compile_search(
    body: Any,
    object_type: ObjectType,
    definitions: dict[str, PropertyDefinition],
    max_results: int = MAX_RESULTS,
) -> CompiledSearch:
    if not isinstance(body, dict):
        raise bad_request("Invalid input JSON: the search request must be a JSON object.")
    limit = _limit(body.get("limit"))
    offset = _offset(body.get("after"))
    if offset + limit > max_results:
        raise _past_the_cap(offset, max_results)
    compiler = _Compiler(object_type, definitions)
    where, params = compiler.filter_groups(body.get("filterGroups") or [])
    query = body.get("query")
    if query:
        query_sql, query_params = compiler.free_text(str(query))
        where, params = f"({where}) AND ({query_sql})", [*params, *query_params]
    properties = body.get("properties")
    return CompiledSearch(
        where=where,
        params=params,
        order_by=compiler.order_by(body.get("sorts") or []),
        properties=[str(name) for name in properties] if properties else None,
        limit=limit,
        offset=offset,
    )


def _limit(raw: Any) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except (TypeError, ValueError) as error:
        raise bad_request(f"Invalid limit: {raw!r}") from error
    if not 0 < limit <= MAX_LIMIT:
        raise bad_request(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def _offset(raw: Any) -> int:
    if raw in (None, ""):
        return 0
    try:
        offset = int(raw)
    except (TypeError, ValueError) as error:
        raise bad_request(f"Invalid after: {raw!r}") from error
    if offset < 0:
        raise bad_request(f"Invalid after: {raw!r}")
    return offset


def _past_the_cap(offset: int, max_results: int) -> ApiError:
    # HubSpot's wording for this refusal is not documented; this is what its search service
    # is reported to answer, with the cap spelled out in `context` for anyone debugging.
    return ApiError(
        400,
        error_body(
            "There was a problem with the request.",
            "VALIDATION_ERROR",
            errors=[
                {
                    "message": f"Search results are limited to {max_results} per query: paging "
                    f"from after={offset} is not allowed. Narrow the query instead.",
                    "code": "INVALID_PAGING",
                    "in": "after",
                }
            ],
            context={"after": [str(offset)], "maxResults": [str(max_results)]},
        ),
    )


class _Compiler:
    def __init__(self, object_type: ObjectType, definitions: dict[str, PropertyDefinition]):
        self.object_type = object_type
        self.definitions = definitions

    def operand(self, name: Any) -> _Operand:
        definition = self.definitions.get(str(name))
        if definition is None:
            raise bad_request(
                f'Property "{name}" does not exist on {self.object_type.name}',
                errors=[{"message": f'Property "{name}" does not exist',
                         "code": "PROPERTY_DOESNT_EXIST", "in": "propertyName"}],
            )
        column = {
            "hs_object_id": "id",
            self.object_type.created_property: "created_ms",
            self.object_type.modified_property: "updated_ms",
        }.get(definition.name)
        if column:
            return _Operand(column, "column", definition)
        if definition.name == "email" and self.object_type.name == "contacts":
            return _Operand("email", "email", definition)  # the indexed, lower-cased column
        return _Operand(f"json_extract(props, '$.\"{definition.name}\"')", definition.type,
                        definition)

    def filter_groups(self, groups: Any) -> tuple[str, list[Any]]:
        if not isinstance(groups, list):
            raise bad_request("filterGroups must be a list")
        if len(groups) > MAX_GROUPS:
            raise bad_request(f"Too many filter groups: {len(groups)} > {MAX_GROUPS}")
        total = sum(len(group.get("filters") or []) for group in groups if isinstance(group, dict))
        if total > MAX_FILTERS:
            raise bad_request(f"Too many filters: {total} > {MAX_FILTERS}")
        clauses, params = [], []
        for group in groups:
            filters = group.get("filters") or [] if isinstance(group, dict) else None
            if filters is None or len(filters) > MAX_FILTERS_PER_GROUP:
                raise bad_request(f"A filter group holds at most {MAX_FILTERS_PER_GROUP} filters")
            parts = [self.filter(item) for item in filters]
            if parts:
                clauses.append(" AND ".join(f"({sql})" for sql, _ in parts))
                params.extend(value for _, values in parts for value in values)
        if not clauses:
            return "1", []
        return " OR ".join(f"({clause})" for clause in clauses), params

    def filter(self, item: Any) -> tuple[str, list[Any]]:
        if not isinstance(item, dict):
            raise bad_request("Each filter must be an object")
        operator = str(item.get("operator", "EQ")).upper()
        if operator not in OPERATORS:
            raise bad_request(f"Unknown operator {operator}")
        operand = self.operand(item.get("propertyName"))
        try:
            return self._condition(operator, operand, item)
        except (InvalidValueError, ValueError, TypeError) as error:
            raise bad_request(
                f"Invalid value for {operand.definition.name} with {operator}: {error}"
            ) from error

    def _condition(self, operator: str, operand: _Operand, item: dict) -> tuple[str, list[Any]]:
        sql = operand.sql
        if operator == "HAS_PROPERTY":
            return f"{sql} IS NOT NULL", []
        if operator == "NOT_HAS_PROPERTY":
            return f"{sql} IS NULL", []
        if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            matched = f"hs_contains_token({sql}, ?)"
            value = _required(item, "value")
            if operator == "CONTAINS_TOKEN":
                return matched, [value]
            return f"({sql} IS NULL OR NOT {matched})", [value]
        subject = self._subject(operand)
        if operator in ("IN", "NOT_IN"):
            values = item.get("values")
            if not isinstance(values, list) or not values:
                raise bad_request(f"{operator} needs a non-empty `values` list")
            if len(values) > MAX_VALUES:
                raise bad_request(f"{operator} takes at most {MAX_VALUES} values, got "
                                  f"{len(values)}")
            marks = ",".join("?" * len(values))
            converted = [self._value(operand, value) for value in values]
            if operator == "IN":
                return f"{subject} IN ({marks})", converted
            return f"({sql} IS NULL OR {subject} NOT IN ({marks}))", converted
        if operator == "BETWEEN":
            low = self._value(operand, _required(item, "value"))
            high = self._value(operand, _required(item, "highValue"))
            return f"{subject} BETWEEN ? AND ?", [low, high]
        value = self._value(operand, _required(item, "value"))
        comparison = f"{subject} {_COMPARISONS[operator]} ?"
        if operator == "NEQ":
            return f"({sql} IS NULL OR NOT ({comparison}))", [value]
        return comparison, [value]

    @staticmethod
    def _subject(operand: _Operand) -> str:
        if operand.kind == "number":
            return f"CAST({operand.sql} AS REAL)"
        if operand.kind in ("column", "email", "datetime", "date"):
            return operand.sql
        return f"lower({operand.sql})"

    def _value(self, operand: _Operand, raw: Any) -> Any:
        if operand.kind != "column":
            return comparable_filter_value(operand.definition, raw)
        if operand.sql == "id":
            return int(str(raw))
        return parse_moment_ms(str(raw))

    def order_by(self, sorts: Any) -> str:
        if not isinstance(sorts, list):
            raise bad_request("sorts must be a list")
        terms, direction = [], "ASC"
        for sort in sorts:
            name, descending = _sort_key(sort)
            operand = self.operand(name)
            subject = self._subject(operand) if operand.kind != "string" else operand.sql
            direction = "DESC" if descending else "ASC"
            if operand.kind == "column":
                # Never null: a plain term lets SQLite walk the index instead of sorting.
                terms.append(f"{subject} {direction}")
            else:
                terms.append(f"({operand.sql} IS NULL), {subject} {direction}")
        terms.append(f"id {direction}")  # ties follow the last sort, so one index serves both
        return ", ".join(terms)

    def free_text(self, query: str) -> tuple[str, list[Any]]:
        names = _QUERY_PROPERTIES.get(self.object_type.name) or tuple(
            name for name, definition in self.definitions.items() if definition.type == "string"
        )
        pattern = f"%{query.lower()}%"
        clauses = [f"lower(json_extract(props, '$.\"{name}\"')) LIKE ?" for name in names]
        return " OR ".join(clauses), [pattern] * len(clauses)


def _sort_key(sort: Any) -> tuple[str, bool]:
    """Sorts come as {"propertyName", "direction"} objects or as names ("-name" descending)."""
    if isinstance(sort, dict):
        direction = str(sort.get("direction", "ASCENDING")).upper()
        if direction not in ("ASCENDING", "DESCENDING"):
            raise bad_request(f"Unknown sort direction {direction}")
        return str(sort.get("propertyName")), direction == "DESCENDING"
    text = str(sort)
    return text.lstrip("-"), text.startswith("-")


def _required(item: dict, key: str) -> Any:
    value = item.get(key)
    if value is None:
        raise bad_request(f"The {item.get('operator')} filter needs `{key}`")
    return value
