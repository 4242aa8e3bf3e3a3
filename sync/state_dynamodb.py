"""The deployed state store: one DynamoDB table, on-demand billing, single-table design.

Key schema (both keys strings; `serverless.yml` must declare the same table):

    pk                      sk                                what
    CURSOR#<name>           CURSOR                            cursor (ISO time)
    DOC#<name>              DOC                               body (a named document's text)
    LEDGER#<crm>            <lead id>                         packed (binary: the lead's activity)
    LEAD#<crm>#<lead id>    WRITTEN                           crm, lead_id, field_values (map),
                                                              floats, numbers_as_text, run_id,
                                                              written_at
    POOL#<pool>             VERSION                           version (number)
    POOL#<pool>             OWNER#<owner id>                  assigned (number, all time)
    POOL#<pool>             DAY#<yyyy-mm-dd>#OWNER#<owner id> assigned (number), expires_at
    ASSIGN#<lead id>        ASSIGN                            pool, owner_id, day
    DEDUPE#<key>            DEDUPE                            expires_at
    QUEUE                   <ISO queued_at>#<work id>         id, queued_at, payload, claimed_by,
                                                              claim_expires (leadq serve)
    LEASE#<name>            LEASE                             holder, expires_at
    AUDIT#<lead id>         <ISO time>#<run id>               a lead's changes in one run: at,
                                                              run_id, crm, lead_id,
                                                              model_version, actor, fields
                                                              (binary: zlib JSON, one entry per
                                                              field), keep_until, expires_at
                                                              (items before schema 5: one per
                                                              field, sk …#<field>)
    RUN                     <ISO started_at>#<run id>         the run's attributes
    RETRY#<crm>             <lead id>                         attempts, first_failed_at,
                                                              last_failed_at, error, run_id
    INTENDED#<crm>          <ISO recorded_at>#<id>#<part>     intent_key, id, recorded_at, writer,
                                                              entries (JSON)

`expires_at` (epoch seconds) is the table's TTL attribute: DynamoDB deletes expired dedupe keys,
leases, old daily counters and audit rows past their retention by itself, though only
eventually, so every condition still checks `expires_at` against `now` rather than trusting an
item's absence.

Atomicity comes from condition expressions and `TransactWriteItems`; never from reading first.
Numbers travel as DynamoDB numbers; floats go out as their shortest exact decimal (what
`Decimal(repr(x))` gives). Since DynamoDB trims `3.0` to `3`, the names of float-valued
attributes are kept beside them (`floats`); the rare number no DynamoDB number can hold (5e-324,
a 40-digit integer) goes as text, named in `numbers_as_text`. So every value comes back exactly,
type included. An intended write's entries go as JSON, split into parts of at most
`INTENDED_PART_BYTES` so that a batch with long reasons stays within DynamoDB's item size. Batches
respect DynamoDB's limits (100 keys per BatchGetItem, 25 items per BatchWriteItem) and retry the
unprocessed part; throttling is retried by botocore's standard retry mode.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError, NoRegionError

from sync.audit_rows import AuditRow, audit_rows, unpacked_fields
from sync.state import (
    AssignmentOutcome,
    AuditEntry,
    FailedWrite,
    FieldValues,
    IntendedWrites,
    QueuedWork,
    RoutingSnapshot,
    RunRecord,
    Scalar,
    StateStoreError,
    StateUnusableError,
    WorkClaim,
    chunked,
    epoch_seconds,
    expiry_second,
    failed_write_order,
    from_iso,
    intended_writes_key,
    iso_utc,
    require_aware,
    require_positive,
    validated_values,
)

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
DAILY_COUNTER_DAYS_KEPT = 35
INTENDED_PART_BYTES = 300_000  # DynamoDB items hold at most 400 KB
_UNPROCESSED_ATTEMPTS = 10
_CONDITION_FAILED = "ConditionalCheckFailedException"

RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5, read_timeout=10
)


_session_lock = threading.Lock()
_sessions: list[boto3.session.Session] = []


def dynamodb_client(region: str | None = None, endpoint_url: str | None = None) -> BaseClient:
    """A DynamoDB client that retries throttling and transient errors (standard mode)."""
    # One session for the process: loading the service model per session costs ~80 ms, and
    # boto3 sessions are not safe to create clients from on several threads at once.
    with _session_lock:
        if not _sessions:
            _sessions.append(boto3.session.Session())
        return _sessions[0].client(
            "dynamodb", region_name=region, endpoint_url=endpoint_url, config=RETRY_CONFIG
        )


def create_table(client: BaseClient, table_name: str) -> None:
    """Create the state table (on demand, pk/sk strings, TTL on `expires_at`) and wait for it."""
    client.create_table(
        TableName=table_name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )


class DynamoDBStateStore:
    def __init__(
        self, client: BaseClient, table_name: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.client = client
        self.table_name = table_name
        self._sleep = sleep

    @classmethod
    def connect(
        cls, table_name: str, region: str | None = None, endpoint_url: str | None = None
    ) -> DynamoDBStateStore:
        try:
            client = dynamodb_client(region, endpoint_url)
        except NoRegionError:
            raise StateUnusableError(
                f"the DynamoDB state table {table_name!r} needs a region: add ?region=eu-west-1 "
                "to LEADQ_STATE_URL, or set AWS_REGION"
            ) from None
        if _sessions[0].get_credentials() is None:  # resolved once per process, no request
            raise StateUnusableError(
                f"the DynamoDB state table {table_name!r} needs AWS credentials: set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with a role"
            )
        return cls(client, table_name)

    def close(self) -> None:
        self.client.close()

    # Cursors

    def get_cursor(self, name: str) -> datetime | None:
        item = self._get(f"CURSOR#{name}", "CURSOR")
        return from_iso(item["cursor"]["S"]) if item else None

    def advance_cursor(self, name: str, value: datetime) -> datetime:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_key(f"CURSOR#{name}", "CURSOR"),
                UpdateExpression="SET #cursor = :value",
                ConditionExpression="attribute_not_exists(pk) OR #cursor < :value",
                ExpressionAttributeNames={"#cursor": "cursor"},
                ExpressionAttributeValues={":value": {"S": iso_utc(value)}},
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            stored = self.get_cursor(name)
            assert stored is not None  # the condition only fails against a stored cursor
            return stored
        return from_iso(iso_utc(value))

    # Named documents

    def read_document(self, name: str) -> str | None:
        item = self._get(f"DOC#{name}", "DOC")
        return item["body"]["S"] if item else None

    def write_document(self, name: str, text: str) -> None:
        item = {**_key(f"DOC#{name}", "DOC"), "body": {"S": text}}
        self.client.put_item(TableName=self.table_name, Item=item)

    # Activity ledger

    def ledger_of(self, crm: str, lead_ids: Iterable[str]) -> dict[str, bytes]:
        items = self._batch_get([_key(f"LEDGER#{crm}", lead_id) for lead_id in lead_ids])
        return {item["sk"]["S"]: bytes(item["packed"]["B"]) for item in items}

    def record_ledger(self, crm: str, packed: Mapping[str, bytes]) -> None:
        self._batch_write(
            [
                {"PutRequest": {"Item": {**_key(f"LEDGER#{crm}", lead_id), "packed": {"B": blob}}}}
                if blob
                else {"DeleteRequest": {"Key": _key(f"LEDGER#{crm}", lead_id)}}
                for lead_id, blob in packed.items()
            ]
        )

    def clear_ledger(self, crm: str) -> None:
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"LEDGER#{crm}"}},
            ProjectionExpression="pk, sk",
        )
        self._batch_write(
            [{"DeleteRequest": {"Key": _key(item["pk"]["S"], item["sk"]["S"])}} for item in items]
        )

    # Values leadq last wrote

    def last_written(self, crm: str, lead_ids: Iterable[str]) -> dict[str, FieldValues]:
        items = self._batch_get([_key(f"LEAD#{crm}#{lead_id}", "WRITTEN") for lead_id in lead_ids])
        return {
            item["lead_id"]["S"]: _decode_scalars(
                item["field_values"]["M"], _NumberKinds.read(item)
            )
            for item in items
        }

    def record_written(
        self, crm: str, values: Mapping[str, Mapping[str, Scalar]], run_id: str, at: datetime
    ) -> None:
        checked = validated_values(values)
        written_at = iso_utc(at)
        # Read, merge, write back: batched, but not atomic per lead. Two runs recording different
        # fields of one lead in the same instant may lose one field's record; the worst outcome
        # is one echo not recognised, which a rescore turns into no write.
        for chunk in chunked(list(checked), BATCH_GET_LIMIT):
            earlier = self.last_written(crm, chunk)
            self._batch_put(
                [
                    _written_item(
                        crm,
                        lead_id,
                        {**earlier.get(lead_id, {}), **checked[lead_id]},
                        run_id,
                        written_at,
                    )
                    for lead_id in chunk
                ]
            )

    def forget_leads(self, crm: str, lead_ids: Iterable[str]) -> None:
        self._batch_write(
            [
                {"DeleteRequest": {"Key": _key(f"LEAD#{crm}#{lead_id}", "WRITTEN")}}
                for lead_id in dict.fromkeys(lead_ids)
            ]
        )

    # Routing counters

    def routing_snapshot(self, pool: str, day: date) -> RoutingSnapshot:
        # The version is read first: counters read after it can only be newer, and then the
        # commit's version check refuses whatever was decided from them.
        version_item = self._get(f"POOL#{pool}", "VERSION")
        version = int(version_item["version"]["N"]) if version_item else 0
        return RoutingSnapshot(
            version=version,
            assigned_total=self._pool_counts(pool, "OWNER#"),
            assigned_today=self._pool_counts(pool, f"DAY#{day.isoformat()}#OWNER#"),
        )

    def commit_assignment(
        self, pool: str, lead_id: str, owner_id: str, day: date, expected_version: int
    ) -> AssignmentOutcome:
        try:
            self.client.transact_write_items(
                TransactItems=self._assignment_writes(
                    pool, lead_id, owner_id, day, expected_version
                )
            )
        except ClientError as error:
            if not _cancelled_by_a_race(error):
                raise
            # Cancelled by a condition or by a concurrent transaction on the same items: an
            # existing assignment wins; otherwise the pool moved and the caller decides again.
            existing = self.assignment_for(lead_id)
            if existing is not None:
                return AssignmentOutcome(status="already_assigned", owner_id=existing)
            return AssignmentOutcome(status="conflict")
        return AssignmentOutcome(status="assigned", owner_id=owner_id, version=expected_version + 1)

    def _assignment_writes(
        self, pool: str, lead_id: str, owner_id: str, day: date, expected_version: int
    ) -> list[dict[str, Any]]:
        pool_key = f"POOL#{pool}"
        day_text = day.isoformat()
        version_condition = (
            "attribute_not_exists(pk)" if expected_version == 0 else "#version = :expected"
        )
        version_values: Item = {":next": _number(expected_version + 1)}
        if expected_version != 0:
            version_values[":expected"] = _number(expected_version)
        counter_expiry = expiry_second(_midnight_utc(day), timedelta(days=DAILY_COUNTER_DAYS_KEPT))
        return [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {
                        **_key(f"ASSIGN#{lead_id}", "ASSIGN"),
                        "pool": {"S": pool},
                        "owner_id": {"S": owner_id},
                        "day": {"S": day_text},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": _key(pool_key, "VERSION"),
                    "UpdateExpression": "SET #version = :next",
                    "ConditionExpression": version_condition,
                    "ExpressionAttributeNames": {"#version": "version"},
                    "ExpressionAttributeValues": version_values,
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": _key(pool_key, f"OWNER#{owner_id}"),
                    "UpdateExpression": "ADD assigned :one SET owner_id = :owner",
                    "ExpressionAttributeValues": {":one": _number(1), ":owner": {"S": owner_id}},
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": _key(pool_key, f"DAY#{day_text}#OWNER#{owner_id}"),
                    "UpdateExpression": "ADD assigned :one SET owner_id = :owner, "
                    "expires_at = :expires",
                    "ExpressionAttributeValues": {
                        ":one": _number(1),
                        ":owner": {"S": owner_id},
                        ":expires": _number(counter_expiry),
                    },
                }
            },
        ]

    def assignment_for(self, lead_id: str) -> str | None:
        item = self._get(f"ASSIGN#{lead_id}", "ASSIGN")
        return item["owner_id"]["S"] if item else None

    def _pool_counts(self, pool: str, prefix: str) -> dict[str, int]:
        items = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": f"POOL#{pool}"}, ":prefix": {"S": prefix}},
        )
        return {item["owner_id"]["S"]: int(item["assigned"]["N"]) for item in items}

    # Webhook dedupe

    def first_sighting(self, key: str, now: datetime, ttl: timedelta) -> bool:
        return self._put_unless_live(
            {**_key(f"DEDUPE#{key}", "DEDUPE"), "expires_at": _number(expiry_second(now, ttl))},
            condition="attribute_not_exists(pk) OR expires_at <= :now",
            values={":now": _number(epoch_seconds(now))},
        )

    def seen_webhooks(self, keys: Iterable[str], now: datetime) -> set[str]:
        items = self._batch_get([_key(f"DEDUPE#{key}", "DEDUPE") for key in keys])
        now_seconds = epoch_seconds(now)
        return {
            item["pk"]["S"].removeprefix("DEDUPE#")
            for item in items
            if int(item["expires_at"]["N"]) > now_seconds
        }

    def remember_webhooks(self, keys: Iterable[str], now: datetime, ttl: timedelta) -> None:
        expires_at = _number(expiry_second(now, ttl))
        self._batch_put(
            [
                {**_key(f"DEDUPE#{key}", "DEDUPE"), "expires_at": expires_at}
                for key in dict.fromkeys(keys)
            ]
        )

    # Run leases

    def acquire_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        return self._put_unless_live(
            {
                **_key(f"LEASE#{name}", "LEASE"),
                "holder": {"S": holder},
                "expires_at": _number(expiry_second(now, ttl)),
            },
            condition="attribute_not_exists(pk) OR expires_at <= :now OR holder = :holder",
            values={":now": _number(epoch_seconds(now)), ":holder": {"S": holder}},
        )

    def renew_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_key(f"LEASE#{name}", "LEASE"),
                UpdateExpression="SET expires_at = :expires",
                ConditionExpression="holder = :holder AND expires_at > :now",
                ExpressionAttributeValues={
                    ":expires": _number(expiry_second(now, ttl)),
                    ":holder": {"S": holder},
                    ":now": _number(epoch_seconds(now)),
                },
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def lease_holder(self, name: str, now: datetime) -> str | None:
        item = self._get(f"LEASE#{name}", "LEASE")
        if not item or int(item["expires_at"]["N"]) <= epoch_seconds(now):
            return None
        return item["holder"]["S"]

    def release_lease(self, name: str, holder: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=_key(f"LEASE#{name}", "LEASE"),
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise

    def _put_unless_live(self, item: Item, condition: str, values: Item) -> bool:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    # Work queued by `leadq serve` (one partition: a single process's queue)

    def enqueue_work(self, items: Sequence[QueuedWork], claim: WorkClaim | None = None) -> None:
        unique = {_queue_key(item)["sk"]["S"]: item for item in items}
        claimed: Item = {} if claim is None else {
            "claimed_by": {"S": claim.owner},
            "claim_expires": _number(math.ceil(epoch_seconds(claim.expires))),
        }
        self._batch_put(
            [
                {
                    **_queue_key(item),
                    "id": {"S": item.id},
                    "queued_at": {"S": iso_utc(item.queued_at)},
                    "payload": {"S": item.payload},
                    **claimed,
                }
                for item in unique.values()
            ]
        )

    def queued_work(self, limit: int = 1000) -> list[QueuedWork]:
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": _QUEUE}},
            limit=require_positive(limit),
        )
        return [_queued_work(item) for item in items]

    def finish_work(self, items: Iterable[QueuedWork]) -> None:
        keys = {_queue_key(item)["sk"]["S"]: _queue_key(item) for item in items}
        self._batch_write([{"DeleteRequest": {"Key": key}} for key in keys.values()])

    def claim_work(
        self, owner: str, now: datetime, ttl: timedelta, limit: int = 100,
        ids: Iterable[str] | None = None,
    ) -> list[QueuedWork]:
        wanted = None if ids is None else set(ids)
        at = epoch_seconds(require_aware(now))
        candidates = [
            item for item in self._query(
                KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": _QUEUE}}
            )
            if (wanted is None or item["id"]["S"] in wanted)
            and _claimable(item, owner if wanted is not None else None, at)
        ]
        claimed: list[QueuedWork] = []
        for item in candidates:
            if len(claimed) >= require_positive(limit):
                break
            if self._claim(item, owner, at, expiry_second(now, ttl)):
                claimed.append(_queued_work(item))
        return claimed

    def release_work(self, owner: str, items: Iterable[QueuedWork]) -> None:
        for item in items:
            try:
                self.client.update_item(
                    TableName=self.table_name,
                    Key=_queue_key(item),
                    UpdateExpression="REMOVE claimed_by SET claim_expires = :zero",
                    ConditionExpression="claimed_by = :owner",
                    ExpressionAttributeValues={":owner": {"S": owner}, ":zero": _number(0)},
                )
            except ClientError as error:
                if not _condition_failed(error):
                    raise

    def _claim(self, item: Item, owner: str, at: float, until: int) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="SET claimed_by = :owner, claim_expires = :until",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(claimed_by)"
                " OR claimed_by = :owner OR claim_expires <= :now)",
                ExpressionAttributeValues={
                    ":owner": {"S": owner}, ":until": _number(until), ":now": _number(at)
                },
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    # Retry set (read, count, write back: batched, not atomic per lead; two runs failing one lead
    # in the same instant may count one attempt, which only delays giving up by a run)

    def record_failed_writes(
        self, crm: str, errors: Mapping[str, str], run_id: str, at: datetime
    ) -> None:
        keys = [_key(_retry_pk(crm), lead_id) for lead_id in errors]
        earlier = {failed.lead_id: failed for failed in map(_failed_write, self._batch_get(keys))}
        self._batch_put(
            [
                _failed_write_item(
                    _one_failure_more(earlier.get(lead_id), crm, lead_id, error, run_id, at)
                )
                for lead_id, error in errors.items()
            ]
        )

    def failed_writes(self, crm: str) -> list[FailedWrite]:
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": _retry_pk(crm)}},
        )
        return sorted((_failed_write(item) for item in items), key=failed_write_order)

    def clear_failed_writes(self, crm: str, lead_ids: Iterable[str]) -> None:
        self._batch_write(
            [
                {"DeleteRequest": {"Key": _key(_retry_pk(crm), lead_id)}}
                for lead_id in dict.fromkeys(lead_ids)
            ]
        )

    # Write-ahead audit

    def record_intended_writes(self, intended: IntendedWrites) -> None:
        self._batch_put(_intended_parts(intended))

    def settle_intended_writes(
        self, intended: IntendedWrites, applied: Sequence[AuditEntry]
    ) -> None:
        # The audit first: killed in between, the intended write stays and is settled again.
        self.append_audit(applied)
        self._batch_write(
            [
                {"DeleteRequest": {"Key": _key(part["pk"]["S"], part["sk"]["S"])}}
                for part in _intended_parts(intended)
            ]
        )

    def unsettled_intended_writes(self, crm: str) -> list[IntendedWrites]:
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": _intended_pk(crm)}},
        )
        parts: dict[str, list[Item]] = {}
        for item in items:  # in key order: by recorded time, id, then part
            parts.setdefault(item["intent_key"]["S"], []).append(item)
        return [_intended_writes(crm, written) for written in parts.values()]

    # Audit log

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Add entries to their rows (one item per lead and run): a field given again replaces
        its earlier entry, the row's other fields stay."""
        rows = audit_rows(entries)
        stored = {
            (row.lead_id, row.at, row.run_id): row
            for row in map(_audit_row, self._batch_get(_audit_key(row) for row in rows))
        }
        self._batch_put([_audit_item(row.merged_over(stored.get(row.key))) for row in rows])

    def audit_for(self, lead_id: str, limit: int = 50) -> list[AuditEntry]:
        wanted = require_positive(limit)
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": _audit_pk(lead_id)}},
            ScanIndexForward=False,
            limit=wanted,  # every item holds one entry at least
        )
        found = [entry for item in items for entry in _audit_entries(item)]
        return found[:wanted]

    def prune_audit(self, now: datetime) -> int:
        return 0  # the table's TTL deletes rows once their `expires_at` has passed

    # Runs

    def record_run(self, run: RunRecord) -> None:
        self.client.put_item(TableName=self.table_name, Item=_run_item(run))

    def recent_runs(self, limit: int = 20) -> list[RunRecord]:
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "RUN"}},
            ScanIndexForward=False,
            limit=require_positive(limit),
        )
        return [_run_record(item) for item in items]

    # Requests

    def _get(self, pk: str, sk: str) -> Item | None:
        response = self.client.get_item(
            TableName=self.table_name, Key=_key(pk, sk), ConsistentRead=True
        )
        return response.get("Item")

    def _query(self, limit: int | None = None, **request: Any) -> list[Item]:
        items: list[Item] = []
        while True:
            if limit is not None:
                request["Limit"] = limit - len(items)
            response = self.client.query(TableName=self.table_name, ConsistentRead=True, **request)
            items.extend(response["Items"])
            if "LastEvaluatedKey" not in response or (limit is not None and len(items) >= limit):
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _batch_get(self, keys: Iterable[Item]) -> list[Item]:
        unique = list({(key["pk"]["S"], key["sk"]["S"]): key for key in keys}.values())
        items: list[Item] = []
        for chunk in chunked(unique, BATCH_GET_LIMIT):
            pending: dict[str, Any] = {
                self.table_name: {"Keys": list(chunk), "ConsistentRead": True}
            }
            for attempt in range(_UNPROCESSED_ATTEMPTS):
                response = self.client.batch_get_item(RequestItems=pending)
                items.extend(response["Responses"].get(self.table_name, []))
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                self._back_off(attempt)
            else:
                raise StateStoreError(
                    f"DynamoDB left keys unprocessed {_UNPROCESSED_ATTEMPTS} times"
                )
        return items

    def _batch_put(self, items: Sequence[Item]) -> None:
        self._batch_write([{"PutRequest": {"Item": item}} for item in items])

    def _batch_write(self, requests: Sequence[dict[str, Any]]) -> None:
        """Puts and deletes, 25 a request; a batch must not name one key twice."""
        for chunk in chunked(requests, BATCH_WRITE_LIMIT):
            pending: dict[str, Any] = {self.table_name: list(chunk)}
            for attempt in range(_UNPROCESSED_ATTEMPTS):
                response = self.client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                self._back_off(attempt)
            else:
                raise StateStoreError(
                    f"DynamoDB left items unprocessed {_UNPROCESSED_ATTEMPTS} times"
                )

    def _back_off(self, attempt: int) -> None:
        # Unprocessed keys and items mean throttling: wait before the retry, as AWS advises.
        self._sleep(min(0.05 * 2**attempt, 2.0))


# Items and values


def _key(pk: str, sk: str) -> Item:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


_QUEUE = "QUEUE"


def _queue_key(item: QueuedWork) -> Item:
    return _key(_QUEUE, f"{iso_utc(item.queued_at)}#{item.id}")


def _queued_work(item: Item) -> QueuedWork:
    return QueuedWork(
        id=item["id"]["S"], queued_at=from_iso(item["queued_at"]["S"]), payload=item["payload"]["S"]
    )


def _claimable(item: Item, owner: str | None, at: float) -> bool:
    holder = item.get("claimed_by", {}).get("S")
    return holder is None or holder == owner or float(item["claim_expires"]["N"]) <= at


def _number(value: int | float) -> AttributeValue:
    return {"N": repr(value)}


def _condition_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == _CONDITION_FAILED


_RACE_REASONS = frozenset(
    {
        "None",  # this item was fine; another one cancelled the transaction
        "ConditionalCheckFailed",
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
    }
)


def _cancelled_by_a_race(error: ClientError) -> bool:
    """A transaction cancelled by what deciding again can cure, not by a malformed request
    (which would otherwise make the caller retry forever)."""
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons", [])
    return all(str(reason.get("Code")) in _RACE_REASONS for reason in reasons)


def _midnight_utc(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


def _fits_dynamodb_number(value: int | float) -> bool:
    """DynamoDB numbers hold 38 significant digits, magnitudes from 1e-130 to below 1e126."""
    number = Decimal(repr(value)).normalize()
    if number.is_zero():
        return True
    return -130 <= number.adjusted() <= 125 and len(number.as_tuple().digits) <= 38


@dataclass(frozen=True)
class _NumberKinds:
    """Which values are floats, and which numbers went as text because no DynamoDB number can
    hold them (5e-324, 1e308, a 40-digit integer): what a map of values needs to come back
    exactly, type included."""

    floats: frozenset[str] = frozenset()
    as_text: frozenset[str] = frozenset()

    @classmethod
    def of(cls, values: Mapping[str, Scalar]) -> _NumberKinds:
        numbers = {
            name: value
            for name, value in values.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
        return cls(
            floats=frozenset(name for name, value in numbers.items() if isinstance(value, float)),
            as_text=frozenset(
                name for name, value in numbers.items() if not _fits_dynamodb_number(value)
            ),
        )

    @classmethod
    def read(cls, item: Item) -> _NumberKinds:
        return cls(
            floats=frozenset(item["floats"]["SS"]) if "floats" in item else frozenset(),
            as_text=frozenset(item["numbers_as_text"]["SS"])
            if "numbers_as_text" in item
            else frozenset(),
        )

    def attributes(self) -> Item:
        attributes: Item = {}  # DynamoDB refuses empty sets: an absent set means none
        if self.floats:
            attributes["floats"] = {"SS": sorted(self.floats)}
        if self.as_text:
            attributes["numbers_as_text"] = {"SS": sorted(self.as_text)}
        return attributes

    def encode(self, name: str, value: Scalar) -> AttributeValue:
        if value is None:
            return {"NULL": True}
        if isinstance(value, bool):
            return {"BOOL": value}
        if isinstance(value, int | float):
            return {"S": repr(value)} if name in self.as_text else _number(value)
        return {"S": value}

    def decode(self, name: str, value: AttributeValue) -> Scalar:
        if "NULL" in value:
            return None
        if "BOOL" in value:
            return bool(value["BOOL"])
        if "N" in value or name in self.as_text:
            text = value["N"] if "N" in value else value["S"]
            return float(text) if name in self.floats else int(Decimal(text))
        return str(value["S"])


def _encode_scalars(values: Mapping[str, Scalar]) -> tuple[Item, Item]:
    """The values as attributes, and the attributes that say which numbers are which."""
    kinds = _NumberKinds.of(values)
    return {name: kinds.encode(name, value) for name, value in values.items()}, kinds.attributes()


def _decode_scalars(values: Item, kinds: _NumberKinds) -> dict[str, Scalar]:
    return {name: kinds.decode(name, value) for name, value in values.items()}


def _written_item(
    crm: str, lead_id: str, values: FieldValues, run_id: str, written_at: str
) -> Item:
    encoded, number_kinds = _encode_scalars(values)
    return {
        **_key(f"LEAD#{crm}#{lead_id}", "WRITTEN"),
        "crm": {"S": crm},
        "lead_id": {"S": lead_id},
        "field_values": {"M": encoded},
        **number_kinds,
        "run_id": {"S": run_id},
        "written_at": {"S": written_at},
    }


def _audit_pk(lead_id: str) -> str:
    return f"AUDIT#{lead_id}"


def _audit_key(row: AuditRow) -> Item:
    return _key(_audit_pk(row.lead_id), row.sort_key)


def _audit_item(row: AuditRow) -> Item:
    item: Item = {
        **_audit_key(row),
        "at": {"S": iso_utc(row.at)},
        "run_id": {"S": row.run_id},
        "crm": {"S": row.crm},
        "lead_id": {"S": row.lead_id},
        "model_version": {"S": row.model_version},
        "actor": {"S": row.actor},
        "fields": {"B": row.packed_fields()},
    }
    if row.keep_until is not None:
        item["keep_until"] = {"S": iso_utc(row.keep_until)}
        item["expires_at"] = _number(math.ceil(epoch_seconds(row.keep_until)))
    return item


def _audit_row(item: Item) -> AuditRow:
    return AuditRow(
        lead_id=item["lead_id"]["S"],
        at=from_iso(item["at"]["S"]),
        run_id=item["run_id"]["S"],
        crm=item["crm"]["S"],
        model_version=item["model_version"]["S"],
        actor=item["actor"]["S"],
        keep_until=from_iso(item["keep_until"]["S"]) if "keep_until" in item else None,
        fields=unpacked_fields(item["fields"]["B"]),
    )


def _audit_entries(item: Item) -> list[AuditEntry]:
    """A row's entries; an item written before rows (one per field) is one entry."""
    if "fields" in item:
        return _audit_row(item).entries()
    changes = _decode_scalars(
        {"before": item["before"], "after": item["after"]}, _NumberKinds.read(item)
    )
    return [
        AuditEntry(
            at=from_iso(item["at"]["S"]),
            run_id=item["run_id"]["S"],
            crm=item["crm"]["S"],
            lead_id=item["lead_id"]["S"],
            field=item["field"]["S"],
            before=changes["before"],
            after=changes["after"],
            reasons=item["reasons"]["S"],
            model_version=item["model_version"]["S"],
            actor=item["actor"]["S"],
        )
    ]


def _retry_pk(crm: str) -> str:
    return f"RETRY#{crm}"


def _failed_write_item(failed: FailedWrite) -> Item:
    return {
        **_key(_retry_pk(failed.crm), failed.lead_id),
        "crm": {"S": failed.crm},
        "lead_id": {"S": failed.lead_id},
        "attempts": _number(failed.attempts),
        "first_failed_at": {"S": iso_utc(failed.first_failed_at)},
        "last_failed_at": {"S": iso_utc(failed.last_failed_at)},
        "error": {"S": failed.error},
        "run_id": {"S": failed.run_id},
    }


def _one_failure_more(
    earlier: FailedWrite | None, crm: str, lead_id: str, error: str, run_id: str, at: datetime
) -> FailedWrite:
    if earlier is None:
        return FailedWrite(crm=crm, lead_id=lead_id, attempts=1, first_failed_at=at,
                           last_failed_at=at, error=error, run_id=run_id)
    another_attempt = at > earlier.last_failed_at
    return earlier.model_copy(
        update={
            "attempts": earlier.attempts + another_attempt,
            "last_failed_at": max(at, earlier.last_failed_at),
            "error": error,
            "run_id": run_id,
        }
    )


def _failed_write(item: Item) -> FailedWrite:
    return FailedWrite(
        crm=item["crm"]["S"],
        lead_id=item["lead_id"]["S"],
        attempts=int(item["attempts"]["N"]),
        first_failed_at=from_iso(item["first_failed_at"]["S"]),
        last_failed_at=from_iso(item["last_failed_at"]["S"]),
        error=item["error"]["S"],
        run_id=item["run_id"]["S"],
    )


def _intended_pk(crm: str) -> str:
    return f"INTENDED#{crm}"


def _intended_parts(intended: IntendedWrites) -> list[Item]:
    """The items an intended write is stored as: its entries in parts of bounded size (always at
    least one part, so that an intended write without entries is stored too)."""
    intent_key = intended_writes_key(intended)
    parts: list[list[str]] = [[]]
    size = 0
    for entry in intended.entries:
        encoded = entry.model_dump_json()
        if parts[-1] and size + len(encoded.encode()) > INTENDED_PART_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(encoded)
        size += len(encoded.encode())
    return [
        {
            **_key(_intended_pk(intended.crm), f"{intent_key}#{number:04d}"),
            "intent_key": {"S": intent_key},
            "id": {"S": intended.id},
            "recorded_at": {"S": iso_utc(intended.recorded_at)},
            "writer": {"S": intended.writer},
            "entries": {"S": f"[{','.join(part)}]"},
        }
        for number, part in enumerate(parts)
    ]


def _intended_writes(crm: str, parts: list[Item]) -> IntendedWrites:
    return IntendedWrites(
        id=parts[0]["id"]["S"],
        crm=crm,
        recorded_at=from_iso(parts[0]["recorded_at"]["S"]),
        writer=parts[0]["writer"]["S"],
        entries=tuple(
            AuditEntry.model_validate(entry)
            for part in parts
            for entry in json.loads(part["entries"]["S"])
        ),
    )


def _run_item(run: RunRecord) -> Item:
    item: Item = {
        **_key("RUN", f"{iso_utc(run.started_at)}#{run.run_id}"),
        "run_id": {"S": run.run_id},
        "kind": {"S": run.kind},
        "started_at": {"S": iso_utc(run.started_at)},
        "status": {"S": run.status},
        "counts": {"M": {name: _number(count) for name, count in run.counts.items()}},
    }
    if run.finished_at is not None:
        item["finished_at"] = {"S": iso_utc(run.finished_at)}
    return item


def _run_record(item: Item) -> RunRecord:
    return RunRecord(
        run_id=item["run_id"]["S"],
        kind=item["kind"]["S"],
        started_at=from_iso(item["started_at"]["S"]),
        finished_at=from_iso(item["finished_at"]["S"]) if "finished_at" in item else None,
        status=item["status"]["S"],
        counts={name: int(value["N"]) for name, value in item["counts"]["M"].items()},
    )
