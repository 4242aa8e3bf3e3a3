"""The suite's HubSpot conformance check. Every HubSpot emulator in the test process checks its own
answers against the shapes HubSpot's specs declare (`HubSpotEmulator.check_answers`), and no test
may have the emulator refuse a request HubSpot would refuse (a body or query that does not fit
those shapes) unless it says it means to, with `@pytest.mark.refused_by_hubspot`. The connector
sometimes recovers from a 400 (one record at a time, a warning), so a refusal fails the test even
when the run went on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def hubspot_conformance(request: pytest.FixtureRequest) -> Iterator[None]:
    try:
        from sandbox.hubspot.app import REFUSAL_OBSERVERS, HubSpotEmulator, Refusal
    except ImportError:  # no sandbox extra: nothing to check
        yield
        return
    HubSpotEmulator.check_answers = True
    found: list[Refusal] = []
    REFUSAL_OBSERVERS.append(found.append)
    try:
        yield
    finally:
        REFUSAL_OBSERVERS.remove(found.append)
    expected = request.node.get_closest_marker("refused_by_hubspot") is not None
    wrong = [refusal for refusal in found if refusal.of == "answer" or not expected]
    if wrong:
        listed = "\n".join(f"{r.of} {r.method} {r.path}: {r.message}" for r in wrong[:5])
        pytest.fail(f"{len(wrong)} HubSpot request(s) or answer(s) do not fit what HubSpot "
                    f"declares (refused requests, or emulator answers):\n{listed}", pytrace=False)
