"""The sandbox's commands reach `leadq` through the `leadq.commands` entry point."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import sandbox.commands
import sync.cli
from sync.cli import app


def test_demo_and_sandbox_are_leadq_commands_added_by_the_sandbox_plugin() -> None:
    names = {command.name or command.callback.__name__ for command in app.registered_commands}
    assert {"demo", "sandbox"} <= names


def test_without_the_sandbox_extra_the_sandbox_command_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox.commands, "SANDBOX_LIBRARIES", ("werkzeug", "no_such_library_x"))
    result = CliRunner().invoke(app, ["sandbox", "hubspot", "--leads", "10"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: the sandbox needs no_such_library_x: pip install 'leadq[sandbox]'"
    )


def plugin_app(monkeypatch: pytest.MonkeyPatch, plugin: str) -> typer.Typer:
    """A `leadq`-like app with one command of its own, given the one plugin `plugin`."""
    found = [EntryPoint(name="sandbox", value=plugin, group="leadq.commands")]
    monkeypatch.setattr(sync.cli, "entry_points", lambda group: found)
    own = typer.Typer()
    own.command()(sync.cli.schema)
    own.command()(sync.cli.validate)
    sync.cli.add_plugin_commands(own)
    return own


def test_leadq_keeps_its_own_commands_where_the_plugins_package_is_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    own = plugin_app(monkeypatch, "no_such_plugin_package.commands:register")

    result = CliRunner().invoke(own, ["schema"])

    assert result.exit_code == 0
    assert '"title": "leadq scoring model"' in result.output


def test_a_plugin_that_cannot_import_a_library_of_its_own_is_not_hidden(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "plugin_with_a_bug.py").write_text("import no_such_library_y\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(ModuleNotFoundError, match="no_such_library_y"):
        plugin_app(monkeypatch, "plugin_with_a_bug:register")


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--leads", "0"], "error: --leads 0: a sandbox org needs at least 1 person"),
        (["--port", "99999"], "error: --port 99999 is not a port: give 1-65535, or 0 for a free one"),
        (["--db", "."], "error: --db . is a directory: give a file, e.g. sandbox.db"),
        (
            ["--db", "nowhere/org.db"],
            "error: --db nowhere/org.db: there is no directory nowhere; create it first",
        ),
    ],
    ids=["no people", "a port past 65535", "a directory for --db", "--db in a missing directory"],
)
def test_sandbox_options_it_cannot_run_with_are_refused_before_seeding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: list[str], said: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["sandbox", "hubspot", *options])
    assert result.exit_code == 2
    assert result.output.strip() == said
    assert list(tmp_path.iterdir()) == []


def test_a_taken_port_is_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["sandbox", "hubspot", "--leads", "5", "--port", str(port)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: --port {port}: 127.0.0.1:{port} is taken (Address already in use); "
        "give another port, or 0 for a free one"
    )
