"""Concurrent runs sharing one store: two OS processes on one SQLite file, and threads on either
backend (DynamoDB through moto's server on 127.0.0.1)."""

from __future__ import annotations

import gc
import multiprocessing
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from moto_aws import moto_server

from sync.state import AssignmentOutcome, StateStore
from sync.state_dynamodb import create_table, dynamodb_client
from sync.state_sqlite import SqliteStateStore
from sync.state_url import open_state_store

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 1)
REGION = "eu-west-1"
OWNERS = ("ana", "bo", "cy")
POOL = "emea"


# What a run does: decide from a snapshot (evenly, as weighted round-robin with equal weights
# does), commit, and decide again whenever another run got in first.


def assign_evenly(store: StateStore, lead_id: str) -> AssignmentOutcome:
    while True:
        snapshot = store.routing_snapshot(POOL, TODAY)
        owner = min(OWNERS, key=lambda owner: (snapshot.assigned_total.get(owner, 0), owner))
        outcome = store.commit_assignment(POOL, lead_id, owner, TODAY, snapshot.version)
        if outcome.status != "conflict":
            return outcome


def assign_all(store_url: str, lead_ids: list[str], start: Any) -> dict[str, tuple[str, str]]:
    """Runs in a child process: assign every lead; report what each commit answered."""
    start.wait()  # opening a new file at the same moment is part of the race
    store = open_state_store(store_url)
    answers = {}
    for lead_id in lead_ids:
        outcome = assign_evenly(store, lead_id)
        answers[lead_id] = (outcome.status, outcome.owner_id or "")
    store.close()
    return answers


def sight_all(store_url: str, keys: list[str], start: Any) -> list[str]:
    """Runs in a child process: report the keys this process saw first."""
    start.wait()  # opening a new file at the same moment is part of the race
    store = open_state_store(store_url)
    first = [key for key in keys if store.first_sighting(key, NOW, timedelta(hours=1))]
    store.close()
    return first


def report_to(results: Any, work: Callable[..., Any], *arguments: Any) -> None:
    results.put(work(*arguments))


def in_two_processes(work: Callable[..., Any], store_url: str, items: list[str]) -> list[Any]:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2, timeout=30)  # a sibling that died must not leave this one waiting
    results = [context.SimpleQueue(), context.SimpleQueue()]
    # One process walks the items forwards, the other backwards: they meet in the middle and
    # contend on every item there.
    processes = [
        context.Process(target=report_to, args=(queue, work, store_url, order, start), daemon=True)
        for queue, order in zip(results, (items, items[::-1]), strict=True)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(
            timeout=60
        )  # results are a few kB: they fit the pipe, so joining first is safe
    assert [process.exitcode for process in processes] == [0, 0]
    return [queue.get() for queue in results]


@pytest.fixture
def importable_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spawned processes import this module by the dotted name pytest gave it; put the directory
    that name starts from on the path they inherit."""
    monkeypatch.syspath_prepend(str(Path(__file__).parents[len(__name__.split(".")) - 1]))


@pytest.mark.usefixtures("importable_tests")
def test_two_processes_never_assign_one_lead_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    leads = [f"L{number}" for number in range(120)]

    first, second = in_two_processes(assign_all, url, leads)

    assigned_by = {
        lead: [answers[lead] for answers in (first, second) if answers[lead][0] == "assigned"]
        for lead in leads
    }
    assert all(len(assignments) == 1 for assignments in assigned_by.values())
    store = open_state_store(url)
    for lead in leads:
        owner = store.assignment_for(lead)
        assert first[lead][1] == second[lead][1] == owner
    snapshot = store.routing_snapshot(POOL, TODAY)
    store.close()
    assert snapshot.version == len(leads)
    assert sum(snapshot.assigned_total.values()) == len(leads)
    assert snapshot.assigned_today == snapshot.assigned_total
    assert Counter(store_owner for _, store_owner in first.values()) == Counter(
        snapshot.assigned_total
    )
    assert max(snapshot.assigned_total.values()) - min(snapshot.assigned_total.values()) <= 1


@pytest.mark.usefixtures("importable_tests")
def test_two_processes_see_each_webhook_key_first_exactly_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    keys = [f"hubspot:event-{number}" for number in range(400)]

    first, second = in_two_processes(sight_all, url, keys)

    assert sorted(first + second) == sorted(keys)


def open_handles(path: Path) -> int:
    return sum(1 for fd in Path("/proc/self/fd").iterdir() if fd.resolve() == path.resolve())


def test_threads_that_ended_leave_no_sqlite_connection_open(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    for _ in range(20):  # as a threaded web server runs each request on a new thread
        request = threading.Thread(target=store.advance_cursor, args=("leads", NOW))
        request.start()
        request.join()
    gc.collect()

    # The opening thread's own, the checkpoint thread's, and at most one that SQLite keeps for
    # reuse while another connection of this process holds a lock on the file.
    assert open_handles(tmp_path / "state.db") <= 3
    store.close()
    assert open_handles(tmp_path / "state.db") == 0


def cursors_in_the_main_file(path: Path, copy: Path) -> int:
    """Cursor rows in the database file itself, not counting what still waits in its WAL."""
    copy.write_bytes(path.read_bytes())
    connection = sqlite3.connect(f"file:{copy}?immutable=1", uri=True)
    try:
        return int(connection.execute("SELECT count(*) FROM cursors").fetchone()[0])
    except sqlite3.OperationalError:  # not even the table is in the file yet
        return 0
    finally:
        connection.close()


def test_writes_reach_the_database_file_through_a_background_checkpoint(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    store.advance_cursor("leads", NOW)  # one small write: SQLite's own checkpoint would wait

    deadline = time.monotonic() + 10
    while cursors_in_the_main_file(tmp_path / "state.db", tmp_path / "copy.db") == 0:
        assert time.monotonic() < deadline, "the write never left the WAL while the store ran"
        time.sleep(0.02)
    store.close()


# Threads, on both backends


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server(one_request_at_a_time=True) as endpoint:
        yield endpoint


@pytest.fixture(params=["sqlite", "dynamodb"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    endpoint = request.getfixturevalue("moto_endpoint")
    table = f"leadq-state-{uuid.uuid4().hex[:12]}"
    create_table(dynamodb_client(REGION, endpoint), table)
    return f"dynamodb://{table}?region={REGION}&endpoint_url={endpoint}"


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    start = threading.Barrier(count)

    def started(index: int) -> Any:
        start.wait()
        return work(index)

    with ThreadPoolExecutor(count) as threads:
        return list(threads.map(started, range(count)))


def test_concurrent_runs_never_assign_one_lead_twice_and_keep_the_rotation_even(
    store_url: str,
) -> None:
    store = open_state_store(store_url)
    leads = [f"L{number}" for number in range(30)]

    def one_run(index: int) -> dict[str, AssignmentOutcome]:
        order = leads if index % 2 == 0 else leads[::-1]
        return {lead: assign_evenly(store, lead) for lead in order}

    runs = in_threads(3, one_run)

    assigned = Counter(
        lead for run in runs for lead, outcome in run.items() if outcome.status == "assigned"
    )
    assert assigned == Counter(leads)
    assert all(len({run[lead].owner_id for run in runs}) == 1 for lead in leads)
    snapshot = store.routing_snapshot(POOL, TODAY)
    assert snapshot.version == len(leads)
    assert sorted(snapshot.assigned_total.values()) == [10, 10, 10]
    store.close()


def test_racing_for_a_lease_leaves_exactly_one_holder(store_url: str) -> None:
    store = open_state_store(store_url)

    won = in_threads(
        6, lambda index: store.acquire_lease("incremental", f"worker-{index}", NOW, timedelta(1))
    )

    assert won.count(True) == 1
    winner = f"worker-{won.index(True)}"
    assert store.renew_lease("incremental", winner, NOW, timedelta(minutes=5))
    store.close()


def test_racing_cursor_advances_keep_the_latest(store_url: str) -> None:
    store = open_state_store(store_url)
    moments = [NOW + timedelta(seconds=second) for second in range(40)]

    def advance_every_fourth(index: int) -> None:
        for moment in moments[index::4]:
            store.advance_cursor("leads", moment)

    in_threads(4, advance_every_fourth)

    assert store.get_cursor("leads") == moments[-1]
    store.close()


def test_racing_sightings_of_one_webhook_let_exactly_one_through(store_url: str) -> None:
    store = open_state_store(store_url)

    answers = in_threads(
        6,
        lambda _: [store.first_sighting(f"event-{n}", NOW, timedelta(hours=1)) for n in range(10)],
    )

    assert [sum(column) for column in zip(*answers, strict=True)] == [1] * 10
    store.close()
