"""`leadq sync`, `leadq serve`, `leadq status` and `leadq audit`: sync runs, once or served with
the webhooks and schedules, and the state they leave."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from scoring.loading import load_model
from sync.cli_options import (
    ModelReplacingOption,
    NowOption,
    SettingsFileOption,
    console,
    parse_now,
)
from sync.engine import RunWatch
from sync.render import (
    audit_table,
    failures_table,
    not_found_line,
    run_summary,
    status_view,
    streamed_assignments,
    streamed_changes,
    waiting_table,
)
from sync.settings import Settings, load_settings
from sync.state import StateStore
from sync.user_errors import UserError, error_console, user_errors


def check_record_ids(crm: str, ids: list[str] | tuple[str, ...]) -> None:
    """Record ids are checked before any request: a malformed Salesforce id would fail the whole
    SOQL query it is quoted into, a HubSpot id that is no 64-bit number the whole batch read."""
    if crm == "salesforce":
        from connectors.salesforce_records import is_record_id

        kind = "Salesforce record id (15 or 18 letters and digits, e.g. 00Q5g00000AbCdEEAV)"
    else:
        from connectors.hubspot_records import is_record_id

        kind = "HubSpot record id (a whole number up to 9223372036854775807, e.g. 51)"
    malformed = [record_id for record_id in ids if not is_record_id(record_id)]
    if malformed:
        raise UserError(f"--ids {', '.join(map(repr, malformed))}: not a {kind}")


def sync(
    full: Annotated[
        bool, typer.Option("--full", help="Rescore every lead (decay, new model).")
    ] = False,
    ids: Annotated[
        list[str] | None, typer.Option("--ids", help="Only these leads (repeat the option).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show every planned change; write nothing.")
    ] = False,
    model: ModelReplacingOption = None,
    now: NowOption = None,
    env_file: SettingsFileOption = None,
) -> None:
    """Score leads in the CRM and write score, grade, reasons, stage and owner back."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from sync.runtime import open_runtime

    kind = "ids" if ids else ("full" if full else "incremental")
    with user_errors():
        settings = load_settings(env_file)
        if model is not None:
            settings = settings.model_copy(update={"model_path": model})
        check_record_ids(settings.crm, ids or ())
        as_of = parse_now(now)
        runtime = open_runtime(settings)
        try:
            engine = runtime.engine((lambda: as_of) if as_of else None)
            changes = streamed_changes(console, dry_run)
            assignments = streamed_assignments(console)
            watch = (
                RunWatch(changes=changes.add, assignments=assignments.add)
                if dry_run
                else RunWatch(assignments=assignments.add)
            )
            with Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task(f"{kind} sync: pulling …", total=None)
                report = engine.run(
                    kind,
                    ids or (),
                    dry_run,  # type: ignore[arg-type]
                    progress=lambda n: bar.update(task, description=f"{kind} sync: {n:,} leads"),
                    watch=watch,
                )
        finally:
            runtime.close()
    changes.close()
    assignments.close()
    if report.failed:
        console.print(failures_table(report))
    if report.waiting:
        console.print(waiting_table(report.waiting))
    console.print(run_summary(report))
    if report.not_found:
        error_console().print(not_found_line(report))
    if report.failed or report.not_found:
        raise typer.Exit(1)


@contextmanager
def state_store_of(env_file: Path | None) -> Iterator[tuple[Settings, StateStore]]:
    """The settings, and the state store they name, to read (closed after use): a SQLite file
    that is not there is refused rather than created empty."""
    from sync.state_url import open_state_store

    settings = load_settings(env_file)
    require_state_file(settings.state_url)
    store = open_state_store(settings.state_url)
    try:
        yield settings, store
    finally:
        store.close()


def require_state_file(url: str) -> None:
    """A SQLite state file must already be there (a DynamoDB table is checked when opened)."""
    from sync.state_url import state_location

    location = state_location(url)
    if location.backend == "sqlite" and not Path(location.name).exists():
        raise UserError(
            f"no leadq state at {location.name}: no sync has run with LEADQ_STATE_URL={url} "
            "(check the setting, or run leadq sync first)"
        )


def audit(
    lead_id: Annotated[str, typer.Argument(help="The CRM id of the lead.")],
    limit: Annotated[int, typer.Option(help="How many changes to show.")] = 50,
    env_file: SettingsFileOption = None,
) -> None:
    """Show a lead's history of changes made by leadq, and why."""
    with user_errors(), state_store_of(env_file) as (settings, store):
        entries = store.audit_for(lead_id, limit=limit)
        if not entries:
            raise UserError(f"leadq has not changed lead {lead_id!r} (state: {settings.state_url})")
    console.print(audit_table(lead_id, entries))


def status(
    runs: Annotated[int, typer.Option(help="How many of the latest runs to show.")] = 10,
    env_file: SettingsFileOption = None,
) -> None:
    """Show the sync's state: cursor, latest runs, leads waiting for a retry and why, lease."""
    from sync.status import read_status

    with user_errors(), state_store_of(env_file) as (settings, store):
        found = read_status(store, settings.crm, datetime.now(UTC), runs)
    for shown in status_view(found):
        console.print(shown)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker threads scoring queued leads.")] = 2,
    every: Annotated[
        float, typer.Option(min=0.01, help="Minutes between incremental runs.")
    ] = 15.0,
    nightly: Annotated[str, typer.Option(help="When the nightly full run starts (UTC).")] = "02:30",
    env_file: SettingsFileOption = None,
) -> None:
    """Receive CRM webhooks, score the leads they name, and run the schedules, in one process
    (until SIGTERM or Ctrl-C; queued leads survive a restart)."""
    from datetime import time as clock_time
    from datetime import timedelta

    from sync.secrets import with_secrets
    from sync.serve import ServeOptions, serve_until_stopped

    with user_errors():
        try:
            at = clock_time.fromisoformat(nightly)
        except ValueError:
            raise UserError(f"--nightly {nightly!r} is not a time of day, e.g. 02:30") from None
        settings = with_secrets(load_settings(env_file))
        settings.require_credentials()
        load_model(settings.model_path)  # a broken model stops here, not in every worker
        options = ServeOptions(host, port, workers, timedelta(minutes=every), at)

        def announce(address: str, restored: int) -> None:
            console.print(f"leadq serve: listening on {address}", soft_wrap=True)
            if restored:
                console.print(f"{restored} queued units left by an earlier run are queued again")
            console.file.flush()

        serve_until_stopped(settings, options, announce)
