"""The model's `handoff:` section: follow-up tasks, their SLA rules and working hours."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from scoring.model_types import (
    MOST_LABEL,
    RuleId,
    Section,
    did_you_mean,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TASK_FIELDS = ("name", "grade", "label", "score", "stage", "stage_rule", "due")  # in templates
Duration = Annotated[str, Field(pattern=r"^[0-9]{1,4}(\.[0-9]{1,2})?[hd]$")]
ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class WorkingHours(Section):
    """When reps work, in `timezone`: SLA clocks only run inside these hours."""

    timezone: str = Field(default="UTC", description="An IANA zone, e.g. Europe/Berlin")
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default=["mon", "tue", "wed", "thu", "fri"], min_length=1
    )
    start: ClockTime = "09:00"
    end: ClockTime = "17:00"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {zone!r} (an IANA name: Europe/Berlin)") from error
        return zone

    @model_validator(mode="after")
    def _start_before_end(self) -> WorkingHours:
        if self.start >= self.end:
            raise ValueError(f"working hours must start before they end ({self.start}–{self.end})")
        return self


class SlaRule(Section):
    """One follow-up SLA: the first rule whose every given test matches sets the task's due time.
    A rule with no test matches every lead."""

    id: RuleId
    grades: list[Literal["A", "B", "C", "D", "F"]] | None = None
    labels: list[str] | None = None
    stage_rules: list[str] | None = Field(
        default=None, description="Ids of the `stages:` rules that qualified the lead"
    )
    hand_raiser: bool | None = Field(
        default=None, description="true: only hand-raisers (demo or contact request)"
    )
    due_within: Duration = Field(
        description="Working time until the task is due: 4h (working hours) or 2d (working days)"
    )
    priority: Literal["high", "medium", "low"] = "medium"

    @field_validator("labels")
    @classmethod
    def _known_labels(cls, labels: list[str] | None) -> list[str] | None:
        known = [f"{letter}{band}" for letter in "ABCD" for band in range(1, 5)]
        unknown = [label for label in labels or [] if label not in known]
        if unknown:
            raise ValueError(f"unknown label {unknown[0]!r}: labels run from A1 to D4")
        return labels


def _default_sla() -> list[SlaRule]:
    return [
        SlaRule(id="hand_raisers", hand_raiser=True, due_within="4h", priority="high"),
        SlaRule(id="everyone_else", due_within="2d", priority="medium"),
    ]


class Handoff(Section):
    """A follow-up task for the owner when leadq assigns a newly qualified lead. Absent: no task.
    `handoff: {}` turns it on with these defaults: hand-raisers due within 4 working hours (high
    priority), everyone else within 2 working days; Monday–Friday 09:00–17:00 UTC."""

    working_hours: WorkingHours = WorkingHours()
    sla: list[SlaRule] = Field(default_factory=_default_sla, min_length=1)
    subject: str = Field(
        default="Follow up: {name} ({label}, MQL)", min_length=1, max_length=MOST_LABEL,
        description=f"The task's subject; placeholders: {', '.join(TASK_FIELDS)}",
    )
    slack_webhook_url_env: str | None = Field(
        default=None,
        description="Name of the environment variable holding a Slack incoming-webhook URL; "
        "null: no Slack message",
    )

    @field_validator("subject")
    @classmethod
    def _known_placeholders(cls, subject: str) -> str:
        import string

        try:
            names = [name for _, name, _, _ in string.Formatter().parse(subject) if name]
        except ValueError as error:
            raise ValueError(f"subject is not a valid template: {error}") from error
        unknown = [name for name in names if name not in TASK_FIELDS]
        if unknown:
            raise ValueError(
                f"unknown placeholder {{{unknown[0]}}}{did_you_mean(unknown[0], list(TASK_FIELDS))}"
            )
        return subject

    @field_validator("sla")
    @classmethod
    def _last_catches_all(cls, rules: list[SlaRule]) -> list[SlaRule]:
        last = rules[-1]
        tests = (last.grades, last.labels, last.stage_rules, last.hand_raiser)
        if any(test is not None for test in tests):
            raise ValueError(
                f"the last SLA rule ({last.id!r}) must have no test, so that every handed-off "
                "lead gets a due time"
            )
        return rules
