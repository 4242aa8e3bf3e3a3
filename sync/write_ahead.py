"""Write-ahead audit: the audit entries of a CRM write are recorded before the write is sent and
settled after the CRM answered, so that no kill loses an audit entry.

A run killed (or cut off from the CRM) between sending a write and settling it leaves the entries
unsettled. A later run settles them from what the CRM holds then: an entry whose value the CRM
holds joins the audit log (the write landed); the others were not applied (the write never
landed), and that run's own plan writes them again, audited afresh.

Runs may overlap (id runs do), so a run leaves another's unsettled write alone while that run may
still be settling it: until the writer is known dead (a process of this machine that is gone) or
the write is older than `settle_after`. Settling twice is harmless: the audit stores an entry once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.records import Lead
from sync.plan import crm_holds
from sync.run_identity import died_here
from sync.state import AuditEntry, FieldValues, IntendedWrites, StateStore


@dataclass(frozen=True)
class SettledFromCrm:
    """What settling interrupted writes found: entries the CRM holds, and entries it does not."""

    applied: int = 0
    not_applied: int = 0


@dataclass(frozen=True)
class WriteAhead:
    store: StateStore
    crm: str
    writer: str  # the run's holder name: host:pid:run id

    def record(self, write_id: str, at: datetime, entries: Sequence[AuditEntry]) -> IntendedWrites:
        """Record what a write will change, before it is sent."""
        intended = IntendedWrites(
            id=write_id, crm=self.crm, recorded_at=at, writer=self.writer, entries=tuple(entries)
        )
        self.store.record_intended_writes(intended)
        return intended

    def settle(self, intended: IntendedWrites, written: Iterable[str]) -> None:
        """The CRM answered: audit the entries of the leads it wrote, drop the rest."""
        written_ids = set(written)
        applied = [entry for entry in intended.entries if entry.lead_id in written_ids]
        self.store.settle_intended_writes(intended, applied)

    def interrupted(self, now: datetime, settle_after: timedelta) -> list[IntendedWrites]:
        """Unsettled writes whose writer is gone, or that are older than `settle_after`."""
        return [
            intended
            for intended in self.store.unsettled_intended_writes(self.crm)
            if died_here(intended.writer) or now - intended.recorded_at >= settle_after
        ]

    def settle_from_crm(
        self, interrupted: Sequence[IntendedWrites], current: Iterable[Lead]
    ) -> SettledFromCrm:
        """Settle interrupted writes from the leads as the CRM holds them now: an entry applied
        is audited, and its value remembered as written, as the run that sent it would have."""
        leads = {lead.id: lead for lead in current}
        applied_count = not_applied = 0
        for intended in interrupted:
            applied = [
                entry
                for entry in intended.entries
                if (lead := leads.get(entry.lead_id)) and crm_holds(lead, entry.field, entry.after)
            ]
            if applied:  # one write's entries share their run and time
                values, first = _values_by_lead(applied), applied[0]
                self.store.record_written(self.crm, values, first.run_id, first.at)
            self.store.settle_intended_writes(intended, applied)
            applied_count += len(applied)
            not_applied += len(intended.entries) - len(applied)
        return SettledFromCrm(applied_count, not_applied)


def _values_by_lead(entries: Iterable[AuditEntry]) -> dict[str, FieldValues]:
    values: defaultdict[str, FieldValues] = defaultdict(dict)
    for entry in entries:
        values[entry.lead_id][entry.field] = entry.after
    return dict(values)
