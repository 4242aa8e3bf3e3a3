"""Salesforce sessions kept in the state store between runs (connectors/salesforce_kept_session.py:
sealed under a key derived from the login's secret, used for at most an hour), so that a run
every few minutes does not log in each time.

Only ciphertext reaches the store, under a name that is a hash of the login's identity; it is
never printed, logged or audited. A SQLite state is read for a kept session only when its file
exists already: opening it then creates nothing, so a run refused for its settings or
credentials still leaves no file behind (a DynamoDB state is read once the CRM took the
credentials, as before: a fresh process on it logs in).
"""

from __future__ import annotations

from pathlib import Path

from sync.state import StateStore
from sync.state_url import open_state_store, state_location


def session_document(name: str) -> str:
    return f"salesforce-session:{name}"


class StoredSessions:
    """A connector's `SessionCache` on the state store's documents."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def get(self, name: str) -> str | None:
        return self.store.read_document(session_document(name))

    def put(self, name: str, sealed: str) -> None:
        self.store.write_document(session_document(name), sealed)


def existing_sqlite_store(url: str) -> StateStore | None:
    """The SQLite state the URL names, opened only when its file exists; otherwise None."""
    try:
        location = state_location(url)
    except ValueError:
        return None  # opening the store later says what is wrong with the URL
    if location.backend != "sqlite" or not Path(location.name).is_file():
        return None
    return open_state_store(url)
