"""One retry policy and one client-side rate limiter for every CRM call.

Connectors translate their client's exceptions into `TransientError` (worth retrying: 429,
REQUEST_LIMIT_EXCEEDED, 5xx, timeouts, dropped connections, UNABLE_TO_LOCK_ROW) or a permanent
`ConnectorError`; `CallPolicy.call` then retries the transient ones with exponential backoff and
jitter, honouring `Retry-After` or the rate-limit window, within a total time budget, and
`CallPolicy.call_batch` resends only the records of a batch that failed transiently, on the same
tenacity machinery. The clock (sleep and monotonic time) and the jitter are injected, so tests
neither wait nor draw random numbers. A rolling-window limiter in front of every request keeps us
under the CRM's limit, so 429s are rare rather than routine. Every request and retry is counted
for the run report.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import urllib3
from tenacity import (
    RetryCallState,
    Retrying,
    retry_base,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
)

T = TypeVar("T")
Item = TypeVar("Item")
SHORTEST_PAUSE = 0.001  # seconds: float error must not turn a wait into a busy loop
Jitter = Callable[[float, float], float]  # uniform(low, high): `random.uniform`, a seeded
# `random.Random(seed).uniform`, or any function of the two bounds


class ConnectorError(Exception):
    """A CRM problem a RevOps admin must fix; the message says what to do."""


class AuthenticationError(ConnectorError):
    pass


class PermissionDeniedError(ConnectorError):
    pass


class MissingFieldError(ConnectorError):
    pass


class RecordNotFoundError(ConnectorError):
    pass


class RetriesExhaustedError(ConnectorError):
    pass


class TransientError(Exception):
    """A failure worth retrying; `retry_after` is the server's hint in seconds, if any."""

    def __init__(self, message: str, retry_after: float | None = None, kind: str = "error") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.kind = kind  # rate_limited | server_error | timeout | connection | record_lock


@dataclass
class RequestStats:
    """What a run cost: requests by kind, retries by cause, waits."""

    requests: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    throttled_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_request(self, kind: str) -> None:
        with self._lock:
            self.requests[kind] += 1

    def count_retry(self, cause: str, times: int = 1) -> None:
        with self._lock:
            self.retries[cause] += times

    def count_wait(self, seconds: float) -> None:
        with self._lock:
            self.throttled_seconds += seconds

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def total_retries(self) -> int:
        return sum(self.retries.values())


class RollingWindowLimiter:
    """Blocks until a request fits in `max_requests` per `interval_seconds` (a rolling window).

    Leaves `headroom` of the limit unused so clock skew between us and the CRM does not turn into
    429s. Thread-safe: workers in one process share it.
    """

    def __init__(
        self,
        max_requests: int,
        interval_seconds: float,
        headroom: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.capacity = max(1, int(max_requests * (1 - headroom)))
        self.interval = interval_seconds
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot; return how long we waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and now - self._sent[0] >= self.interval:
                    self._sent.popleft()
                if now < self._blocked_until:
                    pause = self._blocked_until - now
                elif len(self._sent) < self.capacity:
                    self._sent.append(now)
                    return waited
                else:
                    pause = max(self.interval - (now - self._sent[0]), SHORTEST_PAUSE)
            self._sleep(pause)
            waited += pause

    def pause_for(self, seconds: float) -> None:
        """The CRM said we are over its limit: hold every caller back for `seconds`."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)


class Deadline:
    """A moment (on the policy's clock) after which no call is retried, whatever its budget left:
    the end of the time its caller has (a Lambda invocation's, less a margin). Shared by every call
    made meanwhile and set by that caller; `at` None means no such limit."""

    def __init__(self) -> None:
        self.at: float | None = None

    def passed(self, clock: Callable[[], float] = time.monotonic) -> bool:
        return self.at is not None and clock() >= self.at

    @contextmanager
    def until(self, at: float | None) -> Iterator[None]:
        """Calls made inside stop retrying at `at`."""
        self.at = at
        try:
            yield
        finally:
            self.at = None


@dataclass(frozen=True)
class RetrySettings:
    max_attempts: int = 8
    budget_seconds: float = 120.0
    initial_wait: float = 0.5
    max_wait: float = 30.0
    jitter: float = 0.5
    deadline: Deadline | None = None


class CallPolicy:
    """Rate-limit, count and retry calls to one CRM.

    `sleep` and `clock` (monotonic seconds) are the policy's only sense of time, and `jitter`
    (uniform(low, high)) its only randomness: inject a fake clock and a seeded or fixed jitter and
    a test neither waits nor varies.
    """

    def __init__(
        self,
        limiters: dict[str, RollingWindowLimiter],
        settings: RetrySettings | None = None,
        stats: RequestStats | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Jitter = random.uniform,
    ) -> None:
        self.limiters = limiters
        self.settings = settings or RetrySettings()
        self.stats = stats or RequestStats()
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._exponential = wait_exponential(
            multiplier=self.settings.initial_wait, max=self.settings.max_wait
        )

    def call(self, kind: str, action: Callable[[], T], limiter: str = "default") -> T:
        """Run `action` (one HTTP request) under the limiter and the retry policy."""
        retrying = self._retrying(
            retry_if_exception_type(TransientError), self._count_failed_request, reraise=True
        )
        try:
            for attempt in retrying:
                with attempt:
                    self._throttle(limiter)
                    self.stats.count_request(kind)
                    return action()
        except TransientError as error:
            settings = self.settings
            raise RetriesExhaustedError(
                f"the CRM kept failing ({error}); gave up after {settings.max_attempts} attempts "
                f"or {settings.budget_seconds:g} s. Try again later; nothing was lost."
            ) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def call_batch(
        self,
        kind: str,
        items: Sequence[Item],
        send: Callable[[Sequence[Item]], Sequence[Item]],
        limiter: str = "default",
        cause: str = "record_lock",
    ) -> list[Item]:
        """Send a batch, then resend only the items that failed transiently, until none are left.

        `send(items)` makes one request (run by `call`, so the request itself is rate-limited and
        retried) and returns the items that failed in a way worth retrying (a record lock, a
        concurrent write). Those alone go out again after a backoff with jitter, each counted as a
        retry of `cause`, within the same attempts and time budget as `call`. Returns the items
        still failing when the attempts or the budget run out (empty when every item landed).
        """
        pending: list[Item] = list(items)

        def send_pending() -> list[Item]:
            nonlocal pending
            pending = list(self.call(kind, lambda: send(pending), limiter))
            return pending

        retrying = self._retrying(
            retry_if_result(bool),
            lambda state: self.stats.count_retry(cause, times=len(pending)),
            retry_error_callback=lambda _state: pending,
        )
        return list(retrying(send_pending))

    def _retrying(
        self,
        retry: retry_base,
        before_sleep: Callable[[RetryCallState], None],
        **options: Any,
    ) -> Retrying:
        """Attempts, time budget, backoff and clock as the settings say, from now; never past
        the settings' `deadline`."""
        deadline = self._clock() + self.settings.budget_seconds
        if self.settings.deadline is not None and self.settings.deadline.at is not None:
            deadline = min(deadline, self.settings.deadline.at)
        return Retrying(
            retry=retry,
            stop=stop_after_attempt(self.settings.max_attempts) | self._past(deadline),
            wait=lambda state: min(self._wait(state), max(deadline - self._clock(), 0.0)),
            sleep=self._sleep,
            before_sleep=before_sleep,
            **options,
        )

    def _past(self, deadline: float) -> Callable[[RetryCallState], bool]:
        return lambda _state: self._clock() >= deadline

    def _throttle(self, limiter: str) -> None:
        for name in dict.fromkeys(("default", limiter)):
            if name in self.limiters:
                waited = self.limiters[name].acquire()
                if waited:
                    self.stats.count_wait(waited)

    def _wait(self, state: RetryCallState) -> float:
        """The server's `Retry-After` if it gave one, else exponential from `initial_wait` (at
        most `max_wait`); either way plus up to `jitter`, so callers do not come back at once."""
        error = state.outcome.exception() if state.outcome else None
        jitter = self._jitter(0.0, self.settings.jitter)
        if isinstance(error, TransientError) and error.retry_after is not None:
            return max(error.retry_after, 0.0) + jitter
        return min(self._exponential(state) + jitter, self.settings.max_wait)

    def _count_failed_request(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        cause = error.kind if isinstance(error, TransientError) else "error"
        self.stats.count_retry(cause)
        if isinstance(error, TransientError) and error.kind == "rate_limited" and error.retry_after:
            for limiter in self.limiters.values():
                limiter.pause_for(error.retry_after)


def unreachable(error: BaseException) -> str | None:
    """`host:port (why)` when no connection to the CRM could be opened at all (refused, unknown
    host, no route): the address is wrong or the network is down, and retrying for minutes
    would only hide that, so connectors raise a `ConnectorError` for it at once. None for any
    other failure, such as a connection that dropped, which is worth retrying."""
    cause: BaseException | None = error
    for _ in range(4):  # requests' ConnectionError → urllib3's MaxRetryError → NewConnectionError
        if isinstance(cause, urllib3.exceptions.NewConnectionError):
            connection = getattr(cause, "conn", None)
            where = f"{connection.host}:{connection.port}" if connection else "the CRM"
            return f"{where} ({str(cause).partition('): ')[2] or cause})"
        if isinstance(cause, urllib3.exceptions.MaxRetryError):
            cause = cause.reason
        elif cause is not None and cause.args and isinstance(cause.args[0], BaseException):
            cause = cause.args[0]
        else:
            return None
    return None
