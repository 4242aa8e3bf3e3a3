"""`leadq demo` and `leadq sandbox`: commands the sandbox adds to `leadq` through the
`leadq.commands` entry point (pyproject.toml), so that no deployed module imports the sandbox.

The emulators need the `sandbox` extra (werkzeug, trustme): without it these commands say so in
one line. `leadq demo --csv` needs neither.
"""

from __future__ import annotations

import importlib.util
import signal
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from scoring.loading import load_model
from sync.cli_options import NowOption, console, parse_now
from sync.csvscore import CsvScoringRun, score_csv
from sync.render import distribution_line, explanation_panel, top_leads_table
from sync.user_errors import UserError, user_errors

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEMO_NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SANDBOX_LIBRARIES = ("werkzeug", "trustme")
MAX_PORT = 65_535


def register(app: typer.Typer) -> None:
    """The `leadq.commands` entry point: add `demo` and `sandbox` to the `leadq` app."""
    app.command()(demo)
    app.command()(sandbox)


def stop_on_interrupt_or_terminate() -> None:
    """Ctrl-C and SIGTERM both stop the sandbox cleanly — also when it was started in the
    background from a script, where the shell leaves SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def require_sandbox_libraries() -> None:
    missing = [name for name in SANDBOX_LIBRARIES if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(
            f"the sandbox needs {', '.join(missing)}: pip install 'leadq[sandbox]'"
        )


def demo(
    crm: Annotated[str, typer.Option(help="The sandbox CRM: hubspot or salesforce.")] = "hubspot",
    leads: Annotated[int, typer.Option(help="How many synthetic people.")] = 2000,
    csv: Annotated[bool, typer.Option("--csv", help="Score the example CSV instead.")] = False,
    now: NowOption = None,
) -> None:
    """Run leadq end to end on a sandbox CRM: setup, full sync, new activity, incremental sync."""
    if csv:
        _csv_demo(now)
        return
    with user_errors():
        require_sandbox_libraries()
        from sandbox.demo import demo_story, run_demo

        if crm not in ("hubspot", "salesforce"):
            raise UserError(f"unknown sandbox {crm!r}: use hubspot or salesforce")
        check_sandbox_options(leads, 0, None)
        result = run_demo(crm, leads, progress=lambda m: console.print(f"[dim]{m}[/dim]"))  # type: ignore[arg-type]
    demo_story(console, result)


def _csv_demo(now: str | None) -> None:
    with user_errors():
        scoring_model = load_model(EXAMPLES / "scoring.yaml")
        output = Path("out") / "scored-leads.csv"
        output.parent.mkdir(exist_ok=True)
        moment = parse_now(now) or DEMO_NOW
        run = CsvScoringRun(scoring_model, EXAMPLES / "leads.csv", EXAMPLES / "activities.csv")
        report = score_csv(run, output, moment, top=10)
    console.rule(f"leadq demo — {scoring_model.name}")
    console.print(
        f"Scored {report.leads} example leads and {report.activities} activities as of "
        f"{moment:%Y-%m-%d %H:%M} UTC with examples/scoring.yaml (version {scoring_model.version})."
    )
    console.print(top_leads_table(report, "Top 10 leads"))
    console.print(distribution_line(report))
    best = report.top[0][0]
    console.print(f"\nWhy is {best.name or best.id} on top? (leadq explain … --id {best.id})")
    with user_errors():
        explained = run.explain(best.id, moment)
    if explained is not None:
        console.print(explanation_panel(explained))
    console.print(f"\nThe full scored file is {output}.")


def sandbox(
    crm: Annotated[str, typer.Argument(help="hubspot or salesforce")],
    leads: Annotated[int, typer.Option(help="How many synthetic people to seed.")] = 5000,
    seed: Annotated[int, typer.Option(help="The same seed gives the same org.")] = 7,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1; 0 picks a free one.")] = 0,
    db: Annotated[
        Path | None, typer.Option(help="Keep the org in this SQLite file (reused if present).")
    ] = None,
    notify: Annotated[
        str | None, typer.Option(help="POST webhooks / outbound messages to this URL.")
    ] = None,
) -> None:
    """Run a HubSpot or Salesforce emulator on loopback with a seeded org, until stopped."""
    with user_errors():
        require_sandbox_libraries()
        from sandbox.launch import running_sandbox

        stop_on_interrupt_or_terminate()

        if crm not in ("hubspot", "salesforce"):
            raise UserError(f"unknown sandbox {crm!r}: use hubspot or salesforce")
        check_sandbox_options(leads, port, db)
        console.print(f"Seeding a {crm} sandbox with {leads:,} synthetic people (seed {seed}) …")
        with running_sandbox(crm, leads, seed, port, db, notify) as info:  # type: ignore[arg-type]
            console.print(f"[bold]{crm} sandbox[/bold] at {info.base_url}")
            console.print("Point leadq at it with:")
            for name, value in info.environment.items():
                console.print(f"  export {name}={value}", soft_wrap=True)
            for note in info.notes:
                console.print(f"  {note}", soft_wrap=True)
            console.print("Serving until Ctrl-C.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                console.print("stopped")


def check_sandbox_options(leads: int, port: int, db: Path | None) -> None:
    """Refuse, before seeding anything, options the sandbox cannot run with."""
    if leads < 1:
        raise UserError(f"--leads {leads}: a sandbox org needs at least 1 person")
    if not 0 <= port <= MAX_PORT:
        raise UserError(f"--port {port} is not a port: give 1-{MAX_PORT}, or 0 for a free one")
    if port:
        _check_port_free(port)
    if db is not None and db.is_dir():
        raise UserError(f"--db {db} is a directory: give a file, e.g. {db / 'sandbox.db'}")
    if db is not None and not db.parent.is_dir():
        raise UserError(f"--db {db}: there is no directory {db.parent}; create it first")


def _check_port_free(port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise UserError(
                f"--port {port}: 127.0.0.1:{port} is taken ({error.strerror}); "
                "give another port, or 0 for a free one"
            ) from None
