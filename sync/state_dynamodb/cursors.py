"""Cursors and named documents in the DynamoDB state table."""

from __future__ import annotations

from datetime import datetime

from botocore.exceptions import ClientError

from sync.state import from_iso, iso_utc
from sync.state_dynamodb.table import DynamoDBTable, condition_failed, item_key


class DynamoDBCursors(DynamoDBTable):
    """Where each run's reading stopped, and named documents (e.g. the ledger's model)."""

    def get_cursor(self, name: str) -> datetime | None:
        item = self._get(f"CURSOR#{name}", "CURSOR")
        return from_iso(item["cursor"]["S"]) if item else None

    def advance_cursor(self, name: str, value: datetime) -> datetime:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=item_key(f"CURSOR#{name}", "CURSOR"),
                UpdateExpression="SET #cursor = :value",
                ConditionExpression="attribute_not_exists(pk) OR #cursor < :value",
                ExpressionAttributeNames={"#cursor": "cursor"},
                ExpressionAttributeValues={":value": {"S": iso_utc(value)}},
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            stored = self.get_cursor(name)
            assert stored is not None  # the condition only fails against a stored cursor
            return stored
        return from_iso(iso_utc(value))

    def read_document(self, name: str) -> str | None:
        item = self._get(f"DOC#{name}", "DOC")
        return item["body"]["S"] if item else None

    def write_document(self, name: str, text: str) -> None:
        item = {**item_key(f"DOC#{name}", "DOC"), "body": {"S": text}}
        self.client.put_item(TableName=self.table_name, Item=item)
