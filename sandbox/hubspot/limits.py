"""HubSpot's request limits: ten-second rolling window, daily quota, and the search endpoints' own.

Every admitted non-search response carries `X-HubSpot-RateLimit-Max`, `-Remaining` and
`-Interval-Milliseconds`, plus `-Daily` and `-Daily-Remaining` for private-app tokens (HubSpot
leaves the daily pair out under OAuth). Search requests count only against their own per-second
limit and carry no rate-limit headers; their refusal is a 429 with policy SECONDLY.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sandbox.server import RollingWindowLimit


@dataclass(frozen=True)
class Admission:
    admitted: bool
    policy: str | None
    headers: dict[str, str]


class PortalLimits:
    def __init__(
        self,
        ten_second: tuple[int, float] = (100, 10.0),
        search_per_second: int = 5,
        daily: int = 250_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.window = RollingWindowLimit(*ten_second)
        self.search_window = RollingWindowLimit(search_per_second, 1.0)
        self.daily = daily
        self.clock = clock
        self._daily_used = 0
        self._day = self._today()
        self._lock = threading.Lock()

    def _today(self) -> int:
        return int(self.clock() // 86_400)

    def admit(self, private_app: bool) -> Admission:
        with self._lock:
            if self._today() != self._day:
                self._day, self._daily_used = self._today(), 0
            if self._daily_used >= self.daily:
                return Admission(False, "DAILY", self.headers(0, 0, private_app))
            admitted, remaining = self.window.admit()
            if admitted:
                self._daily_used += 1
            daily_remaining = self.daily - self._daily_used
        policy = None if admitted else "TEN_SECONDLY_ROLLING"
        return Admission(admitted, policy, self.headers(remaining, daily_remaining, private_app))

    def admit_search(self) -> bool:
        admitted, _ = self.search_window.admit()
        return admitted

    def headers(self, remaining: int, daily_remaining: int, private_app: bool) -> dict[str, str]:
        headers = {
            "X-HubSpot-RateLimit-Max": str(self.window.max_requests),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(
                int(self.window.interval_seconds * 1000)
            ),
        }
        if private_app:
            headers["X-HubSpot-RateLimit-Daily"] = str(self.daily)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, daily_remaining))
        return headers
