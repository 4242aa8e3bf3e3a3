"""How one run reads activities through the activity ledger (sync/ledger.py).

- **rebuild** (full runs, and the scheduled run after a model change that needs details or days
  the ledger lacks): every lead's activity is read from the CRM as far back as the model looks,
  scored, and kept; the ledger counts as complete once the run ends.
- **feed** (incremental and id runs on a complete ledger that serves the model): only the
  activity the CRM recorded since the ledger was last fed is read; it is merged into the ledger
  of every lead it belongs to (also leads not rescored now, whose change will come later), and the
  leads of the run are scored from the ledger.
- **direct** (no complete ledger yet, or a dry run that would need a rebuild): activity is read
  from the CRM as far back as the model looks, and the ledger is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from connectors.base import Connector
from connectors.records import Activity, Lead
from sync.ledger import (
    FEED_OVERLAP,
    LedgerSpec,
    LedgerState,
    by_lead,
    ledger_document,
    merged,
    pack,
    unpack,
)
from sync.state import StateStore

LedgerMode = Literal["rebuild", "feed", "direct"]


@dataclass
class LedgerRun:
    store: StateStore
    connector: Connector
    needed: LedgerSpec
    mode: LedgerMode
    state: LedgerState | None
    started: datetime  # on the real clock: what the CRM stamps new activity with
    dry_run: bool
    note: str = ""  # why this run rebuilds the ledger, for the run report
    fed: bool = False
    _others_fed: bool = field(default=False, repr=False)

    @classmethod
    def begin(
        cls,
        store: StateStore,
        connector: Connector,
        needed: LedgerSpec,
        kind: str,
        dry_run: bool,
        started: datetime,
    ) -> LedgerRun:
        text = store.read_document(ledger_document(connector.crm))
        state = LedgerState.model_validate_json(text) if text else None
        usable = state is not None and state.complete and state.fed_since is not None
        note = ""
        if kind == "full":
            mode: LedgerMode = "rebuild"
        elif usable and state is not None and state.spec.covers(needed):
            mode = "feed"
        elif usable and state is not None and kind == "incremental" and not dry_run:
            mode = "rebuild"
            note = f"rebuilt the activity ledger as a full run: {state.spec.lacks(needed)}"
        else:
            mode = "direct"
        run = cls(store, connector, needed, mode, state, started, dry_run, note)
        if state is not None and mode != "rebuild":
            connector.learned.update(state.learned)
        if mode == "rebuild" and not dry_run:
            store.clear_ledger(connector.crm)
            run._save(LedgerState(spec=needed, complete=False))
        return run

    def activities(self, leads: Sequence[Lead], now: datetime) -> list[Activity]:
        """The activity to score these leads with: from the ledger and what is new (feed), or
        from the CRM alone (rebuild, direct)."""
        horizon = now - timedelta(days=self.needed.days)
        if self.mode == "feed":
            return self._fed(leads, now, horizon)
        got = self.connector.pull_recorded_activities(leads, None, horizon)
        if self.mode == "rebuild" and not self.dry_run:
            recorded = by_lead(got.recorded)
            self.store.record_ledger(
                self.connector.crm,
                {
                    lead.id: pack(
                        merged([], recorded.get(lead.id, []), self.needed.details, horizon),
                        self.needed.details,
                    )
                    for lead in leads
                },
            )
            self.fed = True
        return [*got.recorded, *got.derived]

    def finish(self) -> None:
        """The ledger's document after a run that ended: complete after a rebuild, fed up to
        the run's start after a feed."""
        if self.dry_run or not self.fed:
            return
        if self.mode == "rebuild":
            self._save(LedgerState(spec=self.needed, complete=True, fed_since=self.started,
                                   learned=dict(self.connector.learned)))
            return
        text = self.store.read_document(ledger_document(self.connector.crm))
        latest = LedgerState.model_validate_json(text) if text else self.state
        if latest is not None and latest.complete and latest.fed_since is not None:
            fed_since = max(latest.fed_since, self.started)
            learned = {**latest.learned, **self.connector.learned}
            self._save(latest.model_copy(update={"fed_since": fed_since, "learned": learned}))

    def _fed(self, leads: Sequence[Lead], now: datetime, horizon: datetime) -> list[Activity]:
        assert self.state is not None and self.state.fed_since is not None
        spec = self.state.spec
        kept_since = now - timedelta(days=spec.days)
        got = self.connector.pull_recorded_activities(
            leads, self.state.fed_since - FEED_OVERLAP, horizon
        )
        new = by_lead(got.recorded)
        lead_ids = [lead.id for lead in leads]
        others = [] if self._others_fed else [i for i in new if i not in set(lead_ids)]
        self._others_fed = True
        stored = self.store.ledger_of(self.connector.crm, [*lead_ids, *others])
        changed: dict[str, bytes] = {}
        activities: list[Activity] = []
        for lead_id in [*lead_ids, *others]:
            kept = unpack(lead_id, stored.get(lead_id, b""), spec.details)
            combined = merged(kept, new.get(lead_id, []), spec.details, kept_since)
            if len(combined) != len(kept):
                changed[lead_id] = pack(combined, spec.details)
            if lead_id in new or lead_id in stored:
                activities += [a for a in combined if a.occurred_at > horizon]
        if changed and not self.dry_run:
            self.store.record_ledger(self.connector.crm, changed)
        self.fed = True
        wanted = set(lead_ids)
        return [*(a for a in activities if a.lead_id in wanted), *got.derived]

    def _save(self, state: LedgerState) -> None:
        self.store.write_document(ledger_document(self.connector.crm), state.model_dump_json())
