"""A kept Salesforce session: sealed under the login's own secret, read back only by that login,
within the hour."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.salesforce_kept_session import KEPT_FOR, KeptSessions
from connectors.salesforce_login import ClientCredentialsLogin, PasswordLogin, SessionLogin
from sync.session_cache import StoredSessions
from sync.state_url import open_state_store

LOGIN = PasswordLogin("ana@acme.example", "s3cret-password", "token123", "login")
SESSION = ("00D5g000004bCdE!AQ0AQ.secret-session", "acme.my.salesforce.com")
NOON = 1_800_000_000.0


@pytest.fixture
def documents(tmp_path: Path) -> Iterator[StoredSessions]:
    """The sessions kept in a real SQLite state file, as a run keeps them."""
    store = open_state_store(f"sqlite:///{tmp_path / 'state.db'}")
    yield StoredSessions(store)
    store.close()


def state_file_bytes(documents: StoredSessions, folder: Path) -> bytes:
    documents.store.close()  # the write-ahead log folded into the file
    return b"".join(path.read_bytes() for path in folder.glob("state.db*"))


def kept_at(documents: StoredSessions, login: object, at: float) -> KeptSessions:
    kept = KeptSessions.of(login, documents, clock=lambda: at)  # type: ignore[arg-type]
    assert kept is not None
    return kept


def test_a_kept_session_is_read_back_by_the_same_login_within_the_hour(documents: StoredSessions) -> None:
    kept_at(documents, LOGIN, NOON).keep(*SESSION)
    later = NOON + KEPT_FOR.total_seconds() - 60

    assert kept_at(documents, LOGIN, later).read() == SESSION


def test_the_store_holds_neither_the_session_nor_the_username_in_the_clear(
    documents: StoredSessions, tmp_path: Path
) -> None:
    kept_at(documents, LOGIN, NOON).keep(*SESSION)

    stored = state_file_bytes(documents, tmp_path)
    assert b"salesforce-session:" in stored  # the file read is the one the session went to
    for clear in (*SESSION, "ana@acme.example", "s3cret-password", "token123"):
        assert clear.encode() not in stored


def test_a_session_kept_longer_than_the_hour_is_not_used(documents: StoredSessions) -> None:
    kept_at(documents, LOGIN, NOON).keep(*SESSION)

    assert kept_at(documents, LOGIN, NOON + KEPT_FOR.total_seconds() + 1).read() is None


def test_a_changed_secret_cannot_read_the_session_its_predecessor_kept(documents: StoredSessions) -> None:
    kept_at(documents, LOGIN, NOON).keep(*SESSION)
    new_password = PasswordLogin("ana@acme.example", "a-new-password", "token456", "login")

    assert kept_at(documents, new_password, NOON).read() is None


def test_each_login_keeps_its_session_under_its_own_name(documents: StoredSessions) -> None:
    app = ClientCredentialsLogin("consumer-key", "consumer-secret", "acme.my")
    kept_at(documents, LOGIN, NOON).keep(*SESSION)
    kept_at(documents, app, NOON).keep("another-session", "acme.my.salesforce.com")

    assert kept_at(documents, LOGIN, NOON).read() == SESSION
    assert kept_at(documents, app, NOON).read() == ("another-session", "acme.my.salesforce.com")


def test_a_session_id_handed_to_leadq_is_not_kept(documents: StoredSessions) -> None:
    assert KeptSessions.of(SessionLogin("00D!x", "acme.my.salesforce.com"), documents) is None


def test_no_login_shows_its_secrets_or_username_when_printed() -> None:
    printed = repr([LOGIN, SessionLogin(SESSION[0], SESSION[1]),
                    ClientCredentialsLogin("consumer-key", "consumer-secret", "acme.my")])

    for clear in (SESSION[0], "ana@acme.example", "s3cret-password", "token123", "consumer-secret"):
        assert clear not in printed
