"""Mistakes a person running leadq can fix: one line on stderr, exit code 2, never a traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

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


@contextlib.contextmanager
def user_errors(*more: type[Exception]) -> Iterator[None]:
    """Turn user errors (and `more` kinds) into `error: …` and exit code 2."""
    try:
        yield
    except (*USER_ERRORS, *more) as error:
        error_console().print(f"[red]error:[/red] {markup_safe(error)}", markup=True)
        raise typer.Exit(2) from None
