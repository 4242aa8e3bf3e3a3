"""A SOQL subset: tokenizer and recursive-descent parser producing a small syntax tree.

Supported: SELECT of fields (one-level relationships such as `Owner.IsActive`), `COUNT()` and
`COUNT(field)`; FROM one sObject; WHERE with AND / OR / NOT and parentheses (mixing AND and OR
at one level needs parentheses, as in Salesforce); = != <> < > <= >=, IN, NOT IN, LIKE; string,
number, TRUE / FALSE / NULL, unquoted date and datetime literals, and the relative date
literals TODAY, YESTERDAY, TOMORROW, LAST_N_DAYS:n, NEXT_N_DAYS:n, N_DAYS_AGO:n; ORDER BY with
ASC / DESC and NULLS FIRST / LAST; LIMIT; OFFSET. Everything else is refused as MALFORMED_QUERY.
Field names are checked against the schema later, when soql_to_sql.py translates the tree to
SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from sandbox.salesforce.errors import SalesforceApiError
from sandbox.salesforce.values import parse_datetime_text

KEYWORDS = frozenset(
    {
        "select", "from", "where", "and", "or", "not", "in", "like", "null", "true", "false",
        "order", "by", "asc", "desc", "nulls", "first", "last", "limit", "offset", "includes",
        "excludes", "group", "having", "with", "for", "using", "typeof", "count",
    }
)
UNSUPPORTED_CLAUSES = frozenset({"group", "having", "with", "for", "using", "typeof"})
COMPARISON_OPERATORS = frozenset({"=", "!=", "<>", "<", ">", "<=", ">="})
RELATIVE_DATES = frozenset({"today", "yesterday", "tomorrow"})
RELATIVE_DATES_WITH_N = frozenset({"last_n_days", "next_n_days", "n_days_ago"})

TOKEN_PATTERN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:\\.|[^'\\])*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\d:T]))
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<symbol>!=|<>|<=|>=|=|<|>|\(|\)|,|:)
    """,
    re.VERBOSE,
)
# The only escapes SOQL knows: \n \r \t \b \f (either case), \" \' \\ and \uXXXX; \% and \_ in
# LIKE only. "If you use a backslash character in any other context, an error occurs" (SOQL and
# SOSL Reference, sforce_api_calls_soql_select_quotedstringescapes).
STRING_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"',
                  "\\": "\\"}
UNICODE_ESCAPE = re.compile(r"[0-9A-Fa-f]{4}")


@dataclass(frozen=True)
class Token:
    kind: str  # string datetime date number name symbol end
    text: str
    offset: int

    @property
    def lower(self) -> str:
        return self.text.lower()

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "name" and self.lower in words


@dataclass(frozen=True)
class FieldPath:
    parts: tuple[str, ...]
    offset: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Literal:
    kind: str  # string number boolean null date datetime relative
    value: object
    offset: int
    text: str


@dataclass(frozen=True)
class RelativeDate:
    name: str  # today yesterday tomorrow last_n_days next_n_days n_days_ago
    days: int


@dataclass(frozen=True)
class Comparison:
    field: FieldPath
    operator: str  # = != < > <= >= like
    value: Literal


@dataclass(frozen=True)
class Membership:
    field: FieldPath
    values: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class Negation:
    operand: Condition


@dataclass(frozen=True)
class Junction:
    operator: str  # and / or
    operands: tuple[Condition, ...]


Condition = Comparison | Membership | Negation | Junction


@dataclass(frozen=True)
class Count:
    field: FieldPath | None
    alias: str | None


SelectItem = FieldPath | Count


@dataclass(frozen=True)
class OrderItem:
    field: FieldPath
    descending: bool
    nulls_last: bool | None


@dataclass(frozen=True)
class Query:
    text: str
    select: tuple[SelectItem, ...]
    sobject: str
    sobject_offset: int
    where: Condition | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None

    @property
    def count_only(self) -> bool:
        return len(self.select) == 1 and isinstance(self.select[0], Count) and (
            self.select[0].field is None
        )


def query_error(
    text: str, offset: int, detail: str, code: str = "MALFORMED_QUERY"
) -> SalesforceApiError:
    """Salesforce words query errors with the query, a caret and the row and column."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    row = text.count("\n", 0, offset) + 1
    column = offset - line_start + 1
    caret = " " * (column - 1) + "^"
    return SalesforceApiError(
        400, code, f"\n{line}\n{caret}\nERROR at Row:{row}:Column:{column}\n{detail}"
    )


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = TOKEN_PATTERN.match(text, position)
        if match is None:
            raise query_error(text, position, f"unexpected token: {text[position]}")
        kind = match.lastgroup or "space"
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    tokens.append(Token("end", "<EOF>", len(text)))
    return tokens


def parse(text: str) -> Query:
    if not text or not text.strip():
        raise SalesforceApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    return Parser(text).query()


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    # --- token plumbing -------------------------------------------------------------------
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.current
        if token.kind != "end":
            self.index += 1
        return token

    def unexpected(self, token: Token | None = None) -> SalesforceApiError:
        token = token or self.current
        if token.is_keyword(*UNSUPPORTED_CLAUSES):
            return query_error(
                self.text, token.offset,
                f"{token.text.upper()} is not supported by the leadq Salesforce emulator",
            )
        return query_error(self.text, token.offset, f"unexpected token: {token.text}")

    def expect_keyword(self, *words: str) -> Token:
        if not self.current.is_keyword(*words):
            raise self.unexpected()
        return self.advance()

    def expect_symbol(self, symbol: str) -> Token:
        if self.current.kind != "symbol" or self.current.text != symbol:
            raise self.unexpected()
        return self.advance()

    def at_symbol(self, symbol: str) -> bool:
        return self.current.kind == "symbol" and self.current.text == symbol

    # --- grammar --------------------------------------------------------------------------
    def query(self) -> Query:
        self.expect_keyword("select")
        select = self.select_list()
        self.expect_keyword("from")
        sobject_token = self.current
        # `Group` is an sObject as well as a keyword
        clause_words = {"where", "order", "limit", "offset", "select", "from"}
        if sobject_token.kind != "name" or sobject_token.lower in clause_words or (
            "." in sobject_token.text
        ):
            raise self.unexpected()
        self.advance()
        where = None
        if self.current.is_keyword("where"):
            self.advance()
            where = self.condition()
        order_by: tuple[OrderItem, ...] = ()
        if self.current.is_keyword("order"):
            self.advance()
            self.expect_keyword("by")
            order_by = self.order_list()
        limit = self.optional_integer("limit")
        offset = self.optional_integer("offset")
        if self.current.kind != "end":
            raise self.unexpected()
        return Query(
            self.text, select, sobject_token.text, sobject_token.offset, where, order_by, limit,
            offset,
        )

    def select_list(self) -> tuple[SelectItem, ...]:
        items: list[SelectItem] = [self.select_item()]
        while self.at_symbol(","):
            self.advance()
            items.append(self.select_item())
        counts = [item for item in items if isinstance(item, Count) and item.field is None]
        if counts and len(items) > 1:
            raise query_error(self.text, 0, "COUNT() must be the only element in the SELECT list")
        return tuple(items)

    def select_item(self) -> SelectItem:
        if self.current.is_keyword("count") and self.tokens[self.index + 1].text == "(":
            return self.count()
        if self.at_symbol("("):
            raise query_error(
                self.text, self.current.offset,
                "Subqueries are not supported by the leadq Salesforce emulator",
            )
        return self.field_path()

    def count(self) -> Count:
        self.advance()
        self.expect_symbol("(")
        field = None if self.at_symbol(")") else self.field_path()
        self.expect_symbol(")")
        alias = None
        if field is not None and self.current.kind == "name" and self.current.lower not in (
            KEYWORDS
        ):
            alias = self.advance().text
        return Count(field, alias)

    def field_path(self) -> FieldPath:
        token = self.current
        if token.kind != "name" or token.lower in KEYWORDS - {"first", "last"}:
            raise self.unexpected()
        self.advance()
        return FieldPath(tuple(token.text.split(".")), token.offset)

    def condition(self) -> Condition:
        operands = [self.condition_term()]
        operator: str | None = None
        while self.current.is_keyword("and", "or"):
            word = self.current.lower
            if operator is not None and word != operator:
                raise self.unexpected()
            operator = word
            self.advance()
            operands.append(self.condition_term())
        if operator is None:
            return operands[0]
        return Junction(operator, tuple(operands))

    def condition_term(self) -> Condition:
        if self.current.is_keyword("not"):
            self.advance()
            return Negation(self.condition_term())
        if self.at_symbol("("):
            self.advance()
            inner = self.condition()
            self.expect_symbol(")")
            return inner
        return self.simple_condition()

    def simple_condition(self) -> Condition:
        field = self.field_path()
        token = self.current
        if token.kind == "symbol" and token.text in COMPARISON_OPERATORS:
            self.advance()
            operator = "!=" if token.text == "<>" else token.text
            return Comparison(field, operator, self.literal())
        if token.is_keyword("like"):
            self.advance()
            return Comparison(field, "like", self.literal(like=True))
        if token.is_keyword("not"):
            self.advance()
            self.expect_keyword("in")
            return Membership(field, self.literal_list(), negated=True)
        if token.is_keyword("in"):
            self.advance()
            return Membership(field, self.literal_list(), negated=False)
        if token.is_keyword("includes", "excludes"):
            raise query_error(
                self.text, token.offset,
                "INCLUDES/EXCLUDES are not supported by the leadq Salesforce emulator",
            )
        raise self.unexpected()

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect_symbol("(")
        if self.current.is_keyword("select"):
            raise query_error(
                self.text, self.current.offset,
                "Semi-join subqueries are not supported by the leadq Salesforce emulator",
            )
        values = [self.literal()]
        while self.at_symbol(","):
            self.advance()
            values.append(self.literal())
        self.expect_symbol(")")
        return tuple(values)

    def literal(self, like: bool = False) -> Literal:
        token = self.current
        if token.kind == "string":
            try:
                text = unescape(token.text[1:-1], like)
            except InvalidEscapeError as error:
                raise query_error(
                    self.text, token.offset,
                    f"Invalid string literal {token.text}. Illegal character sequence "
                    f"'{error.sequence}' in string literal.",
                ) from None
            self.advance()
            return Literal("string", text, token.offset, token.text)
        if token.kind == "number":
            self.advance()
            number: float | int = float(token.text) if "." in token.text else int(token.text)
            return Literal("number", number, token.offset, token.text)
        if token.kind == "datetime":
            self.advance()
            moment = parse_datetime_text(token.text)
            if moment is None:
                raise self.unexpected(token)
            return Literal("datetime", moment, token.offset, token.text)
        if token.kind == "date":
            self.advance()
            try:
                day = date.fromisoformat(token.text)
            except ValueError as error:
                raise self.unexpected(token) from error
            return Literal("date", day, token.offset, token.text)
        if token.kind == "name":
            return self.word_literal(token)
        raise self.unexpected()

    def word_literal(self, token: Token) -> Literal:
        word = token.lower
        if word in ("true", "false"):
            self.advance()
            return Literal("boolean", word == "true", token.offset, token.text)
        if word == "null":
            self.advance()
            return Literal("null", None, token.offset, token.text)
        if word in RELATIVE_DATES:
            self.advance()
            return Literal("relative", RelativeDate(word, 0), token.offset, token.text)
        if word in RELATIVE_DATES_WITH_N:
            self.advance()
            self.expect_symbol(":")
            number = self.current
            if number.kind != "number" or not number.text.isdigit():
                raise self.unexpected()
            self.advance()
            return Literal(
                "relative", RelativeDate(word, int(number.text)), token.offset,
                f"{token.text}:{number.text}",
            )
        raise self.unexpected()

    def order_list(self) -> tuple[OrderItem, ...]:
        items = [self.order_item()]
        while self.at_symbol(","):
            self.advance()
            items.append(self.order_item())
        return tuple(items)

    def order_item(self) -> OrderItem:
        field = self.field_path()
        descending = False
        if self.current.is_keyword("asc", "desc"):
            descending = self.advance().lower == "desc"
        nulls_last = None
        if self.current.is_keyword("nulls"):
            self.advance()
            nulls_last = self.expect_keyword("first", "last").lower == "last"
        return OrderItem(field, descending, nulls_last)

    def optional_integer(self, keyword: str) -> int | None:
        if not self.current.is_keyword(keyword):
            return None
        self.advance()
        token = self.current
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected()
        self.advance()
        return int(token.text)


class InvalidEscapeError(ValueError):
    def __init__(self, sequence: str) -> None:
        super().__init__(sequence)
        self.sequence = sequence


def unescape(body: str, like: bool = False) -> str:
    """SOQL string escapes; `\\%` and `\\_` (LIKE only) stay escaped for LIKE to read. Any other
    backslash raises InvalidEscapeError."""
    result: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            following = body[index + 1 : index + 2]
            if following in ("%", "_") and like:
                result.append("\\" + following)
            elif following and following.lower() in STRING_ESCAPES:
                result.append(STRING_ESCAPES[following.lower()])
            elif following == "u" and UNICODE_ESCAPE.fullmatch(body[index + 2 : index + 6]):
                result.append(chr(int(body[index + 2 : index + 6], 16)))
                index += 4
            else:
                raise InvalidEscapeError("\\" + following)
            index += 2
            continue
        result.append(char)
        index += 1
    return "".join(result)


def relative_range(relative: RelativeDate, today: date) -> tuple[date, date]:
    """[first day, day after the last day) of a relative date literal."""
    day = timedelta(days=1)
    if relative.name == "today":
        return today, today + day
    if relative.name == "yesterday":
        return today - day, today
    if relative.name == "tomorrow":
        return today + day, today + 2 * day
    if relative.name == "last_n_days":
        return today - relative.days * day, today + day
    if relative.name == "next_n_days":
        return today + day, today + (relative.days + 1) * day
    start = today - relative.days * day  # n_days_ago
    return start, start + day

