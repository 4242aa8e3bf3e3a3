"""Open the state store a URL names: `sqlite:///relative/state.db`, `sqlite:////absolute.db`
or `dynamodb://table?region=…[&endpoint_url=…]`. Apart from sync/state.py so that the protocol
module imports neither backend and the backends import only the protocol."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sync.state import StateStore


def open_state_store(url: str) -> StateStore:
    """Open the store a URL names (see the module docstring for the forms)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        from sync.state_sqlite import SqliteStateStore

        return SqliteStateStore(_sqlite_path(url, parts.netloc, parts.path))
    if parts.scheme == "dynamodb" and parts.netloc:
        from sync.state_dynamodb import DynamoDBStateStore

        return DynamoDBStateStore.connect(parts.netloc, **_dynamodb_options(url, parts.query))
    raise ValueError(
        f"state URL {url!r}: expected sqlite:///path/state.db or "
        "dynamodb://table-name?region=eu-west-1"
    )


def _sqlite_path(url: str, host: str, path: str) -> str:
    if host or not path.startswith("/") or len(path) < 2:
        raise ValueError(
            f"state URL {url!r}: write sqlite:///relative/state.db or sqlite:////absolute/state.db"
        )
    return path[1:]  # sqlite:///x.db is the relative x.db; sqlite:////x.db the absolute /x.db


_DYNAMODB_OPTIONS = ("region", "endpoint_url")


def _dynamodb_options(url: str, query: str) -> dict[str, str]:
    options = {name: values[-1] for name, values in parse_qs(query).items()}
    unknown = sorted(set(options) - set(_DYNAMODB_OPTIONS))
    if unknown:
        raise ValueError(
            f"state URL {url!r}: unknown option {', '.join(unknown)} "
            f"(known: {', '.join(_DYNAMODB_OPTIONS)})"
        )
    return options
