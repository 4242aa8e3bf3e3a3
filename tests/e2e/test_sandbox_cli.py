"""`leadq sandbox` serves a seeded emulator until stopped and says how to reach it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

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


def test_the_salesforce_sandbox_logs_simple_salesforce_in_over_tls() -> None:
    process, settings = start("salesforce")
    try:
        session = requests.Session()
        session.trust_env = False
        session.verify = settings["LEADQ_SALESFORCE_CA_BUNDLE"]
        sid = _soap_login(session, settings)
        sf = Salesforce(
            session_id=sid, instance_url=settings["LEADQ_SALESFORCE_INSTANCE_URL"], session=session
        )
        assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] > 100
    finally:
        stop(process)


def _soap_login(session: requests.Session, settings: dict[str, str]) -> str:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:env='
        '"http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com">'
        "<env:Body><urn:login><urn:username>{u}</urn:username><urn:password>{p}{t}</urn:password>"
        "</urn:login></env:Body></env:Envelope>"
    ).format(
        u=settings["LEADQ_SALESFORCE_USERNAME"],
        p=settings["LEADQ_SALESFORCE_PASSWORD"],
        t=settings["LEADQ_SALESFORCE_SECURITY_TOKEN"],
    )
    answer = session.post(
        settings["LEADQ_SALESFORCE_LOGIN_URL"] + "/services/Soap/u/59.0",
        data=body,
        headers={"Content-Type": "text/xml", "SOAPAction": "login"},
    )
    found = re.search(r"<sessionId>([^<]+)</sessionId>", answer.text)
    assert found, answer.text
    return found.group(1)


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
