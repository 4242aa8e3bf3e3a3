"""The DynamoDB state store: every capability of the state protocol on one table."""

from __future__ import annotations

from sync.state_dynamodb.audit import DynamoDBAudit
from sync.state_dynamodb.cursors import DynamoDBCursors
from sync.state_dynamodb.dedupe import DynamoDBDedupe
from sync.state_dynamodb.ledger import DynamoDBLedger
from sync.state_dynamodb.retry_set import DynamoDBRetrySet
from sync.state_dynamodb.routing import DynamoDBRouting
from sync.state_dynamodb.runs import DynamoDBRuns
from sync.state_dynamodb.work_queue import DynamoDBWorkQueue
from sync.state_dynamodb.written import DynamoDBWritten


class DynamoDBStateStore(
    DynamoDBCursors,
    DynamoDBLedger,
    DynamoDBWritten,
    DynamoDBRouting,
    DynamoDBDedupe,
    DynamoDBRuns,
    DynamoDBWorkQueue,
    DynamoDBRetrySet,
    DynamoDBAudit,
):
    """The deployed state store (sync/state_dynamodb/__init__.py describes its items)."""
