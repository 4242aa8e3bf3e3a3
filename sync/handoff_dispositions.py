"""What a rep's disposition of a handed-off lead says: accepted (worked it, moved it on) or
rejected (not a fit, not a real lead), read from the lead's status and stage in the CRM. Kept in
this one place until the model maps dispositions itself; the defaults suit an untouched portal /
org (HubSpot's `hs_lead_status` options, Salesforce's default Lead Status picklist).

Statuses leadq sets itself (HubSpot BAD_TIMING, Salesforce Nurture: a recycled lead) are neither:
no rep decided them."""

from __future__ import annotations

from typing import Literal

from connectors.records import Lead

Disposition = Literal["accepted", "rejected", "undecided"]

ACCEPTED_STATUSES = {
    "hubspot": frozenset({"IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "CONNECTED", "OPEN_DEAL"}),
    "salesforce": frozenset({"Working - Contacted", "Closed - Converted"}),
}
REJECTED_STATUSES = {
    "hubspot": frozenset({"UNQUALIFIED"}),
    "salesforce": frozenset({"Closed - Not Converted"}),
}
# stages past MQL: sales took the lead on, whatever its status says
ACCEPTED_STAGES = {
    "hubspot": frozenset({"salesqualifiedlead", "opportunity", "customer", "evangelist"}),
    "salesforce": frozenset(),
}


def disposition(crm: str, lead: Lead | None) -> Disposition:
    if lead is None:
        return "undecided"
    status = lead.lead_status or ""
    if status in REJECTED_STATUSES.get(crm, frozenset()):
        return "rejected"
    if status in ACCEPTED_STATUSES.get(crm, frozenset()):
        return "accepted"
    if (lead.lifecycle_stage or "") in ACCEPTED_STAGES.get(crm, frozenset()):
        return "accepted"
    if lead.fields.get("IsConverted"):
        return "accepted"
    return "undecided"
