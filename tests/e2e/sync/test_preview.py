"""`leadq preview` on both sandbox CRMs: it writes nothing, reads no more than a full sync, and
predicts what going live does — the leads that become MQLs and who gets them."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from crm_sandboxes import MODEL, Sandbox, sandbox

from sandbox.orgs import OrgSpec
from sync.preview_run import preview_of
from sync.runtime import Runtime, open_runtime

NOW = OrgSpec().now + timedelta(hours=9)
WRITES = {"hubspot": "/batch/update", "salesforce": "/composite/sobjects"}
MQL = {"hubspot": "marketingqualifiedlead", "salesforce": "Marketing Qualified"}
STAGE = {"hubspot": "lifecyclestage", "salesforce": "Status"}


def fresh_runtime(box: Sandbox) -> Runtime:
    return open_runtime(box.settings, MODEL, box.session)


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_a_preview_writes_nothing_and_predicts_the_go_live_run(crm: str, tmp_path: Path) -> None:
    with sandbox(crm, 400, tmp_path) as box:
        box.runtime().close()  # leadq setup: its fields exist
        before = box.state()
        box.emulator.log.clear()
        preview = preview_of(fresh_runtime(box), NOW)  # every request, from the first
        previewed = box.emulator.log.entries()
        assert box.state() == before
        assert [entry.path for entry in previewed if WRITES[crm] in entry.path] == []
        assert {entry.method for entry in previewed} <= {"GET", "POST"}  # POST: searches only

        box.emulator.log.clear()
        live = fresh_runtime(box).engine(clock=lambda: NOW).run("full")
        reads = [entry for entry in box.emulator.log.entries() if WRITES[crm] not in entry.path]
        assert len(previewed) <= len(reads)
        after = box.state()
        became_mql = [
            lead_id
            for lead_id, lead in after.items()
            if lead[STAGE[crm]] == MQL[crm] and before[lead_id][STAGE[crm]] != MQL[crm]
        ]
        assert preview.leads == live.scored
        assert preview.newly_qualified == len(became_mql) > 0
        assert preview.owners == Counter(a.owner_name for a in live.assignments)
        assert sum(preview.grades.values()) == sum(preview.stages.values()) == preview.leads


def test_a_page_that_cannot_be_written_is_refused_before_any_request(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sync.cli import app

    env = {"LEADQ_CRM": "hubspot", "LEADQ_HUBSPOT_ACCESS_TOKEN": "pat-na1-x"}
    folder = CliRunner().invoke(app, ["preview", "--html", str(tmp_path)], env=env)
    missing = CliRunner().invoke(app, ["preview", "--html", str(tmp_path / "no" / "p.html")], env=env)
    assert (folder.exit_code, missing.exit_code) == (2, 2)
    assert folder.output == f"error: {tmp_path}: is a directory; give a file name for the page\n"
    assert missing.output.startswith(f"error: {tmp_path / 'no' / 'p.html'}: the folder")
