"""HubSpot follow-up tasks (the tasks object, type 0-27): read a contact's tasks, create tasks
associated with their contacts, archive, and search leadq's own by a word of their body.

Facts (developers.hubspot.com/docs/api/crm/tasks and the v4 associations guide): `hs_timestamp` is
the task's due date and required; `hs_task_status` NOT_STARTED or COMPLETED (HubSpot stamps
`hs_task_completion_date` on completion); `hs_task_priority` LOW, MEDIUM or HIGH; a task is tied to
its contact by the HUBSPOT_DEFINED association type 204 (task→contact; 203 the other way). Batch
endpoints take at most 100 inputs; association reads are immediate, search is not (a task just
created may take seconds to appear in search), so `tasks_of` reads associations, never search.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.hubspot_api import HubSpotApi
from connectors.hubspot_records import chunked, epoch_ms
from connectors.records import CrmTask, FollowUpTask, WriteResult, parse_timestamp

TASK_TO_CONTACT = 204
BATCH = 100
ASSOCIATION_BATCH = 1_000
SEARCH_PAGE = 200
SEARCH_CAP = 10_000  # results one search query may page through
TASK_PROPERTIES = [
    "hs_task_subject",
    "hs_task_body",
    "hs_task_status",
    "hubspot_owner_id",
    "hs_timestamp",
    "hs_task_completion_date",
    "hs_createdate",
]
PRIORITIES = {"high": "HIGH", "medium": "MEDIUM", "low": "LOW"}


class HubSpotTasks:
    def __init__(self, api: HubSpotApi) -> None:
        self.api = api

    def tasks_of(self, contact_ids: Sequence[str]) -> list[CrmTask]:
        contact_of: dict[str, str] = {}
        for chunk in chunked(list(dict.fromkeys(contact_ids)), ASSOCIATION_BATCH):
            answer = self.api.call(
                "associations", "reading contacts' tasks",
                "crm.associations.v4.batch_api.get_page", "contacts", "tasks",
                {"inputs": [{"id": contact_id} for contact_id in chunk]},
            )
            for result in answer.get("results") or []:
                contact_id = str((result.get("from") or {}).get("id"))
                for target in result.get("to") or []:
                    contact_of[str(target["toObjectId"])] = contact_id
        tasks = []
        for chunk in chunked(list(contact_of), BATCH):
            answer = self.api.call(
                "batch_read", "reading tasks", "crm.objects.tasks.batch_api.read",
                {"inputs": [{"id": task_id} for task_id in chunk],
                 "properties": TASK_PROPERTIES},
            )
            tasks += [task_from(record, contact_of.get(str(record["id"])))
                      for record in answer.get("results") or []]
        return tasks

    def create_tasks(self, tasks: Sequence[FollowUpTask]) -> list[WriteResult]:
        results: list[WriteResult] = []
        for chunk in chunked(list(tasks), BATCH):
            answer = self.api.call(
                "task_create", "creating follow-up tasks", "crm.objects.tasks.batch_api.create",
                {"inputs": [task_input(task) for task in chunk]},
            )
            failed = failures_by_trace(answer)
            results += [
                WriteResult(lead_id=task.lead_id, ok=task.lead_id not in failed,
                            error=failed.get(task.lead_id))
                for task in chunk
            ]
        return results

    def remove_tasks(self, task_ids: Sequence[str]) -> None:
        for chunk in chunked(list(task_ids), BATCH):
            self.api.call(
                "task_archive", "archiving duplicate tasks", "crm.objects.tasks.batch_api.archive",
                {"inputs": [{"id": task_id} for task_id in chunk]},
            )

    def tasks_created_since(self, since: datetime, token: str) -> Iterator[CrmTask]:
        """Searched by creation date, oldest first; past the 10,000 results one query may page
        through, the query starts again from the last creation date seen."""
        lower, offset, seen = epoch_ms(since), 0, set[str]()
        while True:
            body: dict[str, Any] = {
                "filterGroups": [{"filters": [
                    {"propertyName": "hs_task_body", "operator": "CONTAINS_TOKEN", "value": token},
                    {"propertyName": "hs_createdate", "operator": "GTE", "value": str(lower)},
                ]}],
                "sorts": [{"propertyName": "hs_createdate", "direction": "ASCENDING"}],
                "properties": TASK_PROPERTIES,
                "limit": SEARCH_PAGE,
            }
            if offset:
                body["after"] = str(offset)
            answer = self.api.call("search", "searching leadq's tasks",
                                   "crm.objects.tasks.search_api.do_search", body,
                                   limiter="search")
            records = answer.get("results") or []
            for record in records:
                if str(record["id"]) not in seen:
                    seen.add(str(record["id"]))
                    yield task_from(record, None)
            after = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if not records or after is None:
                return
            offset = int(after)
            if offset + SEARCH_PAGE > SEARCH_CAP:
                newest = task_from(records[-1], None).created_at
                lower = epoch_ms(newest) if newest else lower
                offset = 0


def task_input(task: FollowUpTask) -> dict[str, Any]:
    return {
        "properties": {
            "hs_timestamp": hubspot_moment(task.due_at),
            "hs_task_subject": task.subject,
            "hs_task_body": task.body,
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": PRIORITIES[task.priority],
            "hs_task_type": "TODO",
            "hubspot_owner_id": task.owner_id,
        },
        "associations": [{
            "to": {"id": task.lead_id},
            "types": [{"associationCategory": "HUBSPOT_DEFINED",
                       "associationTypeId": TASK_TO_CONTACT}],
        }],
        "objectWriteTraceId": task.lead_id,
    }


def failures_by_trace(answer: dict[str, Any]) -> dict[str, str]:
    """The leads whose task a 207 says was not created, with HubSpot's message."""
    failed: dict[str, str] = {}
    for error in answer.get("errors") or []:
        for lead_id in (error.get("context") or {}).get("objectWriteTraceId") or []:
            failed[str(lead_id)] = str(error.get("message") or "not created")
    return failed


def task_from(record: dict[str, Any], contact_id: str | None) -> CrmTask:
    properties = record.get("properties") or {}
    return CrmTask(
        id=str(record["id"]),
        lead_id=contact_id,
        owner_id=properties.get("hubspot_owner_id") or None,
        subject=properties.get("hs_task_subject"),
        body=properties.get("hs_task_body"),
        created_at=parse_timestamp(properties.get("hs_createdate") or record.get("createdAt")),
        completed_at=parse_timestamp(properties.get("hs_task_completion_date")),
        closed=properties.get("hs_task_status") == "COMPLETED",
    )


def hubspot_moment(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )
