"""`leadq setup` and `leadq validate --crm` refuse a model whose routing names owners the CRM does
not have, or has deactivated — before anything is created — and list every one of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from crm_sandboxes import EXAMPLES, sandbox
from typer.testing import CliRunner

from sandbox.orgs import OrgSpec, SynthOrg
from sync.cli import app

TYPO = "lisa.hendersen4@acme-saas.example"  # the demo org has lisa.henderson4


def model_naming(tmp_path: Path, inactive_email: str) -> Path:
    text = (EXAMPLES / "sandbox.yaml").read_text(encoding="utf-8")
    text = text.replace("lisa.henderson4@acme-saas.example", TYPO)
    text = text.replace("- chloe.souza7@acme-saas.example", f"- {inactive_email}")
    path = tmp_path / "routing.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def leadq(environment: dict[str, str], *args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "400", **environment})


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_unknown_and_inactive_routing_owners_stop_setup_with_their_list(
    crm: str, tmp_path: Path
) -> None:
    with sandbox(crm, 10, tmp_path) as box:
        org = SynthOrg(OrgSpec(leads=box.leads, seed=box.seed))
        inactive = next(owner.email for owner in org.owners if not owner.active)
        environment = {
            **(
                box.running.leadq_environment()
                if crm == "hubspot"
                else box.running.leadq_environment("session")
            ),
            "LEADQ_STATE_URL": box.settings.state_url,
        }
        model = model_naming(tmp_path, inactive)
        crm_name = "HubSpot" if crm == "hubspot" else "Salesforce"
        expected = (
            f"error: routing names 2 owners who cannot take leads in {crm_name}: "
            f"routing.rules[0].pool[0] {TYPO} (not a user in the CRM); "
            f"routing.rules[2].pool[1] {inactive} (inactive)"
        )
        box.emulator.log.clear()
        for command in (["setup", "--model", str(model)], ["validate", str(model), "--crm"]):
            result = leadq(environment, *command)
            assert result.exit_code == 2, result.output
            assert " ".join(result.output.split()) == expected
        # the refused commands only read the owners: no field created, nothing written
        assert {entry.method for entry in box.emulator.log.entries()} == {"GET"}
        fixed = leadq(environment, "setup", "--model", str(EXAMPLES / "sandbox.yaml"))
        assert fixed.exit_code == 0, fixed.output
        checked = leadq(environment, "validate", str(EXAMPLES / "sandbox.yaml"), "--crm")
        assert checked.exit_code == 0, checked.output
