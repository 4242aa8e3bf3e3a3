"""The HubSpot events window: every contact's events come back as read, from a spool on disk."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime
from typing import Any

from connectors.hubspot_activities import event_activity_type
from connectors.hubspot_event_window import EventWindow


def event(number: int, contact: int, **properties: Any) -> dict[str, Any]:
    return {
        "id": f"e{number}",
        "objectId": str(contact),
        "eventType": "e_visited_page",
        "occurredAt": f"2026-10-{1 + number % 28:02d}T09:00:00.123Z",
        "properties": {"hs_url": f"https://example.com/pricing/{number}", **properties},
    }


def test_each_contact_gets_its_own_events_in_the_order_they_were_read() -> None:
    window = EventWindow(None, event_activity_type)
    window.add_all([event(1, 7), event(2, 8), event(3, 7, hs_email_subject="Hello")])

    found = window.activities(["7", "9", "8"])

    assert [(a.lead_id, a.url) for a in found] == [
        ("7", "https://example.com/pricing/1"),
        ("7", "https://example.com/pricing/3"),
        ("8", "https://example.com/pricing/2"),
    ]
    assert found[1].subject == "Hello"
    assert found[0].type == "pricing_page_view"
    assert found[0].occurred_at == datetime(2026, 10, 2, 9, 0, 0, 123000, tzinfo=UTC)
    assert sorted(window.contacts()) == ["7", "8"]
    assert window.newest == datetime(2026, 10, 4, 9, 0, 0, 123000, tzinfo=UTC)
    window.close()


def test_an_event_read_twice_is_kept_once() -> None:
    window = EventWindow(None, event_activity_type)
    window.add_all([event(1, 7)])
    window.add_all([event(1, 7), event(2, 7)])

    assert len(window.activities(["7"])) == 2
    window.close()


def test_an_event_read_again_after_the_window_was_read_is_still_kept_once() -> None:
    window = EventWindow(None, event_activity_type)
    window.add_all([event(1, 7), event(2, 8)])
    assert len(window.activities(["7", "8"])) == 2

    window.add_all([event(2, 8), event(3, 8)])  # a top-up overlapping the last read

    assert [a.url for a in window.activities(["8"])] == [
        "https://example.com/pricing/2", "https://example.com/pricing/3"]
    window.close()


def test_a_window_of_many_events_keeps_them_out_of_memory() -> None:
    window = EventWindow(None, event_activity_type)
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    for page in range(50):
        window.add_all([event(page * 1000 + n, n % 5000) for n in range(1000)])
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert after - before < 1_000_000  # held as tuples, 50,000 events took about 8 MB
    assert len(window.activities([str(contact) for contact in range(100)])) == 5000
    window.close()
