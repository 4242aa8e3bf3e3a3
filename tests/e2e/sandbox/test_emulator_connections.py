"""Both emulators keep HTTP/1.1 connections alive, as the real CRMs do: a client session's
requests share one TCP connection, whatever the requests and answers look like, while injected
faults still cut connections and stopping the server closes the idle ones."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest
import requests

from sandbox.hubspot import RunningHubSpot, start_hubspot
from sandbox.salesforce.running import RunningSalesforce, start_salesforce
from sandbox.server import EmulatorServer

pytestmark = pytest.mark.e2e

CONTACTS = "/crm/v3/objects/contacts"


@pytest.fixture
def hubspot() -> Iterator[RunningHubSpot]:
    with start_hubspot(leads=20, seed=5, search_per_second=1_000) as running:
        yield running


@pytest.fixture
def salesforce() -> Iterator[RunningSalesforce]:
    with start_salesforce(leads=20, seed=5) as running:
        yield running


def hubspot_session(running: RunningHubSpot) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {running.access_token}"
    return session


def test_a_hubspot_client_session_sends_all_its_requests_over_one_connection(
        hubspot: RunningHubSpot) -> None:
    session = hubspot_session(hubspot)
    answers = [session.get(f"{hubspot.base_url}{CONTACTS}", params={"limit": 5}, timeout=10)
               for _ in range(5)]
    answers.append(session.get(f"{hubspot.base_url}{CONTACTS}/424242424", timeout=10))
    assert [answer.status_code for answer in answers] == [200] * 5 + [404]
    assert all(answer.headers.get("Connection", "").lower() != "close" for answer in answers)
    assert hubspot.server.connections_accepted == 1


def test_a_salesforce_client_session_logs_in_and_queries_over_one_connection(
        salesforce: RunningSalesforce) -> None:
    session = salesforce.session()
    token = salesforce.emulator.open_session()
    headers = {"Authorization": f"Bearer {token}"}
    query = f"{salesforce.base_url}/services/data/v59.0/query"
    answers = [session.get(query, params={"q": "SELECT Id FROM Lead LIMIT 3"}, headers=headers,
                           timeout=10) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200] * 4
    assert salesforce.server.connections_accepted == 1


def test_a_request_body_the_emulator_refused_unread_does_not_spill_into_the_next_request(
        hubspot: RunningHubSpot) -> None:
    session = hubspot_session(hubspot)
    refused = session.post(f"{hubspot.base_url}{CONTACTS}/batch/update", timeout=10,
                           headers={"Authorization": "Bearer wrong-token"},
                           data=b'{"inputs": [' + b" " * 200_000 + b"]}")
    after = session.get(f"{hubspot.base_url}{CONTACTS}", params={"limit": 1}, timeout=10)
    assert refused.status_code == 401
    assert after.status_code == 200 and len(after.json()["results"]) == 1
    assert hubspot.server.connections_accepted == 1


def test_a_chunked_request_body_is_read_and_the_connection_reused(
        hubspot: RunningHubSpot) -> None:
    session = hubspot_session(hubspot)
    contact = session.get(f"{hubspot.base_url}{CONTACTS}", params={"limit": 1},
                          timeout=10).json()["results"][0]["id"]
    body = [b'{"properties": ', b'{"jobtitle": "Chunked Officer"}}']
    patched = session.patch(f"{hubspot.base_url}{CONTACTS}/{contact}", data=iter(body),
                            headers={"Content-Type": "application/json"}, timeout=10)
    read = session.get(f"{hubspot.base_url}{CONTACTS}/{contact}",
                       params={"properties": "jobtitle"}, timeout=10)
    assert patched.status_code == 200
    assert read.json()["properties"]["jobtitle"] == "Chunked Officer"
    assert hubspot.server.connections_accepted == 1


def test_a_dropped_connection_fault_cuts_a_kept_alive_connection_and_the_next_request_reconnects(
        hubspot: RunningHubSpot) -> None:
    session = hubspot_session(hubspot)
    url = f"{hubspot.base_url}{CONTACTS}"
    assert session.get(url, timeout=10).status_code == 200
    hubspot.emulator.faults.dropped = 1.0
    with pytest.raises(requests.ConnectionError):
        session.get(url, timeout=10)
    hubspot.emulator.faults.dropped = 0.0
    assert session.get(url, timeout=10).status_code == 200
    assert hubspot.emulator.log.count(status=0) == 1
    assert hubspot.server.connections_accepted == 2


def test_stopping_the_server_closes_idle_kept_alive_connections_at_once(
        hubspot: RunningHubSpot) -> None:
    server: EmulatorServer = hubspot.server
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    client.request("GET", f"{CONTACTS}?limit=1",
                   headers={"Authorization": f"Bearer {hubspot.access_token}"})
    answer = client.getresponse()
    answer.read()
    assert answer.status == 200 and not answer.will_close
    server.stop()
    assert client.sock is not None
    assert client.sock.recv(1) == b""  # closed by the server, not left waiting for a request
    client.close()
