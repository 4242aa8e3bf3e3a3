"""What a rep's disposition of a handed-off lead says for the handoff figures: accepted or
rejected (not a fit and no response count as rejected), per the model's
`lifecycle.<crm>.dispositions` mapping (scoring/dispositions.py, the one place that reads it; the
defaults suit an untouched portal / org). A status leadq sets itself (the recycle status) is no
rep's verdict."""

from __future__ import annotations

from connectors.records import Lead
from scoring.config import Lifecycle, ScoringModel
from scoring.dispositions import Acceptance, acceptance
from scoring.dispositions import disposition as rep_disposition

Disposition = Acceptance
DEFAULT_LIFECYCLE = Lifecycle()


def disposition(crm: str, lead: Lead | None, model: ScoringModel | None = None) -> Disposition:
    lifecycle = getattr(model.lifecycle if model else DEFAULT_LIFECYCLE, crm, None)
    if lifecycle is None:
        return "undecided"
    return acceptance(rep_disposition(lifecycle, lead))
