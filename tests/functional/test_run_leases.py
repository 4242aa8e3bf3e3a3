"""Scheduled runs never overlap; a lease left by a killed run does not block the next one."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from builders import model_from

from connectors.hubspot import HubSpotConnector
from sync.engine import LEASE, RunInProgressError, SyncEngine
from sync.state_url import open_state_store

NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)


def engine(state: Path) -> SyncEngine:
    connector = HubSpotConnector(access_token="unused", base_url="http://127.0.0.1:9")
    return SyncEngine(
        connector, open_state_store(f"sqlite:///{state}"), model_from("description: leases only\n"), clock=lambda: NOW
    )


def test_a_second_scheduled_run_is_refused_while_the_first_holds_the_lease(tmp_path: Path) -> None:
    runner = engine(tmp_path / "state.db")
    alive = f"{socket.gethostname()}:{os.getpid()}:other-run"
    leases_use_real_time = datetime.now(UTC)  # even when the run scores as of another time
    assert runner.store.acquire_lease(LEASE, alive, leases_use_real_time, timedelta(minutes=15))
    with pytest.raises(RunInProgressError, match="another scheduled sync is running"):
        runner.run("incremental")


def test_a_lease_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    runner = engine(tmp_path / "state.db")
    dead = f"{socket.gethostname()}:{_a_dead_pid()}:killed-run"
    assert runner.store.acquire_lease(LEASE, dead, NOW, timedelta(minutes=15))
    assert runner._take_lease("this-run", NOW)
    assert runner.store.lease_holder(LEASE, NOW) == "this-run"


def test_a_lease_held_on_another_machine_is_respected(tmp_path: Path) -> None:
    runner = engine(tmp_path / "state.db")
    assert runner.store.acquire_lease(LEASE, "lambda-host:1:run", NOW, timedelta(minutes=15))
    assert not runner._take_lease("this-run", NOW)


def _a_dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid
