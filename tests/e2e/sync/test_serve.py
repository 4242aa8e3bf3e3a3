"""`leadq serve` as a person runs it: a subprocess on loopback, fed by a HubSpot sandbox's signed
webhooks, writing scores back into the sandbox; stopped with SIGTERM and started again."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from crm_sandboxes import EXAMPLES, Sandbox, sandbox

from sandbox.hubspot.webhooks import sign_v3
from sandbox.server import FaultPlan
from sync.state import QueuedWork
from sync.state_url import open_state_store
from sync.work import Work

pytestmark = pytest.mark.e2e

DEADLINE_SECONDS = 90.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], bool], what: str, seconds: float = DEADLINE_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:.0f} s: {what}")
        time.sleep(0.1)


def environment(box: Sandbox, state: Path) -> dict[str, str]:
    running = box.running
    return {
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "200",
        **running.leadq_environment(),
        "LEADQ_MODEL_PATH": str(EXAMPLES / "sandbox.yaml"),
        "LEADQ_STATE_URL": f"sqlite:///{state}",
        "LEADQ_HUBSPOT_RATE_LIMIT": "10000",
        "LEADQ_HUBSPOT_SEARCH_RATE": "1000",
        "LEADQ_MIN_SCORE_CHANGE": "1",
    }


def start_serve(box: Sandbox, port: int, tmp_path: Path, *options: str,
                claim_seconds: int = 60) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sync.cli", "serve", "--port", str(port), *options],
        env={**environment(box, tmp_path / "state.db"),
             "LEADQ_SERVE_CLAIM_SECONDS": str(claim_seconds)},
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


@contextmanager
def leadq_serve(box: Sandbox, port: int, tmp_path: Path, *options: str, claim_seconds: int = 60
                ) -> Iterator[subprocess.Popen[str]]:
    process = start_serve(box, port, tmp_path, *options, claim_seconds=claim_seconds)
    try:
        wait_for(lambda: healthy(port) or process.poll() is not None, "leadq serve answers")
        assert process.poll() is None, process.communicate()[0]
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=60)


def healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def scored(box: Sandbox) -> set[str]:
    return {i for i, lead in box.state().items() if lead["leadq_score"] is not None}


def test_a_change_in_the_sandbox_comes_back_as_a_new_score_through_leadq_serve(
    tmp_path: Path,
) -> None:
    port = free_port()
    notify = f"http://127.0.0.1:{port}/webhooks/hubspot"
    with sandbox("hubspot", 300, tmp_path, ending_now=True, notify=notify) as box:
        box.runtime().close()  # leadq's properties, as `leadq setup` makes them
        with leadq_serve(box, port, tmp_path):
            simulated = box.emulator.simulate_activity(8, datetime.now(UTC), 5)
            keys = list({activity.person_key for activity in simulated})
            touched = {str(c.id) for c in box.running.store.records_by_source_key(keys).values()}

            wait_for(lambda: touched <= scored(box), "the touched contacts hold a score")

        assert scored(box) == touched  # webhook-driven: nobody else was rescored
        assert all(d.succeeded for d in box.emulator.webhooks.deliveries())


def test_work_queued_when_sigterm_arrives_is_done_after_a_restart(tmp_path: Path) -> None:
    port = free_port()
    with sandbox("hubspot", 300, tmp_path, ending_now=True) as box:
        box.runtime().close()
        ids = sorted(box.state(), key=int)
        box.emulator.faults = FaultPlan(slow=1.0, slow_seconds=0.2)
        with leadq_serve(box, port, tmp_path, "--workers", "1") as process:
            answer = post_title_changes(box, port, ids)
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=60)[0]

        store = open_state_store(f"sqlite:///{tmp_path / 'state.db'}")
        left = store.queued_work()
        store.close()
        box.emulator.faults = FaultPlan()
        with leadq_serve(box, port, tmp_path) as restarted:
            wait_for(lambda: scored(box) == set(ids), "every contact named holds a score")
            restarted.send_signal(signal.SIGTERM)
            restarted_output = restarted.communicate(timeout=60)[0]

    assert answer == {"status": 200, "queued": 3}
    assert process.returncode == 0, output
    assert left, "SIGTERM came after the work was done: nothing was left to restore"
    assert f"{len(left)} queued units left by an earlier run are queued again" in restarted_output
    store = open_state_store(f"sqlite:///{tmp_path / 'state.db'}")
    assert store.queued_work() == []
    store.close()


def test_the_schedule_thread_runs_incremental_syncs_at_the_interval_given(tmp_path: Path) -> None:
    port = free_port()
    with sandbox("hubspot", 120, tmp_path, ending_now=True) as box:
        box.runtime().close()
        with leadq_serve(box, port, tmp_path, "--every", "0.02"):  # 1.2 s
            wait_for(lambda: len(scored(box)) == 120, "the first scheduled run scored everyone")
            wait_for(lambda: len(runs(tmp_path)) >= 2, "a second scheduled run")

    assert {run.kind for run in runs(tmp_path)} == {"incremental"}


def runs(tmp_path: Path) -> list[Any]:
    store = open_state_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        return store.recent_runs(limit=1000)
    finally:
        store.close()


def post_title_changes(box: Sandbox, port: int, ids: list[str]) -> dict[str, int]:
    running = box.running
    now_ms = int(time.time() * 1000)
    events = [{"eventId": n, "subscriptionId": 4100, "portalId": running.portal_id,
               "appId": running.app_id, "occurredAt": now_ms - 1000 + n,
               "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
               "objectId": int(contact_id), "propertyName": "jobtitle",
               "propertyValue": "Director of Data", "changeSource": "CRM_UI",
               "sourceId": "userId:991"} for n, contact_id in enumerate(ids, start=1)]
    url = f"http://127.0.0.1:{port}/webhooks/hubspot"
    body = json.dumps(events)
    stamp = int(time.time() * 1000)
    response = requests.post(url, data=body.encode(), timeout=10, headers={
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": sign_v3(running.client_secret, "POST", url, body, stamp),
        "X-HubSpot-Request-Timestamp": str(stamp)})
    return {"status": response.status_code, "queued": response.json().get("queued")}


def test_leadq_serve_refuses_a_body_declared_over_one_mebibyte_before_reading_it(
    tmp_path: Path,
) -> None:
    port = free_port()
    with sandbox("hubspot", 50, tmp_path) as box, leadq_serve(box, port, tmp_path):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.putrequest("POST", "/webhooks/hubspot")
        connection.putheader("Content-Length", str(2**20 + 1))
        connection.endheaders()  # and no body: the answer must not wait for one
        response = connection.getresponse()
        status = response.status
        connection.close()
        unsigned = requests.post(f"http://127.0.0.1:{port}/webhooks/hubspot", data=b"[]",
                                 timeout=10)

    assert status == 413
    assert unsigned.status_code == 400  # no signature timestamp


def test_leadq_serve_without_crm_credentials_says_what_to_set_and_exits_2(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "sync.cli", "serve", "--port", str(free_port())],
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "LEADQ_CRM": "hubspot"}, cwd=tmp_path,
        capture_output=True, text=True, timeout=60, check=False,
    )

    assert finished.returncode == 2
    assert finished.stderr.startswith("error: HubSpot needs credentials")


def queue_units(tmp_path: Path, ids: list[str], per_unit: int) -> int:
    """Put rescore units straight into the state's queue, as a stopped process leaves them."""
    store = open_state_store(f"sqlite:///{tmp_path / 'state.db'}")
    units = [Work(kind="rescore", ids=tuple(ids[start:start + per_unit]))
             for start in range(0, len(ids), per_unit)]
    store.enqueue_work([QueuedWork(id=f"left-{number:03}", queued_at=datetime.now(UTC),
                                   payload=unit.to_json()) for number, unit in enumerate(units)])
    store.close()
    return len(units)


def queue_left(tmp_path: Path) -> int:
    store = open_state_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        return len(store.queued_work())
    finally:
        store.close()


def stopped(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.communicate(timeout=60)[0]


def test_two_leadq_serve_processes_sharing_the_state_do_each_queued_unit_once(
    tmp_path: Path,
) -> None:
    ports = [free_port(), free_port()]
    with sandbox("hubspot", 240, tmp_path, ending_now=True) as box:
        box.runtime().close()
        ids = sorted(box.state(), key=int)
        queued = queue_units(tmp_path, ids, per_unit=8)
        box.emulator.faults = FaultPlan(slow=1.0, slow_seconds=0.15)
        processes = [start_serve(box, port, tmp_path, "--workers", "2") for port in ports]
        try:
            wait_for(lambda: all(healthy(port) for port in ports), "both processes answer")
            wait_for(lambda: queue_left(tmp_path) == 0, "the queue is empty")
        finally:
            outputs = [stopped(process) for process in processes]

    done = [output.count("work done") for output in outputs]
    ids_runs = [run for run in runs(tmp_path) if run.kind == "ids"]
    assert sum(done) == queued == len(ids_runs) == 30, outputs
    assert all(count > 0 for count in done), done  # both took part
    assert sum(run.counts["scored"] for run in ids_runs) == len(ids)  # each lead scored once


def test_work_a_killed_process_held_is_done_by_another_once_its_claim_lapses(
    tmp_path: Path,
) -> None:
    with sandbox("hubspot", 120, tmp_path, ending_now=True) as box:
        box.runtime().close()
        ids = sorted(box.state(), key=int)
        queued = queue_units(tmp_path, ids, per_unit=10)
        box.emulator.faults = FaultPlan(slow=1.0, slow_seconds=0.3)
        first = start_serve(box, free_port(), tmp_path, "--workers", "2", claim_seconds=3)
        wait_for(lambda: any(run.kind == "ids" for run in runs(tmp_path)), "a unit is done")
        first.kill()  # SIGKILL: its claims are never given back
        first.communicate(timeout=60)
        left_behind = queue_left(tmp_path)
        box.emulator.faults = FaultPlan()
        with leadq_serve(box, free_port(), tmp_path, claim_seconds=3) as second:
            wait_for(lambda: queue_left(tmp_path) == 0, "the killed process's work is done")
            wait_for(lambda: scored(box) == set(ids), "every contact holds a score")
            output = stopped(second)

    assert 0 < left_behind < queued
    assert output.count("work done") == left_behind  # the killed process's claims included
