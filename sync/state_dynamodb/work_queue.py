"""Work queued by `leadq serve`, and its claims, in the DynamoDB state table (one partition:
a single process's queue)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from sync.state import (
    QueuedWork,
    WorkClaim,
    epoch_seconds,
    expiry_second,
    from_iso,
    iso_utc,
    require_aware,
    require_positive,
)
from sync.state_dynamodb.table import (
    DynamoDBTable,
    Item,
    condition_failed,
    item_key,
    number_attribute,
)

_QUEUE = "QUEUE"


class DynamoDBWorkQueue(DynamoDBTable):
    """Queued units of work, claimed by one worker at a time until the claim expires."""

    def enqueue_work(self, items: Sequence[QueuedWork], claim: WorkClaim | None = None) -> None:
        unique = {_queue_key(item)["sk"]["S"]: item for item in items}
        claimed: Item = (
            {}
            if claim is None
            else {
                "claimed_by": {"S": claim.owner},
                "claim_expires": number_attribute(math.ceil(epoch_seconds(claim.expires))),
            }
        )
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
        self,
        owner: str,
        now: datetime,
        ttl: timedelta,
        limit: int = 100,
        ids: Iterable[str] | None = None,
    ) -> list[QueuedWork]:
        wanted = None if ids is None else set(ids)
        at = epoch_seconds(require_aware(now))
        candidates = [
            item
            for item in self._query(
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
                    ExpressionAttributeValues={
                        ":owner": {"S": owner},
                        ":zero": number_attribute(0),
                    },
                )
            except ClientError as error:
                if not condition_failed(error):
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
                    ":owner": {"S": owner},
                    ":until": number_attribute(until),
                    ":now": number_attribute(at),
                },
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True


def _queue_key(item: QueuedWork) -> Item:
    return item_key(_QUEUE, f"{iso_utc(item.queued_at)}#{item.id}")


def _queued_work(item: Item) -> QueuedWork:
    return QueuedWork(
        id=item["id"]["S"], queued_at=from_iso(item["queued_at"]["S"]), payload=item["payload"]["S"]
    )


def _claimable(item: Item, owner: str | None, at: float) -> bool:
    holder = item.get("claimed_by", {}).get("S")
    return holder is None or holder == owner or float(item["claim_expires"]["N"]) <= at
