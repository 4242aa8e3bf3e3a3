"""What an incremental pull reads (connectors/base.py's ChangeWindow)."""

from datetime import UTC, datetime, timedelta

from connectors.base import ChangeWindow

SINCE = datetime(2026, 11, 1, 12, tzinfo=UTC)
OVERLAP = timedelta(seconds=300)


def test_a_bare_cursor_reads_from_it_less_the_overlap() -> None:
    assert ChangeWindow.of(SINCE).lower(OVERLAP) == SINCE - OVERLAP


def test_no_cursor_reads_every_lead() -> None:
    assert ChangeWindow.of(None).lower(OVERLAP) is None


def test_a_window_without_overlap_reads_from_the_cursor_itself() -> None:
    assert ChangeWindow(SINCE, overlap=False).lower(OVERLAP) == SINCE


def test_a_lead_known_at_its_modified_time_is_left_out_and_a_later_change_is_not() -> None:
    window = ChangeWindow(SINCE, known=lambda lead_id, stamp: (lead_id, stamp) == ("a", SINCE))
    assert not window.is_new("a", SINCE)
    assert window.is_new("a", SINCE + timedelta(milliseconds=1))
    assert window.is_new("b", SINCE)


def test_a_window_passed_on_is_kept_as_it_is() -> None:
    window = ChangeWindow(SINCE, overlap=False, until=SINCE + OVERLAP)
    assert ChangeWindow.of(window) is window
