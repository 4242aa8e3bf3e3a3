"""A Salesforce session kept in the state store between runs: a fresh process's run connects
with it instead of logging in, logs in once more when Salesforce no longer takes it, and the
state file never holds it in the clear."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from crm_sandboxes import MODEL, Sandbox, sandbox

from sync.engine import RunReport
from sync.runtime import open_runtime

LOGINS = ("/services/Soap/u/", "/services/oauth2/token")


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox("salesforce", 100, tmp_path) as running:
        yield running


def fresh_run(box: Sandbox) -> tuple[RunReport, int, int]:
    """An incremental run as a new process makes it; the logins and 401s the CRM answered."""
    box.emulator.log.clear()
    runtime = open_runtime(box.settings, MODEL, box.session)
    try:
        report = runtime.engine().run("incremental")
    finally:
        runtime.close()
    entries = box.emulator.log.entries()
    logins = sum(1 for entry in entries if entry.path.startswith(LOGINS))
    return report, logins, sum(1 for entry in entries if entry.status == 401)


def test_a_run_in_a_fresh_process_connects_with_the_session_the_run_before_kept(
    box: Sandbox,
) -> None:
    first = fresh_run(box)
    second = fresh_run(box)

    assert first[1:] == (1, 0)  # no state file yet: a login, kept once the store opened
    assert second[1:] == (0, 0)
    assert second[0].failed == []


def test_a_kept_session_salesforce_ended_is_renewed_by_one_login_and_kept_again(
    box: Sandbox,
) -> None:
    fresh_run(box)
    box.emulator.expire_sessions()
    renewed = fresh_run(box)
    after = fresh_run(box)

    assert renewed[1:] == (1, 1)
    assert renewed[0].retries == {"session_expired": 1}
    assert after[1:] == (0, 0)


def test_the_state_file_holds_no_session_in_the_clear(box: Sandbox, tmp_path: Path) -> None:
    fresh_run(box)
    runtime = open_runtime(box.settings, MODEL, box.session)
    session_id = runtime.connector.client.session_id  # type: ignore[attr-defined]
    runtime.close()

    stored = b"".join(path.read_bytes() for path in tmp_path.glob("state.db*"))  # WAL too
    assert session_id and session_id.encode() not in stored
    assert box.running.username.encode() not in stored
