"""The shared retry policy and rate limiter, on a fake clock so nothing really sleeps."""

from __future__ import annotations

import json
import random

import pytest
from hubspot.crm.contacts.exceptions import ApiException

from connectors.hubspot_api import translate_error
from connectors.retry import (
    CallPolicy,
    ConnectorError,
    Deadline,
    RetriesExhaustedError,
    RetrySettings,
    RollingWindowLimiter,
    TransientError,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def flaky(failures: list[Exception], result: str = "ok"):
    def action() -> str:
        if failures:
            raise failures.pop(0)
        return result

    return action


def no_jitter(low: float, high: float) -> float:
    return low


def policy(clock: FakeClock, draw=no_jitter, **settings) -> CallPolicy:
    limiter = RollingWindowLimiter(100, 10.0, clock=clock, sleep=clock.sleep)
    return CallPolicy(
        {"default": limiter}, RetrySettings(**settings), sleep=clock.sleep, clock=clock,
        jitter=draw,
    )


def locked_for(rounds: dict[str, int]):
    """A batch `send` where each record stays locked for its number of sends, then lands."""
    sent: list[list[str]] = []

    def send(batch):
        sent.append(list(batch))
        still_locked = [record for record in batch if rounds[record] > 0]
        for record in batch:
            rounds[record] -= 1
        return still_locked

    return send, sent


def test_transient_failures_are_retried_and_counted_by_cause() -> None:
    clock = FakeClock()
    calls = policy(clock)
    failures = [
        TransientError("503", kind="server_error"),
        TransientError("reset", kind="connection"),
    ]
    assert calls.call("read", flaky(failures)) == "ok"
    assert calls.stats.requests == {"read": 3}
    assert calls.stats.retries == {"server_error": 1, "connection": 1}


def test_retry_after_is_honoured() -> None:
    clock = FakeClock()
    calls = policy(clock)
    calls.call("search", flaky([TransientError("429", retry_after=7.0, kind="rate_limited")]))
    assert clock.sleeps == [7.0]


def hubspot_rate_limited(policy_name: str, headers: dict[str, str]) -> Exception:
    """HubSpot's 429, as its client raises it, translated as the connector translates it."""
    error = ApiException(status=429, reason="Too Many Requests")
    error.body = json.dumps({"status": "error", "policyName": policy_name})
    error.headers = headers
    translated = translate_error(error, "the contacts search", oauth=False)
    assert translated is not None
    return translated


@pytest.mark.parametrize(
    ("policy_name", "headers", "wait"),
    [("TEN_SECONDLY_ROLLING", {"Retry-After": "3"}, 3.0), ("SECONDLY", {}, 1.0)],
)
def test_hubspot_rate_limits_wait_as_long_as_hubspot_says(
    policy_name: str, headers: dict[str, str], wait: float
) -> None:
    clock = FakeClock()
    calls = policy(clock)
    calls.call("search", flaky([hubspot_rate_limited(policy_name, headers)]))
    assert clock.sleeps == [wait]
    assert calls.stats.retries == {"rate_limited": 1}


def test_backoff_grows_exponentially_without_a_hint() -> None:
    clock = FakeClock()
    calls = policy(clock, initial_wait=1.0)
    failures = [TransientError("503", kind="server_error") for _ in range(4)]
    calls.call("read", flaky(failures))
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]


def test_permanent_errors_are_not_retried() -> None:
    clock = FakeClock()
    calls = policy(clock)
    with pytest.raises(ConnectorError, match="wrong token"):
        calls.call("read", flaky([ConnectorError("wrong token")]))
    assert calls.stats.requests == {"read": 1}
    assert calls.stats.total_retries == 0


def test_giving_up_says_so_and_that_nothing_was_lost() -> None:
    clock = FakeClock()
    calls = policy(clock, max_attempts=3)
    failures = [TransientError("503", kind="server_error") for _ in range(5)]
    with pytest.raises(RetriesExhaustedError) as caught:
        calls.call("write", flaky(failures))
    assert str(caught.value) == (
        "the CRM kept failing (503); gave up after 3 attempts or 120 s. "
        "Try again later; nothing was lost."
    )
    assert calls.stats.requests == {"write": 3}


def test_the_time_budget_stops_retrying() -> None:
    clock = FakeClock()
    calls = policy(clock, budget_seconds=10.0, initial_wait=4.0)
    failures = [TransientError("503", kind="server_error") for _ in range(10)]
    with pytest.raises(RetriesExhaustedError):
        calls.call("read", flaky(failures))
    assert clock.sleeps == [4.0, 6.0]  # the second wait is cut to what is left of the budget


def test_a_deadline_stops_retrying_before_the_budget_is_spent() -> None:
    clock = FakeClock()
    deadline = Deadline()
    calls = policy(clock, budget_seconds=120.0, initial_wait=4.0, deadline=deadline)
    failures = [TransientError("503", kind="server_error") for _ in range(10)]
    with deadline.until(7.0), pytest.raises(RetriesExhaustedError):
        calls.call("read", flaky(failures))
    assert clock.sleeps == [4.0, 3.0]  # the second wait is cut to the deadline, then no more
    clock.sleeps.clear()
    # outside `until`, the budget alone counts again
    assert calls.call("read", flaky([TransientError("503", kind="server_error")] * 4)) == "ok"
    assert len(clock.sleeps) == 4


def test_the_jitter_is_the_injected_one_and_stays_within_its_bound() -> None:
    clock = FakeClock()
    calls = policy(clock, draw=random.Random(12).uniform, initial_wait=1.0, jitter=0.5)
    calls.call("read", flaky([TransientError("503", kind="server_error") for _ in range(3)]))
    again = FakeClock()
    policy(again, draw=random.Random(12).uniform, initial_wait=1.0, jitter=0.5).call(
        "read", flaky([TransientError("503", kind="server_error") for _ in range(3)])
    )
    assert clock.sleeps == again.sleeps
    for base, slept in zip([1.0, 2.0, 4.0], clock.sleeps, strict=True):
        assert base <= slept <= base + 0.5


def test_a_batch_resends_only_the_records_that_failed() -> None:
    clock = FakeClock()
    calls = policy(clock, initial_wait=1.0)
    send, sent = locked_for({"a": 0, "b": 2, "c": 1})
    assert calls.call_batch("write", ["a", "b", "c"], send) == []
    assert sent == [["a", "b", "c"], ["b", "c"], ["b"]]
    assert calls.stats.requests == {"write": 3}
    assert calls.stats.retries == {"record_lock": 3}  # one per record sent again
    assert clock.sleeps == [1.0, 2.0]


def test_a_batch_returns_what_still_fails_when_the_attempts_run_out() -> None:
    clock = FakeClock()
    calls = policy(clock, max_attempts=3)
    send, sent = locked_for({"a": 0, "b": 10})
    assert calls.call_batch("write", ["a", "b"], send, cause="conflict") == ["b"]
    assert len(sent) == 3
    assert calls.stats.retries == {"conflict": 2}


def test_a_batch_stops_resending_when_the_time_budget_is_spent() -> None:
    clock = FakeClock()
    calls = policy(clock, budget_seconds=10.0, initial_wait=4.0)
    send, sent = locked_for({"a": 10})
    assert calls.call_batch("write", ["a"], send) == ["a"]
    assert clock.sleeps == [4.0, 6.0]
    assert len(sent) == 3


def test_a_failed_batch_request_is_retried_whole_before_records_are_resent() -> None:
    clock = FakeClock()
    calls = policy(clock)
    failures = [TransientError("503", kind="server_error")]
    send, sent = locked_for({"a": 1, "b": 0})

    def flaky_send(batch):
        if failures:
            raise failures.pop(0)
        return send(batch)

    assert calls.call_batch("write", ["a", "b"], flaky_send) == []
    assert sent == [["a", "b"], ["a"]]
    assert calls.stats.retries == {"server_error": 1, "record_lock": 1}


def test_a_permanent_error_in_a_batch_is_not_retried() -> None:
    clock = FakeClock()
    calls = policy(clock)

    def refuse(batch):
        raise ConnectorError("no such field")

    with pytest.raises(ConnectorError, match="no such field"):
        calls.call_batch("write", ["a"], refuse)
    assert calls.stats.total_retries == 0


def test_the_limiter_never_lets_more_than_the_limit_into_any_window() -> None:
    clock = FakeClock()
    limiter = RollingWindowLimiter(100, 10.0, headroom=0.05, clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(400):
        limiter.acquire()
        sent.append(clock.now)
        clock.now += 0.01  # the request itself takes 10 ms
    busiest = max(sum(1 for t in sent if start <= t < start + 10.0) for start in sent)
    assert busiest == 95
    rate = len(sent) / (sent[-1] - sent[0] + 0.01)
    assert rate >= 0.9 * 10  # ≥ 90% of 100 requests / 10 s


def test_a_rate_limit_answer_holds_every_caller_back() -> None:
    clock = FakeClock()
    limiter = RollingWindowLimiter(100, 10.0, clock=clock, sleep=clock.sleep)
    limiter.pause_for(3.0)
    assert limiter.acquire() == 3.0
