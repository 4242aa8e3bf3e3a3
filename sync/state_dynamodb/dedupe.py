"""Webhook dedupe keys in the DynamoDB state table."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sync.state import epoch_seconds, expiry_second
from sync.state_dynamodb.table import DynamoDBTable, item_key, number_attribute


class DynamoDBDedupe(DynamoDBTable):
    """Webhook keys seen, each until it expires (the table's TTL deletes them eventually)."""

    def first_sighting(self, key: str, now: datetime, ttl: timedelta) -> bool:
        return self._put_unless_live(
            {
                **item_key(f"DEDUPE#{key}", "DEDUPE"),
                "expires_at": number_attribute(expiry_second(now, ttl)),
            },
            condition="attribute_not_exists(pk) OR expires_at <= :now",
            values={":now": number_attribute(epoch_seconds(now))},
        )

    def seen_webhooks(self, keys: Iterable[str], now: datetime) -> set[str]:
        items = self._batch_get([item_key(f"DEDUPE#{key}", "DEDUPE") for key in keys])
        now_seconds = epoch_seconds(now)
        return {
            item["pk"]["S"].removeprefix("DEDUPE#")
            for item in items
            if int(item["expires_at"]["N"]) > now_seconds
        }

    def remember_webhooks(self, keys: Iterable[str], now: datetime, ttl: timedelta) -> None:
        expires_at = number_attribute(expiry_second(now, ttl))
        self._batch_put(
            [
                {**item_key(f"DEDUPE#{key}", "DEDUPE"), "expires_at": expires_at}
                for key in dict.fromkeys(keys)
            ]
        )
