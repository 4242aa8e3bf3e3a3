"""Run leases and run records in the DynamoDB state table."""

from __future__ import annotations

from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from sync.state import RunRecord, epoch_seconds, expiry_second, from_iso, iso_utc, require_positive
from sync.state_dynamodb.table import (
    DynamoDBTable,
    Item,
    condition_failed,
    item_key,
    number_attribute,
)


class DynamoDBRuns(DynamoDBTable):
    """Who holds a run's lease until when, and the record of each run."""

    def acquire_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        return self._put_unless_live(
            {
                **item_key(f"LEASE#{name}", "LEASE"),
                "holder": {"S": holder},
                "expires_at": number_attribute(expiry_second(now, ttl)),
            },
            condition="attribute_not_exists(pk) OR expires_at <= :now OR holder = :holder",
            values={":now": number_attribute(epoch_seconds(now)), ":holder": {"S": holder}},
        )

    def renew_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=item_key(f"LEASE#{name}", "LEASE"),
                UpdateExpression="SET expires_at = :expires",
                ConditionExpression="holder = :holder AND expires_at > :now",
                ExpressionAttributeValues={
                    ":expires": number_attribute(expiry_second(now, ttl)),
                    ":holder": {"S": holder},
                    ":now": number_attribute(epoch_seconds(now)),
                },
            )
        except ClientError as error:
            if condition_failed(error):
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
                Key=item_key(f"LEASE#{name}", "LEASE"),
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
        except ClientError as error:
            if not condition_failed(error):
                raise

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


def _run_item(run: RunRecord) -> Item:
    item: Item = {
        **item_key("RUN", f"{iso_utc(run.started_at)}#{run.run_id}"),
        "run_id": {"S": run.run_id},
        "kind": {"S": run.kind},
        "started_at": {"S": iso_utc(run.started_at)},
        "status": {"S": run.status},
        "counts": {"M": {name: number_attribute(count) for name, count in run.counts.items()}},
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
