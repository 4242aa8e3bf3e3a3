"""What a rep's status on a lead leadq handed off says, per the model's
`lifecycle.<crm>.dispositions` mapping: accepted (worked it, moved it on), rejected, not a fit,
no response, or undecided.

The one place that reads dispositions: `leadq report handoff` counts acceptance from `acceptance`,
and `backtest` / `learn` take `rejected_leads` as leads that did not convert, dated when the
rep set the status (`rejections`: by the status's field history, else by the lead's last
change). A status leadq set itself is no rep's verdict: the recycle status is in no list by
default, and a lead showing the disqualified status that the model's own `disqualify:`
rules match was disqualified by leadq.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from connectors.records import Lead, Outcome
from scoring.config import CrmLifecycle, ScoringModel
from scoring.qualify import score_batch

Disposition = Literal["accepted", "rejected", "not_a_fit", "no_response", "undecided"]
Acceptance = Literal["accepted", "rejected", "undecided"]
NEGATIVE: frozenset[Disposition] = frozenset({"rejected", "not_a_fit", "no_response"})


def disposition(lifecycle: CrmLifecycle, lead: Lead | None) -> Disposition:
    """The rep's verdict on a lead, read from its status (and stage) in the CRM."""
    if lead is None:
        return "undecided"
    mapping = lifecycle.dispositions
    status = lead.lead_status or ""
    for verdict in ("rejected", "not_a_fit", "no_response", "accepted"):
        if status in getattr(mapping, verdict):
            return verdict  # type: ignore[return-value]
    if (lead.lifecycle_stage or "") in mapping.accepted_stages or lead.fields.get("IsConverted"):
        return "accepted"
    return "undecided"


def acceptance(verdict: Disposition) -> Acceptance:
    """Accepted or rejected, as the handoff figures count them (not a fit, no response:
    rejected)."""
    if verdict in NEGATIVE:
        return "rejected"
    return "accepted" if verdict == "accepted" else "undecided"


def rejected_leads(
    model: ScoringModel,
    crm: str,
    leads: Sequence[Lead],
    outcomes: Iterable[Outcome],
    now: datetime,
) -> list[Lead]:
    """Leads a rep rejected (or found not a fit, or never reached): negative outcomes once
    dated (`rejections`). Leads that already have a dated or converted outcome keep it (these
    replace undated not-converted ones), and leads leadq disqualified itself are left out."""
    lifecycle: CrmLifecycle | None = getattr(model.lifecycle, crm, None)
    if lifecycle is None:
        return []
    known = {outcome.lead_id for outcome in outcomes if outcome.converted or outcome.at}
    negative = [
        lead for lead in leads
        if lead.id not in known and disposition(lifecycle, lead) in NEGATIVE
    ]
    ours = disqualified_by_leadq(model, lifecycle, negative, now)
    return [lead for lead in negative if lead.id not in ours]


@dataclass(frozen=True)
class Rejections:
    outcomes: list[Outcome]  # not converted, dated when the rep set the status
    by_last_change: int  # of those, dated by the lead's last change: no status history said when


def rejections(rejected: Sequence[Lead], status_set_at: Mapping[str, datetime]) -> Rejections:
    """The rejected leads as outcomes that did not convert, dated when the status took its
    current value (the CRM's field history: `status_set_at`, by lead id), else by the lead's
    last change (the status was set then at the latest)."""
    outcomes = [
        Outcome(lead_id=lead.id, converted=False, at=status_set_at.get(lead.id, lead.updated_at))
        for lead in rejected
    ]
    return Rejections(outcomes, sum(lead.id not in status_set_at for lead in rejected))


def disqualified_by_leadq(
    model: ScoringModel, lifecycle: CrmLifecycle, leads: Sequence[Lead], now: datetime
) -> set[str]:
    """Leads showing the disqualified status that the model's `disqualify:` rules match: leadq
    set that status, no rep did."""
    showing = [lead for lead in leads if lead.lead_status == lifecycle.disqualified_status]
    if not model.disqualify or not showing:
        return set()
    scored = score_batch(showing, [], model, now)
    rules = scored.disqualified.tolist()
    return {lead.id for lead, rule in zip(showing, rules, strict=True) if rule >= 0}


@dataclass(frozen=True)
class AcceptanceRow:
    """How reps disposed of the handed-off leads of one grade or label."""

    name: str
    decided: int  # leads a rep accepted or turned down
    accepted: int
    rejected: int
    not_a_fit: int
    no_response: int

    @property
    def acceptance(self) -> float:
        return self.accepted / self.decided if self.decided else math.nan


def acceptance_by(
    lifecycle: CrmLifecycle, leads: Iterable[Lead], group: Callable[[Lead], str | None]
) -> list[AcceptanceRow]:
    """Rep verdicts per group (e.g. the grade leadq wrote), over the leads a rep decided on;
    groups in name order, leads without one left out."""
    counts: dict[str, Counter[Disposition]] = {}
    for lead in leads:
        verdict = disposition(lifecycle, lead)
        name = group(lead)
        if verdict != "undecided" and name:
            counts.setdefault(name, Counter())[verdict] += 1
    return [
        AcceptanceRow(name, sum(tally.values()), tally["accepted"], tally["rejected"],
                      tally["not_a_fit"], tally["no_response"])
        for name, tally in sorted(counts.items())
    ]
