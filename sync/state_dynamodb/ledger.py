"""The activity ledger in the DynamoDB state table: one packed item per lead."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sync.state_dynamodb.table import DynamoDBTable, item_key


class DynamoDBLedger(DynamoDBTable):
    """Each lead's packed recent activity (sync/ledger.py packs it)."""

    def ledger_of(self, crm: str, lead_ids: Iterable[str]) -> dict[str, bytes]:
        items = self._batch_get([item_key(f"LEDGER#{crm}", lead_id) for lead_id in lead_ids])
        return {item["sk"]["S"]: bytes(item["packed"]["B"]) for item in items}

    def record_ledger(self, crm: str, packed: Mapping[str, bytes]) -> None:
        self._batch_write(
            [
                {
                    "PutRequest": {
                        "Item": {**item_key(f"LEDGER#{crm}", lead_id), "packed": {"B": blob}}
                    }
                }
                if blob
                else {"DeleteRequest": {"Key": item_key(f"LEDGER#{crm}", lead_id)}}
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
            [
                {"DeleteRequest": {"Key": item_key(item["pk"]["S"], item["sk"]["S"])}}
                for item in items
            ]
        )
