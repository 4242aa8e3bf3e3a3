"""Broken and hostile CSV files, made from the example leads and activities, run through `leadq
score` (and now and then `leadq explain`) as a user would: ragged rows, broken quoting, other
encodings and BOMs, CR-only line endings, huge fields, blank and duplicate ids, formula cells,
control characters, cut files. Whatever the files, leadq answers with exit code 0 (a scored file
holding every lead of the input, and no other file) or 2 (one `error:`, nothing created), never a
traceback and within 10 seconds.

`csv_inputs()` is the hypothesis strategy, `try_csv` runs one; tests/functional/test_input_fuzz.py
runs a quick profile, `python -m benchmarks reliability` a long one (`fuzz_csv`).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from benchmarks.fuzzing import FuzzTally, Outcome, fuzz, invoke, with_leads_lost

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOW = "2026-11-01"
# examples/scoring.yaml's CSV mapping with a rule on a text, a number, a custom field and an
# activity: the files are the input here, and a smaller model loads many times faster
MODEL_TEXT = """\
name: CSV fuzz
fit:
  rules:
    - {id: senior, label: "=Senior title", when: {field: title, op: matches, value: 'VP|Head'},
       points: 20}
    - {id: size, label: Size, when: {field: company.employees, op: gte, value: 50}, points: 20}
    - {id: stack, label: Stack, when: {field: fields.tech_stack, op: exists}, points: 5}
    - {id: fresh, label: Fresh, when: {field: created_at, op: within_days, value: 90}, points: 5}
engagement:
  decay: {half_life_days: 30}
  rules:
    - {id: visit, label: "@Visit", activity: [page_view], points: 5, cap: 15}
    - {id: demo, label: Demo, activity: [demo_request], points: 40}
csv:
"""


def _rows(name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO((EXAMPLES / name).read_text("utf-8"))))


LEADS, ACTIVITIES = _rows("leads.csv"), _rows("activities.csv")
HOSTILE_CELLS = (
    "",
    " ",
    "=1+1",
    '=HYPERLINK("http://evil.example","x")',
    "+3.5",
    "-5",
    "@SUM(A1)",
    "\tindent",
    "\x00nul",
    "\x1b[31mred\x1b[0m",
    "\x1b]8;;http://evil.example\x07link",
    "bell\x07",
    "line\nbreak",
    "cr\rreturn",
    'say "hi"',
    '"',
    ",",
    ";",
    "|",
    "\ufeffbom",
    "\u202eevil",
    "💥" * 20,
    "ｶﾀｶﾅ 日本語",
    "x" * 200_000,
    "NaN",
    "1e400",
    "-0",
    "2026-13-45",
    "0",
    "1700000000000",
    "99999999999999999999",
)
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp932", "latin-1")
ASKED_ENCODINGS = ("utf-8", "utf-16", "cp932", "latin-1", "ascii", "utf-32", "nope")
ENDINGS = ("\n", "\r\n", "\r")
DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class CsvFiles:
    """One generated input: the bytes of a leads file and maybe an activities file, the encoding
    leadq is told, and the options given to `leadq score`."""

    leads: bytes
    activities: bytes | None
    encoding: str
    options: tuple[str, ...]
    explain_id: str | None
    ids: tuple[str, ...]  # the leads' ids as generated, to find in the scored file


@st.composite
def _table(draw: st.DrawFn, rows: list[list[str]], most: int) -> list[list[str]]:
    """The header and a few rows, with cells, rows and ids broken here and there."""
    header, body = rows[0], rows[1:]
    chosen = st.lists(st.integers(0, len(body) - 1), min_size=1, max_size=most, unique=True)
    picked = [list(body[i]) for i in draw(chosen)]
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 4]))):
        if not picked:
            break
        row = draw(st.sampled_from(picked))
        row += [] if row else [""]
        edit = draw(st.sampled_from(["cell", "cell", "short", "extra", "blank", "copy", "id"]))
        if edit == "cell":
            row[draw(st.integers(0, len(row) - 1))] = draw(st.sampled_from(HOSTILE_CELLS))
        elif edit == "short":
            del row[draw(st.integers(0, len(row) - 1)) :]
        elif edit == "extra":
            row.extend(draw(st.lists(st.sampled_from(HOSTILE_CELLS), min_size=1, max_size=3)))
        elif edit == "blank":
            row[:] = [""] * draw(st.integers(0, 2))
        elif edit == "copy":
            picked.append(list(row))
        else:
            row[0] = draw(st.sampled_from(["", " ", "=cmd|'/c calc'!A0", "L-1001", "\x00"]))
    if draw(st.integers(0, 9)) == 0:
        header = [*header[:-1], draw(st.sampled_from(["", header[0], "Lead ID ", "\ufeffx"]))]
    return [header, *picked]


@st.composite
def _file_bytes(draw: st.DrawFn, table: list[list[str]], encoding: str) -> bytes:
    delimiter = draw(st.sampled_from(DELIMITERS))
    ending = draw(st.sampled_from(ENDINGS))
    if draw(st.integers(0, 3)):
        buffer = io.StringIO()
        quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
        csv.writer(buffer, delimiter=delimiter, lineterminator=ending, quoting=quoting).writerows(
            table
        )
        text = buffer.getvalue()
    else:  # no quoting at all: a cell holding a quote, delimiter or line break breaks the row
        text = "".join(delimiter.join(row) + ending for row in table)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        at = draw(st.integers(0, len(text)))
        splice = draw(st.sampled_from(['"', '"' * 2, "\x00", "\r", "\n", "\ufeff", "\x1a", ""]))
        text = text[:at] + splice + (text[at:] if splice else "")  # "": the file cut there
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 19)) == 0:
        data = draw(st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\x00" * 50, b"\x89PNG"]))
    return data


@st.composite
def csv_inputs(draw: st.DrawFn) -> CsvFiles:
    encoding = draw(st.sampled_from(ENCODINGS))
    leads = draw(_table(LEADS, 6))
    named = {row[0] for row in leads[1:] if row}
    theirs = [ACTIVITIES[0], *(row for row in ACTIVITIES[1:] if row[0] in named)]
    with_activities = draw(st.booleans())
    activities = draw(_table(theirs if len(theirs) > 1 else ACTIVITIES, 12))
    activities = activities if with_activities else None
    asked = encoding.replace("-sig", "") if draw(st.integers(0, 7)) else None
    asked = asked or draw(st.sampled_from(ASKED_ENCODINGS))
    options = ["--top", draw(st.sampled_from(["0", "3"]))]
    if draw(st.integers(0, 3)) == 0:
        options += ["--output-encoding", draw(st.sampled_from([*ASKED_ENCODINGS, "utf-8-sig"]))]
    if draw(st.integers(0, 3)) == 0:
        options.append("--no-formula-guard")
    ids = tuple(row[0] for row in leads[1:] if row and re.fullmatch(r"L-\d{4}", row[0]))
    explain = draw(st.sampled_from([None, None, None, *ids[:1], "L-9999"]))
    return CsvFiles(
        draw(_file_bytes(leads, encoding)),
        draw(_file_bytes(activities, encoding)) if activities else None,
        asked,
        tuple(options),
        explain,
        ids,
    )


def model_text() -> str:
    """MODEL_TEXT with examples/scoring.yaml's `csv:` section."""
    example = (EXAMPLES / "scoring.yaml").read_text("utf-8")
    return MODEL_TEXT + example.split("\ncsv:\n", 1)[1]


def try_csv(made: CsvFiles, folder: Path) -> list[Outcome]:
    """`leadq score` of the generated files (and `leadq explain`, when the input names a lead)."""
    model = folder.parent / "csv-fuzz.yaml"
    if not model.exists():
        model.write_text(model_text(), encoding="utf-8")
    leads = folder / "leads.csv"
    leads.write_bytes(made.leads)
    files = [str(leads)]
    if made.activities is not None:
        (folder / "activities.csv").write_bytes(made.activities)
        files += ["-a", str(folder / "activities.csv")]
    common = [*files, "-m", str(model), "-e", made.encoding, "--now", NOW]
    out = folder / "scored.csv"
    scored = invoke("score", ["score", *common, "-o", str(out), *made.options], out, folder=folder)
    if scored.exit_code == 0:
        scored = _with_leads_lost(scored, made, out)
    out.unlink(missing_ok=True)
    if made.explain_id is None:
        return [scored]
    return [scored, invoke("explain", ["explain", *common, "--id", made.explain_id], folder=folder)]


def _with_leads_lost(outcome: Outcome, made: CsvFiles, out: Path) -> Outcome:
    options = dict(zip(made.options[::2], made.options[1::2], strict=False))
    written_in = options.get("--output-encoding", "utf-8" if made.encoding == "cp932" else None)
    given = made.leads.decode(made.encoding, errors="replace")
    return with_leads_lost(outcome, made.ids, given, out, written_in or made.encoding)


def fuzz_csv(examples: int, seed: int | None = None) -> FuzzTally:
    """Try `examples` generated pairs of CSV files; the tally counts what went wrong."""
    return fuzz("CSV files", csv_inputs(), try_csv, examples, seed, scores_files=True)
