"""How the CLI shows results: rich tables for people, never raw dumps — a scored CSV, one lead
explained, a sync run as it streams, the sync's state and audit. Backtest and learn are shown by
`render_closed_loop.py`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from connectors.records import Lead, masked_email
from scoring.explain import Explanation
from sync.csvscore import CsvScoreReport
from sync.engine import Assignment, PlannedChange, RunReport
from sync.handoff import HandoffReport
from sync.retry_set import Waiting
from sync.state import AuditEntry, RunRecord
from sync.status import SyncStatus
from sync.terminal import markup_safe, terminal_safe
from sync.write_ahead import SettledFromCrm


def plain(value: object) -> Text:
    """Text from a CRM, a file or a model, shown as it is: never read as console markup, and
    without control characters (`terminal_safe`)."""
    return Text(terminal_safe(value))


def who(name: str, record_id: str) -> Text:
    return Text.assemble(terminal_safe(name), "\n", (terminal_safe(record_id), "dim"))


Row = TypeVar("Row")
STREAMED_ROWS = 2000  # rows of a streamed table printed at once (a run's changes, assignments)
GRADE_STYLE = {"A": "bold green", "B": "green", "C": "yellow", "D": "red", "F": "bold red"}


def lead_title(lead: Lead) -> str:
    who = lead.name or (masked_email(lead.email) if lead.email else lead.id)
    where = lead.company.name if lead.company and lead.company.name else None
    parts = [who, lead.title, where]
    return " · ".join(part for part in parts if part)


def top_leads_table(report: CsvScoreReport, title: str) -> Table:
    table = Table(title=markup_safe(title), title_justify="left", show_lines=False, expand=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("Lead")
    table.add_column("Score", justify="right")
    table.add_column("Grade", justify="center")
    table.add_column("Label", justify="center")
    table.add_column("Stage")
    table.add_column("Why", overflow="fold")
    for rank, (lead, result) in enumerate(report.top, start=1):
        grade = result.grade
        table.add_row(
            str(rank),
            who(lead_title(lead), lead.id),
            str(result.score),
            Text(grade, style=GRADE_STYLE.get(grade, "")),
            plain(result.label),
            plain(result.stage),
            plain(result.reasons),
        )
    return table


def distribution_line(report: CsvScoreReport) -> Text:
    grades = " ".join(f"{g}:{report.by_grade.get(g, 0)}" for g in ("A", "B", "C", "D", "F"))
    stages = " ".join(f"{s}:{n}" for s, n in sorted(report.by_stage.items()))
    return plain(
        f"{report.leads} leads, {report.activities} activities · grades {grades} · stages {stages}"
    )


def explanation_panel(explanation: Explanation) -> Panel:
    q = explanation.qualification
    headline = Text()
    headline.append(f"Score {q.score}", style="bold")
    headline.append(f"  ·  Fit {q.fit} (grade ")
    headline.append(q.grade, style=GRADE_STYLE.get(q.grade, ""))
    headline.append(
        f")  ·  Engagement {q.engagement}  ·  Label {q.label}  ·  Priority {q.priority}"
    )
    stage = f"Stage: {q.stage}"
    if explanation.stage_label:
        stage += f" — {explanation.stage_label}"
    elif q.stage_rule is None:
        stage += " (no stage rule matched: default stage)"
    met = [name for name, ok in q.bant.items() if ok]
    bant = f"BANT {q.bant_count}/4" + (f": {', '.join(met)}" if met else "")
    parts: list[object] = [headline, plain(stage), Text(bant), _fit_table(explanation)]
    parts.append(_engagement_table(explanation))
    reasons_line = terminal_safe(q.reasons_text or "(none)")
    parts.append(Text(f"CRM reasons line: {reasons_line}", style="italic"))
    model_line = terminal_safe(f"Model: {explanation.model_name} (version {q.model_version})")
    parts.append(Text(model_line, style="dim"))
    return Panel(
        Group(*parts),
        title=plain(f"{lead_title(explanation.lead)} ({explanation.lead.id})"),
        title_align="left",
    )


def _fit_table(explanation: Explanation) -> Table:
    q = explanation.qualification
    table = Table(title=f"Fit {q.fit}", title_justify="left", box=None, padding=(0, 2))
    table.add_column("Rule")
    table.add_column("Points", justify="right")
    rows = [reason for reason in q.reasons if reason.kind == "fit"]
    for reason in rows:
        table.add_row(plain(reason.label), f"{reason.points:+g}")
    if not rows:
        table.add_row("[dim]no fit rule matched[/dim]", "")
    return table


def _engagement_table(explanation: Explanation) -> Table:
    q = explanation.qualification
    table = Table(
        title=f"Engagement {q.engagement} (decay: {explanation.decay})",
        title_justify="left",
        box=None,
        padding=(0, 2),
    )
    table.add_column("Rule")
    table.add_column("Activities counted")
    table.add_column("Points", justify="right")
    for evidence in explanation.engagement:
        if evidence.counted is not None:  # a count on the lead, not events
            table.add_row(plain(evidence.label), plain(evidence.counted), f"{evidence.points:+.1f}")
            continue
        newest = evidence.activities[0]
        described = f"{len(evidence.activities)} × {newest.type}, newest {newest.age_days:g} d ago"
        if newest.detail:
            described += f" ({newest.detail})"
        table.add_row(plain(evidence.label), plain(described), f"{evidence.points:+.1f}")
    for reason in q.reasons:
        if reason.kind == "engagement" and reason.rule.startswith("cap:"):
            table.add_row(plain(reason.label), "", f"{reason.points:+.1f}")
    if not explanation.engagement:
        table.add_row("[dim]no activity counted[/dim]", "", "")
    return table


def run_summary(report: RunReport) -> Table:
    title = markup_safe(
        f"{'Dry run' if report.dry_run else 'Sync'} {report.kind} · run {report.run_id}"
    )
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [
        ("leads pulled", report.pulled),
        ("scored", report.scored),
        ("with changes" if report.dry_run else "changed", report.changed),
        ("written", report.written),
        ("failed", len(report.failed)),
        *([("not in the CRM", len(report.not_found))] if report.not_found else []),
        ("owners assigned", report.assigned),
        *_handoff_rows(report.handoffs),
        ("API requests", ", ".join(f"{k} {v}" for k, v in sorted(report.requests.items())) or "0"),
        ("retries", ", ".join(f"{k} {v}" for k, v in sorted(report.retries.items())) or "0"),
        ("retried from earlier runs", report.retried),
        ("waiting for retry", waiting_count(report.waiting)),
        *_settled_row(report.settled_from_crm),
        *([("activity ledger", report.ledger)] if report.ledger else []),
        ("time", f"{report.seconds:.1f} s"),
    ]
    for what, value in rows:
        table.add_row(what, str(value))
    return table


def _handoff_rows(handoffs: HandoffReport) -> list[tuple[str, str]]:
    """Follow-up tasks, when the run made or found any (a model with `handoff:`)."""
    if handoffs.planned:
        return [("follow-up tasks", f"{handoffs.planned} to create (fewer if there already)")]
    if not (handoffs.created or handoffs.found or handoffs.failed):
        return []
    parts = [f"{handoffs.created} created"]
    if handoffs.found:
        parts.append(f"{handoffs.found} already there")
    if handoffs.duplicates_removed:
        parts.append(f"{handoffs.duplicates_removed} duplicates removed")
    if handoffs.failed:
        parts.append(f"{len(handoffs.failed)} refused (owner not written)")
    if handoffs.slack_sent or handoffs.slack_failed:
        parts.append(f"Slack {handoffs.slack_sent} sent, {handoffs.slack_failed} failed")
    return [("follow-up tasks", ", ".join(parts))]


def changes_table(report: RunReport, limit: int | None = None, title: str | None = None) -> Table:
    """The changes a report kept (its sample), at most `limit` of them."""
    shown = report.changes if limit is None else report.changes[:limit]
    table = _changes_rows(shown, title or changes_title(report.dry_run))
    counted = max(report.fields_changed, len(report.changes))
    if counted > len(shown):
        table.caption = f"… and {counted - len(shown)} more changes"
    return table


def changes_title(dry_run: bool) -> str:
    return "Planned changes (nothing written)" if dry_run else "Changes written"


def _changes_rows(changes: Sequence[PlannedChange], title: str | None) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("Lead", "Field", "Before", "After", "Why"):
        table.add_column(column, overflow="fold", no_wrap=column == "Field")
    for change in changes:
        table.add_row(
            who(change.lead_name, change.lead_id),
            plain(change.field),
            _value(change.before),
            _value(change.after),
            plain(change.why),
        )
    return table


def _assignment_rows(assignments: Sequence[Assignment], title: str | None) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("Lead")
    table.add_column("Owner")
    table.add_column("Why", overflow="fold")
    for assignment in assignments:
        table.add_row(
            who(assignment.lead_name, assignment.lead_id),
            plain(assignment.owner_name),
            plain(assignment.reason),
        )
    return table


class StreamedTable(Generic[Row]):
    """Rows printed as a run produces them: one table when they fit in `rows` (what a short run
    shows), else a table each time `rows` have come (the first titled, the others continuing
    it), so that a run of any size holds at most `rows` of them."""

    def __init__(
        self,
        console: Console,
        title: str,
        table_of: Callable[[Sequence[Row], str | None], Table],
        rows: int = STREAMED_ROWS,
        always: bool = False,
    ) -> None:
        self._console, self._title, self._table_of, self._rows = console, title, table_of, rows
        self._waiting: list[Row] = []
        self._printed = 0
        self._always = always  # print the table even with no row (a dry run's empty plan)

    def add(self, rows: Sequence[Row]) -> None:
        self._waiting += rows
        while len(self._waiting) >= self._rows:
            self._print(self._waiting[: self._rows])
            self._waiting = self._waiting[self._rows :]

    def close(self) -> None:
        if self._waiting or (self._always and not self._printed):
            self._print(self._waiting)
        self._waiting = []

    def _print(self, rows: Sequence[Row]) -> None:
        title = self._title if not self._printed else f"{self._title} (continued)"
        self._console.print(self._table_of(rows, title))
        self._printed += len(rows)


def streamed_changes(
    console: Console, dry_run: bool, rows: int = STREAMED_ROWS
) -> StreamedTable[PlannedChange]:
    """A run's changes printed as they come (`leadq sync --dry-run`: every planned change)."""
    return StreamedTable(console, changes_title(dry_run), _changes_rows, rows, always=True)


def streamed_assignments(console: Console) -> StreamedTable[Assignment]:
    return StreamedTable(console, "Owners assigned", _assignment_rows)


def not_found_line(report: RunReport, shown: int = 20) -> Text:
    """The ids an id run was asked for that the CRM does not have (a typo, a deleted lead)."""
    ids = ", ".join(report.not_found[:shown])
    more = f" and {len(report.not_found) - shown} more" if len(report.not_found) > shown else ""
    return plain(f"not in the CRM, so not scored: {ids}{more}")


def assignments_table(report: RunReport, title: str = "Owners assigned") -> Table:
    """The assignments a report kept (its sample)."""
    table = _assignment_rows(report.assignments, title)
    if report.assigned > len(report.assignments):
        table.caption = f"… and {report.assigned - len(report.assignments)} more"
    return table


def failures_table(report: RunReport) -> Table:
    table = Table(title="Not written", title_justify="left")
    table.add_column("Lead")
    table.add_column("Why", overflow="fold")
    for lead_id, error in report.failed:
        table.add_row(plain(lead_id), plain(error))
    return table


def waiting_count(waiting: Sequence[Waiting]) -> str:
    given_up = sum(entry.next_attempt_at is None for entry in waiting)
    return f"{len(waiting)} ({given_up} given up)" if given_up else str(len(waiting))


def _settled_row(settled: SettledFromCrm) -> list[tuple[str, str]]:
    if not (settled.applied or settled.not_applied):
        return []
    return [
        (
            "interrupted writes settled",
            f"{settled.applied} changes found in the CRM, {settled.not_applied} not applied",
        )
    ]


def waiting_table(waiting: Sequence[Waiting], limit: int = 50) -> Table:
    """Leads whose write failed for good, waiting for a later run to write them."""
    table = Table(title="Waiting for retry", title_justify="left")
    for column in ("Lead", "Attempts", "Next attempt (UTC)", "Failing since (UTC)", "Why"):
        table.add_column(column, overflow="fold", no_wrap=column != "Why")
    for entry in waiting[:limit]:
        failed, next_at = entry.failed, entry.next_attempt_at
        table.add_row(
            plain(failed.lead_id),
            str(failed.attempts),
            f"{next_at:%Y-%m-%d %H:%M}" if next_at else "given up (a full run retries it)",
            f"{failed.first_failed_at:%Y-%m-%d %H:%M}",
            plain(failed.error),
        )
    if len(waiting) > limit:
        table.caption = f"… and {len(waiting) - limit} more leads"
    return table


def status_view(status: SyncStatus) -> list[Any]:
    """`leadq status`: the cursor and the lease, the latest runs, the leads waiting for a retry."""
    facts = Table(title=f"leadq status · {status.crm}", title_justify="left", show_header=False,
                  box=None, padding=(0, 2))
    facts.add_column("what")
    facts.add_column("value")
    cursor = status.cursor
    facts.add_row("lead cursor", f"{cursor:%Y-%m-%d %H:%M:%S} UTC" if cursor else "never synced")
    facts.add_row("run lease", plain(status.lease_holder or "free (no scheduled run going)"))
    facts.add_row("waiting for retry", waiting_count(status.waiting))
    if status.unsettled_writes:
        facts.add_row("writes to settle", f"{status.unsettled_writes} (the next run settles them)")
    shown: list[Any] = [facts, _runs_table(status.runs)]
    if status.waiting:
        shown.append(waiting_table(status.waiting))
    return shown


RUN_COUNTS = ("pulled", "written", "failed", "retried")


def _runs_table(runs: Sequence[RunRecord]) -> Table:
    table = Table(title="Latest runs (newest first)", title_justify="left")
    for column in ("Started", "Kind", "Status", *(name.capitalize() for name in RUN_COUNTS)):
        table.add_column(column, justify="right" if column.lower() in RUN_COUNTS else "left")
    for run in runs:
        table.add_row(
            f"{run.started_at:%Y-%m-%d %H:%M}",
            run.kind,
            plain(run.status),
            *(str(run.counts.get(name, "")) for name in RUN_COUNTS),
        )
    if not runs:
        table.caption = "no run yet"
    return table


def audit_table(lead_id: str, entries: Sequence[AuditEntry]) -> Table:
    title = f"History of lead {markup_safe(lead_id)} (newest first)"
    table = Table(title=title, title_justify="left")
    for column in ("When", "Field", "Before", "After", "Why", "Model", "Run"):
        table.add_column(column, overflow="fold", no_wrap=column in ("When", "Field"))
    for entry in entries:
        table.add_row(
            f"{entry.at:%Y-%m-%d %H:%M}",
            plain(entry.field),
            _value(entry.before),
            _value(entry.after),
            plain(entry.reasons),
            plain(entry.model_version),
            plain(entry.run_id),
        )
    return table


def _value(value: object) -> Text:
    return Text("(empty)", style="dim") if value in (None, "") else plain(value)


def distribution(counts: Counter[str], order: Sequence[str] = ()) -> str:
    keys = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
    return "  ".join(f"{key} {counts[key]:,}" for key in keys)
