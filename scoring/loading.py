"""Read a scoring model file into a `ScoringModel`, with every problem located in the file.

`load_model(path)` returns a `ScoringModel` or raises `ModelFileError`, whose message lists every
problem as `scoring.yaml:14 engagement.rules[2].points: must be a number`.

The text is parsed once, by ruamel.yaml, as YAML 1.2 (a file may say `%YAML 1.1` to be read
as 1.1), into nodes that know their line. The nodes give every
place in the model its line, then become the plain data pydantic validates; ruamel refuses
duplicate keys. Aliases are followed through the nodes, never through expanded data, and a file
whose aliases would expand past `MOST_VALUES` is refused before anything is expanded, at the
place that expands too far; ruamel refuses nesting deeper than `MOST_DEPTH` while it reads.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import YAMLError, YAMLWarning
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode
from ruamel.yaml.reader import ReaderError

from scoring.config import (
    ScoringModel,
)
from scoring.intent import handoff_findings, intent_findings
from scoring.model_types import (
    closest,
    did_you_mean,
)
from scoring.references import Loc, check_references

MOST_VALUES = 100_000  # far above any real model; a "billion laughs" file goes far beyond
MOST_DEPTH = 64  # levels of nesting; the examples' deepest condition is 11 levels down


class ModelProblem(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    line: int | None
    message: str


class ModelFileError(Exception):
    """A scoring model that cannot be used, with every problem located."""

    def __init__(self, source: str, problems: list[ModelProblem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        rendered = []
        for problem in self.problems:
            where = f"{self.source}:{problem.line}" if problem.line else self.source
            rendered.append(f"{where} {problem.path}: {problem.message}".replace(" : ", ": "))
        return rendered


def load_model(path: Path | str) -> ScoringModel:
    return load_model_with_warnings(path)[0]


def load_model_with_warnings(path: Path | str) -> tuple[ScoringModel, list[str]]:
    """The model, and what `leadq validate` warns about (the intent guard's findings)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ModelFileError(path.name, [_problem("", None, "file not found")]) from None
    except OSError as error:
        problem = (
            "is a directory, not a model file"
            if isinstance(error, IsADirectoryError)
            else f"cannot be read ({error.strerror})"
        )
        raise ModelFileError(path.name, [_problem("", None, problem)]) from None
    except UnicodeDecodeError as error:
        raise ModelFileError(
            path.name, [_problem("", None, f"not UTF-8 text ({error.reason})")]
        ) from None
    model, warned = _parse(text, path.name)
    return model, ModelFileError(path.name, warned).lines() if warned else []


def parse_model(text: str, source: str = "scoring.yaml") -> ScoringModel:
    return _parse(text, source)[0]


def _parse(text: str, source: str) -> tuple[ScoringModel, list[ModelProblem]]:
    """The model and its warnings; a model with problems (strict intent guard findings too) is
    refused with all of them."""
    places, data = _read_yaml(text, source)
    if not isinstance(data, dict):
        raise ModelFileError(source, [_problem("", 1, "the model must be a mapping of sections")])
    try:
        model = ScoringModel.model_validate(data)
    except ValidationError as error:
        raise ModelFileError(source, _located(error, places)) from None
    problems = [
        _problem(format_path(loc), places.line_for(loc), message)
        for loc, message in check_references(model)
    ]
    findings = [
        _problem(format_path(finding.loc), places.line_for(finding.loc), finding.message)
        for finding in intent_findings(model)
    ]
    if model.qualification.intent_guard == "strict":
        problems += findings
    findings += [
        _problem(format_path(finding.loc), places.line_for(finding.loc), finding.message)
        for finding in handoff_findings(model)
    ]
    if problems:
        raise ModelFileError(source, problems)
    return model, findings


def located_error(source: Path | str | None, problems: list[tuple[Loc, str]]) -> ModelFileError:
    """Problems found after loading (e.g. by the CRM), located in the model file when `source`
    names one that can still be read (else by path alone)."""
    places = _Places()
    name = "scoring model"
    if source is not None:
        name = Path(source).name
        with contextlib.suppress(OSError, UnicodeDecodeError, ModelFileError):
            places, _ = _read_yaml(Path(source).read_text(encoding="utf-8-sig"), name)
    located = [
        _problem(format_path(loc), places.line_for(loc), message) for loc, message in problems
    ]
    return ModelFileError(name, located)


def format_path(loc: Loc) -> str:
    """("fit", "rules", 2, "points") → fit.rules[2].points"""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _problem(path: str, line: int | None, message: str) -> ModelProblem:
    return ModelProblem(path=path, line=line, message=message)


# --------------------------------------------------------------------------- YAML, once


@dataclass
class _Places:
    """Where each place in the model starts in the file (a key's line for the value under it)."""

    lines: dict[Loc, int] = field(default_factory=dict)
    keys: dict[tuple[int, int], Loc] = field(default_factory=dict)  # (line, column) of each key

    def line_for(self, loc: Loc) -> int | None:
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None


def _read_yaml(text: str, source: str) -> tuple[_Places, Any]:
    reader = YAML(typ="safe", pure=True)  # YAML 1.2: `NO` is Norway, `yes` is text, 010 is ten
    reader.max_depth = MOST_DEPTH
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", YAMLWarning)  # e.g. "1e3 has no dot": it is a number
        with _yaml_errors(source, _Places(), text):
            root = reader.compose(text)
        if root is None:
            return _Places(), None
        places = _index(root, source)
        with _yaml_errors(source, places, text):
            return places, reader.constructor.construct_document(root)


@contextmanager
def _yaml_errors(source: str, places: _Places, text: str) -> Iterator[None]:
    """ruamel's errors as located problems: a duplicate key at its place, anything else as
    a syntax error at its line."""
    try:
        yield
    except ReaderError as error:  # a character YAML does not allow: located by its position
        line = text.count("\n", 0, error.position) + 1
        message = f"YAML syntax error: unacceptable character #x{error.character:04x}"
        raise ModelFileError(source, [_problem("", line, message)]) from None
    except DuplicateKeyError as error:
        mark = error.problem_mark
        path = format_path(places.keys.get((mark.line, mark.column), ()))
        raise ModelFileError(source, [_problem(path, mark.line + 1, "duplicate key")]) from None
    except MaxDepthExceededError as error:
        message = f"nested more than {MOST_DEPTH} levels deep; refused"
        raise ModelFileError(source, [_problem("", error.problem_mark.line + 1, message)]) from None
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(error, "problem", None) or str(error)
        raise ModelFileError(source, [_problem("", line, f"YAML syntax error: {reason}")]) from None


def _index(root: Node, source: str) -> _Places:
    _refuse_alias_bombs(root, source)
    places = _Places()
    _index_node(root, (), places, set())
    return places


def _refuse_alias_bombs(root: Node, source: str) -> None:
    sizes: dict[int, int] = {}
    if _expanded_size(root, sizes) <= MOST_VALUES:
        return
    loc, node = _where_it_explodes(root, sizes)
    message = f"its aliases expand to more than {MOST_VALUES:,} values; refused"
    raise ModelFileError(source, [_problem(format_path(loc), node.start_mark.line + 1, message)])


def _where_it_explodes(root: Node, sizes: dict[int, int]) -> tuple[Loc, Node]:
    """The innermost place whose value alone expands past the bound (its line is the anchor's)."""
    loc, node, visited = (), root, set()
    while id(node) not in visited:
        visited.add(id(node))
        too_big = [
            (place, child)
            for place, child in _placed_children(node, loc)
            if sizes[id(child)] > MOST_VALUES
        ]
        if not too_big:
            break
        loc, node = too_big[0]
    return loc, node


def _expanded_size(node: Node, sizes: dict[int, int]) -> int:
    """How many values the node stands for once every alias is expanded (capped), from the
    nodes: each is counted once, so this costs no more than the file is long."""
    if id(node) not in sizes:
        sizes[id(node)] = MOST_VALUES + 1  # a node met again inside itself never ends
        total = 1 + sum(_expanded_size(child, sizes) for child in _children(node))
        sizes[id(node)] = min(total, MOST_VALUES + 1)
    return sizes[id(node)]


def _children(node: Node) -> list[Node]:
    return [child for _, child in _placed_children(node, ())]


def _placed_children(node: Node, loc: Loc) -> list[tuple[Loc, Node]]:
    """Each node inside `node` with its place: a value under its key, a key at its mapping."""
    if isinstance(node, MappingNode):
        return [
            pair
            for key, value in node.value
            for pair in ((loc, key), ((*loc, str(key.value)), value))
        ]
    if isinstance(node, SequenceNode):
        return [((*loc, index), item) for index, item in enumerate(node.value)]
    return []


def _index_node(node: Node, loc: Loc, places: _Places, seen: set[int]) -> None:
    places.lines[loc] = node.start_mark.line + 1
    if id(node) in seen:
        return  # an alias: what is inside was indexed where the anchor is
    seen.add(id(node))
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            place = (*loc, str(key_node.value))
            places.keys[(key_node.start_mark.line, key_node.start_mark.column)] = place
            _index_node(value_node, place, places, seen)
            places.lines[place] = key_node.start_mark.line + 1
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _index_node(item, (*loc, index), places, seen)


# --------------------------------------------------------------------------- pydantic's errors


def _clean_loc(loc: tuple[Any, ...]) -> Loc:
    """Drop pydantic's union tags (`<field>`) and validator names from an error location."""
    return tuple(
        part
        for part in loc
        if not (isinstance(part, str) and (part.startswith("<") or part.startswith("function-")))
    )


_FRIENDLY = {
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "missing": "is required",
    "string_pattern_mismatch": "must start with a letter and use only letters, digits, _ and -",
    "finite_number": "must be a finite number, not .nan or .inf",
    "string_too_short": "must not be empty",
}
_BOUNDS = {
    "greater_than": ("above", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than": ("below", "lt"),
    "less_than_equal": ("at most", "le"),
}


def _located(error: ValidationError, places: _Places) -> list[ModelProblem]:
    details = [(_clean_loc(d["loc"]), d) for d in error.errors()]
    misspelt = {
        (*loc[:-1], suggestion)
        for loc, detail in details
        if detail["type"] == "extra_forbidden"
        and (suggestion := closest(str(loc[-1]), _siblings(loc)))
    }
    problems = []
    for loc, detail in details:
        if detail["type"] == "missing" and loc in misspelt:
            continue  # reported once, as the misspelt key
        problem = _problem(format_path(loc), places.line_for(loc), _message(loc, detail))
        if problem not in problems:
            problems.append(problem)
    return problems


def _message(loc: Loc, detail: Any) -> str:
    kind = detail["type"]
    if kind == "extra_forbidden":
        return f"unknown setting {loc[-1]!r}{did_you_mean(str(loc[-1]), _siblings(loc))}"
    if kind in _FRIENDLY:
        return _FRIENDLY[kind]
    if kind == "literal_error":
        return f"must be one of: {detail['ctx']['expected']}"
    if kind in _BOUNDS:
        word, key = _BOUNDS[kind]
        return f"must be {word} {_amount(detail['ctx'][key])}"
    if kind == "string_too_long":
        length, most = len(detail["input"]), detail["ctx"]["max_length"]
        return f"is {length:,} characters long; at most {most:,} are allowed"
    if kind == "value_error":
        return str(detail["msg"]).removeprefix("Value error, ")
    return _lower_first(str(detail["msg"]))


def _amount(bound: Any) -> str:
    """1000000.0 → 1,000,000; 0.5 → 0.5"""
    number = float(bound)
    return f"{number:,.0f}" if number.is_integer() else f"{number:,}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _siblings(loc: Loc) -> list[str]:
    """The settings allowed next to an unknown key, for a 'did you mean' hint."""
    model: Any = ScoringModel
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field_info = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        model = _model_in(field_info.annotation) if field_info else None
    if model is None or not hasattr(model, "model_fields"):
        return ["field", "op", "value", "activity", "where", "within_days", "min_count"]
    return list(model.model_fields)


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
