"""`leadq sandbox` serves a seeded emulator until stopped and says how to reach it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from hubspot import HubSpot
from simple_salesforce import Salesforce


def start(crm: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "sync.cli", "sandbox", crm, "--leads", "200", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"},
    )
    settings: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        found = re.match(r"\s+export (LEADQ_\w+)=(\S+)", line)
        if found:
            settings[found.group(1)] = found.group(2)
        if line.startswith("Serving until Ctrl-C."):
            return process, settings
    raise AssertionError(f"the sandbox never came up (exit {process.wait()})")


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    remaining, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    return remaining


def test_the_hubspot_sandbox_serves_its_org_to_the_official_client() -> None:
    process, settings = start("hubspot")
    try:
        client = HubSpot(
            access_token=settings["LEADQ_HUBSPOT_ACCESS_TOKEN"],
            host=settings["LEADQ_HUBSPOT_BASE_URL"],
        )
        page = client.crm.contacts.basic_api.get_page(limit=100)
        assert len(page.results) == 100
        assert settings["LEADQ_CRM"] == "hubspot"
    finally:
        assert "stopped" in stop(process)


def test_the_salesforce_sandbox_settings_let_leadq_sync_it_from_another_process() -> None:
    process, settings = start("salesforce")
    try:
        session = requests.Session()
        session.trust_env = False
        session.verify = settings["LEADQ_SALESFORCE_CA_BUNDLE"]
        sf = Salesforce(
            session_id=settings["LEADQ_SALESFORCE_SESSION_ID"],
            instance_url=settings["LEADQ_SALESFORCE_INSTANCE_URL"],
            session=session,
        )
        assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] > 100
        model = str(Path(__file__).parents[2] / "examples" / "sandbox.yaml")
        dry_run = subprocess.run(
            [sys.executable, "-m", "sync.cli", "sync", "--full", "--dry-run", "--model", model],
            env={**settings, "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert dry_run.returncode == 0, dry_run.stderr
        assert "Planned changes (nothing written)" in dry_run.stdout
    finally:
        stop(process)


def test_an_unknown_sandbox_is_a_user_error() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "sync.cli", "sandbox", "pipedrive"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert (
        completed.stderr.strip() == "error: unknown sandbox 'pipedrive': use hubspot or salesforce"
    )


pytestmark = pytest.mark.e2e
