"""The retry set in the DynamoDB state table: leads whose write failed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sync.state import FailedWrite, failed_write_order, from_iso, iso_utc
from sync.state_dynamodb.table import DynamoDBTable, Item, item_key, number_attribute


class DynamoDBRetrySet(DynamoDBTable):
    """Failed writes per CRM, with their attempts, retried first by later runs.

    Read, count, write back: batched, not atomic per lead; two runs failing one lead in the same
    instant may count one attempt, which only delays giving up by a run."""

    def record_failed_writes(
        self, crm: str, errors: Mapping[str, str], run_id: str, at: datetime
    ) -> None:
        keys = [item_key(_retry_pk(crm), lead_id) for lead_id in errors]
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
                {"DeleteRequest": {"Key": item_key(_retry_pk(crm), lead_id)}}
                for lead_id in dict.fromkeys(lead_ids)
            ]
        )


def _retry_pk(crm: str) -> str:
    return f"RETRY#{crm}"


def _failed_write_item(failed: FailedWrite) -> Item:
    return {
        **item_key(_retry_pk(failed.crm), failed.lead_id),
        "crm": {"S": failed.crm},
        "lead_id": {"S": failed.lead_id},
        "attempts": number_attribute(failed.attempts),
        "first_failed_at": {"S": iso_utc(failed.first_failed_at)},
        "last_failed_at": {"S": iso_utc(failed.last_failed_at)},
        "error": {"S": failed.error},
        "run_id": {"S": failed.run_id},
    }


def _one_failure_more(
    earlier: FailedWrite | None, crm: str, lead_id: str, error: str, run_id: str, at: datetime
) -> FailedWrite:
    if earlier is None:
        return FailedWrite(
            crm=crm,
            lead_id=lead_id,
            attempts=1,
            first_failed_at=at,
            last_failed_at=at,
            error=error,
            run_id=run_id,
        )
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
