"""Disqualify and rep dispositions on both sandbox CRMs, through the real clients: a competitor
that qualified is disqualified (the CRM's disqualified status, the reason on the lead), not
recycled; a handed-off lead a rep rejects is an outcome that did not convert for backtest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from crm_sandboxes import EXAMPLES, MODEL, Sandbox, salesforce_client, sandbox, watched_run
from hubspot import HubSpot
from typer.testing import CliRunner

from scoring.backtest import run_backtest
from scoring.config import DisqualifyRule
from scoring.report import render_report
from sync.cli import app
from sync.outcomes import ConnectorOutcomes
from sync.render_closed_loop import backtest_report

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


def set_lead_at(box: Sandbox, lead_id: str, at: datetime, hubspot: dict[str, str],
                salesforce: dict[str, str]) -> None:
    """`set_lead`, at exactly `at` by the CRM's clock."""
    if box.crm == "hubspot":
        writer = box.emulator.portal.writer
        real_clock, writer.now_ms = writer.now_ms, lambda: int(at.timestamp() * 1000)
    else:
        writer = box.emulator.writer
        real_clock, writer.clock = writer.clock, lambda: at
    try:
        set_lead(box, lead_id, hubspot, salesforce)
    finally:
        if box.crm == "hubspot":
            writer.now_ms = real_clock
        else:
            writer.clock = real_clock


def handed_off_lead(box: Sandbox) -> str:
    """A lead the first full run qualified and assigned, its status still untouched."""
    run = watched_run(box.runtime().engine(clock=lambda: NOW), "full")
    state = box.state()
    untouched = {"hubspot": {None, "", "NEW"}, "salesforce": {"Marketing Qualified"}}[box.crm]
    handed = [a.lead_id for a in run.assignments
              if a.lead_id in state and state[a.lead_id][STATUS[box.crm]] in untouched]
    assert handed, "the org has qualified leads leadq handed off"
    return sorted(handed)[0]


@pytest.fixture(params=CRMS)
def handed_off(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Sandbox, str]]:
    """A 400-lead sandbox of each CRM after a full run, and a lead that run handed off."""
    with sandbox(request.param, 400, tmp_path) as box:
        yield box, handed_off_lead(box)


def test_a_competitor_that_qualified_is_disqualified_not_recycled(
    handed_off: tuple[Sandbox, str],
) -> None:
    box, lead_id = handed_off
    crm = box.crm
    email = f"someone@{COMPETITOR}"
    set_lead(box, lead_id, {"email": email}, {"Email": email})
    run = watched_run(box.runtime(DISQUALIFYING).engine(clock=lambda: NOW), "full")
    lead = box.state()[lead_id]
    assert lead[STATUS[crm]] == DISQUALIFIED[crm]
    assert lead[REASONS[crm]].startswith(f"Disqualified: Competitor domain ({COMPETITOR})")
    if crm == "hubspot":
        assert lead["lifecyclestage"] == "marketingqualifiedlead"  # never moved back
    audit = [c for c in run.changes if c.lead_id == lead_id and c.field == STATUS[crm]]
    assert [c.after for c in audit] == [DISQUALIFIED[crm]]
    assert audit[0].why.startswith("Disqualified: Competitor domain")
    assert lead_id not in {a.lead_id for a in run.assignments}
    again = watched_run(box.runtime(DISQUALIFYING).engine(clock=lambda: NOW), "full")
    assert not [c for c in again.changes if c.lead_id == lead_id]
    assert box.state()[lead_id][STATUS[crm]] != RECYCLED[crm]


def test_a_handed_off_lead_a_rep_rejects_is_a_negative_outcome_for_backtest(
    handed_off: tuple[Sandbox, str],
) -> None:
    box, lead_id = handed_off
    crm = box.crm
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
    result = run_backtest(after.labelled, MODEL, notes=after.notes)
    assert result.leads == len(ids)
    grade = box.state()[lead_id]["leadq_grade" if crm == "hubspot" else "leadq_Grade__c"]
    rejected = {row.name: row.rejected for row in after.acceptance["grade"]}
    earlier = {row.name: row.rejected for row in before.acceptance.get("grade", [])}
    assert rejected[grade] == earlier.get(grade, 0) + 1
    page = render_report(backtest_report(result, after))
    assert "Handoff acceptance by grade" in page and "Handoff acceptance by label" in page


@pytest.mark.parametrize("crm", CRMS)
def test_validate_crm_refuses_a_disqualified_status_the_crm_does_not_offer(
    crm: str, tmp_path: Path
) -> None:
    status = {"hubspot": "UNQUALIFIED", "salesforce": "Closed - Not Converted"}[crm]
    text = (EXAMPLES / "sandbox.yaml").read_text(encoding="utf-8")
    mapped = tmp_path / "mapped.yaml"
    mapped.write_text(text + f"""
lifecycle:
  {crm}:
    stage_field: {"lifecyclestage" if crm == "hubspot" else "Status"}
    stage_values: {{lead: lead, mql: MQL}}
    stage_order: [lead, MQL]
    status_field: {STATUS[crm]}
    disqualified_status: Junk
    dispositions: {{rejected: ["{status}", Spam]}}
""", encoding="utf-8")
    with sandbox(crm, 10, tmp_path) as box:
        environment = {"COLUMNS": "400", **(box.running.leadq_environment() if crm == "hubspot"
                                            else box.running.leadq_environment("session"))}
        runner = CliRunner()
        refused = runner.invoke(app, ["validate", str(mapped), "--crm"], env=environment)
        assert refused.exit_code == 2, refused.output
        said = " ".join(refused.output.split())
        assert f"lifecycle.{crm}.disqualified_status: 'Junk' is not a value of" in said
        assert f"lifecycle.{crm}.dispositions.rejected: 'Spam' is not a value of" in said
        assert f"'{status}' is not" not in said
        shipped = runner.invoke(app, ["validate", str(EXAMPLES / "sandbox.yaml"), "--crm"],
                                env=environment)
        assert shipped.exit_code == 0, shipped.output


def test_a_rejection_edited_later_for_something_else_is_dated_at_the_rejection(
    handed_off: tuple[Sandbox, str],
) -> None:
    box, lead_id = handed_off
    rejected_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    edited_at = rejected_at + timedelta(days=3)
    set_lead_at(box, lead_id, rejected_at, {"hs_lead_status": "UNQUALIFIED"},
                {"Status": "Closed - Not Converted"})
    set_lead_at(box, lead_id, edited_at, {"jobtitle": "Head of Data"}, {"Title": "Head of Data"})
    the_end = edited_at + timedelta(days=1)
    loaded = ConnectorOutcomes(box.runtime().connector).labelled(MODEL, the_end)
    leads = loaded.labelled.leads
    row = [lead.id for lead in leads].index(lead_id)
    assert leads[row].updated_at == edited_at
    assert not loaded.labelled.converted[row]
    assert loaded.labelled.cutoff[row] == rejected_at.timestamp()
    (note,) = [note for note in loaded.notes if note.startswith("rep dispositions: ")]
    assert "dated when the status was set (its field history)" in note
