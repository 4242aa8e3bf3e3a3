"""A model written to hurt (alias bombs, deep nesting) is refused by every command that reads a
model, in one located line with exit code 2, before anything is read from a CRM or written."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LEADS = str(EXAMPLES / "leads.csv")
runner = CliRunner()

# no CRM is ever reached: the model is refused first
CRM_SETTINGS = {
    "LEADQ_CRM": "hubspot",
    "LEADQ_HUBSPOT_ACCESS_TOKEN": "never-used",
    "LEADQ_HUBSPOT_BASE_URL": "http://127.0.0.1:9",
}


def alias_bomb(levels: int) -> str:
    """A "billion laughs": each level an anchor holding nine aliases of the one before."""
    lines = ["name: bomb", "learn:", "  exclude:", "    - &l0 [title, title, title, title]"]
    for level in range(1, levels + 1):
        lines.append(f"    - &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def nested(depth: int) -> str:
    return "name: deep\nfit:\n  rules:\n    - when: " + "[" * depth + "]" * depth + "\n"


HOSTILE = {
    "alias bomb, 7 levels": (alias_bomb(7), "model.yaml:9 learn.exclude[5]", "aliases expand"),
    "alias bomb, 9 levels": (alias_bomb(9), "model.yaml:9 learn.exclude[5]", "aliases expand"),
    "900 levels of nesting": (nested(900), "model.yaml:4", "nested more than 64 levels deep"),
}


def commands(model: Path, tmp_path: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    out = str(tmp_path / "out.csv")
    return {
        "validate": (["validate", str(model)], {}),
        "score": (["score", LEADS, "-m", str(model), "-o", out], {}),
        "explain": (["explain", LEADS, "--id", "1", "-m", str(model)], {}),
        "sync": (["sync", "--model", str(model)], CRM_SETTINGS),
        "sync with LEADQ_MODEL_PATH": (["sync"], {**CRM_SETTINGS, "LEADQ_MODEL_PATH": str(model)}),
        "setup": (["setup", "--model", str(model)], CRM_SETTINGS),
        "backtest": (["backtest", "-m", str(model), "--csv", LEADS, "--label", "converted"], {}),
    }


@pytest.mark.parametrize("hostile", list(HOSTILE))
@pytest.mark.parametrize(
    "command",
    ["validate", "score", "explain", "sync", "sync with LEADQ_MODEL_PATH", "setup", "backtest"],
)
def test_a_hostile_model_is_refused_in_one_located_line_by_every_command(
    hostile: str, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the state DB sync would create, and nothing else, lands here
    text, where, what = HOSTILE[hostile]
    model = tmp_path / "model.yaml"
    model.write_text(text, encoding="utf-8")
    arguments, env = commands(model, tmp_path)[command]
    result = runner.invoke(app, arguments, env={"COLUMNS": "300", **env})
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"error: {where}"), line
    assert what in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.yaml"]


def test_leadq_score_answers_on_titles_that_would_make_a_backtracking_regex_hang(
    tmp_path: Path,
) -> None:
    model = tmp_path / "model.yaml"
    model.write_text(
        "name: trap\nfit:\n  rules:\n"
        "    - {id: trap, label: All a's, when: {field: title, op: matches, value: '(a+)+$'}, "
        "points: 7}\n",
        encoding="utf-8",
    )
    leads = tmp_path / "leads.csv"
    titles = ["a" * n + "!" for n in range(4_000, 4_050)] + ["x" + "a" * 4_000]
    leads.write_text(
        "id,title\n" + "".join(f"{i},{t}\n" for i, t in enumerate(titles)), encoding="utf-8"
    )
    out = tmp_path / "out.csv"
    completed = subprocess.run(  # in a child with a deadline: a regression fails, never hangs
        [sys.executable, "-m", "sync.cli", "score", str(leads), "-m", str(model), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    with out.open(encoding="utf-8") as scored:
        fits = [row["leadq_fit"] for row in csv.DictReader(scored)]
    assert fits == ["0"] * 50 + ["7"]
