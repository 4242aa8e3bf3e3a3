"""What leadq shows and writes is safe to look at: CRM and CSV values never drive the terminal,
and a scored CSV never runs a formula in a spreadsheet."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from sync.cli import app

EXAMPLES = Path(__file__).parents[2] / "examples"
MODEL = str(EXAMPLES / "scoring.yaml")
AS_OF = ["--now", "2026-11-01T12:00:00Z"]
CONTROLS = "\x1b\x07\x08\x00\x9b\x9d"
runner = CliRunner()


def hostile_leads(folder: Path) -> Path:
    """The example leads with escape sequences in a name and formulas in cells."""
    with (EXAMPLES / "leads.csv").open(encoding="utf-8", newline="") as source:
        rows = list(csv.reader(source))
    rows[1][1] = "Maya\x1b]0;owned\x07\x1b[2J"  # sets the window title, clears the screen
    rows[1][7] = "=HYPERLINK(\"http://attacker.example\",\"Northwind\")"
    rows[2][12] = "@SUM(1+1)*cmd|' /C calc'!A0"
    path = folder / "leads.csv"
    with path.open("w", encoding="utf-8", newline="") as target:
        csv.writer(target).writerows(rows)
    return path


def test_the_score_table_and_explain_show_names_without_their_escape_sequences(
    tmp_path: Path,
) -> None:
    leads = str(hostile_leads(tmp_path))
    scored = runner.invoke(
        app, ["score", leads, "-m", MODEL, "-o", str(tmp_path / "out.csv"), "--top", "20", *AS_OF]
    )
    explained = runner.invoke(app, ["explain", leads, "--id", "L-1001", "-m", MODEL, *AS_OF])
    for result in (scored, explained):
        assert result.exit_code == 0, result.output
        assert not any(character in result.output for character in CONTROLS)
    assert "Maya Okafor · VP Revenue Operations" in explained.output


def test_an_error_line_shows_the_file_s_text_without_its_escape_sequences(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text("Lead ID,\x1b[2JName\x1b]0;x\x07\nL-1,Eve\n", encoding="utf-8")
    model = tmp_path / "model.yaml"
    model.write_text("name: m\ncsv:\n  columns: {email: Email}\n", encoding="utf-8")
    result = runner.invoke(app, ["explain", str(leads), "--id", "L-1", "-m", str(model)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: leads.csv: no column 'Email' (mapped in the model's csv.columns). "
        "Columns are: Lead ID, Name"
    )


def test_formula_cells_are_written_as_text_unless_the_guard_is_turned_off(tmp_path: Path) -> None:
    leads = str(hostile_leads(tmp_path))
    cells = {}
    for guard in ("--formula-guard", "--no-formula-guard"):
        output = tmp_path / f"{guard}.csv"
        result = runner.invoke(app, ["score", leads, "-m", MODEL, "-o", str(output), guard, *AS_OF])
        assert result.exit_code == 0, result.output
        with output.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        cells[guard] = (rows[0]["Company"], rows[1]["Tech Stack"], rows[0]["leadq_score"])
    assert cells["--formula-guard"][:2] == (
        "'=HYPERLINK(\"http://attacker.example\",\"Northwind\")",
        "'@SUM(1+1)*cmd|' /C calc'!A0",
    )
    assert cells["--no-formula-guard"][:2] == (
        "=HYPERLINK(\"http://attacker.example\",\"Northwind\")",
        "@SUM(1+1)*cmd|' /C calc'!A0",
    )
    assert cells["--formula-guard"][2] == cells["--no-formula-guard"][2]
