"""Routing counters and assignments in the DynamoDB state table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from sync.state import AssignmentOutcome, RoutingSnapshot, expiry_second
from sync.state_dynamodb.table import DynamoDBTable, Item, item_key, number_attribute

DAILY_COUNTER_DAYS_KEPT = 35


class DynamoDBRouting(DynamoDBTable):
    """Round-robin counters per pool, committed in one transaction against the pool's version."""

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
        version_values: Item = {":next": number_attribute(expected_version + 1)}
        if expected_version != 0:
            version_values[":expected"] = number_attribute(expected_version)
        counter_expiry = expiry_second(_midnight_utc(day), timedelta(days=DAILY_COUNTER_DAYS_KEPT))
        return [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {
                        **item_key(f"ASSIGN#{lead_id}", "ASSIGN"),
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
                    "Key": item_key(pool_key, "VERSION"),
                    "UpdateExpression": "SET #version = :next",
                    "ConditionExpression": version_condition,
                    "ExpressionAttributeNames": {"#version": "version"},
                    "ExpressionAttributeValues": version_values,
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": item_key(pool_key, f"OWNER#{owner_id}"),
                    "UpdateExpression": "ADD assigned :one SET owner_id = :owner",
                    "ExpressionAttributeValues": {
                        ":one": number_attribute(1),
                        ":owner": {"S": owner_id},
                    },
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": item_key(pool_key, f"DAY#{day_text}#OWNER#{owner_id}"),
                    "UpdateExpression": "ADD assigned :one SET owner_id = :owner, "
                    "expires_at = :expires",
                    "ExpressionAttributeValues": {
                        ":one": number_attribute(1),
                        ":owner": {"S": owner_id},
                        ":expires": number_attribute(counter_expiry),
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
