"""Placeholder answers ("Select", "N/A": a form left blank) read as missing in every CSV reader,
and counts on the lead scored from a CSV, whichever reader reads the file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from builders import NOW, model_from

from connectors.csvfile import CsvLeadReader
from scoring.loading import ModelFileError
from sync import csvscore
from sync.csvscore import CsvScoringRun, score_csv
from sync.outcomes import CsvOutcomes

RULES = """
fit:
  rules:
    - {id: picked_select, label: Plan is Select, when: {field: fields.plan, op: eq, value: Select}, points: 10}
    - {id: has_plan, label: Has a plan, when: {field: fields.plan, op: exists}, points: 20}
    - {id: big, label: Big company, when: {field: company.employees, op: gte, value: 100}, points: 30}
    - {id: dated, label: Has a creation date, when: {field: created_at, op: exists}, points: 5}
engagement:
  rules:
    - {id: visits, label: Site visits, field: fields.visits, points_per: 2, unit: visit, cap: 20}
"""
LEADS = (
    "id,plan,company.employees,created_at,visits,converted\n"
    "A,Select,N/A,--,12,yes\n"
    "B, n/a ,500,2026-10-01,3,no\n"
    "C,Pro,-,please SELECT,N/A,yes\n"
    "D,,,,,no\n"
)


def scored(
    tmp_path: Path,
    model,
    text: str,
    monkeypatch: pytest.MonkeyPatch,
    activities_text: str | None = None,
) -> dict[str, dict]:
    """The scored file, by lead id, read by pyarrow's columns and by the row reader: both the
    same file."""
    leads = tmp_path / "leads.csv"
    leads.write_text(text)
    activities = None
    if activities_text is not None:
        activities = tmp_path / "activities.csv"
        activities.write_text(activities_text)
    run = CsvScoringRun(model, leads, activities)
    score_csv(run, tmp_path / "columnar.csv", NOW)
    with monkeypatch.context() as patched:
        patched.setattr(csvscore, "pyarrow_available", lambda: False)
        score_csv(CsvScoringRun(model, leads, activities), tmp_path / "rows.csv", NOW)
    columnar = (tmp_path / "columnar.csv").read_text()
    assert columnar == (tmp_path / "rows.csv").read_text()
    return {row["id"]: row for row in csv.DictReader(io.StringIO(columnar))}


def test_a_select_answer_neither_matches_eq_nor_exists_in_either_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyarrow")
    rows = scored(tmp_path, model_from(RULES), LEADS, monkeypatch)
    assert rows["A"]["leadq_fit"] == "0"
    assert rows["A"]["leadq_reasons"] == "Site visits: 12 visits (+20, capped)"
    assert rows["B"]["leadq_reasons"] == "Big company (+30); Site visits: 3 visits (+6); " + (
        "Has a creation date (+5)"
    )
    assert rows["C"]["leadq_reasons"] == "Has a plan (+20)"
    assert rows["A"]["plan"] == "Select"  # the file's own cells are written as they came


def test_an_empty_blank_values_list_reads_placeholders_as_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyarrow")
    model = model_from(RULES + "csv: {blank_values: []}\n")
    text = "id,plan,visits\nA,Select,1\n"
    rows = scored(tmp_path, model, text, monkeypatch)
    assert rows["A"]["leadq_reasons"] == "Has a plan (+20); Plan is Select (+10); " + (
        "Site visits: 1 visit (+2)"
    )


def test_the_model_names_its_own_placeholders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyarrow")
    model = model_from(RULES + "csv: {blank_values: [unknown, (none)]}\n")
    rows = scored(tmp_path, model, "id,plan\nA,Unknown\nB,Select\nC,(none)\n", monkeypatch)
    assert [rows[lead]["leadq_reasons"] for lead in "ABC"] == [
        "",
        "Has a plan (+20); Plan is Select (+10)",
        "",
    ]


def test_a_placeholder_in_an_activitys_details_is_no_detail_in_either_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyarrow")
    model = model_from(
        """
        engagement:
          rules:
            - {id: form, label: Named form, activity: form_submission, points: 10,
               where: {field: form, op: exists}}
        csv:
          activities: {lead_id: lead, type: type, occurred_at: at}
        """
    )
    activities = "lead,type,at,form\nA,form_submission,2026-10-30,Select\nB,form_submission,2026-10-30,Demo\n"
    rows = scored(tmp_path, model, "id\nA\nB\n", monkeypatch, activities)
    assert (rows["A"]["leadq_engagement"], rows["B"]["leadq_engagement"]) == ("0", "10")


def test_leads_read_for_backtest_and_learn_read_placeholders_as_missing(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(LEADS)
    loaded = CsvOutcomes(leads, label="converted", positive="yes").labelled(model_from(RULES), NOW)
    plans = {lead.id: lead.fields.get("plan") for lead in loaded.labelled.leads}
    assert plans == {"A": None, "B": None, "C": "Pro", "D": None}


def test_the_row_reader_never_blanks_a_lead_id(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text("id,plan\nN/A,Select\n")
    reader = CsvLeadReader(leads, blank_values=["N/A", "Select"])
    [[(_, lead)]] = list(reader.batches())
    assert (lead.id, lead.fields["plan"]) == ("N/A", None)


def test_a_blank_value_of_only_spaces_is_refused_at_its_line() -> None:
    refused = r"scoring\.yaml:3 csv\.blank_values\[1\]: . . is only spaces"
    with pytest.raises(ModelFileError, match=refused):
        model_from("csv:\n  blank_values: [Select, ' ']\n")
