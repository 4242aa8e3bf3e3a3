"""The DynamoDB state table: its client, its creation, and the requests every capability makes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Self

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError, NoRegionError

from sync.state import StateStoreError, StateUnusableError, chunked

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
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


class DynamoDBTable:
    """One state table; each capability of the store (sync/state_dynamodb/*.py) is a subclass
    that adds its methods."""

    def __init__(
        self, client: BaseClient, table_name: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.client = client
        self.table_name = table_name
        self._sleep = sleep

    @classmethod
    def connect(
        cls, table_name: str, region: str | None = None, endpoint_url: str | None = None
    ) -> Self:
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

    # Requests

    def _get(self, pk: str, sk: str) -> Item | None:
        response = self.client.get_item(
            TableName=self.table_name, Key=item_key(pk, sk), ConsistentRead=True
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

    def _put_unless_live(self, item: Item, condition: str, values: Item) -> bool:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True


# Items and values


def item_key(pk: str, sk: str) -> Item:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def number_attribute(value: int | float) -> AttributeValue:
    return {"N": repr(value)}


def condition_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == _CONDITION_FAILED
