"""REST handlers for sObject rows, describe, the deleted/updated replication resources and
queries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from werkzeug.wrappers import Response

from sandbox.salesforce.context import Call
from sandbox.salesforce.describe import describe_global, describe_object, object_summary
from sandbox.salesforce.errors import SalesforceApiError, json_response, not_found, unknown_field
from sandbox.salesforce.ids import looks_like_id, to_18
from sandbox.salesforce.queries import batch_size_from, record_url
from sandbox.salesforce.schema import FieldDef, SObjectDef
from sandbox.salesforce.values import parse_datetime_text, render, stored_datetime
from sandbox.salesforce.writes import WriteRequest

DELETED_DAYS_BACK = 15
UPDATED_DAYS_BACK = 30


def render_row(version: str, sobject: SObjectDef, row: dict[str, Any], fields: list[FieldDef]) -> (
    dict[str, Any]
):
    record: dict[str, Any] = {
        "attributes": {"type": sobject.name, "url": record_url(version, sobject.name, row["Id"])}
    }
    for field in fields:
        record[field.name] = render(field, row.get(field.name))
    return record


def requested_fields(sobject: SObjectDef, names: str | None) -> list[FieldDef]:
    if not names:
        return list(sobject.fields)
    fields = []
    for name in names.split(","):
        field = sobject.get_field(name.strip())
        if field is None:
            raise unknown_field(name.strip(), sobject.name)
        fields.append(field)
    return fields


# ---- describe -----------------------------------------------------------------------------------
def list_sobjects(call: Call) -> Response:
    return json_response(describe_global(call.version, call.org.store.schema))


def sobject_metadata(call: Call, sobject: str) -> Response:
    definition = call.sobject(sobject)
    return json_response({"objectDescribe": object_summary(call.version, definition),
                          "recentItems": []})


def describe(call: Call, sobject: str) -> Response:
    return json_response(describe_object(call.version, call.sobject(sobject)))


# ---- rows -------------------------------------------------------------------------------------
def get_record(call: Call, sobject: str, record_id: str) -> Response:
    definition = call.sobject(sobject)
    fields = requested_fields(definition, call.request.args.get("fields"))
    row = None
    if looks_like_id(record_id) and record_id.startswith(definition.key_prefix):
        row = call.org.store.fetch(definition, [to_18(record_id)]).get(to_18(record_id))
    if row is None or row["IsDeleted"]:
        raise not_found()
    return json_response(render_row(call.version, definition, row, fields))


def create_record(call: Call, sobject: str) -> Response:
    definition = call.sobject(sobject)
    body = call.json_body()
    if not isinstance(body, dict):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
    record_id = call.org.writer.write_one(
        WriteRequest(definition.name, body), call.write_options()
    )
    return json_response({"id": record_id, "success": True, "errors": []}, 201)


def update_record(call: Call, sobject: str, record_id: str) -> Response:
    definition = call.sobject(sobject)
    body = call.json_body()
    if not isinstance(body, dict):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
    call.org.writer.write_one(
        WriteRequest(definition.name, body, record_id), call.write_options()
    )
    return Response(status=204)


def delete_record(call: Call, sobject: str, record_id: str) -> Response:
    call.org.writer.delete(call.sobject(sobject), record_id)
    return Response(status=204)


# ---- replication ------------------------------------------------------------------------------
def replication_window(call: Call, days_back: int) -> tuple[str, str]:
    start_text = call.request.args.get("start")
    end_text = call.request.args.get("end")
    start = parse_datetime_text(start_text) if start_text else None
    end = parse_datetime_text(end_text) if end_text else None
    if start is None or end is None:
        raise SalesforceApiError(
            400, "MALFORMED_QUERY", "start and end are required ISO-8601 date-times"
        )
    if end < start:
        raise SalesforceApiError(
            400, "INVALID_REPLICATION_DATE", "end date cannot be before start date"
        )
    if start < call.org.clock() - timedelta(days=days_back):
        raise SalesforceApiError(
            400, "INVALID_REPLICATION_DATE",
            f"startDate cannot be more than {days_back} days ago",
        )
    return stored_datetime(start), stored_datetime(end)


def deleted_records(call: Call, sobject: str) -> Response:
    definition = call.sobject(sobject)
    start, end = replication_window(call, DELETED_DAYS_BACK)
    rows = call.org.store.read(
        f'SELECT "Id", "SystemModstamp" FROM {definition.table} WHERE "IsDeleted" = 1 '
        'AND "SystemModstamp" >= ? AND "SystemModstamp" <= ? ORDER BY "SystemModstamp"',
        (start, end),
    )
    earliest = stored_datetime(call.org.clock() - timedelta(days=DELETED_DAYS_BACK))
    return json_response(
        {
            "deletedRecords": [{"id": record_id, "deletedDate": at} for record_id, at in rows],
            "earliestDateAvailable": earliest,
            "latestDateCovered": end,
        }
    )


def updated_records(call: Call, sobject: str) -> Response:
    definition = call.sobject(sobject)
    start, end = replication_window(call, UPDATED_DAYS_BACK)
    rows = call.org.store.read(
        f'SELECT "Id" FROM {definition.table} WHERE "IsDeleted" = 0 '
        'AND "SystemModstamp" >= ? AND "SystemModstamp" <= ? ORDER BY "SystemModstamp"',
        (start, end),
    )
    return json_response({"ids": [record_id for (record_id,) in rows], "latestDateCovered": end})


# ---- queries ----------------------------------------------------------------------------------
def query_options_batch(call: Call) -> int:
    return batch_size_from(call.request.headers.get("Sforce-Query-Options"))


def run_query(call: Call, include_deleted: bool) -> Response:
    text = call.request.args.get("q")
    if text is None:
        raise SalesforceApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    answer = call.org.queries.run(
        text, include_deleted=include_deleted, batch_size=query_options_batch(call),
        version=call.version,
    )
    return json_response(answer)


def query(call: Call) -> Response:
    return run_query(call, include_deleted=False)


def query_all(call: Call) -> Response:
    return run_query(call, include_deleted=True)


def query_more(call: Call, locator: str) -> Response:
    header = call.request.headers.get("Sforce-Query-Options")
    batch = batch_size_from(header) if header else None
    return json_response(call.org.queries.more(locator, batch, call.version))


def limits(call: Call, used: int, daily_limit: int) -> Response:
    return json_response(
        {"DailyApiRequests": {"Max": daily_limit, "Remaining": max(0, daily_limit - used)}}
    )
