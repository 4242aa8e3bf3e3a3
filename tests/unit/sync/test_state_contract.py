"""The state store's contract: every case runs against SQLite (a temporary file) and DynamoDB (moto's
server on 127.0.0.1, with dummy credentials). A few backend-specific cases follow at the end."""

from __future__ import annotations

import inspect
import json
import math
import sqlite3
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from moto_aws import moto_server
from pydantic import ValidationError

from sync.state import (
    AuditEntry,
    FailedWrite,
    IntendedWrites,
    QueuedWork,
    RunRecord,
    StateStore,
    StateStoreError,
    WorkClaim,
    iso_utc,
)
from sync.state_dynamodb import DynamoDBStateStore, create_table, dynamodb_client
from sync.state_sqlite import SCHEMA_VERSION, SqliteStateStore
from sync.state_url import open_state_store

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 1)
REGION = "eu-west-1"
MINUTE = timedelta(minutes=1)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


def new_dynamodb_url(endpoint: str) -> str:
    table = f"leadq-state-{uuid.uuid4().hex[:12]}"
    create_table(dynamodb_client(REGION, endpoint), table)
    return f"dynamodb://{table}?region={REGION}&endpoint_url={endpoint}"


@pytest.fixture(params=["sqlite", "dynamodb"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    return new_dynamodb_url(request.getfixturevalue("moto_endpoint"))


@pytest.fixture
def store(store_url: str) -> Iterator[StateStore]:
    opened = open_state_store(store_url)
    yield opened
    opened.close()


def audit_entry(lead_id: str = "L1", minutes: int = 0, **values: Any) -> AuditEntry:
    fields: dict[str, Any] = {
        "at": NOW + timedelta(minutes=minutes),
        "run_id": "run-1",
        "crm": "hubspot",
        "lead_id": lead_id,
        "field": "leadq_score",
        "before": 10,
        "after": 20,
        "reasons": "Demo request +25",
        "model_version": "m1",
    }
    return AuditEntry(**(fields | values))


def parameters(method: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    """Names, kinds and defaults: what a caller relies on (annotations may be spelt apart)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(method).parameters.values()]


@pytest.mark.parametrize("backend", [SqliteStateStore, DynamoDBStateStore])
def test_each_backend_offers_every_protocol_method_with_the_same_parameters(
    backend: type,
) -> None:
    methods = [name for name, _ in inspect.getmembers(StateStore, inspect.isfunction)
               if not name.startswith("_")]

    assert {"get_cursor", "audit_for", "close"} <= set(methods)
    assert {name: parameters(getattr(backend, name, lambda: None)) for name in methods} == {
        name: parameters(getattr(StateStore, name)) for name in methods}


def test_state_survives_closing_and_reopening_the_store(store_url: str) -> None:
    first = open_state_store(store_url)
    first.advance_cursor("leads", NOW)
    first.first_sighting("event-1", NOW, MINUTE)
    first.close()

    reopened = open_state_store(store_url)
    assert reopened.get_cursor("leads") == NOW
    assert reopened.first_sighting("event-1", NOW, MINUTE) is False
    reopened.close()


# Cursors


def test_a_cursor_never_set_reads_as_none(store: StateStore) -> None:
    assert store.get_cursor("leads") is None


def test_an_advanced_cursor_reads_back_as_the_same_instant(store: StateStore) -> None:
    paris_time = datetime(2026, 11, 1, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))

    assert store.advance_cursor("leads", paris_time) == paris_time
    assert store.get_cursor("leads") == paris_time
    assert store.get_cursor("leads").utcoffset() == timedelta(0)  # type: ignore[union-attr]


def test_a_cursor_never_moves_backwards(store: StateStore) -> None:
    store.advance_cursor("leads", NOW)

    assert store.advance_cursor("leads", NOW - timedelta(microseconds=1)) == NOW
    assert store.get_cursor("leads") == NOW
    assert store.advance_cursor("leads", NOW + MINUTE) == NOW + MINUTE


def test_cursors_are_kept_per_name(store: StateStore) -> None:
    store.advance_cursor("leads", NOW)
    store.advance_cursor("activities", NOW - MINUTE)

    assert store.get_cursor("leads") == NOW
    assert store.get_cursor("activities") == NOW - MINUTE


def test_a_time_without_a_time_zone_is_refused(store: StateStore) -> None:
    with pytest.raises(ValueError, match="time zone"):
        store.advance_cursor("leads", datetime(2026, 11, 1, 12, 0))


# Values leadq last wrote


def test_a_document_reads_back_as_last_written_and_none_before(store: StateStore) -> None:
    assert store.read_document("hubspot:leads:edge") is None
    store.write_document("hubspot:leads:edge", '{"seen": {}}')
    store.write_document("hubspot:leads:edge", '{"seen": {"1": "x"}}')

    assert store.read_document("hubspot:leads:edge") == '{"seen": {"1": "x"}}'
    assert store.read_document("salesforce:leads:edge") is None


def test_the_ledger_keeps_each_leads_packed_activity_per_crm(store: StateStore) -> None:
    store.record_ledger("hubspot", {f"L{n}": bytes([n % 256]) * 3 for n in range(150)})
    store.record_ledger("salesforce", {"L1": b"other"})
    store.record_ledger("hubspot", {"L1": b"new", "L2": b""})

    found = store.ledger_of("hubspot", ["L0", "L1", "L2", "L149", "unknown"])
    assert found == {"L0": b"\x00" * 3, "L1": b"new", "L149": b"\x95" * 3}
    store.clear_ledger("hubspot")
    assert store.ledger_of("hubspot", ["L0", "L1"]) == {}
    assert store.ledger_of("salesforce", ["L1"]) == {"L1": b"other"}


def test_a_lead_never_written_is_absent_from_last_written(store: StateStore) -> None:
    store.record_written("hubspot", {"L1": {"leadq_score": 40}}, "run-1", NOW)

    assert store.last_written("hubspot", ["L1", "L2"]) == {"L1": {"leadq_score": 40}}
    assert store.last_written("hubspot", []) == {}


def test_written_values_come_back_with_their_types(store: StateStore) -> None:
    values = {
        "score": 42,
        "whole_float": 3.0,
        "ratio": 0.1,
        "tiny": 5e-324,
        "huge": 1.7976931348623157e308,
        "negative": -12.5,
        "grade": "A",
        "empty": "",
        "qualified": True,
        "owner": None,
    }
    store.record_written("hubspot", {"L1": values}, "run-1", NOW)

    read = store.last_written("hubspot", ["L1"])["L1"]

    assert read == values
    assert {name: type(value) for name, value in read.items()} == {
        name: type(value) for name, value in values.items()
    }


def test_recording_again_replaces_the_given_fields_and_keeps_the_others(
    store: StateStore,
) -> None:
    store.record_written("hubspot", {"L1": {"score": 40, "grade": "B"}}, "run-1", NOW)
    store.record_written("hubspot", {"L1": {"score": 55}}, "run-2", NOW + MINUTE)

    assert store.last_written("hubspot", ["L1"]) == {"L1": {"score": 55, "grade": "B"}}


def test_written_values_are_kept_per_crm(store: StateStore) -> None:
    store.record_written("hubspot", {"L1": {"score": 40}}, "run-1", NOW)
    store.record_written("salesforce", {"L1": {"score": 70}}, "run-1", NOW)

    assert store.last_written("hubspot", ["L1"]) == {"L1": {"score": 40}}
    assert store.last_written("salesforce", ["L1"]) == {"L1": {"score": 70}}


def test_many_leads_are_written_and_read_across_batches(store: StateStore) -> None:
    values = {f"L{number}": {"score": number, "grade": "C"} for number in range(260)}
    store.record_written("hubspot", values, "run-1", NOW)

    asked = [*values, "L0", "L1", "never-written"]  # repeats and a stranger in the request

    assert store.last_written("hubspot", asked) == values


def test_a_value_that_would_not_round_trip_is_refused(store: StateStore) -> None:
    with pytest.raises(ValidationError):
        store.record_written("hubspot", {"L1": {"score": float("nan")}}, "run-1", NOW)

    assert store.last_written("hubspot", ["L1"]) == {}


def test_a_forgotten_lead_is_no_longer_tracked_and_others_stay(store: StateStore) -> None:
    values = {f"L{number}": {"score": number} for number in range(30)}
    store.record_written("hubspot", values, "run-1", NOW)
    store.record_written("salesforce", {"L1": {"score": 70}}, "run-1", NOW)
    store.append_audit([audit_entry("L1")])

    store.forget_leads("hubspot", [f"L{number}" for number in range(1, 28)] + ["L1", "never"])

    assert store.last_written("hubspot", values) == {
        "L0": {"score": 0}, "L28": {"score": 28}, "L29": {"score": 29}}
    assert store.last_written("salesforce", ["L1"]) == {"L1": {"score": 70}}
    assert store.audit_for("L1") == [audit_entry("L1")]


# Routing counters


def test_an_unused_pool_is_at_version_zero_with_no_counts(store: StateStore) -> None:
    snapshot = store.routing_snapshot("emea", TODAY)

    assert (snapshot.version, snapshot.assigned_total, snapshot.assigned_today) == (0, {}, {})
    assert store.assignment_for("L1") is None


def test_an_assignment_counts_the_owner_in_all_and_today_and_moves_the_version(
    store: StateStore,
) -> None:
    first = store.commit_assignment("emea", "L1", "ana", TODAY, expected_version=0)
    second = store.commit_assignment("emea", "L2", "ana", TODAY, expected_version=1)
    third = store.commit_assignment("emea", "L3", "bo", TODAY, expected_version=2)

    assert [outcome.status for outcome in (first, second, third)] == ["assigned"] * 3
    assert [outcome.version for outcome in (first, second, third)] == [1, 2, 3]
    snapshot = store.routing_snapshot("emea", TODAY)
    assert snapshot.version == 3
    assert snapshot.assigned_total == {"ana": 2, "bo": 1}
    assert snapshot.assigned_today == {"ana": 2, "bo": 1}
    assert store.assignment_for("L1") == "ana"
    assert store.assignment_for("L3") == "bo"


def test_todays_counts_start_afresh_on_a_new_day(store: StateStore) -> None:
    store.commit_assignment("emea", "L1", "ana", TODAY, expected_version=0)
    tomorrow = TODAY + timedelta(days=1)
    store.commit_assignment("emea", "L2", "bo", tomorrow, expected_version=1)

    snapshot = store.routing_snapshot("emea", tomorrow)

    assert snapshot.assigned_today == {"bo": 1}
    assert snapshot.assigned_total == {"ana": 1, "bo": 1}


def test_a_commit_from_a_stale_snapshot_is_refused_as_a_conflict(store: StateStore) -> None:
    stale = store.routing_snapshot("emea", TODAY)
    store.commit_assignment("emea", "L1", "ana", TODAY, expected_version=stale.version)

    outcome = store.commit_assignment("emea", "L2", "ana", TODAY, expected_version=stale.version)

    assert outcome.status == "conflict"
    assert store.assignment_for("L2") is None
    fresh = store.routing_snapshot("emea", TODAY)
    assert (fresh.version, fresh.assigned_total) == (1, {"ana": 1})
    retried = store.commit_assignment("emea", "L2", "bo", TODAY, expected_version=fresh.version)
    assert (retried.status, retried.owner_id) == ("assigned", "bo")


def test_a_lead_is_never_assigned_twice(store: StateStore) -> None:
    store.commit_assignment("emea", "L1", "ana", TODAY, expected_version=0)

    again = store.commit_assignment("emea", "L1", "bo", TODAY, expected_version=1)

    assert (again.status, again.owner_id) == ("already_assigned", "ana")
    snapshot = store.routing_snapshot("emea", TODAY)
    assert (snapshot.version, snapshot.assigned_total) == (1, {"ana": 1})


def test_a_retried_assignment_from_a_stale_snapshot_reports_the_existing_owner(
    store: StateStore,
) -> None:
    store.commit_assignment("emea", "L1", "ana", TODAY, expected_version=0)
    store.commit_assignment("emea", "L2", "bo", TODAY, expected_version=1)

    retry = store.commit_assignment("emea", "L1", "ana", TODAY, expected_version=0)

    assert (retry.status, retry.owner_id) == ("already_assigned", "ana")


def test_a_lead_assigned_in_one_pool_is_not_assigned_again_in_another(store: StateStore) -> None:
    store.commit_assignment("emea", "L1", "ana", TODAY, expected_version=0)

    elsewhere = store.commit_assignment("amer", "L1", "cy", TODAY, expected_version=0)

    assert (elsewhere.status, elsewhere.owner_id) == ("already_assigned", "ana")
    assert store.routing_snapshot("amer", TODAY).assigned_total == {}


def test_pools_keep_separate_counters(store: StateStore) -> None:
    store.commit_assignment("emea", "L1", "ana", TODAY, expected_version=0)
    store.commit_assignment("amer", "L2", "ana", TODAY, expected_version=0)
    store.commit_assignment("amer", "L3", "cy", TODAY, expected_version=1)

    assert store.routing_snapshot("emea", TODAY).assigned_total == {"ana": 1}
    amer = store.routing_snapshot("amer", TODAY)
    assert (amer.version, amer.assigned_total) == (2, {"ana": 1, "cy": 1})


# Webhook dedupe


def test_the_first_sighting_of_a_webhook_is_new(store: StateStore) -> None:
    assert store.first_sighting("hubspot:event-1", NOW, MINUTE) is True
    assert store.first_sighting("hubspot:event-2", NOW, MINUTE) is True


def test_a_duplicate_webhook_within_its_ttl_is_recognised(store: StateStore) -> None:
    store.first_sighting("hubspot:event-1", NOW, MINUTE)

    assert store.first_sighting("hubspot:event-1", NOW, MINUTE) is False
    assert store.first_sighting("hubspot:event-1", NOW + timedelta(seconds=59), MINUTE) is False


def test_a_webhook_seen_again_after_its_ttl_counts_as_new_and_starts_a_new_ttl(
    store: StateStore,
) -> None:
    store.first_sighting("hubspot:event-1", NOW, MINUTE)

    assert store.first_sighting("hubspot:event-1", NOW + MINUTE, MINUTE) is True
    assert store.first_sighting("hubspot:event-1", NOW + timedelta(seconds=90), MINUTE) is False


def test_a_ttl_must_be_positive(store: StateStore) -> None:
    with pytest.raises(ValueError, match="TTL"):
        store.first_sighting("hubspot:event-1", NOW, timedelta(0))
    with pytest.raises(ValueError, match="TTL"):
        store.remember_webhooks(["hubspot:event-1"], NOW, timedelta(0))


def test_checking_webhook_keys_records_nothing(store: StateStore) -> None:
    assert store.seen_webhooks(["hubspot:event-1", "hubspot:event-2"], NOW) == set()
    assert store.seen_webhooks([], NOW) == set()

    assert store.first_sighting("hubspot:event-1", NOW, MINUTE) is True


def test_remembered_webhook_keys_are_seen_until_their_ttl_passes(store: StateStore) -> None:
    keys = [f"hubspot:event-{number}" for number in range(130)]
    store.remember_webhooks(keys, NOW, MINUTE)

    assert store.seen_webhooks([*keys, "hubspot:other"], NOW) == set(keys)
    assert store.seen_webhooks(keys[:3], NOW + timedelta(seconds=59)) == set(keys[:3])
    assert store.seen_webhooks(keys[:3], NOW + MINUTE) == set()
    assert store.first_sighting("hubspot:event-7", NOW, MINUTE) is False


def test_a_key_first_sighted_is_seen_and_remembering_it_again_extends_it(
    store: StateStore,
) -> None:
    store.first_sighting("hubspot:event-1", NOW, MINUTE)

    assert store.seen_webhooks(["hubspot:event-1"], NOW) == {"hubspot:event-1"}

    store.remember_webhooks(["hubspot:event-1", "hubspot:event-1"], NOW + MINUTE / 2, MINUTE)
    assert store.seen_webhooks(["hubspot:event-1"], NOW + MINUTE) == {"hubspot:event-1"}


# Run leases


def test_only_one_holder_gets_a_lease(store: StateStore) -> None:
    assert store.acquire_lease("incremental", "worker-a", NOW, MINUTE) is True
    assert store.acquire_lease("incremental", "worker-b", NOW + timedelta(seconds=30), MINUTE) is (
        False
    )
    assert store.acquire_lease("full", "worker-b", NOW, MINUTE) is True


def test_the_holder_may_acquire_its_own_lease_again(store: StateStore) -> None:
    store.acquire_lease("incremental", "worker-a", NOW, MINUTE)

    assert store.acquire_lease("incremental", "worker-a", NOW + timedelta(seconds=30), MINUTE)
    assert not store.acquire_lease("incremental", "worker-b", NOW + timedelta(seconds=80), MINUTE)


def test_an_expired_lease_can_be_taken_over(store: StateStore) -> None:
    store.acquire_lease("incremental", "worker-a", NOW, MINUTE)

    assert store.acquire_lease("incremental", "worker-b", NOW + MINUTE, MINUTE) is True
    assert store.renew_lease("incremental", "worker-a", NOW + MINUTE, MINUTE) is False


def test_a_lease_says_who_holds_it_until_it_expires(store: StateStore) -> None:
    assert store.lease_holder("incremental", NOW) is None
    store.acquire_lease("incremental", "worker-a", NOW, MINUTE)

    assert store.lease_holder("incremental", NOW + timedelta(seconds=30)) == "worker-a"
    assert store.lease_holder("incremental", NOW + MINUTE) is None


def test_only_the_holder_can_renew_a_lease(store: StateStore) -> None:
    store.acquire_lease("incremental", "worker-a", NOW, MINUTE)

    assert store.renew_lease("incremental", "worker-b", NOW, MINUTE) is False
    assert store.renew_lease("incremental", "worker-a", NOW + timedelta(seconds=50), MINUTE)
    assert not store.acquire_lease("incremental", "worker-b", NOW + timedelta(seconds=90), MINUTE)


def test_a_lease_that_expired_cannot_be_renewed(store: StateStore) -> None:
    store.acquire_lease("incremental", "worker-a", NOW, MINUTE)

    assert store.renew_lease("incremental", "worker-a", NOW + 2 * MINUTE, MINUTE) is False


def test_a_lease_never_taken_cannot_be_renewed(store: StateStore) -> None:
    assert store.renew_lease("incremental", "worker-a", NOW, MINUTE) is False


def test_a_released_lease_is_free_and_only_its_holder_can_release_it(store: StateStore) -> None:
    store.acquire_lease("incremental", "worker-a", NOW, MINUTE)

    store.release_lease("incremental", "worker-b")
    assert store.acquire_lease("incremental", "worker-b", NOW, MINUTE) is False

    store.release_lease("incremental", "worker-a")
    assert store.acquire_lease("incremental", "worker-b", NOW, MINUTE) is True


# Audit log


def test_the_audit_log_lists_a_leads_changes_newest_first(store: StateStore) -> None:
    oldest = audit_entry(minutes=0, after=20)
    middle = audit_entry(minutes=5, after=30, field="leadq_grade", before="C")
    newest = audit_entry(minutes=10, after="ana", field="owner", actor="rule:emea")
    store.append_audit([middle, newest, oldest])
    store.append_audit([audit_entry(lead_id="L2")])

    assert store.audit_for("L1") == [newest, middle, oldest]


def test_audit_entries_come_back_exactly(store: StateStore) -> None:
    entries = [
        audit_entry(field="score", before=None, after=42.0),
        audit_entry(field="qualified", before=False, after=True),
        audit_entry(field="ratio", before=0.1, after=12),
        audit_entry(field="stage", before="lead", after="marketingqualifiedlead", minutes=1),
    ]
    store.append_audit(entries)

    read = store.audit_for("L1")

    assert sorted(read, key=lambda entry: (entry.at, entry.field)) == sorted(
        entries, key=lambda entry: (entry.at, entry.field)
    )
    assert {(entry.field, type(entry.before), type(entry.after)) for entry in read} == {
        (entry.field, type(entry.before), type(entry.after)) for entry in entries
    }


def test_the_audit_log_returns_at_most_the_limit(store: StateStore) -> None:
    store.append_audit([audit_entry(minutes=minute) for minute in range(60)])

    newest_five = store.audit_for("L1", limit=5)

    assert [entry.at for entry in newest_five] == [
        NOW + timedelta(minutes=minute) for minute in (59, 58, 57, 56, 55)
    ]
    assert len(store.audit_for("L1", limit=100)) == 60


def test_a_retried_append_stores_each_entry_once(store: StateStore) -> None:
    entries = [audit_entry(minutes=0), audit_entry(minutes=1)]
    store.append_audit(entries)
    store.append_audit(entries)

    assert len(store.audit_for("L1")) == 2


def test_a_lead_without_changes_has_an_empty_audit_log(store: StateStore) -> None:
    assert store.audit_for("L1") == []


def test_the_audit_keeps_one_row_per_lead_per_run(store: StateStore) -> None:
    fields = ("leadq_score", "leadq_grade", "leadq_reasons", "lifecyclestage")
    first_run = [audit_entry(lead, 0, field=name) for lead in ("L1", "L2") for name in fields]
    second_run = [audit_entry("L1", 15, run_id="run-2", field=name) for name in fields]
    store.append_audit(first_run + second_run)
    store.append_audit([audit_entry("L2", field="hubspot_owner_id", before=None, after="o1")])

    assert audit_rows_of(store) == {"L1": 2, "L2": 1}
    assert len(store.audit_for("L1")) == 8
    assert {entry.field for entry in store.audit_for("L2")} == {*fields, "hubspot_owner_id"}


def test_entries_of_one_row_keep_their_own_attributes(store: StateStore) -> None:
    entries = [
        audit_entry(field="leadq_score", keep_until=NOW + timedelta(days=30)),
        audit_entry(field="owner", actor="rule:emea", model_version="m2", reasons=""),
    ]
    store.append_audit(entries)

    assert store.audit_for("L1") == entries[::-1]


def test_pruning_removes_the_audit_rows_past_their_retention(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    kept_for_a_day = audit_entry("L1", 0, keep_until=NOW + timedelta(days=1))
    kept_for_a_year = audit_entry("L1", 5, run_id="run-2", keep_until=NOW + timedelta(days=365))
    kept_for_good = audit_entry("L2", 0)
    store.append_audit([kept_for_a_day, kept_for_a_year, kept_for_good])

    assert store.prune_audit(NOW + timedelta(hours=23)) == 0
    assert store.prune_audit(NOW + timedelta(days=2)) == 1

    assert store.audit_for("L1") == [kept_for_a_year]
    assert store.audit_for("L2") == [kept_for_good]
    store.close()


def test_dynamodb_audit_rows_carry_the_ttl_of_their_retention(moto_endpoint: str) -> None:
    url = new_dynamodb_url(moto_endpoint)
    store = open_state_store(url)
    keep_until = NOW + timedelta(days=30, microseconds=250)
    store.append_audit([audit_entry("L1", keep_until=keep_until), audit_entry("L2")])

    items = {item["lead_id"]["S"]: item for item in _audit_items(url)}

    assert items["L1"]["expires_at"] == {"N": str(math.ceil(keep_until.timestamp()))}
    assert "expires_at" not in items["L2"]
    assert store.prune_audit(NOW + timedelta(days=31)) == 0  # the TTL deletes, in its own time
    assert store.audit_for("L1")[0].keep_until == keep_until
    store.close()


def audit_rows_of(store: StateStore) -> dict[str, int]:
    """How many rows (items) each lead's audit takes in the backend."""
    if isinstance(store, SqliteStateStore):
        return stored_audit_rows(store.path)
    assert isinstance(store, DynamoDBStateStore)
    return dict(Counter(item["lead_id"]["S"] for item in _audit_items_of(store)))


def stored_audit_rows(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT lead_id, count(*) FROM audit_rows GROUP BY lead_id")
        counted = dict(rows.fetchall())
    connection.close()
    return counted


def _audit_items(url: str) -> list[dict[str, Any]]:
    store = open_state_store(url)
    assert isinstance(store, DynamoDBStateStore)
    try:
        return _audit_items_of(store)
    finally:
        store.close()


def _audit_items_of(store: DynamoDBStateStore) -> list[dict[str, Any]]:
    scanned = store.client.scan(TableName=store.table_name)["Items"]
    return [item for item in scanned if item["pk"]["S"].startswith("AUDIT#")]


# Retry set: leads whose write failed for good


def test_a_new_store_has_nobody_waiting_for_a_retry(store: StateStore) -> None:
    assert store.failed_writes("hubspot") == []


def test_a_failed_write_puts_the_lead_in_the_retry_set_with_its_error(store: StateStore) -> None:
    store.record_failed_writes("hubspot", {"L1": "CONFLICT: locked"}, "run-1", NOW)

    assert store.failed_writes("hubspot") == [
        FailedWrite(crm="hubspot", lead_id="L1", attempts=1, first_failed_at=NOW,
                    last_failed_at=NOW, error="CONFLICT: locked", run_id="run-1")]


def test_failing_again_counts_an_attempt_more_and_keeps_the_first_failure(
    store: StateStore,
) -> None:
    store.record_failed_writes("hubspot", {"L1": "locked", "L2": "locked"}, "run-1", NOW)
    store.record_failed_writes("hubspot", {"L1": "bad value"}, "run-2", NOW + MINUTE)
    store.record_failed_writes("hubspot", {"L1": "still bad"}, "run-3", NOW + 2 * MINUTE)

    first, second = store.failed_writes("hubspot")

    assert (first.lead_id, first.attempts, first.first_failed_at, first.last_failed_at) == (
        "L1", 3, NOW, NOW + 2 * MINUTE)
    assert (first.error, first.run_id) == ("still bad", "run-3")
    assert (second.lead_id, second.attempts, second.last_failed_at) == ("L2", 1, NOW)


def test_a_failure_no_later_than_the_last_is_the_same_attempt_made_by_another_run(
    store: StateStore,
) -> None:
    store.record_failed_writes("hubspot", {"L1": "locked"}, "run-1", NOW)
    store.record_failed_writes("hubspot", {"L1": "locked"}, "run-2", NOW + MINUTE)
    store.record_failed_writes("hubspot", {"L1": "bad value"}, "run-3", NOW + MINUTE)
    store.record_failed_writes("hubspot", {"L1": "bad value"}, "run-4", NOW)

    (failed,) = store.failed_writes("hubspot")
    assert (failed.attempts, failed.last_failed_at, failed.error) == (2, NOW + MINUTE, "bad value")


def test_the_retry_set_lists_the_earliest_first_failure_first(store: StateStore) -> None:
    store.record_failed_writes("hubspot", {"L3": "x"}, "run-2", NOW + MINUTE)
    store.record_failed_writes("hubspot", {"L2": "x", "L1": "x"}, "run-1", NOW)
    store.record_failed_writes("hubspot", {"L2": "x"}, "run-3", NOW + 2 * MINUTE)

    assert [failed.lead_id for failed in store.failed_writes("hubspot")] == ["L1", "L2", "L3"]


def test_the_retry_set_is_kept_per_crm(store: StateStore) -> None:
    store.record_failed_writes("hubspot", {"L1": "locked"}, "run-1", NOW)
    store.record_failed_writes("salesforce", {"L1": "UNABLE_TO_LOCK_ROW"}, "run-1", NOW)
    store.clear_failed_writes("salesforce", ["L1"])

    assert [failed.error for failed in store.failed_writes("hubspot")] == ["locked"]
    assert store.failed_writes("salesforce") == []


def test_cleared_leads_leave_the_retry_set_and_the_others_stay(store: StateStore) -> None:
    store.record_failed_writes(
        "hubspot", {f"L{number:03}": "locked" for number in range(130)}, "run-1", NOW)

    store.clear_failed_writes("hubspot", [f"L{number:03}" for number in range(2, 130)] + ["L999"])
    store.clear_failed_writes("hubspot", ["L005"])

    assert [failed.lead_id for failed in store.failed_writes("hubspot")] == ["L000", "L001"]


def test_a_cleared_lead_that_fails_again_starts_at_one_attempt(store: StateStore) -> None:
    store.record_failed_writes("hubspot", {"L1": "locked"}, "run-1", NOW)
    store.record_failed_writes("hubspot", {"L1": "locked"}, "run-2", NOW + MINUTE)
    store.clear_failed_writes("hubspot", ["L1"])

    store.record_failed_writes("hubspot", {"L1": "locked"}, "run-3", NOW + 2 * MINUTE)

    (failed,) = store.failed_writes("hubspot")
    assert (failed.attempts, failed.first_failed_at) == (1, NOW + 2 * MINUTE)


# Write-ahead audit: intended writes


def intended(write_id: str = "run-1-1", crm: str = "hubspot", minutes: int = 0,
             entries: tuple[AuditEntry, ...] | None = None) -> IntendedWrites:
    at = NOW + timedelta(minutes=minutes)
    return IntendedWrites(id=write_id, crm=crm, recorded_at=at, writer="host:42:run-1",
                          entries=entries or (
        audit_entry("L1", minutes, crm=crm), audit_entry("L2", minutes, crm=crm),
        audit_entry("L2", minutes, crm=crm, field="leadq_grade", before=None, after="A")))


def test_an_intended_write_stays_unsettled_until_it_is_settled(store: StateStore) -> None:
    write = intended()
    store.record_intended_writes(write)

    assert store.unsettled_intended_writes("hubspot") == [write]
    assert store.audit_for("L1") == []

    store.settle_intended_writes(write, write.entries)
    assert store.unsettled_intended_writes("hubspot") == []


def test_settling_audits_the_applied_entries_only(store: StateStore) -> None:
    write = intended()
    store.record_intended_writes(write)

    store.settle_intended_writes(write, write.entries[1:])

    assert store.audit_for("L1") == []
    assert sorted(entry.field for entry in store.audit_for("L2")) == ["leadq_grade", "leadq_score"]


def test_settling_again_or_settling_a_write_never_recorded_audits_each_entry_once(
    store: StateStore,
) -> None:
    write = intended()
    store.record_intended_writes(write)
    store.settle_intended_writes(write, write.entries)
    store.settle_intended_writes(write, write.entries)
    store.settle_intended_writes(intended("run-2-1", minutes=5), [audit_entry("L3", 5)])

    assert len(store.audit_for("L2")) == 2
    assert store.audit_for("L3") == [audit_entry("L3", 5)]
    assert store.unsettled_intended_writes("hubspot") == []


def test_recording_an_intended_write_again_keeps_it_once(store: StateStore) -> None:
    store.record_intended_writes(intended())
    store.record_intended_writes(intended())

    assert store.unsettled_intended_writes("hubspot") == [intended()]


def test_unsettled_intended_writes_come_back_exactly_earliest_first_per_crm(
    store: StateStore,
) -> None:
    typed = (audit_entry(field="ratio", before=0.1, after=3.0),
             audit_entry(field="qualified", before=None, after=True))
    later, earlier = intended("run-2-1", minutes=5), intended("run-1-1", entries=typed)
    store.record_intended_writes(later)
    store.record_intended_writes(earlier)
    store.record_intended_writes(intended("run-1-1", crm="salesforce"))

    read = store.unsettled_intended_writes("hubspot")

    assert read == [earlier, later]
    assert [type(entry.after) for entry in read[0].entries] == [float, bool]
    assert store.unsettled_intended_writes("salesforce") == [intended("run-1-1", crm="salesforce")]


def test_an_intended_write_larger_than_a_dynamodb_item_comes_back_whole(
    store: StateStore,
) -> None:
    long_reasons = "Demo request +25 · " * 600  # 11 kB a lead: 100 leads are about a megabyte
    write = intended(entries=tuple(audit_entry(f"L{number:03}", reasons=long_reasons)
                                   for number in range(100)))
    store.record_intended_writes(write)

    assert store.unsettled_intended_writes("hubspot") == [write]

    store.settle_intended_writes(write, write.entries)
    assert store.unsettled_intended_writes("hubspot") == []
    assert store.audit_for("L099") == [write.entries[-1]]


# Work queued by leadq serve


def queued(work_id: str, seconds: int = 0, payload: str = '{"ids": ["1"]}') -> QueuedWork:
    return QueuedWork(id=work_id, queued_at=NOW + timedelta(seconds=seconds), payload=payload)


def test_nothing_is_queued_in_a_new_store(store: StateStore) -> None:
    assert store.queued_work() == []


def test_queued_work_comes_back_oldest_first_and_exactly(store: StateStore) -> None:
    items = [queued("b", 2, '{"kind": "rescore", "ids": ["501", "502"]}'), queued("c", 1),
             queued("a", 2)]
    store.enqueue_work(items)

    assert store.queued_work() == [items[1], items[2], items[0]]
    assert store.queued_work(limit=2) == [items[1], items[2]]


def test_queued_work_survives_reopening_the_store(store_url: str) -> None:
    first = open_state_store(store_url)
    first.enqueue_work([queued("a")])
    first.close()

    reopened = open_state_store(store_url)
    assert reopened.queued_work() == [queued("a")]
    reopened.close()


def test_finished_work_leaves_the_queue_and_finishing_it_again_is_harmless(
    store: StateStore,
) -> None:
    items = [queued(f"w{number:03}", number) for number in range(40)]
    store.enqueue_work(items)

    store.finish_work(items[:30])
    store.finish_work(items[:2])

    assert store.queued_work() == items[30:]


def test_queueing_the_same_work_twice_keeps_it_once(store: StateStore) -> None:
    store.enqueue_work([queued("a"), queued("a")])
    store.enqueue_work([queued("a")])

    assert store.queued_work() == [queued("a")]


def test_claimed_work_is_handed_to_one_owner_until_the_claim_lapses(store: StateStore) -> None:
    items = [queued(f"w{number}", number) for number in range(4)]
    store.enqueue_work(items)

    first = store.claim_work("serve-a", NOW, MINUTE, limit=3)
    second = store.claim_work("serve-b", NOW + timedelta(seconds=30), MINUTE)
    after_the_lapse = store.claim_work("serve-b", NOW + 2 * MINUTE, MINUTE)

    assert first == items[:3]
    assert second == items[3:]
    assert after_the_lapse == items
    assert store.queued_work() == items  # claimed work stays queued until finished


def test_work_queued_with_a_claim_is_its_owners_until_the_claim_lapses(
    store: StateStore,
) -> None:
    store.enqueue_work([queued("a")], WorkClaim(owner="serve-a", expires=NOW + MINUTE))

    assert store.claim_work("serve-b", NOW, MINUTE) == []
    assert store.claim_work("serve-a", NOW, MINUTE, ids=["a"]) == [queued("a")]
    assert store.claim_work("serve-b", NOW + 3 * MINUTE, MINUTE) == [queued("a")]


def test_claiming_again_renews_the_owners_claim(store: StateStore) -> None:
    store.enqueue_work([queued("a")])
    store.claim_work("serve-a", NOW, MINUTE)

    renewed = store.claim_work("serve-a", NOW + timedelta(seconds=50), MINUTE, ids=["a"])

    assert renewed == [queued("a")]
    assert store.claim_work("serve-b", NOW + timedelta(seconds=90), MINUTE) == []


def test_claiming_new_work_leaves_out_what_the_owner_already_holds(store: StateStore) -> None:
    store.enqueue_work([queued("a"), queued("b", 1)])
    store.claim_work("serve-a", NOW, MINUTE, limit=1)

    assert store.claim_work("serve-a", NOW, MINUTE) == [queued("b", 1)]


def test_claiming_by_id_takes_only_the_named_work(store: StateStore) -> None:
    items = [queued(f"w{number}", number) for number in range(3)]
    store.enqueue_work(items)

    assert store.claim_work("serve-a", NOW, MINUTE, ids=["w2", "w0", "gone"]) == [
        items[0], items[2]]
    assert store.claim_work("serve-b", NOW, MINUTE, ids=["w0", "w1"]) == [items[1]]


def test_released_work_can_be_claimed_by_another_owner_at_once(store: StateStore) -> None:
    store.enqueue_work([queued("a"), queued("b", 1)])
    store.claim_work("serve-a", NOW, MINUTE)

    store.release_work("serve-b", [queued("b", 1)])  # not b's to give back
    store.release_work("serve-a", [queued("a")])

    assert store.claim_work("serve-b", NOW, MINUTE) == [queued("a")]


def test_finished_work_cannot_be_claimed(store: StateStore) -> None:
    store.enqueue_work([queued("a"), queued("b", 1)])
    claimed = store.claim_work("serve-a", NOW, MINUTE)
    store.finish_work(claimed[:1])

    assert store.claim_work("serve-b", NOW + 2 * MINUTE, MINUTE) == [queued("b", 1)]


# Runs


def run_record(run_id: str, minutes: int, **values: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "run_id": run_id,
        "kind": "incremental",
        "started_at": NOW + timedelta(minutes=minutes),
        "status": "running",
    }
    return RunRecord(**(fields | values))


def test_recent_runs_lists_the_latest_started_first_up_to_the_limit(store: StateStore) -> None:
    for minutes in (0, 30, 15, 45):
        store.record_run(run_record(f"run-{minutes}", minutes))

    assert [run.run_id for run in store.recent_runs(limit=3)] == ["run-45", "run-30", "run-15"]


def test_recording_a_finished_run_replaces_its_running_record(store: StateStore) -> None:
    store.record_run(run_record("run-1", 0))
    finished = run_record(
        "run-1",
        0,
        kind="full",
        status="succeeded",
        finished_at=NOW + MINUTE,
        counts={"pulled": 1200, "written": 37, "failed": 0},
    )
    store.record_run(finished)

    assert store.recent_runs() == [finished]


# Opening stores from URLs


def test_a_relative_sqlite_url_names_a_file_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    store = open_state_store("sqlite:///state/leadq.db")
    store.advance_cursor("leads", NOW)
    store.close()

    assert (tmp_path / "state" / "leadq.db").is_file()


@pytest.mark.parametrize(
    "url",
    [
        "postgres://localhost/leadq",
        "sqlite://",
        "sqlite://host/state.db",
        "dynamodb://",
        "dynamodb://table?regoin=eu-west-1",
    ],
)
def test_a_state_url_that_cannot_be_opened_says_what_to_write(url: str) -> None:
    with pytest.raises(ValueError, match=r"state URL .*(sqlite:///|dynamodb://|region)"):
        open_state_store(url)


# SQLite only: the file itself


def test_a_state_file_written_by_a_newer_leadq_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStateStore(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    connection.close()

    with pytest.raises(StateStoreError, match="schema 99"):
        SqliteStateStore(path)


def test_a_state_file_of_schema_1_is_upgraded_in_place_and_keeps_its_state(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    older = SqliteStateStore(path)
    older.advance_cursor("hubspot:leads", NOW)
    older.close()
    with sqlite3.connect(path) as connection:  # the file as schema 1 left it
        _with_audit_of_schema_1(connection, [audit_entry("L1")])
        connection.execute("DROP TABLE retry_set")
        connection.execute("DROP TABLE intended_writes")
        connection.execute("DROP TABLE documents")
        connection.execute("DROP TABLE ledger")
        connection.execute("ALTER TABLE work_queue DROP COLUMN claimed_by")
        connection.execute("ALTER TABLE work_queue DROP COLUMN claim_expires")
        connection.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    connection.close()

    upgraded = SqliteStateStore(path)
    upgraded.record_failed_writes("hubspot", {"L2": "locked"}, "run-1", NOW)
    upgraded.record_intended_writes(intended())
    upgraded.record_ledger("hubspot", {"L1": b"packed"})
    upgraded.enqueue_work([queued("a")])

    assert upgraded.get_cursor("hubspot:leads") == NOW
    assert upgraded.audit_for("L1") == [audit_entry("L1")]
    assert [failed.lead_id for failed in upgraded.failed_writes("hubspot")] == ["L2"]
    assert upgraded.unsettled_intended_writes("hubspot") == [intended()]
    assert upgraded.claim_work("serve-a", NOW, MINUTE) == [queued("a")]
    upgraded.close()
    with sqlite3.connect(path) as connection:
        (version,) = connection.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    connection.close()
    assert int(version) == SCHEMA_VERSION == 6


def _with_audit_of_schema_1(connection: sqlite3.Connection, entries: list[AuditEntry]) -> None:
    """The audit as schemas 1 to 4 kept it: a row per field, the entry as JSON."""
    connection.execute("DROP TABLE audit_rows")
    connection.execute(
        "CREATE TABLE audit (lead_id TEXT NOT NULL, entry_key TEXT NOT NULL, entry TEXT NOT NULL,"
        " PRIMARY KEY (lead_id, entry_key))"
    )
    connection.executemany(
        "INSERT INTO audit (lead_id, entry_key, entry) VALUES (?, ?, ?)",
        [
            (entry.lead_id, f"{iso_utc(entry.at)}#{entry.run_id}#{entry.field}",
             entry.model_dump_json())
            for entry in entries
        ],
    )


def test_an_audit_of_a_row_per_field_is_upgraded_to_a_row_per_lead_and_run(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    SqliteStateStore(path).close()
    entries = [
        audit_entry("L1", minutes, run_id=f"run-{minutes}", field=name)
        for minutes in (0, 15)
        for name in ("leadq_score", "leadq_grade", "leadq_reasons")
    ] + [audit_entry("L2")]
    with sqlite3.connect(path) as connection:
        _with_audit_of_schema_1(connection, entries)
        connection.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    connection.close()

    upgraded = SqliteStateStore(path)
    assert upgraded.audit_for("L1") == sorted(
        entries[:6], key=lambda entry: (entry.at, entry.field), reverse=True
    )
    assert upgraded.audit_for("L2") == [audit_entry("L2")]
    upgraded.close()
    assert stored_audit_rows(path) == {"L1": 2, "L2": 1}


def test_values_written_as_json_text_before_schema_6_are_packed_and_read_back_the_same(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    values = {"leadq_score": 42, "leadq_grade": "B", "leadq_fit": 0.5, "leadq_label": None}
    SqliteStateStore(path).close()
    with sqlite3.connect(path) as connection:  # the file as schema 5 left it
        connection.executemany(
            "INSERT INTO written (crm, lead_id, field_values, run_id, written_at)"
            " VALUES ('hubspot', ?, ?, 'run-1', '2026-11-01T00:00:00+00:00')",
            [(f"L{n}", json.dumps(values)) for n in range(3)],
        )
        connection.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    connection.close()

    upgraded = SqliteStateStore(path)
    assert upgraded.last_written("hubspot", ["L0", "L2"]) == {"L0": values, "L2": values}
    upgraded.close()
    with sqlite3.connect(path) as connection:
        kinds = connection.execute("SELECT DISTINCT typeof(field_values) FROM written").fetchall()
    connection.close()
    assert kinds == [("blob",)]


def test_the_sqlite_file_runs_in_wal_mode(tmp_path: Path) -> None:
    SqliteStateStore(tmp_path / "state.db").close()

    with sqlite3.connect(tmp_path / "state.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    connection.close()


def test_expired_webhook_keys_are_purged_from_the_sqlite_file(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    for number in range(300):
        store.first_sighting(f"old-{number}", NOW, MINUTE)
    later = NOW + timedelta(hours=1)
    for number in range(300):
        store.first_sighting(f"new-{number}", later, MINUTE)
    store.close()

    with sqlite3.connect(tmp_path / "state.db") as connection:
        (old_keys,) = connection.execute(
            "SELECT count(*) FROM dedupe WHERE key LIKE 'old-%'"
        ).fetchone()
    connection.close()
    assert old_keys == 0


# DynamoDB only: the table and the batch edges


def test_the_dynamodb_table_is_on_demand_with_expiry_on_expires_at(moto_endpoint: str) -> None:
    client = dynamodb_client(REGION, moto_endpoint)
    create_table(client, "leadq-state-shape")

    table = client.describe_table(TableName="leadq-state-shape")["Table"]
    ttl = client.describe_time_to_live(TableName="leadq-state-shape")["TimeToLiveDescription"]

    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {key["AttributeName"]: key["KeyType"] for key in table["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


class ThrottlingClient:
    """A DynamoDB client that, like a throttled table, leaves half of each first batch unprocessed."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.batch_calls = 0
        self.throttled: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        self.batch_calls += 1
        ((table, request),) = RequestItems.items()
        kept, left = self._split(request["Keys"], "get")
        response = self.client.batch_get_item(RequestItems={table: {**request, "Keys": kept}})
        if left:
            response["UnprocessedKeys"] = {table: {**request, "Keys": left}}
        return response

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        self.batch_calls += 1
        ((table, requests),) = RequestItems.items()
        kept, left = self._split(requests, "write")
        response = self.client.batch_write_item(RequestItems={table: kept})
        if left:
            response["UnprocessedItems"] = {table: left}
        return response

    def _split(self, requests: list[Any], kind: str) -> tuple[list[Any], list[Any]]:
        if kind in self.throttled or len(requests) < 2:
            return requests, []
        self.throttled.add(kind)
        half = len(requests) // 2
        return requests[:half], requests[half:]


def test_dynamodb_retries_what_a_throttled_batch_left_unprocessed(moto_endpoint: str) -> None:
    url = new_dynamodb_url(moto_endpoint)
    table = url.removeprefix("dynamodb://").split("?")[0]
    client = ThrottlingClient(dynamodb_client(REGION, moto_endpoint))
    pauses: list[float] = []
    store = DynamoDBStateStore(client, table, sleep=pauses.append)  # type: ignore[arg-type]
    values = {f"L{number}": {"score": number} for number in range(30)}

    store.record_written("hubspot", values, "run-1", NOW)

    assert store.last_written("hubspot", list(values)) == values
    assert client.throttled == {"get", "write"}
    assert len(pauses) == 2
