"""The SQS queue that webhooks and fanned-out scheduled runs feed and the `worker` function drains.

`send_message_batch` takes at most 10 messages a call; each message is one unit of work (at most
100 ids, sync/work.py). Entries SQS reports as failed are sent again a few times; what still fails
(or SQS's own errors) raises `QueueError`, so the webhook answers 503 and the CRM delivers again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sync.work import QueueError, Work

MESSAGES_PER_CALL = 10
SEND_ATTEMPTS = 3


class SqsWorkQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self.client = client
        self.queue_url = queue_url

    @classmethod
    def connect(cls, queue_url: str) -> SqsWorkQueue:
        """A client for the queue: the region and endpoint come from the environment (Lambda's
        AWS_REGION; AWS_ENDPOINT_URL for a local emulator)."""
        import boto3

        return cls(boto3.client("sqs"), queue_url)

    def send(self, work: Sequence[Work]) -> None:
        entries = [{"Id": str(number), "MessageBody": unit.to_json()}
                   for number, unit in enumerate(work)]
        for start in range(0, len(entries), MESSAGES_PER_CALL):
            self._send_all(entries[start : start + MESSAGES_PER_CALL])

    def _send_all(self, entries: list[dict[str, str]]) -> None:
        pending = entries
        for _ in range(SEND_ATTEMPTS):
            try:
                answer = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=pending)
            except (BotoCoreError, ClientError) as error:
                raise QueueError(f"SQS did not take the messages: {error}") from error
            failed = {entry["Id"] for entry in answer.get("Failed") or []}
            pending = [entry for entry in pending if entry["Id"] in failed]
            if not pending:
                return
        raise QueueError(f"SQS refused {len(pending)} of {len(entries)} messages")
