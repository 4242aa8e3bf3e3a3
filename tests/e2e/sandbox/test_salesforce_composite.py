"""Contract tests of the Salesforce emulator's Composite resource (`POST …/composite`), through
the real simple-salesforce client over TLS on loopback: answers as Salesforce documents them, one
API call counted, and refusals no more forgiving than Salesforce's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sandbox.salesforce import RunningSalesforce, conformance, start_salesforce

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def salesforce() -> Iterator[RunningSalesforce]:
    with start_salesforce(leads=300, seed=5) as running:
        yield running


@pytest.fixture
def sf(salesforce: RunningSalesforce) -> Salesforce:
    salesforce.emulator.log.clear()
    return Salesforce(session_id=salesforce.emulator.open_session(),
                      instance_url=salesforce.instance_url, session=salesforce.session())


def query_url(sf: Salesforce, soql: str, resource: str = "query") -> str:
    return f"/services/data/v{sf.sf_version}/{resource}/?{urlencode({'q': soql})}"


def subquery(sf: Salesforce, reference: str, soql: str, **extra: Any) -> dict[str, Any]:
    return {"method": "GET", "url": query_url(sf, soql), "referenceId": reference, **extra}


def composite(sf: Salesforce, subrequests: list[dict[str, Any]], **options: Any) -> Any:
    return sf.restful("composite", method="POST",
                      json={"compositeRequest": subrequests, **options})


def refusal(sf: Salesforce, subrequests: list[dict[str, Any]], **options: Any) -> str:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        composite(sf, subrequests, **options)
    (error,) = raised.value.content
    assert raised.value.status == 400
    return f"{error['errorCode']}: {error['message']}"


def test_queries_in_one_composite_request_answer_as_each_would_alone_and_count_once(
    sf: Salesforce, salesforce: RunningSalesforce
) -> None:
    users = "SELECT Id, Name FROM User ORDER BY Id"
    queues = "SELECT Id, Name FROM Group WHERE Type = 'Queue' ORDER BY Id"
    alone = [sf.query(users), sf.query(queues)]
    used = salesforce.emulator.usage.used

    answer = composite(sf, [subquery(sf, "users", users), subquery(sf, "queues", queues)])

    assert answer == {"compositeResponse": [
        {"body": alone[0], "httpHeaders": {}, "httpStatusCode": 200, "referenceId": "users"},
        {"body": alone[1], "httpHeaders": {}, "httpStatusCode": 200, "referenceId": "queues"},
    ]}
    assert salesforce.emulator.usage.used == used + 1
    assert salesforce.emulator.log.count("POST", "/composite", 200) == 1
    assert salesforce.emulator.log.count(path_contains="/query") == 2  # the two alone


def test_a_subrequest_header_applies_and_its_next_page_is_read_with_an_ordinary_query(
    sf: Salesforce,
) -> None:
    soql = "SELECT Id FROM CampaignMember ORDER BY Id"
    batch = {"httpHeaders": {"Sforce-Query-Options": "batchSize=200"}}
    (first,) = composite(sf, [subquery(sf, "leads", soql, **batch)])["compositeResponse"]
    body = first["body"]
    rest = sf.query_more(body["nextRecordsUrl"], identifier_is_url=True)

    read = [record["Id"] for record in body["records"] + rest["records"]]
    assert len(body["records"]) == 200 and body["done"] is False
    assert read == [record["Id"] for record in sf.query_all(soql)["records"]][: len(read)]


def test_a_failing_subrequest_answers_its_own_error_and_the_others_still_run(
    sf: Salesforce,
) -> None:
    wrong = "SELECT NoSuchField__c FROM Lead"
    with pytest.raises(SalesforceMalformedRequest) as alone:
        sf.query(wrong)
    answer = composite(sf, [subquery(sf, "bad", wrong), subquery(sf, "good", "SELECT Id FROM User")])

    bad, good = answer["compositeResponse"]
    assert (bad["httpStatusCode"], bad["body"]) == (400, alone.value.content)
    assert good["httpStatusCode"] == 200 and good["body"]["records"]


def test_with_all_or_none_every_other_subrequest_answers_400_processing_halted(
    sf: Salesforce,
) -> None:
    answer = composite(sf, [
        subquery(sf, "good", "SELECT Id FROM User"),
        subquery(sf, "bad", "SELECT NoSuchField__c FROM Lead"),
    ], allOrNone=True)

    good, bad = answer["compositeResponse"]
    assert (good["httpStatusCode"], good["body"][0]["errorCode"]) == (400, "PROCESSING_HALTED")
    assert bad["body"][0]["errorCode"] == "INVALID_FIELD"


@pytest.mark.parametrize(("subrequests", "refused"), [
    (lambda sf: [subquery(sf, f"q{i}", "SELECT Id FROM User") for i in range(5)]
     + [{"method": "GET", "url": f"/services/data/v{sf.sf_version}/sobjects/User/describe",
         "referenceId": f"d{i}"} for i in range(21)],
     "at most 25 subrequests, not 26"),
    (lambda sf: [subquery(sf, f"q{i}", "SELECT Id FROM User") for i in range(6)],
     "at most 5 query subrequests"),
    (lambda sf: [{"method": "GET", "url": query_url(sf, "SELECT Id FROM User")}],
     "referenceId is required"),
    (lambda sf: [subquery(sf, "has-dash", "SELECT Id FROM User")],
     "may hold only letters, numbers and underscores"),
    (lambda sf: [subquery(sf, "twice", "SELECT Id FROM User")] * 2,
     "Duplicate referenceId"),
    (lambda sf: [{"method": "GET", "url": "/query/?q=SELECT+Id+FROM+User", "referenceId": "r"}],
     "must begin with /services/data/vXX.X/"),
    (lambda sf: [{"method": "get", "url": query_url(sf, "SELECT Id FROM User"),
                  "referenceId": "r"}],
     "method must be one of POST, PUT, PATCH, GET, DELETE (case-sensitive)"),
    (lambda sf: [subquery(sf, "r", "SELECT Id FROM User",
                          httpHeaders={"Authorization": "Bearer x"})],
     "inherits Authorization"),
    (lambda sf: [{"method": "GET", "url": "/services/data/v99.0/query/?q=SELECT+Id+FROM+User",
                  "referenceId": "r"}],
     "later than the composite request's"),
    (lambda sf: [], "at least one subrequest"),
])
def test_a_composite_request_salesforce_would_refuse_is_refused_whole_and_runs_nothing(
    sf: Salesforce, salesforce: RunningSalesforce, subrequests: Any, refused: str
) -> None:
    before = len(conformance.recorded())
    message = refusal(sf, subrequests(sf))

    assert message.startswith("INVALID_BATCH_REQUEST: ") and refused in message
    assert salesforce.emulator.log.count(path_contains="/query") == 0
    assert len(conformance.recorded()) == before + 1  # the oracle fails any other test sending it


def test_a_write_or_a_reference_is_refused_as_not_emulated(sf: Salesforce) -> None:
    create = {"method": "POST", "url": f"/services/data/v{sf.sf_version}/sobjects/Lead",
              "referenceId": "lead", "body": {"LastName": "X", "Company": "Y"}}
    reference = subquery(sf, "again", "SELECT Id FROM Lead WHERE Id = '@{lead.id}'")

    assert "emulates GET subrequests" in refusal(sf, [create])
    assert "emulates GET subrequests" in refusal(sf, [reference])


def test_a_body_without_composite_request_is_a_json_parser_error(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.restful("composite", method="POST", json={"allOrNone": False})
    assert raised.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"
