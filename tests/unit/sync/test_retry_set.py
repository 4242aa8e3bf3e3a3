"""The retry set as runs use it: what is due when, what counts as an attempt, what takes a lead out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync.retry_set import RetryPolicy, RetrySet
from sync.state_sqlite import SqliteStateStore

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
POLICY = RetryPolicy(max_attempts=3)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStateStore]:
    opened = SqliteStateStore(tmp_path / "state.db")
    yield opened
    opened.close()


def a_run(store: SqliteStateStore) -> RetrySet:
    return RetrySet.load(store, "hubspot", POLICY)


def fail(store: SqliteStateStore, at: datetime, *lead_ids: str, restart: bool = False) -> None:
    a_run(store).record_failures({i: "locked" for i in lead_ids}, "run", at, restart)


def test_a_failed_lead_is_due_two_minutes_later_then_four_then_never(
    store: SqliteStateStore,
) -> None:
    fail(store, NOW, "L1")
    assert a_run(store).due(NOW + 2 * MINUTE - timedelta(seconds=1), 100) == []
    assert a_run(store).due(NOW + 2 * MINUTE, 100) == ["L1"]

    fail(store, NOW + 2 * MINUTE, "L1")
    assert a_run(store).due(NOW + 5 * MINUTE, 100) == []
    assert a_run(store).due(NOW + 6 * MINUTE, 100) == ["L1"]

    fail(store, NOW + 6 * MINUTE, "L1")
    (waiting,) = a_run(store).waiting()
    assert (waiting.failed.attempts, waiting.next_attempt_at) == (3, None)
    assert a_run(store).due(NOW + timedelta(days=365), 100) == []


def test_the_longest_waiting_leads_are_retried_first_up_to_the_limit(
    store: SqliteStateStore,
) -> None:
    fail(store, NOW + MINUTE, "L1")
    fail(store, NOW, "L2", "L3")

    assert a_run(store).due(NOW + timedelta(hours=1), 2) == ["L2", "L3"]


def test_runs_that_overlap_and_fail_to_retry_a_due_lead_count_one_attempt(
    store: SqliteStateStore,
) -> None:
    fail(store, NOW, "L1")
    first, second = a_run(store), a_run(store)  # both load the set before either fails

    first.record_failures({"L1": "locked"}, "run-a", NOW + 3 * MINUTE, restart=False)
    second.record_failures({"L1": "locked"}, "run-b", NOW + 4 * MINUTE, restart=False)

    (waiting,) = a_run(store).waiting()
    assert waiting.failed.attempts == 2
    assert waiting.next_attempt_at == NOW + 2 * MINUTE + 4 * MINUTE


def test_a_full_run_counts_the_attempts_of_a_lead_given_up_afresh(
    store: SqliteStateStore,
) -> None:
    for minutes in (0, 2, 6):
        fail(store, NOW + minutes * MINUTE, "L1")

    fail(store, NOW + timedelta(days=1), "L1", restart=True)

    (waiting,) = a_run(store).waiting()
    assert waiting.failed.attempts == 1
    assert waiting.next_attempt_at == NOW + timedelta(days=1) + 2 * MINUTE


def test_handled_leads_leave_the_set_unless_their_write_failed_again(
    store: SqliteStateStore,
) -> None:
    fail(store, NOW, "L1", "L2", "L3")

    a_run(store).handled(["L1", "L2", "L9"], failed=["L2"])

    assert [entry.failed.lead_id for entry in a_run(store).waiting()] == ["L2", "L3"]
