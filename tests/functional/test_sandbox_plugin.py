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
