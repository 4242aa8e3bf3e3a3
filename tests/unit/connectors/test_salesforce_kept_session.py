"""A kept Salesforce session: sealed under the login's own secret, read back only by that login,
within the hour."""

from __future__ import annotations

from connectors.salesforce_kept_session import KEPT_FOR, KeptSessions
from connectors.salesforce_login import ClientCredentialsLogin, PasswordLogin, SessionLogin

LOGIN = PasswordLogin("ana@acme.example", "s3cret-password", "token123", "login")
SESSION = ("00D5g000004bCdE!AQ0AQ.secret-session", "acme.my.salesforce.com")
NOON = 1_800_000_000.0


class Documents:
    def __init__(self) -> None:
        self.kept: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.kept.get(name)

    def put(self, name: str, sealed: str) -> None:
        self.kept[name] = sealed


def kept_at(documents: Documents, login: object, at: float) -> KeptSessions:
    kept = KeptSessions.of(login, documents, clock=lambda: at)  # type: ignore[arg-type]
    assert kept is not None
    return kept


def test_a_kept_session_is_read_back_by_the_same_login_within_the_hour() -> None:
    documents = Documents()
    kept_at(documents, LOGIN, NOON).keep(*SESSION)
    later = NOON + KEPT_FOR.total_seconds() - 60

    assert kept_at(documents, LOGIN, later).read() == SESSION


def test_the_store_holds_neither_the_session_nor_the_username_in_the_clear() -> None:
    documents = Documents()
    kept_at(documents, LOGIN, NOON).keep(*SESSION)

    (name, sealed), = documents.kept.items()
    for clear in (*SESSION, "ana@acme.example", "s3cret-password", "token123"):
        assert clear not in name and clear not in sealed


def test_a_session_kept_longer_than_the_hour_is_not_used() -> None:
    documents = Documents()
    kept_at(documents, LOGIN, NOON).keep(*SESSION)

    assert kept_at(documents, LOGIN, NOON + KEPT_FOR.total_seconds() + 1).read() is None


def test_a_changed_secret_cannot_read_the_session_its_predecessor_kept() -> None:
    documents = Documents()
    kept_at(documents, LOGIN, NOON).keep(*SESSION)
    new_password = PasswordLogin("ana@acme.example", "a-new-password", "token456", "login")

    assert kept_at(documents, new_password, NOON).read() is None


def test_each_login_keeps_its_session_under_its_own_name() -> None:
    documents = Documents()
    app = ClientCredentialsLogin("consumer-key", "consumer-secret", "acme.my")
    kept_at(documents, LOGIN, NOON).keep(*SESSION)
    kept_at(documents, app, NOON).keep("another-session", "acme.my.salesforce.com")

    assert len(documents.kept) == 2
    assert kept_at(documents, LOGIN, NOON).read() == SESSION


def test_a_session_id_handed_to_leadq_is_not_kept() -> None:
    assert KeptSessions.of(SessionLogin("00D!x", "acme.my.salesforce.com"), Documents()) is None
