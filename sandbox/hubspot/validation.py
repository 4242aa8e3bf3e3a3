"""Every request's body and query checked against the shapes HubSpot declares, before a handler
runs; what does not fit answers HubSpot's 400 VALIDATION_ERROR.

HubSpot's API reads bodies with Jackson into Immutables builders, and answers a body that does not
fit with its parser's words in `message` and nothing in `errors`:
``{"status": "error", "message": "Invalid input JSON on line 1, column 15: Cannot deserialize value
of type `java.util.LinkedHashMap<java.lang.String,java.lang.String>` from Array value (token
`JsonToken.START_ARRAY`)", "correlationId": "…", "category": "VALIDATION_ERROR"}`` (seen in public
threads: HubSpot.NET#23 (Chinchilla-Software-Com), hubspot-api-php#91). The sandbox words each
refusal the same way — a missing required attribute as Immutables says it ("Cannot build
OptionInput, some of required attributes are not set [hidden]"), an unknown field as Jackson does
("Unrecognized field … not marked as ignorable") — with the path to the offending value as
Jackson's reference chain. The position is that of the body's end (Jackson's own column is where
it stopped; unconfirmed for each case, so tests match the words after the position).

Query parameters (and the OAuth token endpoint's form fields): HubSpot's specs declare each
endpoint's parameters with a type; the sandbox refuses unknown ones, repeated single values, and
values of the wrong type.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import MultiDict

from sandbox.hubspot.errors import ApiError, bad_request
from sandbox.hubspot.request_shapes import Shape
from sandbox.hubspot.response_shapes import Error

QueryKind = Literal["string", "strings", "integer", "boolean", "date-time"] | tuple[str, ...]
_JAVA_TYPES = {
    "string_type": "java.lang.String",
    "int_type": "int",
    "int_from_float": "int",
    "bool_type": "boolean",
    "list_type": "java.util.ArrayList",
    "dict_type": "java.util.LinkedHashMap<java.lang.String,java.lang.String>",
}


@dataclass(frozen=True)
class RequestShape:
    """What an endpoint accepts: its query parameters (name → kind; a name ending in `.*` stands
    for any name with that prefix), its JSON body's shape (None: no body read) and, for a form
    post, its form fields (the same way as the query)."""

    query: Mapping[str, QueryKind]
    body: type[Shape] | None = None
    form: Mapping[str, QueryKind] | None = None


def check_request(shape: RequestShape, args: MultiDict[str, str], body_text: str,
                  form: MultiDict[str, str]) -> None:
    """Raise the 400 HubSpot answers when the query or the body does not fit `shape`."""
    check_query(shape.query, args)
    if shape.body is not None:
        check_body(shape.body, body_text)
    if shape.form is not None:
        check_query(shape.form, form, "form field")


def check_body(shape: type[Shape], text: str) -> None:
    try:
        body = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return  # the handler answers HubSpot's parse error with its line and column
    try:
        shape.model_validate(body)
    except ValidationError as error:
        raise invalid_input(shape, error, text) from error


def invalid_input(shape: type[Shape], error: ValidationError, text: str) -> ApiError:
    problems = error.errors(include_url=False)
    first = problems[0]
    parent = tuple(first["loc"][:-1]) if first["type"] == "missing" else tuple(first["loc"])
    if first["type"] == "missing":
        missing = [str(problem["loc"][-1]) for problem in problems
                   if problem["type"] == "missing" and tuple(problem["loc"][:-1]) == parent]
        owner = _model_at(shape, parent)
        problem = (f"Cannot build {owner}, some of required attributes are not set "
                   f"[{', '.join(missing)}]")
    elif first["type"] == "extra_forbidden":
        owner = _model_at(shape, parent[:-1])
        problem = (f'Unrecognized field "{parent[-1]}" (class {owner}), not marked as '
                   "ignorable")
    elif first["type"] == "literal_error":
        allowed = str(first.get("ctx", {}).get("expected", "")).replace(" or ", ", ")
        enum = f"{_model_at(shape, parent[:-1])}.{parent[-1]}"
        problem = (f"Cannot deserialize value of type `{enum}` from String "
                   f"{json.dumps(first['input'])}: not one of the values accepted for Enum class: "
                   f"[{allowed.replace(chr(39), '')}]")
    else:
        expected = _JAVA_TYPES.get(first["type"]) or _model_at(shape, parent)
        problem = f"Cannot deserialize value of type `{expected}` from {_token(first['input'])}"
    line, column = _end_position(text)
    return bad_request(
        f"Invalid input JSON on line {line}, column {column}: {problem} "
        f"(through reference chain: {_chain(shape, parent)})"
    )


def answer_problem(shape: type[BaseModel] | None, status: int, text: str) -> str:
    """What is wrong with an answer of `status` for what HubSpot declares ("" if nothing): a
    success's body against `shape`, an error's against the specs' Error (429s, whose bodies carry
    `errorType` and `policyName` instead of a category, are left alone)."""
    if status == 429 or status in (204, 304):
        return ""
    expected = shape if status < 400 else Error
    if expected is None:
        return f"an answer with a body where none is declared: {text[:200]}" if text else ""
    try:
        expected.model_validate_json(text)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(key) for key in first["loc"])
        return f"{status} answer is no {expected.__name__}: {where}: {first['msg']}"
    return ""


def check_query(kinds: Mapping[str, QueryKind], args: MultiDict[str, str],
                what: str = "query parameter") -> None:
    for name in dict.fromkeys(args.keys()):
        kind = _query_kind(kinds, name)
        values = args.getlist(name)
        if kind is None:
            raise bad_request(f"Unknown {what} {name!r}: this endpoint takes "
                              f"{', '.join(sorted(kinds)) or 'none'}")
        if kind != "strings" and len(values) > 1:
            raise bad_request(f"{what.capitalize()} {name!r} takes one value, got {len(values)}")
        for value in values:
            if not _fits(kind, value):
                raise bad_request(f"Invalid {what} {name}={value!r}: expected "
                                  f"{_describe(kind)}")


def _query_kind(kinds: Mapping[str, QueryKind], name: str) -> QueryKind | None:
    if name in kinds:
        return kinds[name]
    for pattern, kind in kinds.items():
        if pattern.endswith(".*") and name.startswith(pattern[:-1]) and len(name) > len(pattern):
            return kind
    return None


def _fits(kind: QueryKind, value: str) -> bool:
    if isinstance(kind, tuple):
        return value in kind
    if kind == "integer":
        return value.lstrip("-").isdigit()
    if kind == "boolean":
        return value.lower() in ("true", "false")  # Java reads booleans ignoring case
    return True  # strings; date-times are parsed (and refused) by the handler


def _describe(kind: QueryKind) -> str:
    return f"one of {', '.join(kind)}" if isinstance(kind, tuple) else f"a {kind}"


# ---- wording -------------------------------------------------------------------------------------


def _json_loc(shape: type[BaseModel], loc: Sequence[Any]) -> list[tuple[Any, str]]:
    """`loc` without pydantic's union-branch tags, each key with the model that holds it."""
    steps: list[tuple[Any, str]] = []
    annotation: Any = shape
    owner = shape.__name__
    for key in loc:
        branches = _union_members(annotation)
        if branches and isinstance(key, str) and key in branches:
            annotation = branches[key]  # which member of a union pydantic tried
            continue
        model = _model_of(annotation)
        if model is not None:
            owner = model.__name__
        elif typing.get_origin(annotation) is dict:
            owner = "java.util.LinkedHashMap"
        steps.append((key, owner))
        annotation = _inner(annotation, key)
    return steps


def _union_members(annotation: Any) -> dict[str, Any]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return {getattr(member, "__name__", str(member)): member
                for member in typing.get_args(annotation)}
    return {}


def _model_at(shape: type[BaseModel], loc: Sequence[Any]) -> str:
    """The name of the innermost model reached by `loc` inside `shape`."""
    annotation: Any = shape
    name = shape.__name__
    for key, _ in _json_loc(shape, loc):
        annotation = _inner(annotation, key)
        model = _model_of(annotation)
        name = model.__name__ if model is not None else name
    return name


def _inner(annotation: Any, key: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for field_name, field in annotation.model_fields.items():
            if key in (field.alias, field_name):
                return field.annotation
        return None
    arguments = typing.get_args(annotation)
    return arguments[-1] if arguments else None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _chain(shape: type[BaseModel], loc: Sequence[Any]) -> str:
    """Jackson's reference chain: `PropertyCreate["options"]->java.util.ArrayList[0]->…`."""
    links = [f"java.util.ArrayList[{key}]" if isinstance(key, int) else f'{owner}["{key}"]'
             for key, owner in _json_loc(shape, loc)]
    return "->".join(links) or shape.__name__


def _token(value: Any) -> str:
    if value is None:
        return "Null value (token `JsonToken.VALUE_NULL`)"
    if isinstance(value, bool):
        return f"Boolean value (token `JsonToken.VALUE_{str(value).upper()}`)"
    if isinstance(value, int):
        return "Integer value (token `JsonToken.VALUE_NUMBER_INT`)"
    if isinstance(value, float):
        return "Floating-point value (token `JsonToken.VALUE_NUMBER_FLOAT`)"
    if isinstance(value, str):
        return f"String value {json.dumps(value)} (token `JsonToken.VALUE_STRING`)"
    if isinstance(value, list):
        return "Array value (token `JsonToken.START_ARRAY`)"
    return "Object value (token `JsonToken.START_OBJECT`)"


def _end_position(text: str) -> tuple[int, int]:
    lines = text.rstrip().split("\n") or [""]
    return len(lines), len(lines[-1]) + 1
