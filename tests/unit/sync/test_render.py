"""What the CLI prints comes from CRMs and web forms: it is shown as it is, never as markup."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console

from sync.engine import PlannedChange, RunReport
from sync.render import changes_table


def test_a_lead_name_with_brackets_is_printed_as_it_is() -> None:
    report = RunReport("run1", "full", dry_run=True, started_at=datetime(2026, 11, 2, tzinfo=UTC))
    report.changes = [
        PlannedChange("L1", "Bob [/b] Smith", "leadq_reasons", None, "[bold red]x[/]", "why [/i]")
    ]
    console = Console(width=200, record=True)
    console.print(changes_table(report))
    shown = console.export_text()
    assert "Bob [/b] Smith" in shown
    assert "[bold red]x[/]" in shown
    assert "why [/i]" in shown
