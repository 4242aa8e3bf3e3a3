"""A clock a test moves by hand, to pass a delay or an expiry without waiting for it."""

from __future__ import annotations

import time
from collections.abc import Callable


class MovableClock:
    """Seconds from `source` (the real time by default) plus however far the test moved it."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self.source = source
        self.offset = 0.0

    def __call__(self) -> float:
        return self.source() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def milliseconds(self) -> int:
        return round(self() * 1000)
