"""The sandbox's commands reach `leadq` through the `leadq.commands` entry point."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import sandbox.commands
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
