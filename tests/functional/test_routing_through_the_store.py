"""Owner assignment through the engine and a real SQLite state store: even, and never twice."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from builders import make_lead, model_from

from connectors.hubspot import HubSpotConnector
from connectors.records import Owner
from scoring.routing import Directory
from sync.engine import SyncEngine
from sync.state_url import open_state_store

MODEL = model_from(
    """
    stages: [{stage: mql, when: {field: score, op: gte, value: 0}}]
    routing:
      rules:
        - id: inbound
          pool: [ana@acme.example, ben@acme.example, cy@acme.example]
    """
)
OWNERS = [
    Owner(id=str(i), email=f"{name}@acme.example") for i, name in enumerate(["ana", "ben", "cy"])
]
DIRECTORY = Directory(OWNERS)
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)


def engine(state: Path) -> SyncEngine:
    connector = HubSpotConnector(access_token="unused", base_url="http://127.0.0.1:9")
    return SyncEngine(connector, open_state_store(f"sqlite:///{state}"), MODEL, clock=lambda: NOW)


def assign(state: Path, lead_ids: list[str]) -> dict[str, str]:
    runner = engine(state)
    decided = {}
    for lead_id in lead_ids:
        decision = runner.routing.assign_owner(
            make_lead(lead_id), [True], DIRECTORY, dry_run=False
        )
        assert decision.owner_id is not None
        decided[lead_id] = decision.owner_id
    runner.store.close()
    return decided


def test_a_thousand_equal_weight_assignments_stay_within_one_of_even(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    given: Counter[str] = Counter()
    for lead_id, owner in assign(state, [f"L{i}" for i in range(1000)]).items():
        given[owner] += 1
        assert max(given.values()) - min(given.get(o.id, 0) for o in OWNERS) <= 1, lead_id
    assert sum(given.values()) == 1000


def test_a_lead_is_assigned_once_however_often_it_is_routed(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    first = assign(state, ["L1", "L2"])
    again = assign(state, ["L2", "L1"])
    assert again == first


def _worker(state: str, lead_ids: list[str], results: multiprocessing.Queue) -> None:
    results.put(assign(Path(state), lead_ids))


def test_two_processes_routing_overlapping_leads_never_assign_one_twice(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    open_state_store(f"sqlite:///{state}").close()
    shared = [f"S{i}" for i in range(100)]
    batches = [[f"A{i}" for i in range(200)] + shared, shared[::-1] + [f"B{i}" for i in range(200)]]
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(str(state), b, results)) for b in batches]
    for worker in workers:
        worker.start()
    decided = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    for lead_id in shared:
        assert decided[0][lead_id] == decided[1][lead_id]
    store = open_state_store(f"sqlite:///{state}")
    snapshot = store.routing_snapshot("inbound", NOW.date())
    assert sum(snapshot.assigned_total.values()) == 500
    assert max(snapshot.assigned_total.values()) - min(snapshot.assigned_total.values()) <= 1


def test_a_dry_run_shows_the_rotation_a_real_run_would_make(tmp_path: Path) -> None:
    runner = engine(tmp_path / "state.db")
    planned = [
        runner.routing.assign_owner(make_lead(f"L{i}"), [True], DIRECTORY, dry_run=True).owner_id
        for i in range(6)
    ]
    assert planned == ["0", "1", "2", "0", "1", "2"]
    assert runner.store.routing_snapshot("inbound", NOW.date()).assigned_total == {}
