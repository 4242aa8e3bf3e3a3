"""Mistakes a person running leadq can fix: one line on stderr, exit code 2, never a traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import typer
from rich.console import Console

from connectors.csvfile import CsvInputError
from connectors.retry import ConnectorError
from scoring.loading import ModelFileError
from sync.engine import RunInProgressError
from sync.settings import SettingsError
from sync.state import StateUnusableError
from sync.terminal import markup_safe


class UserError(Exception):
    """A problem the person running leadq can fix."""


def _unreachable_aws() -> tuple[type[Exception], ...]:
    """botocore's "could not connect to the endpoint" (a DynamoDB state URL whose endpoint or
    region cannot be reached), where the aws extra is installed."""
    try:
        from botocore.exceptions import EndpointConnectionError
    except ImportError:
        return ()
    return (EndpointConnectionError,)


USER_ERRORS: tuple[type[Exception], ...] = (
    UserError,
    ModelFileError,
    CsvInputError,
    SettingsError,
    ConnectorError,
    RunInProgressError,
    StateUnusableError,
    *_unreachable_aws(),
)


def error_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(problem: object) -> None:
    """One `error: …` line on stderr, the problem's text shown as written."""
    error_console().print(f"[red]error:[/red] {markup_safe(problem)}", markup=True)


@contextlib.contextmanager
def user_errors(*more: type[Exception]) -> Iterator[None]:
    """Turn user errors (and `more` kinds) into `error: …` and exit code 2."""
    try:
        yield
    except (*USER_ERRORS, *more) as error:
        print_error(error)
        raise typer.Exit(2) from None


def _parser_error(name: str) -> type[Exception]:
    """click's exception class `name`, wherever this typer keeps click (it vendors it since
    0.22): found through the one click exception typer exports."""
    return next(kind for kind in typer.BadParameter.__mro__ if kind.__name__ == name)


UsageError = _parser_error("UsageError")
ClickException = _parser_error("ClickException")


def usage_error(mistake: Any) -> int:
    """Print a usage mistake as `error: …` and where to read the command's help (a bare `leadq`
    prints the help itself); return its exit code, 2."""
    if type(mistake).__name__ == "NoArgsIsHelpError":
        mistake.show()
        return mistake.exit_code
    print_error(mistake.format_message())
    if mistake.ctx is not None:
        error_console().print(f"Try '{mistake.ctx.command_path} --help' for help.", markup=False)
    return mistake.exit_code
