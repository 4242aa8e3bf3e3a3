"""Translate a parsed SOQL query into SQLite SQL against the store's tables, checking every field
name and every literal's type against the schema the way Salesforce does.

SOQL is two-valued where SQL is three-valued: `Industry != 'Retail'` matches rows whose Industry
is null, and so does `NOT Industry = 'Retail'`; the translation keeps those semantics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sandbox.salesforce import soql
from sandbox.salesforce.errors import SalesforceApiError
from sandbox.salesforce.ids import looks_like_id, to_18
from sandbox.salesforce.schema import (
    NAME_OBJECT_FIELDS,
    NAME_TYPE_OF,
    NUMBER_TYPES,
    TEXT_TYPES,
    FieldDef,
    Schema,
    SObjectDef,
)
from sandbox.salesforce.values import stored_datetime

BASE_ALIAS = "b"
MAX_OFFSET = 2000
NAME_OBJECT = {name: FieldDef(name, type_) for name, type_ in NAME_OBJECT_FIELDS}
RANGE_OPERATORS = {"=", "!=", "<", ">", "<=", ">="}


@dataclass(frozen=True)
class Column:
    """One selected value: where it goes in the record and how to read it."""

    sql: str
    field: FieldDef
    relationship: str | None = None  # canonical relationship name, e.g. "Owner"
    relationship_id_sql: str | None = None  # the reference column that holds the related id
    relationship_type: str | None = None  # attributes.type of the nested record


@dataclass
class CompiledQuery:
    sobject: SObjectDef
    kind: str  # records | count | aggregate
    from_sql: str
    where_sql: str
    params: list[Any]
    order_sql: str
    limit: int | None
    offset: int | None
    columns: list[Column] = field(default_factory=list)
    aggregate_aliases: list[str] = field(default_factory=list)

    def filtered_where(self, include_deleted: bool) -> str:
        if include_deleted:
            return self.where_sql
        return f'{BASE_ALIAS}."IsDeleted" = 0 AND ({self.where_sql})'


def compile_query(
    query: soql.Query, schema: Schema, today: date, hidden: frozenset[str] = frozenset()
) -> CompiledQuery:
    """`hidden`: sObjects (lower-case) the API user's profile cannot read: unknown to it."""
    sobject = None if query.sobject.lower() in hidden else schema.get(query.sobject)
    if sobject is None:
        raise soql.query_error(
            query.text,
            query.sobject_offset,
            f"sObject type '{query.sobject}' is not supported. If you are attempting to use a "
            "custom object, be sure to append the '__c' after the entity name. Please reference "
            "your WSDL or the describe call for the appropriate names.",
            code="INVALID_TYPE",
        )
    if query.offset is not None and query.offset > MAX_OFFSET:
        raise SalesforceApiError(
            400, "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}"
        )
    translator = Translator(query, schema, sobject, today)
    return translator.compile()


class Translator:
    def __init__(self, query: soql.Query, schema: Schema, sobject: SObjectDef, today: date) -> None:
        self.query = query
        self.schema = schema
        self.sobject = sobject
        self.today = today
        self.joins: dict[str, str] = {}
        self.params: list[Any] = []

    def compile(self) -> CompiledQuery:
        kind, columns, aliases = self.select()
        where_sql = self.condition(self.query.where) if self.query.where else "1"
        order_sql = self.order_by()
        from_sql = f"{self.sobject.table} AS {BASE_ALIAS}" + "".join(self.joins.values())
        return CompiledQuery(
            self.sobject, kind, from_sql, where_sql, self.params, order_sql, self.query.limit,
            self.query.offset, columns, aliases,
        )

    # ---- fields -----------------------------------------------------------------------------
    def error(self, offset: int, detail: str, code: str = "INVALID_FIELD") -> SalesforceApiError:
        return soql.query_error(self.query.text, offset, detail, code)

    def resolve(self, path: soql.FieldPath) -> Column:
        if len(path.parts) == 1:
            return self.base_column(path)
        if len(path.parts) > 2:
            raise self.error(
                path.offset,
                "Relationship paths deeper than one level are not supported by the leadq "
                "Salesforce emulator",
                code="MALFORMED_QUERY",
            )
        return self.related_column(path)

    def base_column(self, path: soql.FieldPath) -> Column:
        definition = self.sobject.get_field(path.parts[0])
        if definition is None:
            raise self.error(
                path.offset,
                f"No such column '{path.parts[0]}' on entity '{self.sobject.name}'. If you are "
                "attempting to use a custom field, be sure to append the '__c' after the custom "
                "field name. Please reference your WSDL or the describe call for the appropriate "
                "names.",
            )
        return Column(f'{BASE_ALIAS}."{definition.name}"', definition)

    def related_column(self, path: soql.FieldPath) -> Column:
        relationship_name, field_name = path.parts
        reference = self.sobject.relationship(relationship_name)
        if reference is None:
            raise self.error(
                path.offset,
                f"Didn't understand relationship '{relationship_name}' in field path. If you are "
                "attempting to use a custom relationship, be sure to append the '__r' after the "
                "custom relationship name. Please reference your WSDL or the describe call for "
                "the appropriate names.",
            )
        id_sql = f'{BASE_ALIAS}."{reference.name}"'
        if reference.polymorphic:
            return self.name_object_column(path, reference, field_name, id_sql)
        target = self.schema.get(reference.references[0])
        assert target is not None
        definition = target.get_field(field_name)
        if definition is None:
            raise self.unknown_related_field(path, field_name, target.name)
        alias = self.join(reference, target)
        return Column(
            f'{alias}."{definition.name}"', definition, reference.relationship_name, id_sql,
            target.name,
        )

    def unknown_related_field(
        self, path: soql.FieldPath, field_name: str, entity: str
    ) -> SalesforceApiError:
        return self.error(
            path.offset,
            f"No such column '{field_name}' on entity '{entity}'. If you are attempting to use a "
            "custom field, be sure to append the '__c' after the custom field name. Please "
            "reference your WSDL or the describe call for the appropriate names.",
        )

    def name_object_column(
        self, path: soql.FieldPath, reference: FieldDef, field_name: str, id_sql: str
    ) -> Column:
        """Polymorphic lookups (Owner, Who) expose the small "Name" object of their targets."""
        definition = next(
            (item for name, item in NAME_OBJECT.items() if name.lower() == field_name.lower()),
            None,
        )
        if definition is None:
            raise self.unknown_related_field(path, field_name, "Name")
        targets = [self.schema.get(name) for name in reference.references]
        pieces: list[str] = []
        for target in targets:
            assert target is not None
            alias = self.join(reference, target)
            if definition.name == "Type":
                pieces.append(f"CASE WHEN {alias}.\"Id\" IS NOT NULL THEN "
                              f"'{NAME_TYPE_OF[target.name]}' END")
            elif target.get_field(definition.name) is not None:
                pieces.append(f'{alias}."{definition.name}"')
        sql = _coalesce(pieces)
        if definition.type == "boolean":
            sql = f"COALESCE({sql}, 0)"
        elif definition.type in TEXT_TYPES:
            sql = f"({sql} COLLATE NOCASE)"
        return Column(sql, definition, reference.relationship_name, id_sql, "Name")

    def join(self, reference: FieldDef, target: SObjectDef) -> str:
        alias = f"j_{reference.relationship_name}_{target.name}".lower()
        if alias not in self.joins:
            self.joins[alias] = (
                f' LEFT JOIN {target.table} AS {alias} ON {alias}."Id" = '
                f'{BASE_ALIAS}."{reference.name}"'
            )
        return alias

    # ---- SELECT -----------------------------------------------------------------------------
    def select(self) -> tuple[str, list[Column], list[str]]:
        if self.query.count_only:
            return "count", [], []
        counts = [item for item in self.query.select if isinstance(item, soql.Count)]
        if counts:
            return self.aggregate_select(counts)
        columns: list[Column] = []
        seen: set[str] = set()
        for item in self.query.select:
            assert isinstance(item, soql.FieldPath)
            column = self.resolve(item)
            key = f"{column.relationship or ''}.{column.field.name}".lower()
            if key in seen:
                raise self.error(
                    item.offset, f"duplicate field selected: {item.text}", "MALFORMED_QUERY"
                )
            seen.add(key)
            columns.append(column)
        return "records", columns, []

    def aggregate_select(self, counts: list[soql.Count]) -> tuple[str, list[Column], list[str]]:
        if len(counts) != len(self.query.select):
            plain = next(item for item in self.query.select if isinstance(item, soql.FieldPath))
            raise self.error(
                plain.offset, f"Field must be grouped or aggregated: {plain.text}",
                "MALFORMED_QUERY",
            )
        columns: list[Column] = []
        aliases: list[str] = []
        for number, item in enumerate(counts):
            assert item.field is not None
            column = self.resolve(item.field)
            columns.append(Column(f"COUNT({column.sql})", FieldDef("count", "int")))
            aliases.append(item.alias or f"expr{number}")
        return "aggregate", columns, aliases

    # ---- WHERE ------------------------------------------------------------------------------
    def condition(self, node: soql.Condition) -> str:
        if isinstance(node, soql.Junction):
            joiner = f" {node.operator.upper()} "
            joined = joiner.join(self.condition(item) for item in node.operands)
            return f"({joined})"
        if isinstance(node, soql.Negation):
            return f"(NOT COALESCE({self.condition(node.operand)}, 0))"
        if isinstance(node, soql.Membership):
            return self.membership(node)
        return self.comparison(node)

    def comparison(self, node: soql.Comparison) -> str:
        column = self.resolve(node.field)
        literal = node.value
        if literal.kind == "null":
            if node.operator == "=":
                return f"({column.sql} IS NULL)"
            if node.operator == "!=":
                return f"({column.sql} IS NOT NULL)"
            raise self.error(literal.offset, f"unexpected token: {literal.text}", "MALFORMED_QUERY")
        if node.operator == "like":
            return self.like(column, node)
        if literal.kind == "relative":
            return self.relative_comparison(column, node)
        value = self.storage_value(column, literal, node.field)
        if column.field.type == "boolean" and node.operator not in ("=", "!="):
            raise self.error(
                literal.offset, f"invalid operator on boolean field: {node.operator}",
                "INVALID_FIELD",
            )
        self.params.append(value)
        if node.operator == "!=":
            return f"({column.sql} IS NOT ?)"
        return f"({column.sql} {node.operator} ?)"

    def like(self, column: Column, node: soql.Comparison) -> str:
        if column.field.type not in TEXT_TYPES or node.value.kind != "string":
            raise self.error(
                node.value.offset,
                f"invalid operator on field {node.field.text}: LIKE requires a text field and "
                "a quoted pattern",
                "INVALID_FIELD",
            )
        self.params.append(node.value.value)
        return f"({column.sql} LIKE ? ESCAPE '\\')"

    def relative_comparison(self, column: Column, node: soql.Comparison) -> str:
        kind = column.field.type
        if kind not in ("date", "datetime"):
            raise self.type_error(node.field, node.value, expected_type_name(kind))
        relative = node.value.value
        assert isinstance(relative, soql.RelativeDate)
        start, end = soql.relative_range(relative, self.today)
        low, high = (_date_bound(start, kind), _date_bound(end, kind))
        sql = column.sql
        ranges = {
            "=": (f"({sql} >= ? AND {sql} < ?)", [low, high]),
            "!=": (f"({sql} IS NULL OR {sql} < ? OR {sql} >= ?)", [low, high]),
            "<": (f"({sql} < ?)", [low]),
            "<=": (f"({sql} < ?)", [high]),
            ">": (f"({sql} >= ?)", [high]),
            ">=": (f"({sql} >= ?)", [low]),
        }
        fragment, values = ranges[node.operator]
        self.params.extend(values)
        return fragment

    def membership(self, node: soql.Membership) -> str:
        column = self.resolve(node.field)
        values = [
            self.storage_value(column, literal, node.field)
            for literal in node.values
            if literal.kind != "null"
        ]
        has_null = any(literal.kind == "null" for literal in node.values)
        marks = ", ".join("?" for _ in values)
        self.params.extend(values)
        if node.negated:
            inside = f"{column.sql} NOT IN ({marks})" if values else "1"
            null_part = f"{column.sql} IS NOT NULL" if has_null else f"{column.sql} IS NULL"
            joiner = "AND" if has_null else "OR"
            return f"({null_part} {joiner} {inside})"
        inside = f"{column.sql} IN ({marks})" if values else "0"
        return f"({inside} OR {column.sql} IS NULL)" if has_null else f"({inside})"

    def storage_value(self, column: Column, literal: soql.Literal, path: soql.FieldPath) -> Any:
        kind = column.field.type
        if kind in ("id", "reference"):
            return self.id_value(column, literal, path)
        if kind in TEXT_TYPES:
            if literal.kind != "string":
                raise self.type_error(path, literal, "string")
            return literal.value
        if kind == "boolean":
            if literal.kind != "boolean":
                raise self.type_error(path, literal, "boolean")
            return int(bool(literal.value))
        if kind in NUMBER_TYPES:
            if literal.kind != "number":
                raise self.type_error(path, literal, "double" if kind != "int" else "integer")
            return literal.value
        if kind == "datetime":
            if literal.kind != "datetime":
                raise self.type_error(path, literal, "dateTime")
            assert isinstance(literal.value, datetime)
            return stored_datetime(literal.value)
        if kind == "date":
            if literal.kind != "date":
                raise self.type_error(path, literal, "date")
            assert isinstance(literal.value, date)
            return literal.value.isoformat()
        return literal.value

    def id_value(self, column: Column, literal: soql.Literal, path: soql.FieldPath) -> str:
        if literal.kind != "string":
            raise self.type_error(path, literal, "string")
        text = str(literal.value)
        if not looks_like_id(text):
            raise SalesforceApiError(
                400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {text}"
            )
        return to_18(text)

    def type_error(
        self, path: soql.FieldPath, literal: soql.Literal, expected: str
    ) -> SalesforceApiError:
        quoting = (
            "should be enclosed in quotes" if expected == "string"
            else "should not be enclosed in quotes"
        )
        return self.error(
            literal.offset,
            f"value of filter criterion for field '{path.text}' must be of type {expected} and "
            f"{quoting}",
        )

    # ---- ORDER BY ---------------------------------------------------------------------------
    def order_by(self) -> str:
        parts = []
        for item in self.query.order_by:
            column = self.resolve(item.field)
            direction = "DESC" if item.descending else "ASC"
            nulls = ""
            if item.nulls_last is not None:
                nulls = " NULLS LAST" if item.nulls_last else " NULLS FIRST"
            parts.append(f"{column.sql} {direction}{nulls}")
        parts.append(f"{BASE_ALIAS}.rowid ASC")
        return ", ".join(parts)


def expected_type_name(kind: str) -> str:
    if kind in TEXT_TYPES:
        return "string"
    if kind == "int":
        return "integer"
    if kind in NUMBER_TYPES:
        return "double"
    return kind


def _coalesce(pieces: list[str]) -> str:
    if not pieces:
        return "NULL"
    if len(pieces) == 1:
        return pieces[0]
    return f"COALESCE({', '.join(pieces)})"


def _date_bound(day: date, kind: str) -> str:
    if kind == "date":
        return day.isoformat()
    return stored_datetime(datetime(day.year, day.month, day.day, tzinfo=UTC))
