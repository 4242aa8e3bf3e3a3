"""Every end-to-end test outside the emulators' own contract tests is also a conformance check:
a request the strict Salesforce emulator refuses as malformed (one a real org would refuse too),
or an answer of the emulator's that strays from its declared shape, fails the test that caused
it (sandbox/salesforce/conformance.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.salesforce import conformance

PROVOKING_ON_PURPOSE = "sandbox"  # tests/e2e/sandbox: the emulators' contract tests


@pytest.fixture(autouse=True)
def salesforce_conformance(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.path.parent.name == PROVOKING_ON_PURPOSE:
        yield
        return
    before = len(conformance.recorded())
    yield
    caused = conformance.recorded()[before:]
    assert not caused, "requests a real Salesforce org would refuse, or answers out of shape:\n" + (
        "\n".join(map(str, caused))
    )
