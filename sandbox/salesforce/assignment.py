"""Lead assignment rules: Salesforce runs the org's active rule on every Lead created or updated
through the API unless the request carries `Sforce-Auto-Assign: FALSE`, silently replacing any
OwnerId the caller wrote."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class AssignmentRule:
    """Round-robin over `owner_ids` (users or queues); a single id makes it a fixed owner."""

    owner_ids: Sequence[str]
    name: str = "Standard lead assignment"
    _turns: itertools.cycle = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.owner_ids:
            raise ValueError("an assignment rule needs at least one owner")
        self._turns = itertools.cycle(list(self.owner_ids))

    def next_owner(self) -> str:
        with self._lock:
            return next(self._turns)


def auto_assign_requested(header_value: str | None) -> bool:
    """Only an explicit FALSE (any case) switches the rules off; absent or TRUE runs them."""
    return header_value is None or header_value.strip().lower() != "false"
