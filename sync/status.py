"""What `leadq status` shows, read from the state store alone (no CRM request): the CRM's lead
cursor, who holds the scheduled run's lease, the latest runs, the leads waiting in the retry set
(with why and when they are tried next), and writes a run left unsettled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sync.engine import LEASE, lead_cursor
from sync.retry_set import RetryPolicy, Waiting
from sync.state import RunRecord, StateStore


@dataclass(frozen=True)
class SyncStatus:
    crm: str
    cursor: datetime | None
    lease_holder: str | None
    runs: list[RunRecord]
    waiting: list[Waiting]
    unsettled_writes: int  # intended writes a run left unsettled; the next run settles them


def read_status(
    store: StateStore, crm: str, now: datetime, runs: int = 10, policy: RetryPolicy | None = None
) -> SyncStatus:
    return SyncStatus(
        crm=crm,
        cursor=store.get_cursor(lead_cursor(crm)),
        lease_holder=store.lease_holder(LEASE, now),
        runs=store.recent_runs(runs),
        waiting=(policy or RetryPolicy()).waiting(store.failed_writes(crm)),
        unsettled_writes=len(store.unsettled_intended_writes(crm)),
    )
