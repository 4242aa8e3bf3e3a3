"""Salesforce follow-up tasks (the Task sObject): read the Tasks of leads and contacts, create
them in sObject Collections, delete, and find leadq's own.

Facts (Task, Object Reference for the Salesforce Platform; REST API guide, sObject Collections):
`WhoId` is the Lead or Contact, `OwnerId` a User (never a queue); `ActivityDate` is the due date
and holds a date only, so the due moment goes in `ReminderDateTime` (with `IsReminderSet`);
`Status` values come from TaskStatus, whose `IsClosed` the Task's read-only `IsClosed` follows, and
`CompletedDateTime` (read only) is when it closed; `Priority` High, Normal or Low. `Description`
is a long text area, which SOQL cannot filter on: leadq's tasks are recognised by their
description after reading, never in a WHERE clause. Collections take at most 200 records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from connectors.records import CrmTask, FollowUpTask, WriteResult, parse_timestamp
from connectors.salesforce_calls import SalesforceCalls
from connectors.salesforce_soql import datetime_literal

COLLECTION_LIMIT = 200
TASK_FIELDS = ("Id", "WhoId", "OwnerId", "Subject", "Description", "Status", "IsClosed",
               "CompletedDateTime", "CreatedDate")
PRIORITIES = {"high": "High", "medium": "Normal", "low": "Low"}
Row = dict[str, Any]


class SalesforceTasks:
    def __init__(
        self,
        calls: SalesforceCalls,
        query_rows: Callable[[str, str], Iterator[Row]],
        id_queries: Callable[[Callable[[str], str], Sequence[str]], Iterator[str]],
    ) -> None:
        self.calls = calls
        self.query_rows = query_rows
        self.id_queries = id_queries

    def tasks_of(self, lead_ids: Sequence[str]) -> list[CrmTask]:
        select = f"SELECT {', '.join(TASK_FIELDS)} FROM Task WHERE WhoId IN ({{}})"
        return [
            task_from(row)
            for soql in self.id_queries(select.format, list(dict.fromkeys(lead_ids)))
            for row in self.query_rows(soql, "query")
        ]

    def create_tasks(self, tasks: Sequence[FollowUpTask]) -> list[WriteResult]:
        results: list[WriteResult] = []
        for start in range(0, len(tasks), COLLECTION_LIMIT):
            chunk = tasks[start : start + COLLECTION_LIMIT]
            answer = self.calls.restful(
                "task_create", "composite/sobjects", method="POST",
                json={"allOrNone": False, "records": [task_record(task) for task in chunk]},
            )
            results += [
                WriteResult(lead_id=task.lead_id, ok=bool(result.get("success")),
                            error=None if result.get("success") else _message(result))
                for task, result in zip(chunk, answer or [], strict=True)
            ]
        return results

    def remove_tasks(self, task_ids: Sequence[str]) -> None:
        for start in range(0, len(task_ids), COLLECTION_LIMIT):
            chunk = task_ids[start : start + COLLECTION_LIMIT]
            self.calls.restful("task_delete", "composite/sobjects", method="DELETE",
                               params={"ids": ",".join(chunk), "allOrNone": "false"})

    def tasks_created_since(self, since: datetime, token: str) -> Iterator[CrmTask]:
        soql = (f"SELECT {', '.join(TASK_FIELDS)} FROM Task WHERE CreatedDate >= "
                f"{datetime_literal(since)} AND WhoId != null ORDER BY CreatedDate")
        for row in self.query_rows(soql, "query"):
            task = task_from(row)
            if token in (task.body or "").split():
                yield task


def task_record(task: FollowUpTask) -> dict[str, Any]:
    return {
        "attributes": {"type": "Task"},
        "WhoId": task.lead_id,
        "OwnerId": task.owner_id,
        "Subject": task.subject[:255],
        "Description": task.body,
        "ActivityDate": task.due_day.isoformat(),
        "ReminderDateTime": datetime_literal(task.due_at),
        "IsReminderSet": True,
        "Status": "Not Started",
        "Priority": PRIORITIES[task.priority],
    }


def task_from(row: Row) -> CrmTask:
    return CrmTask(
        id=str(row["Id"]),
        lead_id=row.get("WhoId"),
        owner_id=row.get("OwnerId"),
        subject=row.get("Subject"),
        body=row.get("Description"),
        created_at=parse_timestamp(row.get("CreatedDate")),
        completed_at=parse_timestamp(row.get("CompletedDateTime")),
        closed=bool(row.get("IsClosed")),
    )


def _message(result: dict[str, Any]) -> str:
    errors = result.get("errors") or [{}]
    first = errors[0]
    return f"{first.get('statusCode', 'ERROR')}: {first.get('message', 'not created')}"
