"""When lead fields got their values, as a CRM's field history tells: what `Connector.field_history`
answers, by lead path (`lead_status`, `fields.lead_quality`) and then lead id.

Each connector reads a field's changes for a lead (HubSpot's `propertiesWithHistory`, Salesforce's
LeadHistory / ContactHistory) and folds them, oldest first, into three moments:

- `set_at`: when the current value was set (none when the field is empty now);
- `first_set_at`: when the field first held a value — unknown when it already held one before the
  history begins (a Salesforce value the record was created with has no row);
- `entered_at`: for the paths asked for with values, when the field first took one of them (the
  stage reaching MQL: the handoff).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

Times = dict[str, dict[str, datetime]]  # lead path → lead id → a moment


@dataclass(frozen=True, slots=True)
class ValueChange:
    at: datetime
    old: str  # the value before ("": empty)
    new: str  # the value after ("": cleared)


@dataclass
class FieldTimes:
    set_at: Times = field(default_factory=dict)
    first_set_at: Times = field(default_factory=dict)
    entered_at: Times = field(default_factory=dict)

    def record(
        self, path: str, lead_id: str, changes: Sequence[ValueChange],
        entering: Collection[str] = (),
    ) -> None:
        """Fold one lead's changes of one field, oldest first."""
        if not changes:
            return
        if changes[-1].new:
            self.set_at.setdefault(path, {})[lead_id] = changes[-1].at
        first = _first_at(changes, lambda value: value != "")
        if first is not None:
            self.first_set_at.setdefault(path, {})[lead_id] = first
        entered = _first_at(changes, lambda value: value in entering) if entering else None
        if entered is not None:
            self.entered_at.setdefault(path, {})[lead_id] = entered


def _first_at(changes: Sequence[ValueChange], wanted: Callable[[str], bool]) -> datetime | None:
    """When a wanted value first appeared; None when the field held one before the history
    begins (that moment is unknown) or never."""
    if wanted(changes[0].old):
        return None
    return next((change.at for change in changes if wanted(change.new)), None)
