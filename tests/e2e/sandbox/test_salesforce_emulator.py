"""Contract tests of the Salesforce emulator, driven through the real simple-salesforce client
over TLS on loopback (plus raw `requests` where the wire format itself is the point)."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
import requests
from clocks import MovableClock
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from werkzeug.wrappers import Request, Response

from sandbox.orgs import OrgSpec, SynthOrg
from sandbox.salesforce import (
    AssignmentRule,
    OutboundMessenger,
    RunningSalesforce,
    start_salesforce,
)
from sandbox.salesforce.app import ApiUsage
from sandbox.salesforce.outbound import OutboundDelivery
from sandbox.server import Emulator, EmulatorServer, FaultPlan, RollingWindowLimit

pytestmark = pytest.mark.e2e

SALESFORCE_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
OUTBOUND_NS = {"o": "http://soap.sforce.com/2005/09/outbound",
               "sf": "urn:sobject.enterprise.soap.sforce.com",
               "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack>'
    "</notificationsResponse></soapenv:Body></soapenv:Envelope>"
)
NO_AUTO_ASSIGN = {"Sforce-Auto-Assign": "FALSE"}


# ---- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def salesforce() -> Iterator[RunningSalesforce]:
    with start_salesforce(leads=600, seed=11) as running:
        yield running


@pytest.fixture(scope="module")
def sf(salesforce: RunningSalesforce) -> Salesforce:
    return password_login(salesforce)


@pytest.fixture(scope="module")
def small_org() -> Iterator[RunningSalesforce]:
    with start_salesforce(leads=40, seed=3) as running:
        yield running


@pytest.fixture
def small(small_org: RunningSalesforce) -> Iterator[RunningSalesforce]:
    """A second emulator for tests that change faults, limits or sessions; each test finds it
    with no faults, no limits in force, a fresh log and sessions that live two hours."""
    emulator = small_org.emulator
    emulator.faults = FaultPlan()
    emulator.log.clear()
    yield small_org
    emulator.faults = FaultPlan()
    emulator.usage = ApiUsage(100_000)
    emulator.rolling_limit = None
    emulator.sessions.ttl_seconds = 7200.0
    emulator.api_enabled = True
    emulator.writer.no_edit_access.clear()
    emulator.org.bulk.polls_before_complete = 1


def password_login(running: RunningSalesforce) -> Salesforce:
    return Salesforce(
        username=running.username,
        password=running.password,
        security_token=running.security_token,
        session=running.session(),
    )


def direct_login(running: RunningSalesforce, session_id: str) -> Salesforce:
    plain = requests.Session()
    plain.trust_env = False
    plain.verify = str(running.ca_pem)
    return Salesforce(instance_url=running.instance_url, session_id=session_id, session=plain)


def raw_get(running: RunningSalesforce, path: str, token: str | None = None,
            **kwargs: Any) -> requests.Response:
    session = running.session()
    token = token or running.emulator.open_session()
    return session.get(f"{running.base_url}{path}", headers={"Authorization": f"Bearer {token}"},
                       **kwargs)


def lead_ids(sf: Salesforce, where: str = "IsConverted = false", limit: int = 5) -> list[str]:
    answer = sf.query(f"SELECT Id FROM Lead WHERE {where} ORDER BY Id LIMIT {limit}")
    return [record["Id"] for record in answer["records"]]


def user_ids(sf: Salesforce, active: bool = True) -> list[str]:
    answer = sf.query(
        f"SELECT Id FROM User WHERE IsActive = {str(active).lower()} ORDER BY Id"
    )
    return [record["Id"] for record in answer["records"]]


def queue_id(sf: Salesforce) -> str:
    return sf.query("SELECT Id FROM Group WHERE Type = 'Queue'")["records"][0]["Id"]


def error_code(error: Exception) -> str:
    content = error.content  # type: ignore[attr-defined]
    return content[0]["errorCode"]


# ---- logins and sessions ---------------------------------------------------------------------
def test_soap_login_with_password_and_security_token_points_the_client_at_the_emulator(
    salesforce: RunningSalesforce, sf: Salesforce
) -> None:
    assert sf.sf_instance == salesforce.base_url.removeprefix("https://")
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] > 0
    assert salesforce.emulator.log.count("POST", "/services/Soap/u/59.0", 200) >= 1


def test_soap_login_from_api_65_is_refused_with_a_fault(salesforce: RunningSalesforce) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        Salesforce(username=salesforce.username, password=salesforce.password,
                   security_token=salesforce.security_token, session=salesforce.session(),
                   version="65.0")
    assert failure.value.code == "UNSUPPORTED_API_VERSION"
    assert "login() is not available in API version 65.0" in failure.value.auth_message
    assert password_login(salesforce).sf_version == "59.0"  # 64.0 and earlier still log in


def test_wrong_password_fails_the_soap_login_with_invalid_login(
    salesforce: RunningSalesforce,
) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        Salesforce(username=salesforce.username, password="wrong",
                   security_token=salesforce.security_token, session=salesforce.session())
    assert failure.value.code == "INVALID_LOGIN"
    assert "Invalid username, password, security token" in failure.value.auth_message


def test_oauth_password_grant_logs_in_with_consumer_key_and_secret(
    salesforce: RunningSalesforce,
) -> None:
    client = Salesforce(
        username=salesforce.username, password=salesforce.password + salesforce.security_token,
        consumer_key=salesforce.consumer_key, consumer_secret=salesforce.consumer_secret,
        session=salesforce.session(),
    )
    assert client.query("SELECT COUNT() FROM User")["totalSize"] >= 2


def test_oauth_password_grant_with_a_wrong_secret_is_refused(
    salesforce: RunningSalesforce,
) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        Salesforce(
            username=salesforce.username,
            password=salesforce.password + salesforce.security_token,
            consumer_key=salesforce.consumer_key, consumer_secret="nope",
            session=salesforce.session(),
        )
    assert failure.value.code == "invalid_client"


def test_client_credentials_login_through_the_my_domain_works(
    salesforce: RunningSalesforce,
) -> None:
    client = Salesforce(
        consumer_key=salesforce.consumer_key, consumer_secret=salesforce.consumer_secret,
        domain=salesforce.my_domain, session=salesforce.session(),
    )
    assert client.sf_instance == salesforce.base_url.removeprefix("https://")
    assert client.query("SELECT Id FROM Organization")["totalSize"] == 1


def test_jwt_bearer_login_is_accepted_when_signed_by_the_trusted_key(
    salesforce: RunningSalesforce,
) -> None:
    client = Salesforce(
        username=salesforce.username, consumer_key=salesforce.consumer_key,
        privatekey=salesforce.jwt_private_key_pem, session=salesforce.session(),
    )
    assert client.query("SELECT COUNT() FROM Lead")["totalSize"] > 0


def test_jwt_bearer_login_with_the_my_domain_as_audience_is_refused(
    salesforce: RunningSalesforce,
) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        Salesforce(username=salesforce.username, consumer_key=salesforce.consumer_key,
                   privatekey=salesforce.jwt_private_key_pem, domain=salesforce.my_domain,
                   session=salesforce.session())
    assert (failure.value.code, failure.value.auth_message) == (
        "invalid_grant", "audience is invalid"
    )
    client = Salesforce(username=salesforce.username, consumer_key=salesforce.consumer_key,
                        privatekey=salesforce.jwt_private_key_pem, domain="login",
                        instance_url=salesforce.my_domain, session=salesforce.session())
    assert client.query("SELECT COUNT() FROM Lead")["totalSize"] > 0


def test_jwt_bearer_login_signed_by_another_key_is_refused(
    salesforce: RunningSalesforce,
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    assert salesforce.jwt_private_key_pem  # the emulator trusts this one, not the stranger's
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        Salesforce(username=salesforce.username, consumer_key=salesforce.consumer_key,
                   privatekey=stranger, session=salesforce.session())
    assert failure.value.code == "invalid_grant"


def test_session_id_login_needs_only_the_instance_url_and_the_ca(
    salesforce: RunningSalesforce,
) -> None:
    client = direct_login(salesforce, salesforce.emulator.open_session())
    assert client.query("SELECT COUNT() FROM Account")["totalSize"] > 0


def test_a_password_client_logs_in_again_when_its_session_has_expired(
    small: RunningSalesforce,
) -> None:
    client = password_login(small)
    first_session = client.session_id
    small.emulator.expire_sessions()
    answer = client.query("SELECT COUNT() FROM Lead")
    assert answer["totalSize"] > 0
    assert client.session_id != first_session
    assert small.emulator.log.count("GET", "/query", 401) == 1
    assert small.emulator.log.count("POST", "/services/Soap/u/", 200) == 2


def test_a_wrong_session_id_answers_401_invalid_session_id(salesforce: RunningSalesforce) -> None:
    answer = raw_get(salesforce, "/services/data/v59.0/sobjects/", token="00Dbogus!token")
    assert answer.status_code == 401
    assert answer.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    with pytest.raises(SalesforceExpiredSession):
        direct_login(salesforce, "00Dbogus!token").query("SELECT Id FROM Lead")


def test_sessions_expire_after_the_configured_lifetime(
    small: RunningSalesforce, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = MovableClock(small.emulator.sessions.clock)
    monkeypatch.setattr(small.emulator.sessions, "clock", clock)
    small.emulator.sessions.ttl_seconds = 60
    client = direct_login(small, small.emulator.open_session())
    clock.advance(59)
    assert client.query("SELECT COUNT() FROM Lead")["totalSize"] > 0
    clock.advance(1)
    with pytest.raises(SalesforceExpiredSession):
        client.query("SELECT COUNT() FROM Lead")


# ---- query -----------------------------------------------------------------------------------
def test_query_values_are_typed_and_datetimes_are_rendered_like_salesforce(
    sf: Salesforce,
) -> None:
    record = sf.query(
        "SELECT Id, Email, NumberOfEmployees, AnnualRevenue, IsConverted, CreatedDate, "
        "SystemModstamp FROM Lead WHERE NumberOfEmployees != null AND AnnualRevenue != null "
        "LIMIT 1"
    )["records"][0]
    assert record["attributes"] == {
        "type": "Lead", "url": f"/services/data/v59.0/sobjects/Lead/{record['Id']}"
    }
    assert re.fullmatch(r"00Q[0-9A-Za-z]{15}", record["Id"])
    assert isinstance(record["NumberOfEmployees"], int)
    assert isinstance(record["AnnualRevenue"], float)
    assert record["IsConverted"] is False
    assert SALESFORCE_DATETIME.match(record["CreatedDate"])
    assert SALESFORCE_DATETIME.match(record["SystemModstamp"])


def test_relationship_fields_come_back_nested_under_their_relationship(sf: Salesforce) -> None:
    lead = sf.query(
        "SELECT Id, Owner.IsActive, Owner.Type FROM Lead WHERE Owner.Type = 'Queue' LIMIT 1"
    )["records"][0]
    assert lead["Owner"]["attributes"]["type"] == "Name"
    assert lead["Owner"]["Type"] == "Queue"
    contact = sf.query(
        "SELECT Id, Account.Website FROM Contact WHERE AccountId != null LIMIT 1"
    )["records"][0]
    assert contact["Account"]["attributes"]["type"] == "Account"
    assert "." in contact["Account"]["Website"]
    member = sf.query(
        "SELECT Id, Status, Campaign.Type FROM CampaignMember WHERE Campaign.Type = 'Webinar' "
        "LIMIT 1"
    )["records"][0]
    assert member["Campaign"]["Type"] == "Webinar"
    orphan = sf.query("SELECT Id, Account.Website FROM Contact WHERE AccountId = null LIMIT 1")
    assert all(record["Account"] is None for record in orphan["records"])


@pytest.fixture(scope="module")
def all_leads(sf: Salesforce) -> list[dict[str, Any]]:
    return sf.query_all(
        "SELECT Id, Industry, NumberOfEmployees, Country, Email, Status, IsConverted, "
        "SystemModstamp, LeadSource, Owner.Type FROM Lead"
    )["records"]


WHERE_CASES: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ("Industry = 'Software' AND NumberOfEmployees >= 50",
     lambda r: r["Industry"] == "Software" and (r["NumberOfEmployees"] or 0) >= 50),
    ("(Industry = 'Software' OR Industry = 'Financial Services') AND Country IN ('US', 'GB')",
     lambda r: r["Industry"] in ("Software", "Financial Services") and r["Country"] in ("US", "GB")),
    ("NOT (Country = 'US' OR Country = 'CA')",
     lambda r: r["Country"] not in ("US", "CA")),
    ("Industry != 'Software'", lambda r: r["Industry"] != "Software"),
    ("Industry <> 'Software'", lambda r: r["Industry"] != "Software"),
    ("Industry NOT IN ('Software', 'Retail')",
     lambda r: r["Industry"] not in ("Software", "Retail")),
    ("Industry = null", lambda r: r["Industry"] is None),
    ("NumberOfEmployees < 50 OR NumberOfEmployees > 5000",
     lambda r: r["NumberOfEmployees"] is not None
     and (r["NumberOfEmployees"] < 50 or r["NumberOfEmployees"] > 5000)),
    ("NumberOfEmployees <= 10", lambda r: r["NumberOfEmployees"] is not None
     and r["NumberOfEmployees"] <= 10),
    ("Email LIKE '%.EDU'", lambda r: (r["Email"] or "").lower().endswith(".edu")),
    ("Email LIKE 'a_a%'", lambda r: re.match(r"a.a", (r["Email"] or "").lower()) is not None),
    ("IsConverted = TRUE AND Status = 'closed - converted'", lambda r: r["IsConverted"]),
    ("Owner.Type = 'Queue' AND NOT Status IN ('Closed - Converted')",
     lambda r: (r["Owner"] or {}).get("Type") == "Queue" and r["Status"] != "Closed - Converted"),
    ("SystemModstamp > 2026-06-01T00:00:00Z",
     lambda r: r["SystemModstamp"] > "2026-06-01T00:00:00.000+0000"),
    ("SystemModstamp > 2026-06-01T02:00:00+02:00",
     lambda r: r["SystemModstamp"] > "2026-06-01T00:00:00.000+0000"),
    ("SystemModstamp >= 2026-06-01T00:00:00.000-01:30",
     lambda r: r["SystemModstamp"] >= "2026-06-01T01:30:00.000+0000"),
]


@pytest.mark.parametrize(("where", "expected"), WHERE_CASES, ids=[case[0] for case in WHERE_CASES])
def test_where_clause_selects_exactly_the_records_salesforce_would(
    sf: Salesforce, all_leads: list[dict[str, Any]], where: str,
    expected: Callable[[dict[str, Any]], bool],
) -> None:
    found = {record["Id"] for record in sf.query_all(f"SELECT Id FROM Lead WHERE {where}")["records"]}
    wanted = {record["Id"] for record in all_leads if expected(record)}
    assert wanted, "the case should select something in the seeded org"
    assert found == wanted


def test_date_literals_filter_date_fields(sf: Salesforce) -> None:
    converted = sf.query_all(
        "SELECT Id, ConvertedDate FROM Lead WHERE ConvertedDate >= 2026-07-01"
    )["records"]
    assert converted
    assert all(record["ConvertedDate"] >= "2026-07-01" for record in converted)


def test_a_date_literal_against_a_datetime_field_is_refused_with_invalid_field(
    sf: Salesforce,
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.query("SELECT Id FROM Lead WHERE CreatedDate > 2024-01-01")
    assert error_code(failure.value) == "INVALID_FIELD"
    assert "must be of type dateTime" in failure.value.content[0]["message"]


def test_relative_date_literals_select_recent_records(sf: Salesforce) -> None:
    created = sf.Lead.create({"LastName": "Fresh", "Company": "Newco"}, headers=NO_AUTO_ASSIGN)
    recent = sf.query_all("SELECT Id FROM Lead WHERE CreatedDate = LAST_N_DAYS:1")["records"]
    today = sf.query_all("SELECT Id FROM Lead WHERE CreatedDate = TODAY")["records"]
    assert created["id"] in {record["Id"] for record in recent}
    assert created["id"] in {record["Id"] for record in today}
    seeded_and_old = sf.query("SELECT COUNT() FROM Lead WHERE CreatedDate < LAST_N_DAYS:1")
    assert seeded_and_old["totalSize"] > 0


def test_ids_of_15_characters_match_their_18_character_form(sf: Salesforce) -> None:
    full = lead_ids(sf, limit=1)[0]
    found = sf.query(f"SELECT Id FROM Lead WHERE Id = '{full[:15]}'")["records"]
    assert [record["Id"] for record in found] == [full]


def test_mixing_and_with_or_without_parentheses_is_a_malformed_query(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.query("SELECT Id FROM Lead WHERE Country = 'US' AND Industry = 'Media' OR Title = 'x'")
    assert error_code(failure.value) == "MALFORMED_QUERY"


def test_order_by_several_fields_with_nulls_last(sf: Salesforce) -> None:
    records = sf.query_all(
        "SELECT Id, Industry, NumberOfEmployees FROM Lead "
        "ORDER BY Industry DESC NULLS LAST, NumberOfEmployees ASC NULLS FIRST"
    )["records"]
    industries = [record["Industry"] for record in records]
    present = [industry for industry in industries if industry is not None]
    assert present == sorted(present, key=str.lower, reverse=True)
    assert industries[len(present):] == [None] * (len(industries) - len(present))
    software = [r["NumberOfEmployees"] for r in records if r["Industry"] == "Software"]
    assert software == sorted(software, key=lambda value: (value is not None, value or 0))


def test_limit_and_offset_slice_the_ordered_result(sf: Salesforce) -> None:
    everything = [r["Id"] for r in sf.query("SELECT Id FROM Lead ORDER BY Id LIMIT 30")["records"]]
    page = sf.query("SELECT Id FROM Lead ORDER BY Id LIMIT 10 OFFSET 5")["records"]
    assert [record["Id"] for record in page] == everything[5:15]
    counted = sf.query("SELECT COUNT() FROM Lead LIMIT 7")
    assert counted == {"totalSize": 7, "done": True, "records": []}


def test_query_all_follows_next_records_url_in_pages_of_at_most_the_requested_batch_size(
    salesforce: RunningSalesforce, sf: Salesforce,
) -> None:
    total = sf.query("SELECT COUNT() FROM Lead")["totalSize"]
    assert total > 400
    salesforce.emulator.log.clear()
    answer = sf.query_all(
        "SELECT Id FROM Lead ORDER BY SystemModstamp",
        headers={"Sforce-Query-Options": "batchSize=200"},
    )
    ids = [record["Id"] for record in answer["records"]]
    assert len(ids) == len(set(ids)) == total
    pages = [entry for entry in salesforce.emulator.log.entries() if "/query" in entry.path]
    # the second page is shorter than asked (150), as Salesforce's pages may be
    assert re.fullmatch(r"/services/data/v59\.0/query/01g[0-9A-Za-z]{12}-200", pages[1].path)
    assert re.fullmatch(r"/services/data/v59\.0/query/01g[0-9A-Za-z]{12}-350", pages[2].path)


def test_records_written_while_paging_neither_repeat_nor_vanish_from_an_open_query(
    sf: Salesforce,
) -> None:
    soql = "SELECT Id FROM Lead WHERE IsConverted = false ORDER BY SystemModstamp"
    batch = {"Sforce-Query-Options": "batchSize=200"}
    page = sf.query(soql, headers=batch)
    seen = [record["Id"] for record in page["records"]]
    total = page["totalSize"]
    later = sf.query(f"{soql} LIMIT 5 OFFSET 300")["records"]
    moved = [*seen[:5], *(record["Id"] for record in later)]
    sf.restful("composite/sobjects", method="PATCH", headers=NO_AUTO_ASSIGN,
               json=collection([lead_update(lead_id, Title="Moved") for lead_id in moved]))
    while not page["done"]:
        page = sf.query_more(page["nextRecordsUrl"], identifier_is_url=True, headers=batch)
        seen.extend(record["Id"] for record in page["records"])
    assert len(seen) == len(set(seen)) == total


def test_a_page_asked_for_again_is_served_again(sf: Salesforce) -> None:
    batch = {"Sforce-Query-Options": "batchSize=200"}
    first = sf.query("SELECT Id FROM Lead ORDER BY Id", headers=batch)
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True, headers=batch)
    again = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True, headers=batch)
    assert again["records"] == second["records"]
    locator = first["nextRecordsUrl"].rsplit("-", 1)[0]
    rewound = sf.query_more(f"{locator}-100", identifier_is_url=True, headers=batch)
    assert rewound["records"][:100] == first["records"][100:]
    assert rewound["records"][100:] == second["records"][:100]


def test_an_unknown_query_locator_answers_400_invalid_query_locator(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.query_more("01g5g0000000zzz-2000")
    assert error_code(failure.value) == "INVALID_QUERY_LOCATOR"


def test_batch_sizes_below_200_are_raised_to_200(sf: Salesforce) -> None:
    first = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=50"})
    assert len(first["records"]) == 200
    assert first["done"] is False
    assert first["nextRecordsUrl"].endswith("-200")


def test_query_all_iter_yields_every_record_page_by_page(sf: Salesforce) -> None:
    total = sf.query("SELECT COUNT() FROM Contact")["totalSize"]
    streamed = list(sf.query_all_iter(
        "SELECT Id, Email FROM Contact", headers={"Sforce-Query-Options": "batchSize=200"}
    ))
    assert len({record["Id"] for record in streamed}) == total


def test_query_answers_with_and_without_the_trailing_slash(salesforce: RunningSalesforce) -> None:
    for path in ("/services/data/v59.0/query/", "/services/data/v59.0/query"):
        answer = raw_get(salesforce, path, params={"q": "SELECT COUNT() FROM Lead"})
        assert answer.status_code == 200
        assert answer.json()["totalSize"] > 0


def test_query_all_includes_deleted_records_and_query_does_not(sf: Salesforce) -> None:
    doomed = sf.Lead.create({"LastName": "Doomed", "Company": "Gone Inc"}, headers=NO_AUTO_ASSIGN)
    sf.Lead.delete(doomed["id"])
    soql = f"SELECT Id, IsDeleted FROM Lead WHERE Id = '{doomed['id']}'"
    assert sf.query(soql)["records"] == []
    archived = sf.query(soql, include_deleted=True)["records"]
    assert [(record["Id"], record["IsDeleted"]) for record in archived] == [(doomed["id"], True)]


def test_a_malformed_query_answers_400_malformed_query_with_row_and_column(
    salesforce: RunningSalesforce,
) -> None:
    answer = raw_get(salesforce, "/services/data/v59.0/query/", params={"q": "SELECT Id FRM Lead"})
    assert answer.status_code == 400
    [error] = answer.json()
    assert error["errorCode"] == "MALFORMED_QUERY"
    assert "ERROR at Row:1:Column:11" in error["message"]
    assert "unexpected token: FRM" in error["message"]


@pytest.mark.parametrize("literal", [r"'C:\data'", r"'100\%'", r"'a\_b'", r"'\u00e'"])
def test_a_backslash_escape_soql_does_not_know_is_malformed(sf: Salesforce, literal: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.query(f"SELECT Id FROM Lead WHERE Company = {literal}")
    assert error_code(failure.value) == "MALFORMED_QUERY"
    assert "Illegal character sequence" in failure.value.content[0]["message"]


def test_the_escapes_soql_knows_are_read(sf: Salesforce) -> None:
    known = r"'O\'Brien \\ \"x\" \N\t\u00e9'"
    assert sf.query(f"SELECT Id FROM Lead WHERE Company = {known}")["totalSize"] == 0
    assert sf.query(r"SELECT Id FROM Lead WHERE Company LIKE '100\%\_%'")["totalSize"] == 0


def test_an_unknown_field_answers_400_invalid_field(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.query("SELECT Id, Shoe_Size__c FROM Lead")
    assert error_code(failure.value) == "INVALID_FIELD"
    assert "No such column 'Shoe_Size__c' on entity 'Lead'" in failure.value.content[0]["message"]


def test_an_unknown_object_answers_400_invalid_type(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.query("SELECT Id FROM Prospect__c")
    assert error_code(failure.value) == "INVALID_TYPE"


# ---- sObject rows ------------------------------------------------------------------------------
def test_creating_a_lead_answers_201_with_an_18_character_lead_id(
    salesforce: RunningSalesforce, sf: Salesforce,
) -> None:
    created = sf.Lead.create(
        {"LastName": "Lovelace", "FirstName": "Ada", "Company": "Engines", "Email": "ada@x.io"},
        headers=NO_AUTO_ASSIGN,
    )
    assert created["success"] is True
    assert re.fullmatch(r"00Q[0-9A-Za-z]{15}", created["id"])
    stored = sf.Lead.get(created["id"])
    assert (stored["Name"], stored["Status"], stored["IsConverted"]) == (
        "Ada Lovelace", "Open - Not Contacted", False
    )
    assert salesforce.emulator.log.count("POST", "/sobjects/Lead", 201) >= 1


def test_a_lead_needs_last_name_and_company(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.Lead.create({"FirstName": "Nobody"})
    assert error_code(failure.value) == "REQUIRED_FIELD_MISSING"
    assert failure.value.content[0]["fields"] == ["LastName", "Company"]


def test_updating_a_lead_answers_204_and_moves_its_modification_stamps(sf: Salesforce) -> None:
    lead_id = lead_ids(sf, limit=1)[0]
    before = sf.Lead.get(lead_id)
    status = sf.Lead.update(lead_id, {"leadq_Score__c": 87.5, "leadq_Grade__c": "A"},
                            headers=NO_AUTO_ASSIGN)
    after = sf.Lead.get(lead_id)
    assert status == 204
    assert (after["leadq_Score__c"], after["leadq_Grade__c"]) == (87.5, "A")
    assert after["LastModifiedDate"] > before["LastModifiedDate"]
    assert after["SystemModstamp"] > before["SystemModstamp"]
    assert after["CreatedDate"] == before["CreatedDate"]


def test_writing_an_unknown_field_answers_400_invalid_field(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.Lead.update(lead_ids(sf, limit=1)[0], {"Shoe_Size__c": 44})
    assert error_code(failure.value) == "INVALID_FIELD"


def test_writing_a_read_only_field_is_refused(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.Lead.update(lead_ids(sf, limit=1)[0], {"IsConverted": True})
    assert error_code(failure.value) == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_a_status_outside_the_picklist_is_refused(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.Lead.update(lead_ids(sf, limit=1)[0], {"Status": "Hot Hot Hot"})
    assert error_code(failure.value) == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_a_converted_lead_cannot_be_updated(sf: Salesforce) -> None:
    converted = lead_ids(sf, where="IsConverted = true", limit=1)[0]
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.Lead.update(converted, {"leadq_Score__c": 1})
    assert error_code(failure.value) == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_a_converted_leads_activities_belong_to_the_contact_it_became(sf: Salesforce) -> None:
    converted = sf.query_all(
        "SELECT Id, ConvertedContactId, ConvertedOpportunityId FROM Lead WHERE IsConverted = true"
    )["records"]
    assert converted and all(lead["ConvertedContactId"] for lead in converted)
    leads = ", ".join(f"'{lead['Id']}'" for lead in converted)
    contacts = ", ".join(f"'{lead['ConvertedContactId']}'" for lead in converted)
    for sobject in ("Task", "Event"):
        assert sf.query(f"SELECT COUNT() FROM {sobject} WHERE WhoId IN ({leads})")["totalSize"] == 0
    assert sf.query(f"SELECT COUNT() FROM CampaignMember WHERE LeadId IN ({leads})")[
        "totalSize"] == 0
    moved = sf.query_all(f"SELECT WhoId, WhatId FROM Task WHERE WhoId IN ({contacts})")["records"]
    members = sf.query(f"SELECT COUNT() FROM CampaignMember WHERE ContactId IN ({contacts})")
    assert moved and members["totalSize"] > 0
    opportunities = {lead["ConvertedOpportunityId"] for lead in converted}
    assert {task["WhatId"] for task in moved} <= opportunities
    roles = sf.query_all(f"SELECT ContactId FROM OpportunityContactRole WHERE IsPrimary = true "
                         f"AND ContactId IN ({contacts})")["records"]
    assert len(roles) == len(converted)


def test_reading_a_missing_record_answers_404_not_found(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as failure:
        sf.Lead.get("00Q5g0000ZZZZZZZZZ")
    assert error_code(failure.value) == "NOT_FOUND"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.update("00Q5g0000ZZZZZZZZZ", {"Title": "x"})


def test_deleted_and_updated_resources_list_recent_changes(sf: Salesforce) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    changed = lead_ids(sf, limit=1)[0]
    sf.Lead.update(changed, {"Title": "Head of RevOps"}, headers=NO_AUTO_ASSIGN)
    removed = sf.Lead.create({"LastName": "Temp", "Company": "Temp"}, headers=NO_AUTO_ASSIGN)["id"]
    sf.Lead.delete(removed)
    end = datetime.now(UTC) + timedelta(minutes=1)
    deleted = sf.Lead.deleted(start, end)
    updated = sf.Lead.updated(start, end)
    assert removed in [entry["id"] for entry in deleted["deletedRecords"]]
    assert changed in updated["ids"]
    assert removed not in updated["ids"]


def test_describe_lists_fields_with_types_and_picklists(sf: Salesforce) -> None:
    described = sf.Lead.describe()
    fields = {field["name"]: field for field in described["fields"]}
    assert described["name"] == "Lead"
    assert {value["value"] for value in fields["Status"]["picklistValues"]} == {
        "Open - Not Contacted", "Working - Contacted", "Closed - Converted",
        "Closed - Not Converted", "Marketing Qualified", "Nurture",
    }
    for name in ("LeadSource", "Industry", "Rating"):
        assert fields[name]["type"] == "picklist"
        assert fields[name]["picklistValues"]
    assert fields["leadq_Score__c"]["type"] == "double"
    assert fields["leadq_Score__c"]["updateable"] is True
    assert fields["IsConverted"]["updateable"] is False
    assert fields["OwnerId"]["referenceTo"] == ["User", "Group"]


def test_the_sobject_list_names_every_emulated_object(sf: Salesforce) -> None:
    names = {entry["name"] for entry in sf.describe()["sobjects"]}
    assert {"Lead", "Contact", "Account", "User", "Group", "Task", "Event", "Campaign",
            "CampaignMember", "Opportunity"} <= names


def test_without_custom_fields_our_output_fields_do_not_exist() -> None:
    with start_salesforce(leads=10, custom_fields=False) as running:
        client = password_login(running)
        lead_id = lead_ids(client, limit=1)[0]
        with pytest.raises(SalesforceMalformedRequest) as written:
            client.Lead.update(lead_id, {"leadq_Score__c": 5})
        with pytest.raises(SalesforceMalformedRequest) as queried:
            client.query("SELECT leadq_Score__c FROM Lead")
        assert error_code(written.value) == error_code(queried.value) == "INVALID_FIELD"
        fields = {field["name"] for field in client.Lead.describe()["fields"]}
        assert not any(name.startswith("leadq_") for name in fields)


# ---- sObject Collections ----------------------------------------------------------------------
def collection(records: list[dict[str, Any]], all_or_none: bool = False) -> dict[str, Any]:
    return {"allOrNone": all_or_none, "records": records}


def lead_update(lead_id: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Lead"}, "id": lead_id, **fields}


def test_collection_update_answers_one_result_per_record_in_order(sf: Salesforce) -> None:
    ids = lead_ids(sf, limit=3)
    results = sf.restful(
        "composite/sobjects", method="PATCH", headers=NO_AUTO_ASSIGN,
        json=collection([lead_update(lead_id, leadq_Label__c=f"A{n}")
                         for n, lead_id in enumerate(ids)]),
    )
    assert results == [{"id": lead_id, "success": True, "errors": []} for lead_id in ids]
    labels = sf.query(f"SELECT Id, leadq_Label__c FROM Lead WHERE Id IN ('{ids[0]}', '{ids[2]}')")
    assert {r["Id"]: r["leadq_Label__c"] for r in labels["records"]} == {ids[0]: "A0",
                                                                         ids[2]: "A2"}


def test_collection_update_of_more_than_200_records_answers_400(sf: Salesforce) -> None:
    ids = lead_ids(sf, limit=1) * 201
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.restful("composite/sobjects", method="PATCH",
                   json=collection([lead_update(lead_id, Title="x") for lead_id in ids]))
    assert error_code(failure.value) == "EXCEEDED_ID_LIMIT"


def test_a_collection_switching_type_more_than_ten_times_is_refused_whole(sf: Salesforce) -> None:
    leads = lead_ids(sf, limit=6)
    contacts = [row["Id"] for row in sf.query(
        "SELECT Id FROM Contact ORDER BY Id LIMIT 5")["records"]]
    alternating = [
        {"attributes": {"type": kind}, "id": record_id, "Title": "Chunked"}
        for pair in zip(leads, [*contacts, None], strict=True)
        for kind, record_id in zip(("Lead", "Contact"), pair, strict=True) if record_id
    ]
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.restful("composite/sobjects", method="PATCH", headers=NO_AUTO_ASSIGN,
                   json=collection(alternating))
    assert failure.value.content[0]["message"] == (
        "Cannot have more than 10 chunks in a single operation. Please rearrange the data to "
        "reduce chunking."
    )
    grouped = sorted(alternating, key=lambda record: record["attributes"]["type"])
    results = sf.restful("composite/sobjects", method="PATCH", headers=NO_AUTO_ASSIGN,
                         json=collection(grouped))
    assert [result["success"] for result in results] == [True] * 11


def test_collection_update_without_all_or_none_saves_the_valid_records(sf: Salesforce) -> None:
    good, other = lead_ids(sf, limit=2)
    results = sf.restful(
        "composite/sobjects", method="PATCH", headers=NO_AUTO_ASSIGN,
        json=collection([
            lead_update(good, leadq_Grade__c="B"),
            lead_update(other, Shoe_Size__c=3),
            lead_update("00Q5g0000ZZZZZZZZZ", leadq_Grade__c="B"),
        ]),
    )
    assert [result["success"] for result in results] == [True, False, False]
    assert results[1]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert set(results[1]["errors"][0]) == {"statusCode", "message", "fields"}
    assert sf.Lead.get(good)["leadq_Grade__c"] == "B"


def test_collection_update_with_all_or_none_rolls_every_record_back(sf: Salesforce) -> None:
    first, second = lead_ids(sf, limit=2)
    before = sf.Lead.get(first)["leadq_Grade__c"]
    results = sf.restful(
        "composite/sobjects", method="PATCH", headers=NO_AUTO_ASSIGN,
        json=collection([lead_update(first, leadq_Grade__c="Z"),
                         lead_update(second, Status="Not a status")], all_or_none=True),
    )
    assert [result["success"] for result in results] == [False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert sf.Lead.get(first)["leadq_Grade__c"] == before


def test_injected_record_failures_answer_unable_to_lock_row_for_those_records_only(
    small: RunningSalesforce,
) -> None:
    client = password_login(small)
    ids = lead_ids(client, limit=20)
    small.emulator.faults.record_failure = 0.5
    results = client.restful(
        "composite/sobjects", method="PATCH", headers=NO_AUTO_ASSIGN,
        json=collection([lead_update(lead_id, leadq_Grade__c="C") for lead_id in ids]),
    )
    small.emulator.faults.record_failure = 0.0
    failed = {r["id"] for r in results if not r["success"]}
    assert 0 < len(failed) < len(ids)
    assert {r["errors"][0]["statusCode"] for r in results if not r["success"]} == {
        "UNABLE_TO_LOCK_ROW"
    }
    grades = {r["Id"]: r["leadq_Grade__c"] for r in client.query_all(
        "SELECT Id, leadq_Grade__c FROM Lead WHERE leadq_Grade__c = 'C' OR leadq_Grade__c = null"
    )["records"]}
    assert all(grades[lead_id] == ("C" if lead_id not in failed else None) for lead_id in ids)


def test_collection_create_and_read_by_ids_and_fields(sf: Salesforce) -> None:
    created = sf.restful("composite/sobjects", method="POST", headers=NO_AUTO_ASSIGN, json=collection([
        {"attributes": {"type": "Lead"}, "LastName": "One", "Company": "C1"},
        {"attributes": {"type": "Lead"}, "LastName": "Two", "Company": "C2"},
    ]))
    ids = [result["id"] for result in created]
    assert all(result["success"] for result in created)
    read = sf.restful("composite/sobjects/Lead",
                      params={"ids": ",".join([*ids, "00Q5g0000ZZZZZZZZZ"]),
                              "fields": "LastName,Company"})
    assert [record["LastName"] if record else None for record in read] == ["One", "Two", None]


# ---- lead assignment rules --------------------------------------------------------------------
def test_owner_written_without_auto_assign_false_is_overridden_by_the_assignment_rule(
    sf: Salesforce,
) -> None:
    lead_id = lead_ids(sf, limit=1)[0]
    wanted = user_ids(sf)[1]
    sf.Lead.update(lead_id, {"OwnerId": wanted})
    assert sf.Lead.get(lead_id)["OwnerId"] == queue_id(sf)


def test_owner_written_with_auto_assign_false_is_kept(sf: Salesforce) -> None:
    lead_id = lead_ids(sf, limit=1)[0]
    wanted = user_ids(sf)[1]
    sf.Lead.update(lead_id, {"OwnerId": wanted}, headers={"Sforce-Auto-Assign": "false"})
    assert sf.Lead.get(lead_id)["OwnerId"] == wanted


def test_the_assignment_rule_also_reassigns_leads_written_by_collections_without_the_header(
    salesforce: RunningSalesforce, sf: Salesforce,
) -> None:
    first, second = lead_ids(sf, limit=2)
    users = user_ids(sf)
    salesforce.emulator.writer.assignment_rule = AssignmentRule(users[:2])
    try:
        sf.restful("composite/sobjects", method="PATCH", json=collection([
            lead_update(first, leadq_Grade__c="D"), lead_update(second, leadq_Grade__c="D"),
        ]))
    finally:
        salesforce.emulator.writer.assignment_rule = AssignmentRule([queue_id(sf)])
    owners = {sf.Lead.get(first)["OwnerId"], sf.Lead.get(second)["OwnerId"]}
    assert owners == set(users[:2])


def test_an_inactive_owner_is_refused(sf: Salesforce) -> None:
    inactive = user_ids(sf, active=False)[0]
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.Lead.update(lead_ids(sf, limit=1)[0], {"OwnerId": inactive}, headers=NO_AUTO_ASSIGN)
    assert error_code(failure.value) == "INACTIVE_OWNER_OR_USER"


# ---- limits and faults ------------------------------------------------------------------------
def test_every_response_carries_sforce_limit_info_which_the_client_reads(
    salesforce: RunningSalesforce, sf: Salesforce,
) -> None:
    sf.query("SELECT COUNT() FROM Lead")
    usage = sf.api_usage["api-usage"]
    assert usage.total == 100_000
    assert usage.used == salesforce.emulator.usage.used
    answer = raw_get(salesforce, "/services/data/v59.0/sobjects/Lead/00Q5g0000ZZZZZZZZZ")
    assert re.fullmatch(r"api-usage=\d+/100000", answer.headers["Sforce-Limit-Info"])


def test_an_exhausted_daily_limit_answers_403_request_limit_exceeded(
    small: RunningSalesforce,
) -> None:
    small.emulator.usage = ApiUsage(daily_limit=3)
    client = password_login(small)
    for _ in range(3):
        client.query("SELECT COUNT() FROM Lead")
    with pytest.raises(SalesforceRefusedRequest) as failure:
        client.query("SELECT COUNT() FROM Lead")
    assert failure.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert client.api_usage["api-usage"] == (3, 3)


def test_a_rolling_window_limit_answers_403_once_the_window_is_full(
    small: RunningSalesforce,
) -> None:
    small.emulator.rolling_limit = RollingWindowLimit(2, 30)
    client = password_login(small)
    client.query("SELECT COUNT() FROM Lead")
    client.query("SELECT COUNT() FROM Lead")
    with pytest.raises(SalesforceRefusedRequest) as failure:
        client.query("SELECT COUNT() FROM Lead")
    assert error_code(failure.value) == "REQUEST_LIMIT_EXCEEDED"


def test_injected_rate_limit_faults_answer_403_request_limit_exceeded(
    small: RunningSalesforce,
) -> None:
    client = password_login(small)
    small.emulator.faults.rate_limited = 1.0
    with pytest.raises(SalesforceRefusedRequest) as failure:
        client.query("SELECT COUNT() FROM Lead")
    assert error_code(failure.value) == "REQUEST_LIMIT_EXCEEDED"
    assert small.emulator.log.entries()[-1].fault == "rate_limited"


def test_injected_server_errors_answer_503_server_unavailable(small: RunningSalesforce) -> None:
    client = password_login(small)
    small.emulator.faults.server_error = 1.0
    with pytest.raises(SalesforceGeneralError) as failure:
        client.query("SELECT COUNT() FROM Lead")
    assert failure.value.status == 503
    assert error_code(failure.value) == "SERVER_UNAVAILABLE"


def test_logins_are_never_hit_by_injected_faults(small: RunningSalesforce) -> None:
    small.emulator.faults.server_error = 1.0
    client = password_login(small)
    assert client.session_id


def test_an_injected_dropped_connection_reaches_the_client_as_a_connection_error(
    small: RunningSalesforce,
) -> None:
    client = password_login(small)
    small.emulator.faults.dropped = 1.0
    with pytest.raises(requests.ConnectionError):
        client.query("SELECT COUNT() FROM Lead")
    assert small.emulator.log.entries()[-1].status == 0


def test_the_request_log_records_method_path_and_status(small: RunningSalesforce) -> None:
    client = password_login(small)
    small.emulator.log.clear()
    client.query("SELECT Id FROM Lead LIMIT 1")
    with pytest.raises(SalesforceResourceNotFound):
        client.Lead.get("00Q5g0000ZZZZZZZZZ")
    entries = [(e.method, e.path, e.status) for e in small.emulator.log.entries()]
    assert entries == [
        ("GET", "/services/data/v59.0/query/", 200),
        ("GET", "/services/data/v59.0/sobjects/Lead/00Q5g0000ZZZZZZZZZ", 404),
    ]


# ---- outbound messages ------------------------------------------------------------------------
A_DAY_IN_A_SECOND = 1 / 86_400


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class OutboundReceiver(Emulator):
    """A tiny endpoint that refuses the first `refusals` messages, then acknowledges."""

    def __init__(self, refusals: int = 0) -> None:
        super().__init__()
        self.refusals = refusals
        self.bodies: list[bytes] = []

    def dispatch(self, request: Request) -> Response:
        self.bodies.append(request.get_data())
        if self.refusals > 0:
            self.refusals -= 1
            return Response("busy", status=503)
        return Response(ACK, content_type="text/xml; charset=utf-8")

    def notifications(self) -> list[ElementTree.Element]:
        return [ElementTree.fromstring(body).find(".//o:notifications", OUTBOUND_NS)
                for body in self.bodies]


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(OutboundReceiver()) as server:
        yield server


@pytest.fixture
def receiver(receiver_server: EmulatorServer) -> tuple[OutboundReceiver, str]:
    app = receiver_server.app
    assert isinstance(app, OutboundReceiver)
    app.refusals = 0
    app.bodies.clear()
    return app, f"{receiver_server.base_url}/webhooks/salesforce"


@contextmanager
def outbound_to(running: RunningSalesforce, url: str, time_scale: float = 0.2 / 15) -> Iterator[
    OutboundMessenger
]:
    messenger = running.send_outbound_to(url, time_scale=time_scale)
    try:
        yield messenger
    finally:
        running.stop_outbound()


def test_a_changed_lead_is_sent_as_an_outbound_message_and_acknowledged(
    receiver: tuple[OutboundReceiver, str], small: RunningSalesforce,
) -> None:
    app, url = receiver
    client = password_login(small)
    lead_id = lead_ids(client, limit=1)[0]
    with outbound_to(small, url) as messenger:
        client.Lead.update(lead_id, {"Title": "VP Sales"}, headers=NO_AUTO_ASSIGN)
        assert messenger.wait_idle(5)
    [delivery] = messenger.deliveries
    running = small
    [message] = app.notifications()
    assert message.findtext("o:OrganizationId", namespaces=OUTBOUND_NS) == running.organization_id
    assert message.findtext("o:ActionId", namespaces=OUTBOUND_NS).startswith("04k")
    assert message.findtext("o:SessionId", namespaces=OUTBOUND_NS)
    assert message.findtext("o:PartnerUrl", namespaces=OUTBOUND_NS).startswith(running.base_url)
    [notification] = message.findall("o:Notification", OUTBOUND_NS)
    sobject = notification.find("o:sObject", OUTBOUND_NS)
    assert sobject.get(f"{{{OUTBOUND_NS['xsi']}}}type") == "sf:Lead"
    assert sobject.findtext("sf:Id", namespaces=OUTBOUND_NS) == lead_id
    assert notification.findtext("o:Id", namespaces=OUTBOUND_NS) == delivery.notification_ids[0]
    assert (delivery.acknowledged, delivery.attempts) == (True, 1)


def new_lead_delivered_after_refusals(
    receiver: tuple[OutboundReceiver, str], running: RunningSalesforce, refusals: int,
) -> OutboundDelivery:
    """Create a Lead while the receiver refuses `refusals` messages (a day passes in a second)."""
    app, url = receiver
    app.refusals = refusals
    client = password_login(running)
    with outbound_to(running, url, time_scale=A_DAY_IN_A_SECOND) as messenger:
        client.Lead.create({"LastName": "Retry", "Company": "Backoff"}, headers=NO_AUTO_ASSIGN)
        assert messenger.wait_idle(10)
    [delivery] = messenger.deliveries
    return delivery


def test_an_unacknowledged_message_is_retried_until_acknowledged(
    receiver: tuple[OutboundReceiver, str], small: RunningSalesforce,
) -> None:
    app, _ = receiver
    delivery = new_lead_delivered_after_refusals(receiver, small, 2)
    assert (delivery.attempts, delivery.acknowledged) == (3, True)
    assert delivery.retry_intervals == (15.0, 30.0)
    assert len(app.bodies) == 3 and len(set(app.bodies)) == 1  # the same message each time


def test_an_unacknowledged_message_is_retried_at_growing_intervals_for_a_day_then_dropped(
    receiver: tuple[OutboundReceiver, str], small: RunningSalesforce,
) -> None:
    app, _ = receiver
    delivery = new_lead_delivered_after_refusals(receiver, small, 1_000)
    assert not delivery.acknowledged
    intervals = delivery.retry_intervals
    assert intervals[:4] == (15.0, 30.0, 60.0, 120.0)
    assert list(intervals) == sorted(intervals) and max(intervals) == 2 * 3600
    assert 22 * 3600 < sum(intervals) <= 24 * 3600  # one more 2-hour wait would pass a day
    assert delivery.attempts == len(intervals) + 1 == len(app.bodies)


def test_a_message_waiting_for_its_retry_does_not_hold_up_newer_changes(
    receiver: tuple[OutboundReceiver, str], small: RunningSalesforce,
) -> None:
    app, url = receiver
    app.refusals = 1
    client = password_login(small)
    first, second = lead_ids(client, limit=2)
    with outbound_to(small, url, time_scale=1.0) as messenger:  # the retry is 15 real seconds away
        client.Lead.update(first, {"Title": "First"}, headers=NO_AUTO_ASSIGN)
        assert wait_until(lambda: len(app.bodies) == 1)
        client.Lead.update(second, {"Title": "Second"}, headers=NO_AUTO_ASSIGN)
        assert wait_until(lambda: len(messenger.deliveries) == 1)
        [delivery] = messenger.deliveries
        assert (delivery.lead_ids, delivery.acknowledged) == ((second,), True)


def test_a_large_change_is_split_into_messages_of_at_most_100_notifications(
    receiver: tuple[OutboundReceiver, str], salesforce: RunningSalesforce, sf: Salesforce,
) -> None:
    app, url = receiver
    ids = lead_ids(sf, limit=150)
    with outbound_to(salesforce, url) as messenger:
        sf.restful("composite/sobjects", method="PATCH", headers=NO_AUTO_ASSIGN, json=collection(
            [lead_update(lead_id, leadq_Grade__c="A") for lead_id in ids]))
        assert messenger.wait_idle(5)
    sizes = [len(message.findall("o:Notification", OUTBOUND_NS)) for message in app.notifications()]
    assert sum(sizes) == 150
    assert max(sizes) <= 100
    notified = {sobject_id.text for message in app.notifications()
                for sobject_id in message.iterfind(".//sf:Id", OUTBOUND_NS)}
    assert notified == set(ids)


def test_simulated_activity_adds_salesforce_activity_records_and_notifies_changed_leads(
    receiver: tuple[OutboundReceiver, str], small: RunningSalesforce,
) -> None:
    app, url = receiver
    now = datetime.now(UTC) + timedelta(days=1)
    client = password_login(small)
    counts_before = {name: client.query(f"SELECT COUNT() FROM {name}")["totalSize"]
                     for name in ("Task", "CampaignMember", "Event")}
    with outbound_to(small, url) as messenger:
        activities = small.emulator.simulate_activity(30, now, seed=5)
        assert messenger.wait_idle(5)
    counts_after = {name: client.query(f"SELECT COUNT() FROM {name}")["totalSize"]
                    for name in ("Task", "CampaignMember", "Event")}
    since = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    touched = client.query_all(f"SELECT Id FROM Lead WHERE SystemModstamp >= {since}")
    traced = [a for a in activities if a.type not in ("page_view", "pricing_page_view")]
    assert traced, "the simulation should produce activity Salesforce records"
    assert sum(counts_after.values()) > sum(counts_before.values())
    notified = {element.text for message in app.notifications()
                for element in message.iterfind(".//sf:Id", OUTBOUND_NS)}
    assert notified == {record["Id"] for record in touched["records"]}
    assert notified


# ---- seeding ------------------------------------------------------------------------------------
def test_the_seeded_org_renders_the_synthetic_org_in_salesforce_shape() -> None:
    synth = SynthOrg(OrgSpec(leads=80, seed=21))
    people = list(synth.people())
    with start_salesforce(org=synth) as running:
        client = password_login(running)

        def count(soql: str) -> int:
            return client.query(soql)["totalSize"]

        leads = [p for p in people if p.kind == "lead"]
        converted = [p for p in leads if p.outcome.converted]
        assert count("SELECT COUNT() FROM Lead") == len(leads)
        assert count("SELECT COUNT() FROM Contact") == len(people) - len(leads) + len(converted)
        became = client.query("SELECT ConvertedContactId FROM Lead WHERE IsConverted = true")
        made = ", ".join(f"'{lead['ConvertedContactId']}'" for lead in became["records"])
        assert count(f"SELECT COUNT() FROM Contact WHERE Id IN ({made})") == len(converted)
        assert count("SELECT COUNT() FROM Account WHERE Website != null") == synth.company_count
        assert count("SELECT COUNT() FROM Group WHERE Type = 'Queue'") == 1
        inactive = sum(1 for owner in synth.owners if not owner.active)
        assert count("SELECT COUNT() FROM User WHERE IsActive = false") == inactive
        assert count("SELECT COUNT() FROM Lead WHERE IsConverted = true AND "
                     "Status = 'Closed - Converted' AND ConvertedDate != null AND "
                     "ConvertedOpportunityId != null") == len(converted)
        won = sum(1 for p in people if p.outcome.converted and p.lifecycle_stage == "customer")
        assert count("SELECT COUNT() FROM Opportunity WHERE IsWon = true") == won
        sample = next(p for p in leads if p.company_key and not p.outcome.converted)
        record = client.query(
            "SELECT FirstName, LastName, Company, Website, Industry, Status, Owner.Type FROM Lead "
            f"WHERE Email = '{sample.email}'"
        )["records"][0]
        company = synth.company(sample.company_key)
        assert (record["FirstName"], record["Company"], record["Website"], record["Industry"]) == (
            sample.first_name, sample.company_name, company.domain, company.industry
        )
        assert record["Owner"]["Type"] == ("Queue" if sample.owner_key is None else "User")
        calls = sum(1 for p in people for a in p.activities if a.type == "call")
        assert count("SELECT COUNT() FROM Task WHERE TaskSubtype = 'Call'") == calls


# ---- Bulk API 2.0 query jobs --------------------------------------------------------------------
BULK_QUERY = "SELECT Id, Email, Owner.IsActive, IsConverted, AnnualRevenue, SystemModstamp FROM Lead"


def bulk_request(running: RunningSalesforce, method: str, path: str, **kwargs: Any) -> (
    requests.Response
):
    session = running.session()
    token = running.emulator.open_session()
    return session.request(
        method, f"{running.base_url}/services/data/v59.0/jobs/query{path}",
        headers={"Authorization": f"Bearer {token}"}, **kwargs,
    )


def test_bulk2_query_pages_hold_every_record_as_csv(sf: Salesforce) -> None:
    pages = list(sf.bulk2.Lead.query(BULK_QUERY, max_records=250, wait=0))
    rows = [row for page in pages for row in csv.DictReader(io.StringIO(page))]
    rest = sf.query_all(BULK_QUERY)["records"]

    assert [len(list(csv.DictReader(io.StringIO(page)))) for page in pages[:-1]] == [250] * (
        len(pages) - 1)
    assert sorted(row["Id"] for row in rows) == sorted(record["Id"] for record in rest)
    assert list(rows[0]) == ["Id", "Email", "Owner.IsActive", "IsConverted", "AnnualRevenue",
                             "SystemModstamp"]


def test_bulk2_csv_values_follow_bulk_api_conventions(sf: Salesforce) -> None:
    rest = {record["Id"]: record for record in sf.query_all(BULK_QUERY)["records"]}
    page = next(iter(sf.bulk2.Lead.query(BULK_QUERY, wait=0)))
    row = next(csv.DictReader(io.StringIO(page)))
    record = rest[row["Id"]]

    assert row["IsConverted"] == str(record["IsConverted"]).lower()
    assert row["Owner.IsActive"] == str(record["Owner"]["IsActive"]).lower()
    assert row["SystemModstamp"] == record["SystemModstamp"].replace("+0000", "Z")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", row["SystemModstamp"])
    assert row["Email"] == (record["Email"] or "")
    header, first = page.splitlines()[:2]
    assert header == '"Id","Email","Owner.IsActive","IsConverted","AnnualRevenue","SystemModstamp"'
    assert first.startswith(f'"{row["Id"]}",') and first.endswith(f',"{row["SystemModstamp"]}"')


def test_a_bulk2_job_is_in_progress_until_polled_and_its_results_page_with_locators(
    small: RunningSalesforce,
) -> None:
    created = bulk_request(small, "POST", "", json={"operation": "query", "query": BULK_QUERY})
    job_id = created.json()["id"]
    early = bulk_request(small, "GET", f"/{job_id}/results")
    states = [bulk_request(small, "GET", f"/{job_id}").json()["state"] for _ in range(2)]
    total = small.store.count(small.store.sobject("Lead"))
    first = bulk_request(small, "GET", f"/{job_id}/results", params={"maxRecords": total - 1})
    last = bulk_request(small, "GET", f"/{job_id}/results",
                        params={"maxRecords": total - 1,
                                "locator": first.headers["Sforce-Locator"]})

    assert (created.status_code, created.json()["state"]) == (200, "UploadComplete")
    assert (early.status_code, early.json()[0]["errorCode"]) == (409, "API_ERROR")
    assert states == ["InProgress", "JobComplete"]
    assert first.headers["Sforce-NumberOfRecords"] == str(total - 1)
    assert first.headers["Sforce-Locator"] != "null"
    assert (last.headers["Sforce-NumberOfRecords"], last.headers["Sforce-Locator"]) == ("1", "null")
    assert last.text.count("\n") == 2  # the header row and the one record


def test_bulk2_refuses_aggregates_and_offset_with_invalidjob(small: RunningSalesforce) -> None:
    for query in ("SELECT COUNT() FROM Lead", "SELECT Id FROM Lead OFFSET 5"):
        answer = bulk_request(small, "POST", "", json={"operation": "query", "query": query})
        assert (answer.status_code, answer.json()[0]["errorCode"]) == (400, "INVALIDJOB")


def test_bulk2_jobs_can_be_listed_aborted_and_deleted(small: RunningSalesforce) -> None:
    small.emulator.org.bulk.polls_before_complete = 5
    job_id = bulk_request(small, "POST", "", json={"operation": "query",
                                                   "query": "SELECT Id FROM Lead"}).json()["id"]
    listed = [job["id"] for job in bulk_request(small, "GET", "").json()["records"]]
    aborted = bulk_request(small, "PATCH", f"/{job_id}", json={"state": "Aborted"})
    deleted = bulk_request(small, "DELETE", f"/{job_id}")
    gone = bulk_request(small, "GET", f"/{job_id}")

    assert job_id in listed
    assert aborted.json()["state"] == "Aborted"
    assert (deleted.status_code, gone.status_code) == (204, 404)


def test_bulk2_requests_count_against_the_api_limits(small: RunningSalesforce) -> None:
    used = small.emulator.usage.used
    bulk_request(small, "POST", "", json={"operation": "query", "query": "SELECT Id FROM Lead"})
    assert small.emulator.usage.used == used + 1


# ---- levers added for the connector's tests ------------------------------------------------
def test_a_request_uri_over_16384_characters_answers_414(small: RunningSalesforce) -> None:
    ids = ",".join(f"'00Q5g00000{index:08d}'" for index in range(800))
    answer = raw_get(small, "/services/data/v59.0/query/",
                     params={"q": f"SELECT Id FROM Lead WHERE Id IN ({ids})"})
    assert (answer.status_code, answer.json()[0]["errorCode"]) == (414, "URI_TOO_LONG")


def test_a_user_without_api_access_gets_403_api_currently_disabled(
    small: RunningSalesforce,
) -> None:
    client = password_login(small)
    small.emulator.api_enabled = False
    with pytest.raises(SalesforceRefusedRequest) as failure:
        client.query("SELECT COUNT() FROM Lead")
    assert failure.value.content == [
        {"message": "API is disabled for this User", "errorCode": "API_CURRENTLY_DISABLED"}
    ]


def test_records_of_an_object_without_edit_access_fail_with_insufficient_access(
    small: RunningSalesforce,
) -> None:
    client = password_login(small)
    (lead_id,) = lead_ids(client, limit=1)
    small.emulator.writer.no_edit_access.add("Lead")
    answer = client.restful("composite/sobjects", method="PATCH", headers=NO_AUTO_ASSIGN, json={
        "allOrNone": False,
        "records": [{"attributes": {"type": "Lead"}, "id": lead_id, "leadq_Score__c": 3}],
    })
    assert answer == [{"id": lead_id, "success": False, "errors": [{
        "statusCode": "INSUFFICIENT_ACCESS_OR_READONLY",
        "message": "insufficient access rights on object id", "fields": []}]}]


def test_the_writer_counts_how_often_each_record_was_written(small: RunningSalesforce) -> None:
    client = password_login(small)
    (lead_id,) = lead_ids(client, limit=1)
    before = small.emulator.writer.applied[lead_id]
    client.Lead.update(lead_id, {"leadq_Fit__c": 40, "leadq_Engagement__c": 20,
                                 "leadq_Priority__c": 2}, headers=NO_AUTO_ASSIGN)
    assert small.emulator.writer.applied[lead_id] == before + 1


# ---- conformance: the emulator as an oracle ------------------------------------------------------
def test_requests_a_real_org_would_refuse_are_recorded_as_violations_and_others_are_not(
    sf: Salesforce,
) -> None:
    from sandbox.salesforce import conformance

    before = len(conformance.recorded())
    sf.query("SELECT Id FROM Lead WHERE Company = 'O\\'Brien' LIMIT 1")
    with pytest.raises(SalesforceMalformedRequest):
        sf.query("SELECT Id FROM Lead WHERE Company = 'C:\\data'")
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.get("00Q5g0000ZZZZZZZZZ")  # an org's state, not a malformed request
    caused = conformance.recorded()[before:]
    assert [(violation.method, violation.what.split(":")[1].strip()) for violation in caused] == [
        ("GET", "MALFORMED_QUERY")
    ]
