"""Open the state store a URL names: `sqlite:///relative/state.db`, `sqlite:////absolute.db`
or `dynamodb://table?region=…[&endpoint_url=…]`. Apart from sync/state.py so that the protocol
module imports neither backend and the backends import only the protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from sync.state import StateStore


@dataclass(frozen=True)
class StateLocation:
    """Where a state URL points: a SQLite file, or a DynamoDB table and its options."""

    backend: str  # sqlite | dynamodb
    name: str  # the file's path, or the table's name
    options: dict[str, str] = field(default_factory=dict)


def state_location(url: str) -> StateLocation:
    """Read a state URL (see the module docstring); ValueError says what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return StateLocation("sqlite", _sqlite_path(parts.netloc, parts.path))
    if parts.scheme == "dynamodb" and parts.netloc:
        return StateLocation("dynamodb", parts.netloc, _dynamodb_options(parts.query))
    raise ValueError("expected sqlite:///path/state.db or dynamodb://table-name?region=eu-west-1")


def open_state_store(url: str) -> StateStore:
    """Open the store a URL names (see the module docstring for the forms)."""
    try:
        location = state_location(url)
    except ValueError as error:
        raise ValueError(f"state URL {url!r}: {error}") from None
    if location.backend == "sqlite":
        from sync.state_sqlite import SqliteStateStore

        return SqliteStateStore(location.name)
    from sync.state_dynamodb import DynamoDBStateStore

    return DynamoDBStateStore.connect(location.name, **location.options)


def _sqlite_path(host: str, path: str) -> str:
    if host or not path.startswith("/") or len(path) < 2:
        raise ValueError("write sqlite:///relative/state.db or sqlite:////absolute/state.db")
    return path[1:]  # sqlite:///x.db is the relative x.db; sqlite:////x.db the absolute /x.db


_DYNAMODB_OPTIONS = ("region", "endpoint_url")


def _dynamodb_options(query: str) -> dict[str, str]:
    options = {name: values[-1] for name, values in parse_qs(query).items()}
    unknown = sorted(set(options) - set(_DYNAMODB_OPTIONS))
    if unknown:
        raise ValueError(
            f"unknown option {', '.join(unknown)} (known: {', '.join(_DYNAMODB_OPTIONS)})"
        )
    return options
