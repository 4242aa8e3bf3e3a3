"""`leadq setup`, `leadq sync` and `leadq audit` as an admin runs them against a CRM."""

from __future__ import annotations

import re
from pathlib import Path

from crm_sandboxes import EXAMPLES
from hubspot import HubSpot
from typer.testing import CliRunner

from sandbox.hubspot import start_hubspot
from sandbox.salesforce import start_salesforce
from sync.cli import app

runner = CliRunner()


def leadq(env: dict[str, str], *args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "220", **env})


def settings_for(hubspot, tmp_path: Path) -> dict[str, str]:
    return {
        **hubspot.leadq_environment(),
        "LEADQ_HUBSPOT_RATE_LIMIT": "10000",
        "LEADQ_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}",
        "LEADQ_MODEL_PATH": str(EXAMPLES / "sandbox.yaml"),
        "LEADQ_OVERLAP_SECONDS": "0",
    }


def test_setup_then_a_dry_run_then_a_sync_then_the_audit_trail(tmp_path: Path) -> None:
    with start_hubspot(leads=150, seed=7, rate_limit=(10_000, 10.0)) as hubspot:
        env = settings_for(hubspot, tmp_path)
        setup = leadq(env, "setup")
        assert setup.exit_code == 0, setup.output
        assert "created: leadq_score, leadq_fit" in setup.output
        assert "ok leadq's fields are in place" in setup.output
        again = leadq(env, "setup")
        assert "already there: leadq_score" in again.output

        hubspot.emulator.log.clear()
        dry = leadq(env, "sync", "--full", "--dry-run", "--now", "2026-11-02T09:00Z")
        assert dry.exit_code == 0, dry.output
        assert "Planned changes (nothing written)" in dry.output
        assert "leadq_reasons" in dry.output
        assert hubspot.emulator.log.count(path_contains="batch/update") == 0

        done = leadq(env, "sync", "--full", "--now", "2026-11-02T09:00Z")
        assert done.exit_code == 0, done.output
        assert re.search(r"written\s+150", done.output)
        assert hubspot.emulator.log.count(path_contains="batch/update") == 2

        client = HubSpot(access_token=hubspot.access_token, host=hubspot.base_url)
        lead_id = client.crm.contacts.basic_api.get_page(limit=1).results[0].id
        history = leadq(env, "audit", lead_id)
        assert history.exit_code == 0, history.output
        assert f"History of lead {lead_id} (newest first)" in history.output
        assert "leadq_score" in history.output


def test_audit_of_a_lead_leadq_never_changed_says_so(tmp_path: Path) -> None:
    from sync.state_sqlite import SqliteStateStore

    SqliteStateStore(tmp_path / "state.db").close()
    env = {"LEADQ_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
    result = leadq(env, "audit", "nobody")
    assert result.exit_code == 2
    assert "error: leadq has not changed lead 'nobody'" in result.output


def test_sync_without_credentials_names_the_variable_to_set(tmp_path: Path, monkeypatch) -> None:
    import os

    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("LEADQ_")]:
        monkeypatch.delenv(name)
    result = leadq({"LEADQ_MODEL_PATH": str(EXAMPLES / "sandbox.yaml")}, "sync")
    assert result.exit_code == 2
    assert "error: HubSpot needs credentials: set LEADQ_HUBSPOT_ACCESS_TOKEN" in result.output


def test_a_token_the_crm_refuses_stops_the_sync_before_any_state_file_exists(
    tmp_path: Path,
) -> None:
    with start_hubspot(leads=10, seed=7) as hubspot:
        env = {**settings_for(hubspot, tmp_path), "LEADQ_HUBSPOT_ACCESS_TOKEN": "pat-na1-wrong"}
        result = leadq(env, "sync")
    assert result.exit_code == 2
    assert result.output.startswith("error: HubSpot refused the access token (401")
    assert not (tmp_path / "state.db").exists()


def test_setup_creates_no_state_file(tmp_path: Path) -> None:
    with start_hubspot(leads=10, seed=7) as hubspot:
        result = leadq(settings_for(hubspot, tmp_path), "setup")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "state.db").exists()


def test_ids_the_crm_does_not_have_are_named_and_the_sync_exits_1(tmp_path: Path) -> None:
    with start_hubspot(leads=20, seed=7, rate_limit=(10_000, 10.0)) as hubspot:
        env = settings_for(hubspot, tmp_path)
        assert leadq(env, "setup").exit_code == 0
        client = HubSpot(access_token=hubspot.access_token, host=hubspot.base_url)
        lead_id = client.crm.contacts.basic_api.get_page(limit=1).results[0].id
        asked = ["--ids", lead_id, "--ids", "999999901", "--ids", "999999902"]
        result = leadq(env, "sync", *asked, "--now", "2026-11-02T09:00Z")
    assert result.exit_code == 1, result.output
    assert "not in the CRM, so not scored: 999999901, 999999902" in result.output
    assert re.search(r"not in the CRM\s+2", result.output)
    assert re.search(r"leads pulled\s+1", result.output)


MISSPELT_FIELD_MODEL = """\
name: misspelt
fit:
  rules:
    - id: big
      label: Big company
      when: {field: company.employees, op: gte, value: 100}
      points: 10
    - id: shoes
      label: Big feet
      when: {field: fields.Shoe_Size__c, op: gte, value: 40}
      points: 5
"""


def test_a_model_field_salesforce_lacks_is_named_at_its_place_in_the_model_before_any_query(
    tmp_path: Path,
) -> None:
    model = tmp_path / "misspelt.yaml"
    model.write_text(MISSPELT_FIELD_MODEL)
    with start_salesforce(leads=20, seed=3) as salesforce:
        env = {**salesforce.leadq_environment("session"), "LEADQ_MODEL_PATH": str(model),
               "LEADQ_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
        salesforce.emulator.log.clear()
        results = [leadq(env, "sync", "--dry-run"), leadq(env, "setup")]
        queries = salesforce.emulator.log.count(path_contains="/query")
    expected = (
        "error: misspelt.yaml:10 fit.rules[1].when.field: Salesforce has no field Shoe_Size__c on "
        "Lead that the integration user can read: correct the name (API names of custom fields "
        "end in __c) or give the user read access to it (field-level security)"
    )
    for result in results:
        assert result.exit_code == 2, result.output
        assert " ".join(result.output.split()) == expected
    assert queries == 0
