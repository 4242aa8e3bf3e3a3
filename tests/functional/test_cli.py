"""The `leadq` command as a person uses it: output, files written, exit codes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync.cli import app

EXAMPLES = Path(__file__).parents[2] / "examples"
MODEL = str(EXAMPLES / "scoring.yaml")
LEADS = str(EXAMPLES / "leads.csv")
ACTIVITIES = str(EXAMPLES / "activities.csv")
AS_OF = ["--now", "2026-11-01T12:00:00Z"]
runner = CliRunner()


def leadq(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def test_score_writes_the_scored_csv_and_shows_the_top_leads(tmp_path: Path) -> None:
    output = tmp_path / "scored.csv"
    result = leadq("score", LEADS, "-m", MODEL, "-a", ACTIVITIES, "-o", str(output), *AS_OF)
    assert result.exit_code == 0, result.output
    with output.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 20
    best = max(rows, key=lambda row: int(row["leadq_score"]))
    assert best["Lead ID"] in result.output
    assert "Top 10 leads — Acme Analytics B2B" in result.output
    assert all(row["leadq_reasons"] for row in rows if int(row["leadq_score"]) > 0)
    student = next(row for row in rows if row["Job Title"] == "Student")
    assert (student["leadq_grade"], student["leadq_stage"]) == ("F", "lead")


def test_the_csv_demo_scores_the_examples_and_explains_the_top_lead(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = leadq("demo", "--csv")
    assert result.exit_code == 0, result.output
    assert "Scored 20 example leads and 132 activities" in result.output
    assert "Why is Daniel Park on top?" in result.output
    assert "CRM reasons line: MQL: Fit and engaged; Inquiry or download" in result.output
    assert (tmp_path / "out" / "scored-leads.csv").exists()


def test_explain_shows_every_rule_and_the_activities_behind_it() -> None:
    result = leadq("explain", LEADS, "--id", "L-1008", "-m", MODEL, "-a", ACTIVITIES, *AS_OF)
    assert result.exit_code == 0, result.output
    assert "Carlos Mendes · Owner · Pequena Loja (L-1008)" in result.output
    assert "Stage: mql — Hand-raiser (demo or contact request in the last 30 days)" in result.output
    assert "Requested a demo" in result.output
    assert "1 × demo_request" in result.output
    assert "Personal e-mail" not in result.output


def test_a_leads_csv_without_an_id_column_is_scored_and_explained_by_line_number(
    tmp_path: Path,
) -> None:
    model = tmp_path / "scoring.yaml"
    model.write_text(Path(MODEL).read_text("utf-8").replace("    id: Lead ID\n", ""), "utf-8")
    leads = tmp_path / "no-ids.csv"
    with Path(LEADS).open(encoding="utf-8") as source:
        rows = list(csv.reader(source))
    with leads.open("w", encoding="utf-8", newline="") as target:
        csv.writer(target).writerows(row[1:] for row in rows)  # without "Lead ID"
    output = tmp_path / "scored.csv"
    scored = leadq("score", str(leads), "-m", str(model), "-o", str(output), *AS_OF)
    assert scored.exit_code == 0, scored.output
    with output.open(encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == 20 and "Lead ID" not in written[0]
    maya = leadq("explain", str(leads), "--id", "2", "-m", str(model), *AS_OF)
    assert maya.exit_code == 0, maya.output
    assert "Maya Okafor · VP Revenue Operations · Northwind Health (2)" in maya.output


def test_explaining_an_unknown_lead_says_so_with_exit_code_2() -> None:
    result = leadq("explain", LEADS, "--id", "nobody", "-m", MODEL, *AS_OF)
    assert result.exit_code == 2
    assert "error: no lead with id 'nobody' in leads.csv" in result.output


def test_validate_confirms_a_good_model_with_its_version() -> None:
    result = leadq("validate", MODEL)
    assert result.exit_code == 0
    assert (
        "ok scoring.yaml: 'Acme Analytics B2B', 14 fit rules, 14 engagement rules" in result.output
    )


def test_validate_points_at_the_broken_line_with_exit_code_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "name: x\nengagement:\n  rules:\n    - {id: a, label: A, activity: x, points: many}\n"
    )
    result = leadq("validate", str(broken))
    assert result.exit_code == 2
    assert (
        result.output.strip() == "error: broken.yaml:4 engagement.rules[0].points: must be a number"
    )


def test_schema_prints_the_json_schema_of_the_model() -> None:
    result = leadq("schema")
    schema = json.loads(result.output)
    assert schema["title"] == "leadq scoring model"
    assert {"fit", "engagement", "stages", "output", "csv"} <= set(schema["properties"])


def test_the_schema_offers_count_rules_beside_activity_rules_and_catches_their_typos() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json.loads(leadq("schema").output))
    visits = {"id": "visits", "label": "Site visits", "field": "fields.num_visits"}
    rules = [
        {"id": "demo", "label": "Demo", "activity": "demo_request", "points": 40},
        {**visits, "points_per": 2, "unit": "visit", "cap": 20},
        {**visits, "id": "visit_bins", "bins": [{"gte": 10, "points": 15}]},
    ]
    model = {"name": "counts", "engagement": {"rules": rules}, "csv": {"blank_values": ["--"]}}
    assert list(validator.iter_errors(model)) == []
    rules[1] = {**visits, "points_each": 2}
    assert list(validator.iter_errors(model)) != []


@pytest.mark.parametrize("command", ["score", "validate", "explain", "schema", "demo", "status"])
def test_every_command_has_help(command: str) -> None:
    result = leadq(command, "--help")
    assert result.exit_code == 0
    assert "Usage: leadq " + command in result.output


def test_a_bad_now_is_a_user_error(tmp_path: Path) -> None:
    result = leadq("score", LEADS, "-m", MODEL, "-o", str(tmp_path / "o.csv"), "--now", "soon")
    assert result.exit_code == 2
    assert (
        "error: --now 'soon' is not a date, e.g. 2026-11-01 or 2026-11-01T12:00Z" in result.output
    )


def test_user_errors_exit_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "sync.cli",
            "score",
            str(tmp_path / "missing.csv"),
            "-m",
            MODEL,
            "-o",
            str(tmp_path / "out.csv"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert completed.stderr.strip() == f"error: {tmp_path / 'missing.csv'}: file not found"
    assert not (tmp_path / "out.csv").exists()


def test_validate_warns_when_browsing_can_earn_what_a_hand_raise_earns(tmp_path: Path) -> None:
    classic = tmp_path / "classic.yaml"
    classic.write_text(
        "name: classic\n"
        "engagement:\n  rules:\n"
        "    - {id: visit, label: Visit, activity: page_view, points: 5}\n"
        "    - {id: inquiry, label: Inquiry, activity: form_submission, points: 20}\n"
        "stages:\n  - {stage: mql, when: {activity: form_submission}}\n"
    )
    result = leadq("validate", str(classic))
    assert result.exit_code == 0
    assert " ".join(result.output.split()).startswith(  # the console may wrap lines
        "warning: classic.yaml:7 stages[0].when: browsing can earn as much engagement as a "
        "hand-raise: 4 × visit"
    )
    classic.write_text(classic.read_text() + "qualification: {intent_guard: strict}\n")
    result = leadq("validate", str(classic))
    assert result.exit_code == 2
    assert " ".join(result.output.split()).startswith(
        "error: classic.yaml:7 stages[0].when: browsing can earn"
    )
