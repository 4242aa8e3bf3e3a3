"""Count rules read numbers the CRM keeps on the lead: HubSpot's analytics summary properties and a
Salesforce custom number field, scored as a CSV column would be."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from connectors.base import Connector
from connectors.records import Lead
from sandbox.hubspot import start_hubspot
from sandbox.orgs import OrgSpec, SynthOrg
from sandbox.salesforce import start_salesforce
from scoring.config import ScoringModel
from scoring.loading import ModelFileError, parse_model
from scoring.qualify import score_batch
from sync.runtime import build_connector, check_model_fields

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def visits_model(count: str, last: str) -> ScoringModel:
    return parse_model(
        "name: counts\n"
        "engagement:\n"
        "  decay: {half_life_days: 30}\n"
        "  rules:\n"
        f"    - {{id: visits, label: Site visits, field: fields.{count}, points_per: 2,\n"
        f"       unit: visit, cap: 20, last_activity: fields.{last}}}\n"
    )


def pulled(connector: Connector) -> list[Lead]:
    return [lead for page in connector.pull_changed(None) for lead in page.leads]


def assert_counts_scored(leads: list[Lead], model: ScoringModel, count: str) -> None:
    """A lead's reason names the count the CRM holds; no count, no engagement."""
    scored = score_batch(leads, [], model, NOW)
    named = 0
    for lead, reasons, engagement in zip(
        leads, scored.reasons_text, scored.engagement.tolist(), strict=True
    ):
        held = lead.fields.get(count)
        number = int(float(held)) if held not in (None, "") else 0
        assert engagement <= min(2 * number, 20)
        if engagement > 0:  # older visits decay to nothing: their count earns no reason
            found = re.search(r"Site visits: ([\d,]+) visits? \(\+\d+(, capped)?\)", reasons)
            assert found is not None, reasons
            assert int(found.group(1).replace(",", "")) == number
            named += 1
    assert named > 10


def test_hubspot_visits_on_the_contact_are_scored_by_a_count_rule() -> None:
    model = visits_model("hs_analytics_num_visits", "hs_analytics_last_visit_timestamp")
    with start_hubspot(leads=120, seed=4, rate_limit=(10_000, 10.0)) as hubspot:
        leads = pulled(build_connector(hubspot.leadq_settings(), model))
    assert_counts_scored(leads, model, "hs_analytics_num_visits")


@pytest.fixture(scope="module")
def org_with_counts() -> Iterator:
    with start_salesforce(org=SynthOrg(OrgSpec(leads=120, seed=4, activity_counts=True))) as org:
        yield org


def test_a_salesforce_number_field_is_scored_by_a_count_rule(org_with_counts) -> None:
    model = visits_model("Web_Visits__c", "Last_Web_Visit__c")
    settings = org_with_counts.leadq_settings()
    connector = build_connector(settings, model, org_with_counts.session())
    check_model_fields(connector, model, "counts.yaml")  # the fields exist: no refusal
    assert_counts_scored(pulled(connector), model, "Web_Visits__c")


def test_a_count_field_salesforce_lacks_is_refused_at_the_rule_that_reads_it(
    org_with_counts,
) -> None:
    model = visits_model("Site_Visits__c", "Last_Web_Visit__c")
    connector = build_connector(org_with_counts.leadq_settings(), model, org_with_counts.session())
    with pytest.raises(ModelFileError, match=r"engagement\.rules\[0\]\.field: Salesforce has no "
                                             r"field Site_Visits__c"):
        check_model_fields(connector, model, "counts.yaml")
