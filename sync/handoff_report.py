"""`leadq report handoff`: speed-to-lead per owner and per grade, read from the CRM.

Reads leadq's handoff tasks created in the window (one search or query, paged), the handed-off
leads (their status: accepted or rejected), their activity since the first handoff (the first
touch) and the owners (their names): a few requests per hundred handoffs, nothing written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from connectors.base import Connector, task_desk
from connectors.records import Activity, CrmTask
from scoring.config import ScoringModel
from sync.handoff_dispositions import disposition
from sync.handoff_figures import HandoffFigures, Tally, handoffs_of
from sync.handoff_sla import TOKEN, Marker
from sync.sections import Section

READ_BATCH = 100
GRADE_ORDER = "ABCDF?"


def handoff_figures(
    connector: Connector, since: datetime, now: datetime, model: ScoringModel | None = None
) -> HandoffFigures:
    desk = task_desk(connector)
    if desk is None:
        raise ValueError(f"{connector.crm} keeps no tasks: the handoff report needs a CRM")
    tasks = list(desk.tasks_created_since(since, TOKEN))
    names = {owner.id: owner.display_name for owner in connector.list_owners()}
    lead_ids = sorted({task.lead_id for task in tasks if task.lead_id} | _marked_leads(tasks))
    leads = [lead for start in range(0, len(lead_ids), READ_BATCH)
             for lead in connector.read_leads(lead_ids[start : start + READ_BATCH])]
    activities: defaultdict[str, list[Activity]] = defaultdict(list)
    for start in range(0, len(leads), READ_BATCH):
        for activity in connector.pull_activities(leads[start : start + READ_BATCH], since):
            activities[activity.lead_id].append(activity)
    dispositions = {lead.id: disposition(connector.crm, lead, model) for lead in leads}
    figures = HandoffFigures(since, now)
    for handoff in handoffs_of(tasks, names, activities, dispositions):
        figures.add(handoff)
    return figures


def _marked_leads(tasks: Sequence[CrmTask]) -> set[str]:
    return {marker.lead_id for task in tasks if (marker := Marker.find(task.body)) is not None}


def handoff_sections(figures: HandoffFigures) -> list[Section]:
    header = ("", "handed off", "on time", "late", "open (overdue)", "median hours to touch",
              "accepted", "rejected")
    window = f"{figures.since:%Y-%m-%d %H:%M} – {figures.now:%Y-%m-%d %H:%M} UTC"
    grades = sorted(figures.by_grade.items(), key=lambda item: GRADE_ORDER.find(item[0][:1]))
    owners = sorted(figures.by_owner.items(), key=lambda item: (-item[1].handed_off, item[0]))
    note = (
        "On time: the task was completed by its SLA due time; late: after it; open: not "
        "completed yet. First touch: the first call, e-mail sent or meeting after the handoff."
    )
    return [
        Section("All handoffs", header, [_row("all", figures.total)],
                f"Handoffs from {window}. {note}", bars=False),
        Section("Per owner", header, [_row(name, tally) for name, tally in owners], bars=False),
        Section("Per grade", header, [_row(grade, tally) for grade, tally in grades],
                bars=False),
    ]


def _row(name: str, tally: Tally) -> tuple[str, ...]:
    median = tally.median_hours_to_touch
    return (
        name,
        f"{tally.handed_off:,}",
        _share(tally.on_time, tally.handed_off),
        _share(tally.late, tally.handed_off),
        f"{tally.open:,} ({tally.overdue:,})",
        "–" if median is None else f"{median:.1f}",
        _share(tally.accepted, tally.handed_off),
        _share(tally.rejected, tally.handed_off),
    )


def _share(count: int, total: int) -> str:
    return f"{count:,} ({100 * count / total:.0f}%)" if total else "0"
