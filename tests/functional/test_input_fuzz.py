"""Whatever CSV files, settings or options a user gives, `leadq` answers with an exit code the
README documents — never a traceback, never a hang — leaves no partial output file, creates nothing
when it refuses (exit 2), and a scored file holds every lead of its input. A quick profile here
(fixed inputs, a few hundred in all); `python -m benchmarks reliability` tries thousands."""

from __future__ import annotations

from benchmarks.csv_fuzz import fuzz_csv
from benchmarks.fuzzing import FuzzTally


def assert_clean(tally: FuzzTally) -> None:
    assert tally.tracebacks == []
    assert tally.wrong_exit_codes == []
    assert tally.hangs == []
    assert tally.leads_lost == []


def test_no_csv_file_gets_a_traceback_a_wrong_exit_code_a_hang_or_loses_a_lead() -> None:
    tally = fuzz_csv(120)
    assert tally.tried == 120
    assert_clean(tally)
