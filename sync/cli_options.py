"""The options several `leadq` commands share, declared once, and what the commands share with
the commands plugins add (sandbox/commands.py): the console they print to and the `--now` option.
Apart from sync/cli.py so that a plugin never imports the module that loads it."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import typer
from rich.console import Console

from connectors.records import parse_timestamp
from sync.user_errors import UserError

console = Console(highlight=False)

FIRST_YEAR, LAST_YEAR = 1970, 2999  # decay windows and epoch times stay in range
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="Score as of this time (default: now). Decay counts from it."),
]
ModelOption = Annotated[
    Path, typer.Option("--model", "-m", help="The scoring model YAML.", show_default=True)
]
ModelReplacingOption = Annotated[
    Path | None, typer.Option("--model", "-m", help="Scoring model YAML.")
]
ActivitiesOption = Annotated[
    Path | None,
    typer.Option("--activities", "-a", help="Activities CSV (lead id, type, time, details)."),
]
EncodingOption = Annotated[
    str,
    typer.Option(
        "--encoding", "-e", help="Encoding of the input files: utf-8 (BOM or not), cp932 …"
    ),
]
SettingsFileOption = Annotated[
    Path | None, typer.Option("--env-file", help="Read LEADQ_* settings from this file.")
]


def parse_now(value: str | None) -> datetime | None:
    """`--now` as an aware time (ISO 8601, or any time a CSV may hold), None when not given."""
    if value is None:
        return None
    try:
        parsed = parse_timestamp(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise UserError(f"--now {value!r} is not a date, e.g. 2026-11-01 or 2026-11-01T12:00Z")
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise UserError(
            f"--now {value!r} is out of range: give a date from {FIRST_YEAR} to {LAST_YEAR}"
        )
    return parsed


def taking(options: type[Any]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Options declared once, in the dataclass `options`, for several commands: the command's
    parameter annotated with `options` stands, for typer, for every field of it (in its place),
    and the command receives them as one `options` instance."""
    hints = get_type_hints(options, include_extras=True)
    keyword = inspect.Parameter.KEYWORD_ONLY
    fields = [
        inspect.Parameter(f.name, keyword, default=f.default, annotation=hints[f.name])
        for f in dataclasses.fields(options)
    ]

    def declare(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        (name,) = (p.name for p in signature.parameters.values() if p.annotation is options)
        parameters = [
            field
            for p in signature.parameters.values()
            for field in (fields if p.name == name else [p.replace(kind=keyword)])
        ]

        @functools.wraps(command)
        def run(**given: Any) -> None:
            shared = {field.name: given.pop(field.name) for field in fields}
            command(**given, **{name: options(**shared)})

        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        return run

    return declare
