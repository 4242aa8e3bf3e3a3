"""The columnar readers (pyarrow) of activities and leads give exactly what the row readers give,
and leave every file they cannot read exactly to the row readers."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import NOW, model_from

pytest.importorskip("pyarrow")

from benchmarks import synthetic
from connectors.activity_columns import ActivitySpool
from connectors.csv_activity_index import (
    ActivityBlock,
    ActivityIndex,
)
from connectors.csvfile import (
    CsvInputError,
    CsvLeadReader,
)
from connectors.lead_columns import ColumnarLeadReader
from connectors.plain_csv import NotColumnar
from scoring.loading import load_model
from sync import csvscore
from sync.csvscore import CsvScoringRun, score_csv

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
MODEL = model_from(
    """
    engagement:
      rules:
        - {id: visit, label: Visit, activity: page_view, points: 10}
    csv:
      activities: {lead_id: Lead ID, type: What, occurred_at: When, types: {Visited page: page_view}}
    """
)


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode())
    return path


def activities_by_lead(block: ActivityBlock, lead_ids: list[str]) -> list[tuple]:
    """Each activity as (lead, time, type, url, form, campaign, subject), in a stable order."""
    texts = [[block.values[name][code] for code in block.codes[name]] for name in block.codes]
    rows = zip(
        (lead_ids[i] for i in block.lead_index), block.occurred_at.tolist(), *texts, strict=True
    )
    return sorted(rows, key=repr)


def both_readers(activities: Path, lead_ids: list[str], columns, most: int = 100_000) -> tuple:
    with ActivitySpool(activities, columns, [lead_ids], batch_size=len(lead_ids)) as spool:
        columnar = [
            (span, activities_by_lead(block, lead_ids[span.start : span.stop]))
            for span, block in spool.blocks(0, lead_ids, most)
        ]
    with ActivityIndex(activities, columns) as index:
        rows = [
            (span, activities_by_lead(block, lead_ids[span.start : span.stop]))
            for span, block in index.blocks(0, lead_ids, most)
        ]
    return columnar, rows


def test_the_examples_activities_read_as_columns_equal_those_read_row_by_row() -> None:
    model = load_model(EXAMPLES / "scoring.yaml")
    reader = CsvLeadReader(EXAMPLES / "leads.csv", columns=model.csv.columns)
    lead_ids = [i for chunk in reader.lead_ids() for i in chunk]
    columnar, rows = both_readers(EXAMPLES / "activities.csv", lead_ids, model.csv.activities)
    assert columnar == rows
    assert sum(len(found) for _, found in columnar) > 0


def test_times_types_and_blank_details_read_as_the_row_reader_reads_them(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.csv",
        "\ufeffLead ID,What,When,url\r\n"
        " A ,Visited page,2026/10/30 10:00, https://x.example/a \r\n"
        "B,email_open,2026-10-01,\r\n"
        "A,demo_request,2026-10-31T09:00:00Z,\r\n"
        "A,page_view,1761901200000,\r\n"
        "B,page_view,2026-10-31 09:00:00.5+0200,\r\n"
        "nobody,page_view,2026-10-31,\r\n",
    )
    columnar, rows = both_readers(path, ["A", "B"], MODEL.csv.activities)
    assert columnar == rows
    assert ("A", 1793354400.0, "page_view", "https://x.example/a", None, None, None) in rows[0][1]


def test_a_batch_with_more_activities_than_a_block_holds_comes_in_parts(tmp_path: Path) -> None:
    lines = [f"{lead},page_view,2026-10-0{day}" for lead in "ABC" for day in range(1, 4)]
    path = write(tmp_path / "a.csv", "Lead ID,What,When\n" + "\n".join(lines) + "\n")
    columnar, rows = both_readers(path, ["A", "B", "C"], MODEL.csv.activities, most=5)
    assert columnar == rows
    assert [span for span, _ in columnar] == [range(0, 1), range(1, 2), range(2, 3)]


@pytest.mark.parametrize(
    "text",
    [
        'Lead ID,What,When\nA,page_view,"2026-10-01"\n',  # quoted cells
        "Lead ID,What,When\nA,page_view,2026-10-01,\n",  # a trailing delimiter
        "Lead ID,What,When\n,,\nA,page_view,2026-10-01\n",  # a blank row
        "Lead ID,What,When\nA,page_view,yesterday\n",  # a time no reader reads
        "Lead ID,What,When\nA,page_view\n",  # a short row
        "Lead ID,What,When\nA,page_view,2026-10-01," + "x" * 200_000 + "\n",  # a huge cell
    ],
)
def test_files_the_columnar_reader_cannot_read_exactly_are_left_to_the_row_reader(
    tmp_path: Path, text: str
) -> None:
    path = write(tmp_path / "a.csv", text)
    with pytest.raises(NotColumnar):
        ActivitySpool(path, MODEL.csv.activities, [["A"]], batch_size=10)


def test_a_legacy_encoding_is_left_to_the_row_reader(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "Lead ID,What,When\nA,page_view,2026-10-01\n")
    with pytest.raises(NotColumnar):
        ActivitySpool(path, MODEL.csv.activities, [["A"]], batch_size=10, encoding="cp932")


def scored_file(tmp_path: Path, name: str, batch_size: int) -> bytes:
    model = load_model(EXAMPLES / "scoring.yaml")
    run = CsvScoringRun(
        model, EXAMPLES / "leads.csv", EXAMPLES / "activities.csv", batch_size=batch_size
    )
    score_csv(run, tmp_path / name, NOW)
    return (tmp_path / name).read_bytes()


def test_leadq_score_writes_the_same_file_whichever_reader_reads_the_activities(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    columnar = scored_file(tmp_path, "columnar.csv", batch_size=7)
    monkeypatch.setattr(csvscore, "pyarrow_available", lambda: False)
    assert scored_file(tmp_path, "rows.csv", batch_size=7) == columnar
    assert scored_file(tmp_path, "rows-one-batch.csv", batch_size=10_000) == columnar


def score_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model, leads: Path, activities: Path
) -> tuple[bytes, CsvScoringRun]:
    run = CsvScoringRun(model, leads, activities, batch_size=64)
    score_csv(run, tmp_path / "columnar.csv", NOW)
    with monkeypatch.context() as patched:
        patched.setattr(csvscore, "pyarrow_available", lambda: False)
        rows_run = CsvScoringRun(model, leads, activities, batch_size=64)
        score_csv(rows_run, tmp_path / "rows.csv", NOW)
    assert (tmp_path / "columnar.csv").read_bytes() == (tmp_path / "rows.csv").read_bytes()
    return (tmp_path / "columnar.csv").read_bytes(), run


def synthetic_files(tmp_path: Path, leads: int, per_lead: int) -> tuple[Path, Path]:
    """The benchmark's leads and activities files, small."""
    leads_csv, activities_csv = tmp_path / "leads.csv", tmp_path / "activities.csv"
    synthetic.write_leads_csv(leads_csv, leads)
    synthetic.write_activities_csv(activities_csv, leads, per_lead)
    return leads_csv, activities_csv


def test_leads_read_as_columns_are_scored_and_written_as_leads_read_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    leads, activities = synthetic_files(tmp_path, 300, 8)
    written, run = score_both_ways(
        tmp_path, monkeypatch, load_model(EXAMPLES / "scoring.yaml"), leads, activities
    )
    assert isinstance(run.read_by, ColumnarLeadReader)
    assert written.count(b"\n") == 301 and b",mql," in written


def test_a_model_reading_what_only_lead_records_hold_is_scored_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    leads, activities = synthetic_files(tmp_path, 100, 3)
    model = model_from(
        """
        fit:
          rules:
            - {id: named, label: Named P 7, when: {field: name, op: eq, value: P 7}, points: 50}
        csv:
          columns: {id: Lead ID, first_name: First Name, last_name: Last Name}
          activities: {lead_id: Lead ID, type: Activity, occurred_at: Date}
        """
    )
    written, run = score_both_ways(tmp_path, monkeypatch, model, leads, activities)
    assert isinstance(run.read_by, CsvLeadReader)
    assert b"Named P 7 (+50)" in written


def test_leads_with_quoted_cells_or_unreadable_numbers_go_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    activities = write(tmp_path / "a.csv", "Lead ID,What,When\nA,page_view,2026-10-30\n")
    quoted = write(tmp_path / "quoted.csv", 'Lead ID,company.employees\nA,"1,200"\nB,7\n')
    _, run = score_both_ways(tmp_path, monkeypatch, MODEL, quoted, activities)
    assert isinstance(run.read_by, CsvLeadReader)
    written = write(tmp_path / "written.csv", "Lead ID,company.employees\nA,about 10\n")
    with pytest.raises(CsvInputError, match=r"written\.csv line 2: company\.employees"):
        score_csv(CsvScoringRun(MODEL, written, activities), tmp_path / "out.csv", NOW)
