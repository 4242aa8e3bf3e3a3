"""When a lead whose write failed for good is tried again, and when leadq gives up on it.

The state store keeps the facts (how many runs failed to write the lead, when the last one did and
why); this policy reads them. After the n-th failed attempt the next is due 2^n minutes later (2,
4, 8 … minutes), so a CRM that refuses a record for an hour is not asked every run, and one that
refused it once is asked again by the next run. After `max_attempts` the lead is given up: it stays
listed, in the run summary and in `leadq status`, but only a full run (which handles every lead and
starts the count afresh) or a successful write of the lead takes it out of the set.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sync.state import FailedWrite, StateStore


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 10  # about 17 hours of doubling waits: a nightly full run comes first
    first_wait: timedelta = timedelta(minutes=2)

    def given_up(self, failed: FailedWrite) -> bool:
        return failed.attempts >= self.max_attempts

    def next_attempt_at(self, failed: FailedWrite) -> datetime | None:
        """When the lead is due again; None once it is given up."""
        if self.given_up(failed):
            return None
        return failed.last_failed_at + self.first_wait * 2 ** (failed.attempts - 1)

    def due(self, waiting: Iterable[FailedWrite], now: datetime) -> list[FailedWrite]:
        """The leads to retry at `now`, the longest waiting first."""
        return sorted(
            (
                failed
                for failed in waiting
                if (at := self.next_attempt_at(failed)) is not None and at <= now
            ),
            key=lambda failed: (failed.last_failed_at, failed.lead_id),
        )

    def waiting(self, failed_writes: Iterable[FailedWrite]) -> list[Waiting]:
        """The retry set with each lead's next attempt (None: given up)."""
        return [Waiting(failed, self.next_attempt_at(failed)) for failed in failed_writes]


@dataclass(frozen=True)
class Waiting:
    """A lead waiting in the retry set, and when it is tried next (None: given up)."""

    failed: FailedWrite
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class RetrySet:
    """One run's dealings with the retry set: the leads it retries first, the failures it adds,
    and the leads it takes out once handled (written, or with nothing left to write).
    `at_start` is the set as the run found it."""

    store: StateStore
    crm: str
    policy: RetryPolicy
    at_start: Mapping[str, FailedWrite] = field(default_factory=dict)

    @classmethod
    def load(cls, store: StateStore, crm: str, policy: RetryPolicy) -> RetrySet:
        waiting = {failed.lead_id: failed for failed in store.failed_writes(crm)}
        return cls(store, crm, policy, waiting)

    def due(self, now: datetime, limit: int) -> list[str]:
        """The leads to retry at `now`, the longest waiting first, at most `limit`."""
        return [failed.lead_id for failed in self.policy.due(self.at_start.values(), now)][:limit]

    def record_failures(
        self, errors: Mapping[str, str], run_id: str, now: datetime, restart: bool
    ) -> None:
        """Add leads whose write failed for good. A retried lead's failure is recorded at the
        time its attempt was due: runs that overlap (queue workers) and retry it at once make one
        attempt, not one each. `restart` (a full run) counts attempts afresh, so that a lead
        given up is tried again."""
        if restart:
            self.store.clear_failed_writes(self.crm, [i for i in errors if i in self.at_start])
        by_time: defaultdict[datetime, dict[str, str]] = defaultdict(dict)
        for lead_id, error in errors.items():
            by_time[now if restart else self._attempted_at(lead_id, now)][lead_id] = error
        for at, failed in by_time.items():
            self.store.record_failed_writes(self.crm, failed, run_id, at)

    def _attempted_at(self, lead_id: str, now: datetime) -> datetime:
        earlier = self.at_start.get(lead_id)
        due_at = self.policy.next_attempt_at(earlier) if earlier else None
        return due_at if due_at is not None and due_at <= now else now

    def handled(self, lead_ids: Iterable[str], failed: Iterable[str] = ()) -> None:
        """Take out the leads a run handled (written, nothing to write, or gone from the CRM),
        but not those it failed to write."""
        failed_ids = set(failed)
        done = [i for i in lead_ids if i in self.at_start and i not in failed_ids]
        if done:
            self.store.clear_failed_writes(self.crm, done)

    def waiting(self, after_writes: bool = True) -> list[Waiting]:
        """The set now (as the run found it, when it wrote nothing), with next attempts."""
        found = self.store.failed_writes(self.crm) if after_writes else self.at_start.values()
        return self.policy.waiting(found)
