"""The `leadq` command: the typer app, its commands in the order `leadq --help` lists them, the
commands plugins add, and `main`, which turns every refusal into one `error:` line and an exit
code. The commands themselves live by area: `cli_csv.py` (score, explain), `cli_model.py`
(validate, schema, setup), `cli_sync.py` (sync, audit, status, serve), `cli_reports.py`
(preview, report …), `cli_closed_loop.py` (backtest, learn); their shared options in
`cli_options.py`."""

from __future__ import annotations

from importlib.metadata import entry_points

import typer

from sync.cli_closed_loop import backtest, learn
from sync.cli_csv import explain, score
from sync.cli_model import schema, setup, validate
from sync.cli_reports import preview, report_app
from sync.cli_sync import audit, serve, status, sync
from sync.user_errors import ClickException, UsageError, error_console, print_error, usage_error

app = typer.Typer(
    name="leadq",
    help="Lead qualification for HubSpot and Salesforce: score, explain, route and sync.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

COMMANDS = (  # in the order `leadq --help` lists them, before the plugins' and `report`
    score, validate, explain, schema, sync, preview, setup, audit, status, backtest, learn, serve
)
for command in COMMANDS:
    app.command()(command)
app.add_typer(report_app, name="report")


def add_plugin_commands(typer_app: typer.Typer) -> None:
    """Commands other packages add to `leadq` through the `leadq.commands` entry points — the
    sandbox's `demo` and `sandbox` — so that no deployed module imports them. A plugin whose own
    package is not there (the Lambda bundle leaves the sandbox out) adds nothing; any other
    import error in a plugin is a bug and surfaces."""
    for entry in entry_points(group="leadq.commands"):
        try:
            register = entry.load()
        except ModuleNotFoundError as missing:
            if missing.name and is_within(entry.module, missing.name):
                continue
            raise
        register(typer_app)


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


add_plugin_commands(app)


def main() -> None:
    """Run the CLI: a mistyped command or option is one `error:` line and a hint, exit code 2,
    like every other user error (typer would draw a boxed panel)."""
    try:
        outcome = app(prog_name="leadq", standalone_mode=False)
    except UsageError as mistake:
        raise SystemExit(usage_error(mistake)) from None
    except ClickException as refusal:
        print_error(refusal.format_message())
        raise SystemExit(refusal.exit_code) from None
    except (KeyboardInterrupt, typer.Abort):
        error_console().print("interrupted")
        raise SystemExit(130) from None
    raise SystemExit(outcome if isinstance(outcome, int) else 0)


if __name__ == "__main__":
    main()
