"""The CSV connector: mappings, encodings, activities, streaming and all-or-nothing output."""

from __future__ import annotations

import csv
import tracemalloc
from pathlib import Path

import pytest
from builders import NOW, model_from

from connectors.csv_activity_index import (
    ActivityIndex,
)
from connectors.csvfile import (
    CsvInputError,
    CsvLeadReader,
)
from sync.csvscore import CsvScoringRun, result_cells, score_csv
from sync.plan import Result

MODEL = model_from(
    """
    fit:
      rules:
        - {id: big, label: Big company, when: {field: company.employees, op: gte, value: 100}, points: 50}
        - {id: plan, label: Paid plan, when: {field: fields.Plan, op: eq, value: pro}, points: 10}
    engagement:
      rules:
        - {id: visit, label: Visit, activity: page_view, points: 10}
    csv:
      columns: {id: Lead ID, company.employees: Employees, email: E-mail}
      activities: {lead_id: Lead ID, type: What, occurred_at: When, types: {Visited page: page_view}}
    """
)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def leads_of(path: Path, **options) -> list:
    reader = CsvLeadReader(path, columns=MODEL.csv.columns, **options)
    return [lead for batch in reader.batches(2) for _, lead in batch]


def test_mapped_columns_become_typed_fields_and_the_rest_custom_fields(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", 'Lead ID,Employees,E-mail,Plan\nA,"1,200",a@x.example,pro\n')
    (lead,) = leads_of(path)
    assert lead.id == "A"
    assert lead.company is not None and lead.company.employees == 1200
    assert lead.email == "a@x.example"
    assert lead.fields == {"Plan": "pro"}


def test_semicolon_and_tab_separated_files_are_recognised(tmp_path: Path) -> None:
    semicolons = write(tmp_path / "s.csv", "Lead ID;Employees;E-mail\nA;5;a@x.example\n")
    tabs = write(tmp_path / "t.csv", "Lead ID\tEmployees\tE-mail\nB\t7\tb@x.example\n")
    assert leads_of(semicolons)[0].company.employees == 5
    assert leads_of(tabs)[0].company.employees == 7


def test_a_utf8_file_with_a_bom_reads_its_first_column(tmp_path: Path) -> None:
    path = write(tmp_path / "bom.csv", "Lead ID,Employees,E-mail\nA,5,a@x.example\n", "utf-8-sig")
    assert leads_of(path)[0].id == "A"


def test_a_cp932_export_from_japanese_excel_reads_with_its_encoding(tmp_path: Path) -> None:
    path = write(
        tmp_path / "ja.csv", "Lead ID,Employees,E-mail,会社名\nA,5,a@x.example,富士精機\n", "cp932"
    )
    (lead,) = leads_of(path, encoding="cp932")
    assert lead.fields == {"会社名": "富士精機"}


def test_a_file_in_another_encoding_than_given_is_refused_with_its_line(tmp_path: Path) -> None:
    text = "Lead ID,Employees,E-mail\nA,5,a@x.example\nB,6,ｂ@例え.example\n"
    path = write(tmp_path / "ja.csv", text, "cp932")
    with pytest.raises(CsvInputError) as caught:
        leads_of(path)
    assert str(caught.value) == (
        "ja.csv: line 3 is not valid utf-8; if the file came from Excel in Japan, "
        "use --encoding cp932"
    )


def test_an_unknown_encoding_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "Lead ID\nA\n")
    with pytest.raises(CsvInputError, match="unknown encoding 'klingon'; try utf-8 or cp932"):
        leads_of(path, encoding="klingon")


def test_a_mapped_column_missing_from_the_file_is_named_with_the_columns_there(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "l.csv", "Lead ID,Size\nA,5\n")
    with pytest.raises(CsvInputError) as caught:
        leads_of(path)
    assert str(caught.value) == (
        "l.csv: no column 'Employees' (mapped in the model's csv.columns). "
        "Columns are: Lead ID, Size"
    )


def test_a_value_that_cannot_be_parsed_names_the_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "Lead ID,Employees,E-mail\nA,5,a@x\nB,lots,b@x\n")
    with pytest.raises(CsvInputError) as caught:
        leads_of(path)
    assert str(caught.value).startswith("l.csv line 3: Employees: 'lots' is not valid")


def test_an_empty_lead_id_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "Lead ID,Employees,E-mail\n ,5,a@x\n")
    with pytest.raises(CsvInputError) as caught:
        leads_of(path)
    assert str(caught.value) == "l.csv line 2: the lead id is empty"


def test_a_file_without_an_id_column_numbers_its_leads_by_line(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "Employees,E-mail\n5,a@x.example\n\n7,b@x.example\n")
    reader = CsvLeadReader(path, columns={"company.employees": "Employees", "email": "E-mail"})
    leads = [lead for batch in reader.batches() for _, lead in batch]
    assert [(lead.id, lead.email) for lead in leads] == [("2", "a@x.example"), ("4", "b@x.example")]
    assert "id" not in reader.mapping


def test_activities_are_found_per_lead_with_their_types_mapped(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.csv",
        "Lead ID,What,When\nA,Visited page,2026/10/30 10:00\nB,email_open,2026-10-01\n"
        "A,demo_request,2026-10-31T09:00:00Z\n",
    )
    columns = MODEL.csv.activities
    with ActivityIndex(path, columns) as index:
        found = sorted((a.lead_id, a.type) for a in index.for_leads(["A"]))
    assert found == [("A", "demo_request"), ("A", "page_view")]


def test_an_activity_without_a_readable_time_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "Lead ID,What,When\nA,page_view,yesterday\n")
    columns = MODEL.csv.activities
    with pytest.raises(CsvInputError) as caught:
        ActivityIndex(path, columns)
    assert str(caught.value) == "a.csv line 2: 'yesterday' is not a date and time"


def test_scoring_writes_every_input_column_plus_leadqs(tmp_path: Path) -> None:
    leads = write(tmp_path / "l.csv", "Lead ID,Employees,E-mail,Plan\nA,500,a@x,pro\nB,5,b@x,\n")
    activities = write(tmp_path / "a.csv", "Lead ID,What,When\nA,Visited page,2026-10-31\n")
    output = tmp_path / "out.csv"
    report = score_csv(CsvScoringRun(MODEL, leads, activities), output, NOW)
    lines = output.read_text(encoding="utf-8").splitlines()
    assert lines[0] == (
        "Lead ID,Employees,E-mail,Plan,leadq_score,leadq_fit,leadq_engagement,leadq_grade,"
        "leadq_label,leadq_priority,leadq_stage,leadq_reasons,leadq_model_version"
    )
    assert (
        lines[1]
        == f"A,500,a@x,pro,35,60,10,B,B4,5,lead,Big company (+50); Paid plan (+10); Visit (+10),{MODEL.version}"
    )
    assert lines[2] == f"B,5,b@x,,0,0,0,F,D4,7,lead,,{MODEL.version}"
    assert (report.leads, report.activities) == (2, 1)


def test_a_failure_midway_leaves_no_output_file_behind(tmp_path: Path) -> None:
    rows = "".join(f"L{i},5,x@y\n" for i in range(30)) + "BAD,many,x@y\n"
    leads = write(tmp_path / "l.csv", "Lead ID,Employees,E-mail\n" + rows)
    output = tmp_path / "out.csv"
    with pytest.raises(CsvInputError):
        score_csv(CsvScoringRun(MODEL, leads, batch_size=10), output, NOW)
    assert list(tmp_path.iterdir()) == [leads]


def test_reading_a_large_file_keeps_memory_flat(tmp_path: Path) -> None:
    def peak_bytes(rows: int) -> int:
        path = tmp_path / f"l{rows}.csv"
        with path.open("w") as handle:
            handle.write("Lead ID,Employees,E-mail\n")
            handle.writelines(f"L{i},{i % 900},p{i}@x.example\n" for i in range(rows))
        tracemalloc.start()
        reader = CsvLeadReader(path, columns=MODEL.csv.columns)
        for _batch in reader.batches(1_000):
            pass
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    small, large = peak_bytes(5_000), peak_bytes(50_000)
    assert large < small * 1.5


def test_a_model_with_a_learned_probability_writes_it_and_its_reasons(tmp_path: Path) -> None:
    model = model_from(
        """
        fit:
          rules:
            - {id: big, label: Big company, when: {field: company.employees, op: gte, value: 100}, points: 50}
        predictive: {intercept: -3.0, points_per_logit: 25}
        csv:
          columns: {id: Lead ID, company.employees: Employees}
        """
    )
    leads = write(tmp_path / "l.csv", "Lead ID,Employees\nA,500\nB,5\n")
    output = tmp_path / "out.csv"
    score_csv(CsvScoringRun(model, leads), output, NOW)
    rows = output.read_text(encoding="utf-8").splitlines()
    assert rows[0].endswith(",leadq_probability,leadq_probability_reasons")
    big, small = rows[1].split(","), rows[2].split(",")
    assert float(big[-2]) == round(1 / (1 + 2.718281828459045 ** -(-3.0 + 50 / 25)), 3)
    assert big[-1].startswith("Big company (×")
    assert float(small[-2]) < float(big[-2])


def test_scoring_a_file_scored_before_replaces_its_leadq_columns(tmp_path: Path) -> None:
    leads = write(tmp_path / "l.csv", "Lead ID,Employees,E-mail\nA,500,a@x\n")
    first, second = tmp_path / "once.csv", tmp_path / "twice.csv"
    score_csv(CsvScoringRun(MODEL, leads), first, NOW)
    score_csv(CsvScoringRun(MODEL, first), second, NOW)
    assert second.read_text(encoding="utf-8") == first.read_text(encoding="utf-8")


def refusal_of(tmp_path: Path, text: str, **options) -> str:
    """What reading a leads file holding `text` is refused with."""
    path = write(tmp_path / "l.csv", text)
    with pytest.raises(CsvInputError) as caught:
        leads_of(path, **options)
    return str(caught.value)


def test_a_file_with_carriage_returns_only_reads_like_one_with_newlines(tmp_path: Path) -> None:
    text = 'Lead ID,Employees,E-mail\rA,5,a@x.example\rB,"1,200",b@x.example\r'
    path = write(tmp_path / "mac.csv", text)
    assert [(lead.id, lead.company.employees) for lead in leads_of(path)] == [("A", 5), ("B", 1200)]


def test_a_quoted_cell_keeps_its_line_breaks_whatever_they_are(tmp_path: Path) -> None:
    text = 'Lead ID,Employees,E-mail,Note\r\nA,5,a@x,"one\rtwo\r\nthree"\r\nB,6,b@x,\r\n'
    path = write(tmp_path / "l.csv", text)
    first, second = leads_of(path)
    assert first.fields["Note"] == "one\rtwo\r\nthree"
    assert second.id == "B"


def test_a_utf16_export_reads_with_its_encoding(tmp_path: Path) -> None:
    path = write(tmp_path / "u16.csv", "Lead ID,Employees,E-mail\nA,5,a@x.example\n", "utf-16")
    (lead,) = leads_of(path, encoding="utf-16")
    assert (lead.id, lead.email) == ("A", "a@x.example")


def test_a_utf8_file_read_as_utf16_is_refused_with_its_line(tmp_path: Path) -> None:
    assert refusal_of(tmp_path, "Lead ID,Employees,E-mail\nA,5,a@x.example\n", encoding="utf-16") == (
        "l.csv: line 1 is not valid utf-16; if the file is UTF-8, use --encoding utf-8"
    )


def test_a_codec_that_is_no_text_encoding_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "Lead ID\nA\n")
    with pytest.raises(CsvInputError, match="unknown encoding 'base64'; try utf-8 or cp932"):
        leads_of(path, encoding="base64")


def test_a_cell_longer_than_any_export_holds_is_refused_with_its_line(tmp_path: Path) -> None:
    assert refusal_of(tmp_path, f'Lead ID,Employees,E-mail\nA,5,"{"x" * 200_000}"\n') == (
        "l.csv line 2: a cell is longer than 131,072 characters; is this the right file?"
    )


def test_a_line_of_megabytes_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "Lead ID,Employees,E-mail\nA,5," + "x" * 5_000_000 + "\n")
    tracemalloc.start()
    with pytest.raises(CsvInputError) as caught:
        leads_of(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert str(caught.value) == (
        "l.csv line 2: the line is longer than 1,048,576 characters; is this the right file?"
    )
    assert peak < 20_000_000


def test_a_row_with_more_cells_than_the_header_is_refused_with_its_line(tmp_path: Path) -> None:
    assert refusal_of(tmp_path, "Lead ID,Employees,E-mail\nA,5,a@x\nB,1,200,b@x\n") == (
        "l.csv line 3: 4 cells, but the header names 3 columns; "
        "a value holding the delimiter must be quoted"
    )


def test_blank_cells_after_the_last_column_are_no_extra_values(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "Lead ID,Employees,E-mail\nA,5,a@x,,\nB,6\n")
    assert [lead.id for lead in leads_of(path)] == ["A", "B"]


def test_an_unterminated_quote_is_refused_at_the_line_it_opens(tmp_path: Path) -> None:
    rows = "".join(f"L{i},5,l{i}@x\n" for i in range(20))
    assert refusal_of(tmp_path, 'Lead ID,Employees,E-mail\nA,5,"a@x\n' + rows) == (
        'l.csv line 2: a quoted cell starting on this line is never closed (a missing ")'
    )


def test_quotes_that_do_not_pair_up_are_refused_at_the_row_they_break(tmp_path: Path) -> None:
    assert refusal_of(tmp_path, 'Lead ID,Employees,E-mail\nA,5,"a@x\nB,6,"b"@x\n') == (
        "l.csv line 2: the quotes of the row starting here do not pair up: a quoted cell ends "
        'at a delimiter, and a quote inside it is written ""'
    )


def test_a_lead_id_that_comes_again_is_refused_with_both_lines(tmp_path: Path) -> None:
    rows = "".join(f"L{i},5,x@y\n" for i in range(5)) + "L1,6,z@y\n"
    path = write(tmp_path / "l.csv", "Lead ID,Employees,E-mail\n" + rows)
    with pytest.raises(CsvInputError) as caught:
        leads_of(path)  # batches of 2: the first L1 is two batches before the second
    assert str(caught.value) == (
        "l.csv line 7: lead id 'L1' again (first on line 3); each lead must appear once"
    )


def test_a_lead_id_repeated_inside_one_batch_is_refused_too(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "Lead ID,Employees,E-mail\nA,5,a@x\nA,6,b@x\n")
    with pytest.raises(CsvInputError, match=r"line 3: lead id 'A' again \(first on line 2\)"):
        leads_of(path)


@pytest.mark.parametrize(
    ("row", "role"), [(",page_view,2026-10-01", "lead id"), ("A, ,2026-10-01", "activity type")]
)
def test_an_activity_without_a_lead_id_or_a_type_is_refused_with_its_line(
    tmp_path: Path, row: str, role: str
) -> None:
    path = write(tmp_path / "a.csv", f"Lead ID,What,When\nA,page_view,2026-10-01\n{row}\n")
    with pytest.raises(CsvInputError) as caught:
        ActivityIndex(path, MODEL.csv.activities)
    assert str(caught.value) == f"a.csv line 3: the {role} is empty"


def scored_rows(tmp_path: Path, text: str, **options) -> list[list[str]]:
    leads = write(tmp_path / "l.csv", text)
    output = tmp_path / "out.csv"
    score_csv(CsvScoringRun(MODEL, leads), output, NOW, **options)
    with output.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_cells_a_spreadsheet_would_run_as_formulas_are_written_as_text(tmp_path: Path) -> None:
    text = (
        'Lead ID,Employees,E-mail,Plan,Note\nA,5,a@x,=HYPERLINK("http://x"),@SUM(A1)\n'
        "B,6,b@x,+cmd|' /C calc'!A0,\tX\n"
    )
    _header, first, second = scored_rows(tmp_path, text)
    assert first[3:5] == ["'=HYPERLINK(\"http://x\")", "'@SUM(A1)"]
    assert second[3:5] == ["'+cmd|' /C calc'!A0", "'\tX"]


def test_plain_numbers_and_leadqs_own_columns_are_left_as_they_are(tmp_path: Path) -> None:
    text = "Lead ID,Employees,E-mail,Plan,Balance\nA,500,a@x,-2+3,-1200.50\nB,6,b@x,pro,+3\n"
    _header, first, second = scored_rows(tmp_path, text)
    assert first[3:5] == ["'-2+3", "-1200.50"]
    assert second[3:5] == ["pro", "+3"]
    assert first[5:8] == ["25", "50", "0"]


def test_the_formula_guard_can_be_turned_off(tmp_path: Path) -> None:
    text = "Lead ID,Employees,E-mail,Plan\nA,5,a@x,=1+1\n"
    _header, first = scored_rows(tmp_path, text, formula_guard=False)
    assert first[3] == "=1+1"


def test_a_header_cell_that_looks_like_a_formula_is_guarded_too(tmp_path: Path) -> None:
    text = "Lead ID,Employees,E-mail,=Plan\nA,5,a@x,pro\n"
    header, _ = scored_rows(tmp_path, text)
    assert header[3] == "'=Plan"


def test_reasons_longer_than_a_spreadsheet_cell_are_cut_on_a_reason_boundary() -> None:
    reasons = [f"{'L' * 200}{i:03d} (+{200 - i})" for i in range(200)]
    result = Result(1, 1, 0, "F", "D4", 7, "lead", "; ".join(reasons), "v1")
    cut = result_cells(result, separator="; ")[7]
    assert isinstance(cut, str) and len(cut) <= 32_767
    assert cut == "; ".join(reasons[: 32_767 // len(reasons[0] + "; ")]) + "; …"


def activities_file(path: Path, leads: int, per_lead: int) -> Path:
    rows = "".join(
        f"L{i},{'Visited page' if j % 3 else 'demo_request'},2026-10-{1 + j % 28:02d}\n"
        for i in range(leads)
        for j in range(per_lead)
    )
    return write(path, "Lead ID,What,When\n" + rows)


def leads_file(path: Path, leads: int) -> Path:
    return write(path, "Lead ID,Employees,E-mail\n" + "".join(f"L{i},{i},x@y\n" for i in range(leads)))


def test_leads_with_many_activities_score_alike_in_one_block_or_in_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sync.csvscore

    leads = leads_file(tmp_path / "l.csv", 40)
    activities = activities_file(tmp_path / "a.csv", 40, 25)
    whole, parts = tmp_path / "whole.csv", tmp_path / "parts.csv"
    score_csv(CsvScoringRun(MODEL, leads, activities), whole, NOW)
    monkeypatch.setattr(sync.csvscore, "ACTIVITIES_PER_BATCH", 60)  # at most 2 leads a block
    report = score_csv(CsvScoringRun(MODEL, leads, activities), parts, NOW)
    assert parts.read_text("utf-8") == whole.read_text("utf-8")
    assert report.activities == 1_000


def test_ten_times_the_activities_keep_memory_flat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sync.csvscore

    monkeypatch.setattr(sync.csvscore, "ACTIVITIES_PER_BATCH", 2_000)
    leads = leads_file(tmp_path / "l.csv", 200)

    def peak_bytes(per_lead: int) -> int:
        activities = activities_file(tmp_path / f"a{per_lead}.csv", 200, per_lead)
        tracemalloc.start()
        score_csv(CsvScoringRun(MODEL, leads, activities), tmp_path / "out.csv", NOW)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    assert peak_bytes(100) < peak_bytes(10) * 1.5
