"""What the CLI prints comes from CRMs and web forms: it is shown as it is, never as markup."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console

from sync.engine import Assignment, PlannedChange, RunReport
from sync.render import assignments_table, changes_table, failures_table, streamed_changes
from sync.terminal import terminal_safe


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


HOSTILE = (
    "Eve\x1b]0;owned\x07 \x1b[2J\x1b[31mRed\x1b[0m \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"
    " \x9b31mC1\x07\x08\r\x00\tend\nnext"
)


def test_escape_sequences_and_control_characters_are_removed_from_what_is_shown() -> None:
    assert terminal_safe(HOSTILE) == "Eve Red link 31mC1 end next"


def test_every_table_of_a_run_shows_crm_values_without_their_escape_sequences() -> None:
    report = RunReport("run1", "full", dry_run=True, started_at=datetime(2026, 11, 2, tzinfo=UTC))
    report.changes = [PlannedChange("L1", HOSTILE, "leadq_reasons", HOSTILE, HOSTILE, HOSTILE)]
    report.assignments = [Assignment("L1", HOSTILE, "o1", HOSTILE, HOSTILE)]
    report.failed = [("L1", HOSTILE)]
    console = Console(width=200, record=True, force_terminal=False)
    for table in (changes_table(report), assignments_table(report), failures_table(report)):
        console.print(table)
    shown = console.export_text()
    assert "Eve Red link" in shown
    assert not any(character in shown for character in "\x1b\x07\x08\r\x00\x9b")


def test_changes_streamed_past_a_table_s_size_are_all_printed_in_tables_that_continue() -> None:
    console = Console(width=200, record=True)
    shown = streamed_changes(console, dry_run=True, rows=3)
    for n in range(7):
        shown.add([PlannedChange(f"L{n}", f"Lead {n}", "leadq_score", None, n, "new")])
    printed_before_close = console.export_text(clear=False)
    shown.close()
    text = console.export_text()
    assert "Lead 5" in printed_before_close and "Lead 6" not in printed_before_close
    assert all(f"Lead {n}" in text for n in range(7))
    assert text.count("Planned changes (nothing written) (continued)") == 2


def test_a_short_run_s_changes_are_one_table_as_before() -> None:
    console = Console(width=200, record=True)
    shown = streamed_changes(console, dry_run=True, rows=3)
    shown.add([PlannedChange("L1", "Lead 1", "leadq_score", None, 1, "new")])
    shown.close()
    text = console.export_text()
    assert "Planned changes (nothing written)" in text and "continued" not in text


def test_a_dry_run_with_no_change_still_shows_its_empty_table() -> None:
    console = Console(width=200, record=True)
    streamed_changes(console, dry_run=True).close()
    assert "Planned changes (nothing written)" in console.export_text()
