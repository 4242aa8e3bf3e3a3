"""What the `leadq` commands share with the commands plugins add (sandbox/commands.py): the
console they print to and the `--now` option. Apart from sync/cli.py so that a plugin never
imports the module that loads it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

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
