"""The `leadq` command line people and scripts rely on: which commands there are, in which order
`leadq --help` lists them, and each one's arguments and options. Adding or renaming an option is
a deliberate change of this list; moving a command between modules changes nothing here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer

from sync.cli import app

COMMAND_LINE = {
    "score": [
        "LEADS", "--output -o", "--model -m", "--activities -a", "--encoding -e",
        "--output-encoding", "--now", "--top", "--formula-guard --no-formula-guard",
    ],
    "validate": ["MODEL", "--crm", "--env-file"],
    "explain": ["LEADS", "--id", "--model -m", "--activities -a", "--encoding -e", "--now"],
    "schema": [],
    "sync": ["--full", "--ids", "--dry-run", "--model -m", "--now", "--env-file"],
    "preview": ["--html", "--model -m", "--now", "--env-file"],
    "setup": ["--model -m", "--env-file"],
    "audit": ["LEAD_ID", "--limit", "--env-file"],
    "status": ["--runs", "--env-file"],
    "backtest": [
        "--model -m", "--crm", "--csv", "--label", "--positive", "--activities -a",
        "--outcome-at", "--encoding -e", "--sandbox", "--now", "--report", "--time-split",
    ],
    "learn": [
        "--output -o", "--model -m", "--crm", "--csv", "--label", "--positive",
        "--activities -a", "--outcome-at", "--encoding -e", "--sandbox", "--now", "--report",
        "--capacity", "--folds", "--time-split", "--keep", "--regularisation",
        "--recency-half-life", "--fresh",
    ],
    "serve": ["--host", "--port", "--workers", "--every", "--nightly", "--env-file"],
    "demo": ["--crm", "--leads", "--csv", "--now"],
    "sandbox": ["CRM", "--leads", "--seed", "--port", "--db", "--notify"],
    "report handoff": ["--days", "--html", "--model -m", "--now", "--env-file"],
}


def leaf_commands(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every command a person can run, in the order `--help` lists them, subcommands of a group
    (`report handoff`) by their full name."""
    context = typer.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if hasattr(command, "list_commands"):
            yield from leaf_commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def spelled(parameter: Any) -> str:
    """An argument by its name, an option by every spelling it accepts."""
    if parameter.param_type_name == "argument":
        return str(parameter.name).upper()
    return " ".join([*parameter.opts, *parameter.secondary_opts])


def test_leadq_keeps_its_commands_in_order_and_each_command_its_options() -> None:
    found = {
        name: [spelled(parameter) for parameter in command.params]
        for name, command in leaf_commands(typer.main.get_command(app))
    }
    assert list(found) == list(COMMAND_LINE)
    assert found == COMMAND_LINE
