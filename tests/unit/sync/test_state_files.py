"""The SQLite state file: created for its owner alone, and refused in one clear line when it is not
a leadq state file."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sync.state import StateUnusableError
from sync.state_sqlite import SqliteStateStore


def test_a_new_state_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "nested" / "state.db")
    store.advance_cursor("hubspot:leads", datetime(2026, 11, 1, tzinfo=UTC))
    store.close()
    assert stat.S_IMODE((tmp_path / "nested" / "state.db").stat().st_mode) == 0o600


def test_an_existing_state_file_keeps_the_permissions_it_has(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStateStore(path).close()
    path.chmod(0o640)
    SqliteStateStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_file_that_is_no_database_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my notes\n")
    with pytest.raises(StateUnusableError, match=r"notes\.txt is not a leadq state file"):
        SqliteStateStore(path)
    assert path.read_text() == "my notes\n"
