"""How the CLI shows results: rich tables for people, never raw dumps."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from connectors.records import Lead, masked_email
from scoring.explain import Explanation
from sync.csvscore import CsvScoreReport
from sync.engine import RunReport
from sync.state import AuditEntry

if TYPE_CHECKING:
    from sync.demo import DemoResult


def plain(value: object) -> Text:
    """Text from a CRM, a file or a model, shown as it is: never read as console markup."""
    return Text(str(value))


def who(name: str, record_id: str) -> Text:
    return Text.assemble(name, "\n", (record_id, "dim"))


GRADE_STYLE = {"A": "bold green", "B": "green", "C": "yellow", "D": "red", "F": "bold red"}


def lead_title(lead: Lead) -> str:
    who = lead.name or (masked_email(lead.email) if lead.email else lead.id)
    where = lead.company.name if lead.company and lead.company.name else None
    parts = [who, lead.title, where]
    return " · ".join(part for part in parts if part)


def top_leads_table(report: CsvScoreReport, title: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False, expand=False)
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
            result.label,
            plain(result.stage),
            plain(result.reasons),
        )
    return table


def distribution_line(report: CsvScoreReport) -> Text:
    grades = " ".join(f"{g}:{report.by_grade.get(g, 0)}" for g in ("A", "B", "C", "D", "F"))
    stages = " ".join(f"{s}:{n}" for s, n in sorted(report.by_stage.items()))
    return Text(
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
    parts: list[object] = [headline, Text(stage), Text(bant), _fit_table(explanation)]
    parts.append(_engagement_table(explanation))
    parts.append(Text(f"CRM reasons line: {q.reasons_text or '(none)'}", style="italic"))
    parts.append(Text(f"Model: {explanation.model_name} (version {q.model_version})", style="dim"))
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
    title = f"{'Dry run' if report.dry_run else 'Sync'} {report.kind} · run {report.run_id}"
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [
        ("leads pulled", report.pulled),
        ("scored", report.scored),
        ("with changes" if report.dry_run else "changed", report.changed),
        ("written", report.written),
        ("failed", len(report.failed)),
        ("owners assigned", len(report.assignments)),
        ("API requests", ", ".join(f"{k} {v}" for k, v in sorted(report.requests.items())) or "0"),
        ("retries", ", ".join(f"{k} {v}" for k, v in sorted(report.retries.items())) or "0"),
        ("time", f"{report.seconds:.1f} s"),
    ]
    for what, value in rows:
        table.add_row(what, str(value))
    return table


def changes_table(report: RunReport, limit: int | None = None, title: str | None = None) -> Table:
    default = "Planned changes (nothing written)" if report.dry_run else "Changes written"
    table = Table(title=title or default, title_justify="left")
    for column in ("Lead", "Field", "Before", "After", "Why"):
        table.add_column(column, overflow="fold", no_wrap=column == "Field")
    shown = report.changes if limit is None else report.changes[:limit]
    for change in shown:
        table.add_row(
            who(change.lead_name, change.lead_id),
            plain(change.field),
            _value(change.before),
            _value(change.after),
            plain(change.why),
        )
    if limit is not None and len(report.changes) > limit:
        table.caption = f"… and {len(report.changes) - limit} more changes"
    return table


def assignments_table(report: RunReport, title: str = "Owners assigned") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("Lead")
    table.add_column("Owner")
    table.add_column("Why", overflow="fold")
    for assignment in report.assignments:
        table.add_row(
            who(assignment.lead_name, assignment.lead_id),
            plain(assignment.owner_name),
            plain(assignment.reason),
        )
    return table


def failures_table(report: RunReport) -> Table:
    table = Table(title="Not written", title_justify="left")
    table.add_column("Lead")
    table.add_column("Why", overflow="fold")
    for lead_id, error in report.failed:
        table.add_row(plain(lead_id), plain(error))
    return table


def audit_table(lead_id: str, entries: Sequence[AuditEntry]) -> Table:
    table = Table(title=f"History of lead {lead_id} (newest first)", title_justify="left")
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


def demo_story(console: Console, result: DemoResult) -> None:
    full, incremental = result.full, result.incremental
    crm = {"hubspot": "HubSpot", "salesforce": "Salesforce"}[result.crm]
    console.rule(f"leadq demo — {crm} sandbox, {result.leads:,} synthetic people")
    console.print(
        f"Model [bold]{result.model.name}[/bold] (examples/sandbox.yaml, version "
        f"{result.model.version}). Fields created by `leadq setup`: "
        f"{', '.join(result.fields_created) or 'none (already there)'}."
    )
    console.print("\n[bold]1. Full sync[/bold]: every lead scored, written where it changed.")
    console.print(run_summary(full))
    console.print(f"grades   {distribution(full.grades, GRADE_STYLE)}")
    console.print(f"stages   {distribution(full.stages)}")
    promoted = [c for c in full.changes if c.why.startswith("stage →")]
    console.print(f"{len(promoted):,} leads promoted to MQL; a sample of what was written:")
    console.print(changes_table(_sample_of(full), limit=12, title="Written to the CRM (sample)"))
    if full.assignments:
        console.print(assignments_table(full, "Who got the new MQLs, and why"))
    console.print(
        f"\n[bold]2. New activity[/bold]: the sandbox simulated fresh activity for "
        f"{result.simulated} people (page views, downloads, demo requests …)."
    )
    console.print("\n[bold]3. Incremental sync[/bold]: only leads changed since the last run.")
    console.print(run_summary(incremental))
    if incremental.changes:
        console.print(changes_table(incremental, limit=20, title="What changed, and why"))
    else:
        console.print("No lead's score moved enough to write (min score change) — nothing written.")
    if incremental.assignments:
        console.print(assignments_table(incremental, "New MQLs routed"))
    console.print(
        f"\nState and audit log: {result.state_path} — try `LEADQ_STATE_URL=sqlite:///"
        f"{result.state_path} leadq audit <lead id>`."
    )


def _sample_of(report: RunReport) -> RunReport:
    """The changes of a few leads that were promoted, so the sample shows whole stories."""
    promoted = {c.lead_id for c in report.changes if c.why.startswith("stage →")}
    chosen = sorted(promoted)[:2] or sorted({c.lead_id for c in report.changes})[:2]
    sample = RunReport(report.run_id, report.kind, report.dry_run, report.started_at)
    sample.changes = [c for c in report.changes if c.lead_id in chosen]
    return sample
