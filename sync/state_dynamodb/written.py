"""The values leadq last wrote to each lead, in the DynamoDB state table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sync.state import FieldValues, Scalar, chunked, iso_utc, validated_values
from sync.state_dynamodb.table import BATCH_GET_LIMIT, DynamoDBTable, Item, item_key
from sync.state_dynamodb.values import NumberKinds, decode_scalars, encode_scalars


class DynamoDBWritten(DynamoDBTable):
    """Per lead, the values leadq last wrote: how a run recognises its echoes."""

    def last_written(self, crm: str, lead_ids: Iterable[str]) -> dict[str, FieldValues]:
        items = self._batch_get(
            [item_key(f"LEAD#{crm}#{lead_id}", "WRITTEN") for lead_id in lead_ids]
        )
        return {
            item["lead_id"]["S"]: decode_scalars(item["field_values"]["M"], NumberKinds.read(item))
            for item in items
        }

    def record_written(
        self, crm: str, values: Mapping[str, Mapping[str, Scalar]], run_id: str, at: datetime
    ) -> None:
        checked = validated_values(values)
        written_at = iso_utc(at)
        # Read, merge, write back: batched, but not atomic per lead. Two runs recording different
        # fields of one lead in the same instant may lose one field's record; the worst outcome
        # is one echo not recognised, which a rescore turns into no write.
        for chunk in chunked(list(checked), BATCH_GET_LIMIT):
            earlier = self.last_written(crm, chunk)
            self._batch_put(
                [
                    _written_item(
                        crm,
                        lead_id,
                        {**earlier.get(lead_id, {}), **checked[lead_id]},
                        run_id,
                        written_at,
                    )
                    for lead_id in chunk
                ]
            )

    def forget_leads(self, crm: str, lead_ids: Iterable[str]) -> None:
        self._batch_write(
            [
                {"DeleteRequest": {"Key": item_key(f"LEAD#{crm}#{lead_id}", "WRITTEN")}}
                for lead_id in dict.fromkeys(lead_ids)
            ]
        )


def _written_item(
    crm: str, lead_id: str, values: FieldValues, run_id: str, written_at: str
) -> Item:
    encoded, number_kinds = encode_scalars(values)
    return {
        **item_key(f"LEAD#{crm}#{lead_id}", "WRITTEN"),
        "crm": {"S": crm},
        "lead_id": {"S": lead_id},
        "field_values": {"M": encoded},
        **number_kinds,
        "run_id": {"S": run_id},
        "written_at": {"S": written_at},
    }
