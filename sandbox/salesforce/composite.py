"""sObject Collections: up to 200 records created, updated or deleted in one call, one result per
record in order, `allOrNone` honoured; and reads of up to 800 (GET) / 2000 (POST) ids.

Records of different types are processed in chunks, a new chunk at every change of type
({account1, account2, contact1, account3} is three chunks), and a request may hold at most 10
chunks (REST API guide, resources_composite_sobjects_collections_update / _create: "A single
request can process up to 10 chunks"). Salesforce's message is "Cannot have more than 10 chunks
in a single operation. Please rearrange the data to reduce chunking."; the error code that comes
with it over REST is unconfirmed, so the emulator refuses the whole request (400) — the
strictest reading — and a client must group records by type rather than read the answer.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from sandbox.salesforce.context import Call
from sandbox.salesforce.errors import SalesforceApiError, json_response
from sandbox.salesforce.ids import looks_like_id, to_18
from sandbox.salesforce.sobjects import render_row, requested_fields
from sandbox.salesforce.writes import ROLLED_BACK, WriteRequest, WriteResult

MAX_RECORDS = 200
MAX_READ_IDS = 2000
MAX_CHUNKS = 10
TOO_MANY_CHUNKS_MESSAGE = (
    "Cannot have more than 10 chunks in a single operation. Please rearrange the data to "
    "reduce chunking."
)


def too_many_records() -> SalesforceApiError:
    return SalesforceApiError(
        400, "EXCEEDED_ID_LIMIT",
        f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
        [],
    )


def collection_body(call: Call) -> tuple[list[dict[str, Any]], bool]:
    body = call.json_body()
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Expected {\"records\": [...]}")
    records = body["records"]
    if len(records) > MAX_RECORDS:
        raise too_many_records()
    if not all(isinstance(record, dict) for record in records):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Every record must be a JSON object")
    if chunk_count(records) > MAX_CHUNKS:
        raise SalesforceApiError(400, "INVALID_BATCH_REQUEST", TOO_MANY_CHUNKS_MESSAGE)
    return records, bool(body.get("allOrNone", False))


def chunk_count(records: list[dict[str, Any]]) -> int:
    """How many chunks Salesforce cuts `records` into: one per run of the same type."""
    types = [record_type(record) for record in records]
    return sum(1 for index, kind in enumerate(types) if index == 0 or kind != types[index - 1])


def record_type(record: dict[str, Any]) -> str | None:
    attributes = record.get("attributes")
    if isinstance(attributes, dict) and isinstance(attributes.get("type"), str):
        return attributes["type"]
    return None


def record_id_of(record: dict[str, Any]) -> str | None:
    for key, value in record.items():
        if key.lower() == "id":
            return str(value) if value else None
    return None


def missing_type() -> SalesforceApiError:
    return SalesforceApiError(
        400, "INVALID_TYPE", "Each record must have attributes with a type", []
    )


def save(call: Call, creating: bool) -> Response:
    records, all_or_none = collection_body(call)
    requests: list[WriteRequest | None] = []
    early: dict[int, WriteResult] = {}
    for index, record in enumerate(records):
        sobject = record_type(record)
        record_id = record_id_of(record)
        if sobject is None:
            early[index] = WriteResult(record_id, missing_type())
        elif creating and record_id:
            early[index] = WriteResult(None, SalesforceApiError(
                400, "INVALID_FIELD", "cannot specify Id in an insert call", ["Id"]))
        elif not creating and not record_id:
            early[index] = WriteResult(None, SalesforceApiError(
                400, "MISSING_ARGUMENT", "Id not specified in an update call", []))
        else:
            requests.append(WriteRequest(sobject, record, None if creating else record_id))
            continue
        requests.append(None)
    results = run_writes(call, requests, early, all_or_none)
    return json_response([result.as_json() for result in results])


def run_writes(
    call: Call,
    requests: list[WriteRequest | None],
    early: dict[int, WriteResult],
    all_or_none: bool,
) -> list[WriteResult]:
    options = call.write_options(all_or_none=all_or_none, per_record_faults=True)
    if early and all_or_none:
        return [
            early.get(index) or WriteResult(_rolled_back_id(request), ROLLED_BACK)
            for index, request in enumerate(requests)
        ]
    valid = [request for request in requests if request is not None]
    written = iter(call.org.writer.write_many(valid, options))
    return [early[index] if request is None else next(written)
            for index, request in enumerate(requests)]


def _rolled_back_id(request: WriteRequest | None) -> str | None:
    return request.record_id if request is not None else None


def update(call: Call) -> Response:
    return save(call, creating=False)


def create(call: Call) -> Response:
    return save(call, creating=True)


def delete(call: Call) -> Response:
    ids = [item for item in call.request.args.get("ids", "").split(",") if item]
    if len(ids) > MAX_RECORDS:
        raise too_many_records()
    all_or_none = call.request.args.get("allOrNone", "false").lower() == "true"
    results: list[WriteResult] = []
    for record_id in ids:
        sobject = call.org.store.schema.for_id(record_id) if looks_like_id(record_id) else None
        try:
            if sobject is None:
                raise SalesforceApiError(400, "MALFORMED_ID", f"malformed id {record_id}", [])
            call.org.writer.delete(sobject, record_id)
            results.append(WriteResult(to_18(record_id)))
        except SalesforceApiError as error:
            results.append(WriteResult(record_id, error))
            if all_or_none:
                break
    return json_response([result.as_json() for result in results])


def read(call: Call, sobject: str) -> Response:
    definition = call.sobject(sobject)
    if call.request.method == "POST":
        body = call.json_body()
        if not isinstance(body, dict):
            raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Expected {\"ids\", \"fields\"}")
        ids = [str(item) for item in body.get("ids") or []]
        field_names = ",".join(str(item) for item in body.get("fields") or [])
    else:
        ids = [item for item in call.request.args.get("ids", "").split(",") if item]
        field_names = call.request.args.get("fields", "")
    if not ids or not field_names:
        raise SalesforceApiError(400, "MISSING_ARGUMENT", "ids and fields are both required")
    if len(ids) > MAX_READ_IDS:
        raise too_many_records()
    fields = requested_fields(definition, field_names)
    normalized = [to_18(record_id) for record_id in ids]
    rows = call.org.store.fetch(definition, normalized)
    answer = []
    for record_id in normalized:
        row = rows.get(record_id)
        alive = row is not None and not row["IsDeleted"]
        answer.append(render_row(call.version, definition, row, fields) if alive else None)
    return json_response(answer)
