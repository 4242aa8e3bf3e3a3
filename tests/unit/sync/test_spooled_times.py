"""A run's lead → time marks kept on disk (sync/spooled_times.py): a mapping like a dict."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta

from sync.spooled_times import SpooledTimes

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def test_marks_come_back_as_set_to_the_microsecond_and_a_mark_set_again_replaces_the_first() -> None:
    marks = SpooledTimes({"A": at(1.000001)})
    marks.update([("B", at(2)), ("A", at(3))])
    marks["C"] = at(4)

    assert dict(marks.items()) == {"A": at(3), "B": at(2), "C": at(4)}
    assert list(marks) == ["A", "B", "C"]  # in the order first set
    assert (len(marks), marks.get("X"), "B" in marks, marks.newest()) == (3, None, True, at(4))
    del marks["C"]
    assert len(marks) == 2 and "C" not in marks
    marks.close()


def test_an_empty_set_of_marks_is_falsy_and_has_no_newest() -> None:
    marks = SpooledTimes()

    assert not marks and marks.newest() is None and list(marks.values()) == []
    marks.close()


def test_a_hundred_thousand_marks_stay_out_of_the_process_memory() -> None:
    marks = SpooledTimes()
    tracemalloc.start()
    for page in range(1_000):
        marks.update((f"{page * 100 + n}", at(page + n / 100)) for n in range(100))
    newest_seen = max(marks.values())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert peak < 2_000_000  # in a dict the same marks take about 15 MB
    assert (len(marks), marks["99999"], newest_seen) == (100_000, at(999.99), at(999.99))
    marks.close()
