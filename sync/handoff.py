"""Handing a newly assigned lead to its owner: exactly one follow-up task per handoff.

A run creates the tasks of a page's newly assigned leads *before* it writes their owners, so a
run killed in between leaves the lead unowned: the next run routes it to the same owner again
(the assignment is in the store) and finds the task already there. Which tasks exist is asked of
the CRM, not of leadq's state: each task carries a marker line (sync/handoff_sla.py) naming the
lead and the owner, and a handoff whose marked task exists creates nothing (check before create).
Because a create whose answer was lost (a dropped connection, a retried 5xx) may still have
landed, the tasks are read back after creating and any second task of the same handoff is
removed, keeping the oldest (and so are those a run killed before that check left behind): the
CRM converges on one task per handoff whatever was retried.

A lead whose task could not be created is not handed over this run: its owner is not written, and
it waits in the retry set with the CRM's message, so no owner gets a lead without its task.
Queues get no task (neither CRM lets a queue own one).

A Slack message per created task, when the model names the environment variable of an incoming
webhook (`handoff.slack_webhook_url_env`), goes through slack-sdk's `WebhookClient`; a failed
message is logged and counted, never retried into a second one, and never stops the run.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.base import TaskDesk
from connectors.records import CrmTask, FollowUpTask
from scoring.handoff_config import (
    Handoff,
)
from sync.handoff_sla import HandoffFacts, Marker, follow_up
from sync.settings import SettingsError

log = logging.getLogger(__name__)


@dataclass
class HandoffReport:
    """What a run's handoffs did."""

    planned: int = 0  # a dry run's handoffs: a task each, unless one is there already
    created: int = 0
    found: int = 0  # handoffs whose task an earlier (killed or retried) attempt had created
    duplicates_removed: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # lead → why its task is missing
    slack_sent: int = 0
    slack_failed: int = 0

    def add(self, other: HandoffReport) -> None:
        self.planned += other.planned
        self.created += other.created
        self.found += other.found
        self.duplicates_removed += other.duplicates_removed
        self.failed.update(other.failed)
        self.slack_sent += other.slack_sent
        self.slack_failed += other.slack_failed


class SlackNotice:
    """One message per created task through a Slack incoming webhook (slack-sdk)."""

    def __init__(self, url: str) -> None:
        try:
            from slack_sdk.webhook import WebhookClient
        except ImportError as error:
            raise SettingsError(
                "the model's handoff.slack_webhook_url_env asks for Slack messages, and slack-sdk "
                "is not installed: pip install 'leadq[slack]'"
            ) from error
        self.client = WebhookClient(url, timeout=5)

    def send(self, task: FollowUpTask, owner_name: str) -> bool:
        text = f"New MQL for {owner_name}: {task.subject} (due {task.due_at:%Y-%m-%d %H:%M} UTC)"
        try:
            response = self.client.send(text=text)
        except OSError as error:
            log.warning("slack notification failed: %s", type(error).__name__)
            return False
        if response.status_code != 200:
            log.warning("slack notification refused: HTTP %s", response.status_code)
            return False
        return True


def slack_notice(handoff: Handoff, environ: Mapping[str, str] = os.environ) -> SlackNotice | None:
    """The Slack notifier the model asks for, if its webhook URL is set."""
    if handoff.slack_webhook_url_env is None:
        return None
    url = environ.get(handoff.slack_webhook_url_env, "").strip()
    return SlackNotice(url) if url else None


class Handoffs:
    def __init__(self, desk: TaskDesk, handoff: Handoff, slack: SlackNotice | None = None) -> None:
        self.desk = desk
        self.handoff = handoff
        self.slack = slack

    def hand_off(
        self, facts: Sequence[HandoffFacts], now: datetime, owner_names: Mapping[str, str]
    ) -> HandoffReport:
        report = HandoffReport()
        if not facts:
            return report
        existing = marked(self.desk.tasks_of([fact.lead_id for fact in facts]))
        report.duplicates_removed = self._remove_extra(existing)  # a run killed before its check
        wanted = [
            follow_up(self.handoff, fact, now)
            for fact in facts
            if (fact.lead_id, fact.owner_id) not in existing
        ]
        report.found = len(facts) - len(wanted)
        if not wanted:
            return report
        results = self.desk.create_tasks(wanted)
        created = [task for task, result in zip(wanted, results, strict=True) if result.ok]
        report.failed = {r.lead_id: r.error or "not created" for r in results if not r.ok}
        report.created = len(created)
        if created:
            again = marked(self.desk.tasks_of([task.lead_id for task in created]))
            report.duplicates_removed += self._remove_extra(again)
        for task in created:
            self._notify(task, owner_names.get(task.owner_id, task.owner_id), report)
        return report

    def _remove_extra(self, found: dict[tuple[str, str], list[CrmTask]]) -> int:
        """Remove all but the oldest task of each handoff; how many were removed."""
        extra = [task.id for tasks in found.values() for task in sorted(tasks, key=_age)[1:]]
        if extra:
            self.desk.remove_tasks(extra)
        return len(extra)

    def _notify(self, task: FollowUpTask, owner_name: str, report: HandoffReport) -> None:
        if self.slack is None:
            return
        if self.slack.send(task, owner_name):
            report.slack_sent += 1
        else:
            report.slack_failed += 1


def marked(tasks: Sequence[CrmTask]) -> dict[tuple[str, str], list[CrmTask]]:
    """leadq's handoff tasks among `tasks`, by (lead, owner) of their marker."""
    found: defaultdict[tuple[str, str], list[CrmTask]] = defaultdict(list)
    for task in tasks:
        marker = Marker.find(task.body)
        if marker is not None:
            found[(marker.lead_id, marker.owner_id)].append(task)
    return dict(found)


def _age(task: CrmTask) -> tuple[Any, str]:
    return (task.created_at.timestamp() if task.created_at else float("inf"), task.id)
