"""A `matches` pattern that backtracks catastrophically under a backtracking engine, `(a+)+$`,
runs in linear time in a sync as in `leadq score`: leads with 5,000-character titles are scored."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from crm_sandboxes import MODEL, hubspot_state, sandbox
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInput

from sandbox.orgs import OrgSpec
from scoring.conditions import FieldTest
from scoring.config import FitRule, ScoringModel

NOW = OrgSpec().now + timedelta(hours=9)
TRAP = FitRule(
    id="trap",
    label="All a's to the end",
    when=FieldTest(field="title", op="matches", value="(a+)+$"),
    points=7,
)


def with_trap(model: ScoringModel) -> ScoringModel:
    return model.model_copy(update={"fit": model.fit.model_copy(update={"rules": [TRAP]})})


def test_a_sync_scores_titles_that_would_make_a_backtracking_regex_hang(tmp_path: Path) -> None:
    with sandbox("hubspot", 20, tmp_path) as box:
        client = HubSpot(access_token=box.running.access_token, host=box.running.base_url)
        first, second = (c.id for c in client.crm.contacts.basic_api.get_page(limit=2).results)
        titles = {first: "a" * 5_000 + "!", second: "x" + "a" * 5_000}
        for contact_id, title in titles.items():
            update = SimplePublicObjectInput(properties={"jobtitle": title})
            client.crm.contacts.basic_api.update(contact_id, update)

        report = box.runtime(with_trap(MODEL)).engine(clock=lambda: NOW).run("full")

        state = hubspot_state(box)
        assert report.failed == []
        assert "All a's to the end" not in (state[first]["leadq_reasons"] or "")
        assert "All a's to the end (+7)" in state[second]["leadq_reasons"]
