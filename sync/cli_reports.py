"""`leadq preview` and `leadq report …`: read the CRM, write nothing to it, and show the result
in the terminal and, with `--html`, on a page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import RenderableType

from sync.cli_options import (
    ModelReplacingOption,
    NowOption,
    SettingsFileOption,
    console,
    parse_now,
)
from sync.settings import Settings, load_settings
from sync.terminal import markup_safe
from sync.user_errors import UserError, user_errors

report_app = typer.Typer(help="Reports read from the CRM.", no_args_is_help=True)


def check_page_target(path: Path) -> None:
    """Refuse, before any work, a page that could not be written."""
    if path.is_dir():
        raise UserError(f"{path}: is a directory; give a file name for the page")
    if not path.parent.is_dir():
        raise UserError(f"{path}: the folder {path.parent} does not exist")


def write_page(path: Path, text: str) -> None:
    """Write the whole page or nothing: a page cut short by a failure never replaces a good one."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def preview(
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the preview as an HTML page.")
    ] = None,
    model: ModelReplacingOption = None,
    now: NowOption = None,
    env_file: SettingsFileOption = None,
) -> None:
    """Score the live CRM without writing anything: distributions, MQLs now and per week, who
    would get them, and the rules that count most — before a model goes live."""
    from sync.preview_render import preview_page, preview_view
    from sync.preview_run import run_preview

    with user_errors():
        settings = page_run_settings(env_file, model, html)
        result = run_preview(settings, parse_now(now))
        if html is not None:
            write_page(html, preview_page(result))
    show_with_page(preview_view(result), html)


def page_run_settings(env_file: Path | None, model: Path | None, html: Path | None) -> Settings:
    """The settings of a command that reads the CRM and may write a page (`--model` replacing the
    model path); a page that could not be written is refused first."""
    settings = load_settings(env_file)
    if model is not None:
        settings = settings.model_copy(update={"model_path": model})
    if html is not None:
        check_page_target(html)
    return settings


def show_with_page(view: RenderableType, html: Path | None) -> None:
    console.print(view)
    if html is not None:
        console.print(f"Wrote {markup_safe(str(html))}")


@report_app.command("handoff")
def report_handoff(
    days: Annotated[
        int, typer.Option("--days", min=1, max=3660, help="Handoffs of the last N days.")
    ] = 7,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the report as an HTML page.")
    ] = None,
    model: ModelReplacingOption = None,
    now: NowOption = None,
    env_file: SettingsFileOption = None,
) -> None:
    """Speed-to-lead: per owner and per grade, the MQLs leadq handed off, their follow-up tasks
    done on time, late or still open, the median time to the first touch, and how many the reps
    accepted or rejected. Reads the CRM, writes nothing."""
    from sync.handoff_report import handoff_figures, handoff_sections
    from sync.runtime import open_runtime
    from sync.sections import sections_page, sections_view

    with user_errors():
        settings = page_run_settings(env_file, model, html)
        moment = parse_now(now) or datetime.now(UTC)
        runtime = open_runtime(settings)
        try:
            figures = handoff_figures(
                runtime.connector, moment - timedelta(days=days), moment, runtime.model
            )
        finally:
            runtime.close()
        sections = handoff_sections(figures)
        if html is not None:
            write_page(html, sections_page(
                "leadq speed-to-lead", "Speed to lead", sections[0].note, sections))
    show_with_page(sections_view(sections), html)
