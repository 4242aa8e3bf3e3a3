"""Where the cursor goes when a run ends (sync/cursor_edge.py)."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta

from sync.cursor_edge import recognised, settle_cursor, unchecked_edge

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
OVERLAP = timedelta(minutes=5)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def test_the_cursor_moves_past_leadqs_own_writes_when_nobody_else_changed_anything() -> None:
    handled = {"A": at(1), "B": at(2)}
    written = {"A": at(10)}
    changes = [("B", at(2)), ("A", at(9.5))]

    settled = settle_cursor(changes, START, OVERLAP, handled, written)

    assert (settled.cursor, settled.unknown) == (at(9.5), 0)
    assert settled.edge.seen == {"A": at(9.5), "B": at(2)}
    assert settled.edge.known_count == 1  # B, behind the cursor; A sits at it


def test_the_cursor_stops_at_the_first_change_someone_else_made_during_the_run() -> None:
    handled = {"A": at(1)}
    written = {"A": at(10)}
    changes = [("C", at(5)), ("A", at(9.5)), ("A2", at(12))]

    settled = settle_cursor(changes, START, OVERLAP, handled, written)

    assert (settled.cursor, settled.unknown) == (at(5), 2)
    assert recognised(settled.edge, "A", at(9.5))
    assert not recognised(settled.edge, "C", at(5))


def test_a_lead_changed_again_after_leadq_wrote_it_is_not_taken_for_leadqs_write() -> None:
    settled = settle_cursor([("A", at(60))], START, OVERLAP, {}, {"A": at(10)})

    assert (settled.cursor, settled.unknown) == (at(60), 1)


def test_a_few_unchecked_writes_are_recognised_by_the_next_run_by_when_they_were_answered() -> None:
    settled = unchecked_edge(START, OVERLAP, {"A": at(1)}, {"B": at(20)})

    assert settled.cursor == at(1)
    assert recognised(settled.edge, "B", at(19.9))
    assert not recognised(settled.edge, "B", at(40))
    assert recognised(settled.edge, "A", at(1)) and not recognised(settled.edge, "A", at(2))


def test_a_window_with_more_changes_than_the_edge_can_name_is_checked_only_where_it_can() -> None:
    written = {f"L{n}": at(200) for n in range(3_000)}
    changes = [(f"L{n}", at(100 + n * 0.01)) for n in range(3_000)]

    edge = settle_cursor(changes, START, OVERLAP, {}, written).edge

    assert len(edge.seen) == edge.known_count + 1 <= 2_000  # the lead at the cursor is not behind
    assert all(stamp >= edge.known_from for stamp in edge.seen.values())
    assert recognised(edge, "L2999", at(100 + 2999 * 0.01))


def test_settling_after_a_full_run_keeps_only_what_the_edge_can_name_however_many_changed() -> None:
    written = {f"L{n}": at(10_000) for n in range(100_000)}
    changes = ((f"L{n}", at(100 + n * 0.01)) for n in range(100_000))

    tracemalloc.start()
    settled = settle_cursor(changes, START, OVERLAP, {}, written)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert peak < 3_000_000  # every known change in a dict took about 20 MB
    assert (settled.cursor, settled.unknown) == (at(100 + 99_999 * 0.01), 0)
    assert len(settled.edge.seen) <= 2_000 and "L99999" in settled.edge.seen
    assert "L0" not in settled.edge.seen
