"""Disqualify and rep dispositions on both sandbox CRMs, through the real clients: a competitor
that qualified is disqualified (the CRM's disqualified status, the reason on the lead), not
recycled; a handed-off lead a rep rejects is an outcome that did not convert for backtest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from crm_sandboxes import MODEL, Sandbox, salesforce_client, sandbox, watched_run
from hubspot import HubSpot

from scoring.backtest import run_backtest
from scoring.config import DisqualifyRule
from sync.outcomes import ConnectorOutcomes

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # as the synthetic orgs' history ends
CRMS = ["hubspot", "salesforce"]
COMPETITOR = "rivalcorp.example"
DISQUALIFYING = MODEL.model_copy(update={"disqualify": [DisqualifyRule.model_validate({
    "id": "competitor", "label": "Competitor domain",
    "when": {"field": "email_domain", "op": "in", "value": [COMPETITOR]},
})]})
STATUS = {"hubspot": "hs_lead_status", "salesforce": "Status"}
REASONS = {"hubspot": "leadq_reasons", "salesforce": "leadq_Reasons__c"}
DISQUALIFIED = {"hubspot": "UNQUALIFIED", "salesforce": "Closed - Not Converted"}
RECYCLED = {"hubspot": "BAD_TIMING", "salesforce": "Nurture"}


def set_lead(box: Sandbox, lead_id: str, hubspot: dict[str, str], salesforce: dict[str, str]
             ) -> None:
    """Change a lead as a person would in the CRM, through the CRM's own client."""
    if box.crm == "hubspot":
        client = HubSpot(access_token=box.running.access_token, host=box.running.base_url)
        client.crm.contacts.basic_api.update(lead_id, {"properties": hubspot})
    else:
        salesforce_client(box).Lead.update(lead_id, salesforce)


def handed_off_lead(box: Sandbox) -> str:
    """A lead the first full run qualified and assigned, its status still untouched."""
    run = watched_run(box.runtime().engine(clock=lambda: NOW), "full")
    state = box.state()
    untouched = {"hubspot": {None, "", "NEW"}, "salesforce": {"Marketing Qualified"}}[box.crm]
    handed = [a.lead_id for a in run.assignments
              if a.lead_id in state and state[a.lead_id][STATUS[box.crm]] in untouched]
    assert handed, "the org has qualified leads leadq handed off"
    return sorted(handed)[0]


@pytest.mark.parametrize("crm", CRMS)
def test_a_competitor_that_qualified_is_disqualified_not_recycled(
    crm: str, tmp_path: Path
) -> None:
    with sandbox(crm, 400, tmp_path) as box:
        lead_id = handed_off_lead(box)
        email = f"someone@{COMPETITOR}"
        set_lead(box, lead_id, {"email": email}, {"Email": email})
        run = watched_run(box.runtime(DISQUALIFYING).engine(clock=lambda: NOW), "full")
        lead = box.state()[lead_id]
        assert lead[STATUS[crm]] == DISQUALIFIED[crm]
        assert lead[REASONS[crm]].startswith(f"Disqualified: Competitor domain {COMPETITOR}")
        if crm == "hubspot":
            assert lead["lifecyclestage"] == "marketingqualifiedlead"  # never moved back
        audit = [c for c in run.changes if c.lead_id == lead_id and c.field == STATUS[crm]]
        assert [c.after for c in audit] == [DISQUALIFIED[crm]]
        assert audit[0].why.startswith("Disqualified: Competitor domain")
        assert lead_id not in {a.lead_id for a in run.assignments}
        again = watched_run(box.runtime(DISQUALIFYING).engine(clock=lambda: NOW), "full")
        assert not [c for c in again.changes if c.lead_id == lead_id]
        assert box.state()[lead_id][STATUS[crm]] != RECYCLED[crm]


@pytest.mark.parametrize("crm", CRMS)
def test_a_handed_off_lead_a_rep_rejects_is_a_negative_outcome_for_backtest(
    crm: str, tmp_path: Path
) -> None:
    with sandbox(crm, 400, tmp_path) as box:
        lead_id = handed_off_lead(box)
        source = ConnectorOutcomes(box.runtime().connector)
        before = source.labelled(MODEL, None)
        set_lead(box, lead_id, {"hs_lead_status": "UNQUALIFIED"},
                 {"Status": "Closed - Not Converted"})
        after = source.labelled(MODEL, None)
        ids = [lead.id for lead in after.labelled.leads]
        row = ids.index(lead_id)
        assert not after.labelled.converted[row]
        assert after.labelled.has_outcome_time[row]
        before_row = [lead.id for lead in before.labelled.leads].index(lead_id)
        assert not before.labelled.has_outcome_time[before_row]
        assert any(note.startswith("rep dispositions: ") for note in after.notes)
        report = run_backtest(after.labelled, MODEL, notes=after.notes)
        assert report.leads == len(ids)
