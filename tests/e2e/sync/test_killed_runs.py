"""A sync killed (SIGKILL) at any point converges on the next run: same CRM state, nobody assigned
twice, no lead left unwritten."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from crm_sandboxes import EXAMPLES, hubspot_state

from sandbox.hubspot import start_hubspot
from sync.state import open_state_store

LEADS, SEED, TRIALS = 200, 7, 20
NOW = "2026-11-02T09:00:00Z"


class Box:
    def __init__(self, running) -> None:
        self.running = running


def environment(running, state: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "LEADQ_CRM": "hubspot",
        "LEADQ_HUBSPOT_BASE_URL": running.base_url,
        "LEADQ_HUBSPOT_ACCESS_TOKEN": running.access_token,
        "LEADQ_HUBSPOT_RATE_LIMIT": "10000",
        "LEADQ_HUBSPOT_SEARCH_RATE": "1000",
        "LEADQ_STATE_URL": f"sqlite:///{state}",
        "LEADQ_OVERLAP_SECONDS": "0",
        "LEADQ_MODEL_PATH": str(EXAMPLES / "sandbox.yaml"),
    }


def setup(running, state: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "sync.cli", "setup"],
        env=environment(running, state),
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr


def sync(running, state: Path, kill_after: int | None = None) -> int:
    """Run `leadq sync --full` in its own process; SIGKILL it after `kill_after` requests."""
    command = [sys.executable, "-m", "sync.cli", "sync", "--full", "--now", NOW]
    log = running.emulator.log
    start = len(log.entries())
    process = subprocess.Popen(
        command, env=environment(running, state), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    if kill_after is None:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors
    else:
        watcher = threading.Thread(target=_kill_when, args=(process, log, start + kill_after))
        watcher.start()
        process.communicate(timeout=120)
        watcher.join()
    return len(log.entries()) - start


def _kill_when(process: subprocess.Popen, log, count: int) -> None:
    while process.poll() is None:
        if len(log.entries()) >= count:
            os.kill(process.pid, signal.SIGKILL)
            return
        time.sleep(0.0005)


def crm_state(running) -> dict:
    state = hubspot_state(Box(running))
    for lead in state.values():
        lead.pop("email", None)
    return state


def test_a_run_killed_at_a_random_request_converges_on_the_next_run(tmp_path: Path) -> None:
    with start_hubspot(leads=LEADS, seed=SEED, rate_limit=(10_000, 10.0)) as clean:
        setup(clean, tmp_path / "clean.db")
        requests_needed = sync(clean, tmp_path / "clean.db")
        expected = crm_state(clean)
    assigned_leads = {i for i, lead in expected.items() if lead["hubspot_owner_id"]}
    rng = random.Random(20261122)
    killed_at = []
    for trial in range(TRIALS):
        state = tmp_path / f"trial-{trial}.db"
        with start_hubspot(leads=LEADS, seed=SEED, rate_limit=(10_000, 10.0)) as running:
            setup(running, state)
            kill_after = rng.randint(1, requests_needed - 1)
            killed_at.append(kill_after)
            sync(running, state, kill_after)
            sync(running, state)
            assert crm_state(running) == expected, f"trial {trial}, killed after {kill_after}"
            store = open_state_store(f"sqlite:///{state}")
            try:
                for lead_id in assigned_leads:
                    history = store.audit_for(lead_id, 100)
                    owners = [e for e in history if e.field == "hubspot_owner_id"]
                    assert len(owners) <= 1, f"lead {lead_id} assigned {len(owners)} times"
            finally:
                store.close()
    assert len(set(killed_at)) > TRIALS // 2  # kills landed all over the run
