"""What only the Salesforce connector does, end to end: the real simple-salesforce client over TLS
against the Salesforce emulator, nothing in the client patched. What both connectors promise is in
test_connector_contract.py; assertions read the emulated org's state and its request log."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from connector_crms import (
    SALESFORCE_OUTPUTS,
    SALESFORCE_RETRIES,
    SalesforceCrm,
    full_sync,
    is_page,
    soql_of,
)
from simple_salesforce import Salesforce

from connectors.base import OutputField
from connectors.records import LeadUpdate, WriteResult
from connectors.retry import (
    AuthenticationError,
    ConnectorError,
    MissingFieldError,
    PermissionDeniedError,
    RecordNotFoundError,
    RetriesExhaustedError,
)
from connectors.salesforce import MAX_PAGE, SalesforceConnector, SalesforceOptions
from connectors.salesforce_calls import DailyLimitExhaustedError
from sandbox.salesforce import start_salesforce
from sandbox.salesforce.app import ApiUsage
from sandbox.salesforce.store import SalesforceStore
from sandbox.server import FaultPlan, LoggedRequest
from sync.connect import salesforce_connector

pytestmark = pytest.mark.e2e

SCORED_AT = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def small_org() -> Iterator[SalesforceCrm]:
    with start_salesforce(leads=300, seed=5) as running:
        yield SalesforceCrm(running, objects=("Lead",))


@pytest.fixture
def small(small_org: SalesforceCrm) -> Iterator[SalesforceCrm]:
    """The small org (read for Leads) with no faults or levers in force and a fresh log, before
    and after."""
    emulator = small_org.running.emulator

    def reset() -> None:
        emulator.faults = FaultPlan()
        emulator.usage = ApiUsage(100_000)
        emulator.api_enabled = True
        emulator.writer.no_edit_access.clear()
        emulator.log.clear()

    reset()
    yield small_org
    reset()


def ids_in(entry: LoggedRequest) -> list[str]:
    return re.findall(r"'(\w{18})'", soql_of(entry))


def active_user_ids(org: SalesforceCrm) -> list[str]:
    return org.column('SELECT "Id" FROM "User" WHERE "IsActive" = 1 AND '
                      '"UserType" = \'Standard\' ORDER BY "Id"')


def user_owned_lead_ids(org: SalesforceCrm, count: int) -> list[str]:
    return org.column('SELECT "Id" FROM "Lead" WHERE "IsConverted" = 0 AND "IsDeleted" = 0 AND '
                      '"OwnerId" LIKE \'005%\' ORDER BY "Id" LIMIT ?', (count,))


def owner_of(org: SalesforceCrm, lead_id: str) -> str:
    return str(org.one_value('SELECT "OwnerId" FROM "Lead" WHERE "Id" = ?', (lead_id,)))


# ---- pulls and writes in pages and batches ----------------------------------------------------
def test_activities_are_read_for_hundreds_of_people_a_query_and_all_else_is_pages_and_writes(
    salesforce: SalesforceCrm,
) -> None:
    connector = salesforce.connector()
    run = full_sync(salesforce, connector)
    log = salesforce.log()

    pages = [entry for entry in log if is_page(entry)]
    task_queries = [ids_in(entry) for entry in pages if " FROM Task " in soql_of(entry)]
    per_query = max(map(len, task_queries))
    assert per_query >= 500  # as many ids as fit in a 16 KB URL
    assert sum(map(len, task_queries)) == len(run.pulled)
    assert len(task_queries) == math.ceil(len(run.pulled) / per_query)  # one page of people
    others = [soql_of(e).split(" FROM ")[0] or e.path for e in log
              if not is_page(e) and e.method != "PATCH"]
    assert others == ["/services/Soap/u/64.0", "SELECT COUNT()", "SELECT COUNT()"]
    assert set(connector.stats.requests) == {"auth", "query", "write"}  # no page continues


def test_a_full_pull_reads_leads_and_contacts_merged_into_pages_of_the_page_size(
    salesforce: SalesforceCrm,
) -> None:
    connector = salesforce.connector(read_page_size=500)
    salesforce.running.emulator.log.clear()
    pages = list(connector.pull_changed(None))
    log = salesforce.log()
    people = salesforce.live_lead_ids()
    leads = sum(i.startswith("00Q") for i in people)

    full, rest = divmod(len(people), 500)
    assert [len(page.leads) for page in pages] == [500] * full + ([rest] if rest else [])
    assert sum(is_page(entry) for entry in log) == math.ceil(leads / 500) + math.ceil(
        (len(people) - leads) / 500)
    assert [soql_of(entry).split(" FROM ")[0] for entry in log if not is_page(entry)] == [
        "SELECT COUNT()", "SELECT COUNT()"]  # deciding between REST and Bulk API
    assert salesforce.connector().options.page_size == MAX_PAGE == 2000  # unless set


def test_a_full_pull_above_the_bulk_threshold_runs_as_bulk_api_query_jobs(
    salesforce: SalesforceCrm,
) -> None:
    rest = [lead for page in salesforce.connector().pull_changed(None) for lead in page.leads]
    connector = salesforce.connector(salesforce_bulk_threshold=500)
    salesforce.running.emulator.log.clear()
    pages = list(connector.pull_changed(None))
    log = salesforce.log()

    bulk = [lead for page in pages for lead in page.leads]
    assert sorted(bulk, key=lambda lead: lead.id) == sorted(rest, key=lambda lead: lead.id)
    assert [entry.method for entry in log if "/jobs/query" in entry.path][:1] == ["POST"]
    results = [entry for entry in log if entry.path.endswith("/results")]
    assert len(results) == len(salesforce.objects)  # a job per object, each under 10,000 rows
    assert connector.stats.requests["bulk"] == sum("/jobs/query" in e.path for e in log)
    assert [page.cursor for page in pages[:-1]] == [None] * (len(pages) - 1)
    assert pages[-1].cursor == max(lead.fields["SystemModstamp"] for lead in bulk)


def test_an_incremental_pull_asks_for_what_changed_since_the_cursor_minus_the_overlap(
    small: SalesforceCrm,
) -> None:
    connector = small.connector()
    small.running.emulator.log.clear()
    list(connector.pull_changed(datetime(2026, 10, 31, tzinfo=UTC)))

    soql = soql_of(small.log()[0])
    assert "WHERE IsConverted = false AND SystemModstamp >= 2026-10-30T23:55:00.000Z ORDER BY " \
           "SystemModstamp, Id" in soql


def test_a_written_datetime_is_stored_as_salesforce_renders_it_and_written_once(
    small: SalesforceCrm,
) -> None:
    (lead_id,) = user_owned_lead_ids(small, 1)
    update = LeadUpdate(lead_id=lead_id, changes={"leadq_Score__c": 91.5, "leadq_Grade__c": "A",
                                                  "leadq_Scored_At__c": SCORED_AT})
    before = small.api_writes()[lead_id]

    assert small.connector().write([update]) == [WriteResult(lead_id=lead_id, ok=True)]
    stored = small.stored()[lead_id]
    assert (stored["leadq_Score__c"], stored["leadq_Grade__c"], stored["leadq_Scored_At__c"]) \
        == (91.5, "A", "2026-11-01T09:30:00.000+0000")
    assert small.api_writes()[lead_id] == before + 1


# ---- what the records hold --------------------------------------------------------------------
def test_leads_carry_their_company_owner_details_and_the_extra_fields(
    small: SalesforceCrm,
) -> None:
    connector = small.connector()
    leads = [lead for page in connector.pull_changed(None) for lead in page.leads]
    lead = next(lead for lead in leads if lead.company and lead.company.employees)
    row = small.running.store.fetch(small.running.store.sobject("Lead"), [lead.id])[lead.id]

    assert lead.company is not None
    assert (lead.company.name, lead.company.domain, lead.company.employees) == (
        row["Company"], row["Website"], row["NumberOfEmployees"])
    assert lead.lead_status == row["Status"]
    assert set(SALESFORCE_OUTPUTS) <= set(lead.fields)
    assert lead.fields["Owner.Type"] in ("User", "Queue")
    assert not any(lead.fields["IsConverted"] for lead in leads)


def test_contacts_carry_their_account_as_company(small: SalesforceCrm) -> None:
    connector = small.connector(salesforce_objects=["Contact"])
    contacts = [lead for page in connector.pull_changed(None) for lead in page.leads]
    contact = next(lead for lead in contacts if lead.company is not None)
    assert contact.company is not None
    store = small.running.store
    account = store.fetch(store.sobject("Account"), [contact.company.id])[contact.company.id]

    assert {lead.kind for lead in contacts} == {"contact"}
    assert (contact.company.name, contact.company.owner_id) == (account["Name"],
                                                                account["OwnerId"])


def test_an_accounts_people_are_its_contacts_read_in_one_query(small: SalesforceCrm) -> None:
    accounts = small.column('SELECT DISTINCT "AccountId" FROM "Contact" WHERE "AccountId" '
                            'IS NOT NULL ORDER BY "AccountId" LIMIT 3')
    expected = small.column('SELECT "Id" FROM "Contact" WHERE "AccountId" IN (?, ?, ?)',
                            tuple(accounts))
    connector = small.connector(salesforce_objects=["Lead", "Contact"])
    small.running.emulator.log.clear()

    people = connector.people_of_companies([*accounts, accounts[0], "001000000000000AAA"])

    assert sorted(people) == sorted(expected) and expected
    assert len(small.log()) == 1


def test_accounts_have_no_people_when_only_leads_are_synced(small: SalesforceCrm) -> None:
    account = small.one_value('SELECT "AccountId" FROM "Contact" WHERE "AccountId" IS NOT NULL')
    connector = small.connector()
    small.running.emulator.log.clear()

    assert connector.people_of_companies([account]) == []
    assert small.log() == []


def test_activities_come_in_batches_and_map_to_leadq_types(small: SalesforceCrm) -> None:
    connector = small.connector(salesforce_objects=["Lead", "Contact"])
    people = [lead for page in connector.pull_changed(None) for lead in page.leads]
    small.running.emulator.log.clear()
    activities = connector.pull_activities(people, None)
    types = Counter(activity.type for activity in activities)
    pulled = ('"WhoId" IN (SELECT "Id" FROM "Lead" WHERE "IsConverted" = 0) OR '
              '"WhoId" IN (SELECT "Id" FROM "Contact")')
    tasks = small.one_value(f'SELECT COUNT(*) FROM "Task" WHERE {pulled}')

    assert len(small.log()) == 4  # Task, Event, and members of leads / contacts
    assert types["call"] + types["email_reply"] + types["email_sent"] == tasks
    assert types["meeting_booked"] == small.one_value(
        f'SELECT COUNT(*) FROM "Event" WHERE {pulled}')
    assert {"email_open", "form_submission", "webinar_registered"} <= set(types)
    assert "page_view" not in types


def test_archived_tasks_and_events_are_read_through_query_all(small: SalesforceCrm) -> None:
    (lead_id,) = user_owned_lead_ids(small, 1)
    connector = small.connector(salesforce_objects=["Lead"])
    (lead,) = connector.read_leads([lead_id])
    before = Counter(activity.type for activity in connector.pull_activities([lead], None))
    two_years_ago = SCORED_AT - timedelta(days=730)
    client = small.raw_client()
    client.Task.create({"WhoId": lead_id, "Subject": "Old call", "Type": "Call",
                        "Status": "Completed", "ActivityDate": two_years_ago.date().isoformat()})
    client.Event.create({"WhoId": lead_id, "Subject": "Old meeting",
                         "StartDateTime": two_years_ago.isoformat(),
                         "EndDateTime": (two_years_ago + timedelta(hours=1)).isoformat()})
    archived = f"WhoId = '{lead_id}' AND Subject LIKE 'Old %'"
    assert client.query(f"SELECT Id FROM Task WHERE {archived}")["totalSize"] == 0
    assert client.query(f"SELECT Id FROM Event WHERE {archived}")["totalSize"] == 0
    assert client.query(f"SELECT Id FROM Task WHERE {archived}", include_deleted=True)[
        "totalSize"] == 1

    after = Counter(activity.type for activity in connector.pull_activities([lead], None))

    assert after - before == Counter({"call": 1, "meeting_booked": 1})


def test_account_owners_match_domains_however_the_website_is_written(
    small: SalesforceCrm,
) -> None:
    account = small.running.store.sobject("Account")
    row = small.running.store.read_one('SELECT "Id", "Website", "OwnerId" FROM "Account" '
                                       'WHERE "Website" IS NOT NULL ORDER BY "Id" LIMIT 1')
    assert row is not None
    account_id, domain, owner_id = row
    website = f"HTTPS://www.{domain.upper()}/about"
    small.running.store.update(account, account_id, {"Website": website})
    owners = small.connector().account_owners([domain, "gmail.com", f"www.{domain}"])

    assert owners == {domain: owner_id}


def test_routing_reads_owners_queues_and_accounts_in_one_composite_request(
    small: SalesforceCrm,
) -> None:
    connector = small.connector()
    websites = small.column('SELECT "Website" FROM "Account" WHERE "Website" IS NOT NULL '
                            'ORDER BY "Id" LIMIT 30')
    domains = [*websites, "gmail.com"]
    owners, accounts = connector.list_owners(), connector.account_owners(domains)
    small.running.emulator.log.clear()

    reads = connector.routing_reads(domains)

    assert (reads.owners, reads.account_owners) == (owners, accounts)
    assert accounts and {o.kind for o in owners} == {"person", "queue"}
    assert [entry.path.rsplit("/", 1)[-1] for entry in small.running.emulator.log.entries()] == [
        "composite"
    ]


def test_a_failing_routing_read_says_what_the_same_query_alone_would(
    small: SalesforceCrm,
) -> None:
    connector = small.connector()
    small.running.emulator.queries.unreadable = frozenset({"account"})
    try:
        with pytest.raises(PermissionDeniedError) as alone:
            connector.account_owners(["example.com"])
        with pytest.raises(PermissionDeniedError) as together:
            connector.routing_reads(["example.com"])
    finally:
        small.running.emulator.queries.unreadable = frozenset()

    assert str(together.value) == str(alone.value)
    assert "INVALID_TYPE" in str(alone.value)


def test_a_composite_query_that_continues_is_read_to_its_end_with_ordinary_queries(
    small: SalesforceCrm,
) -> None:
    connector = small.connector(read_page_size=200)
    soql = "SELECT Id FROM CampaignMember ORDER BY Id"
    alone = [row["Id"] for row in connector.query_rows(soql, "query")]
    small.running.emulator.log.clear()

    (together,) = connector.composite.records_of([soql])

    assert [record["Id"] for record in together] == alone and len(alone) > 400
    paths = [entry.path for entry in small.running.emulator.log.entries()]
    assert paths[0].endswith("/composite") and len(paths) > 2
    assert all("/query/01g" in path for path in paths[1:])


def test_converted_leads_and_contacts_carry_the_date_they_converted(
    small: SalesforceCrm,
) -> None:
    outcomes = list(small.connector(salesforce_objects=["Lead", "Contact"]).pull_outcomes(None))

    converted = [o for o in outcomes if o.converted]
    assert {o.lead_id[:3] for o in converted} == {"00Q", "003"}
    assert all(o.at is not None for o in converted)


def test_a_converted_leads_history_is_read_from_the_contact_it_became(
    small: SalesforceCrm,
) -> None:
    connector = small.connector(salesforce_objects=["Lead"])
    history = [lead for page in connector.pull_history() for lead in page.leads]
    converted = {lead.id for lead in history if lead.fields.get("IsConverted")}
    activities = connector.pull_activities(history, None)

    contacts = dict(small.running.store.read(
        'SELECT "ConvertedContactId", "Id" FROM "Lead" WHERE "IsConverted" = 1'))
    recorded = small.column(
        'SELECT "WhoId" FROM "Task" UNION SELECT "WhoId" FROM "Event" '
        'UNION SELECT "ContactId" FROM "CampaignMember"')
    with_moved_history = {contacts[who] for who in recorded if who in contacts}

    assert converted and with_moved_history
    assert {activity.lead_id for activity in activities} <= {lead.id for lead in history}
    assert converted & {activity.lead_id for activity in activities} == with_moved_history


@pytest.mark.parametrize("objects", [["Lead"], ["Lead", "Contact"]])
def test_a_history_read_asks_once_what_each_converted_lead_became(
    small: SalesforceCrm, objects: list[str]
) -> None:
    connector = small.connector(salesforce_objects=objects)
    history = [lead for page in connector.pull_history() for lead in page.leads]
    activities = connector.pull_activities(history, None)
    outcomes = list(connector.pull_outcomes(None))

    asked = [soql_of(entry) for entry in small.running.emulator.log.entries()
             if "ConvertedContactId" in soql_of(entry)]
    assert len(asked) == 1, asked
    assert activities and any(outcome.converted for outcome in outcomes)


def won_deal(store: SalesforceStore, account_id: str, closed: str,
             contact_id: str | None = None) -> str:
    """A won Opportunity on the Account (with `contact_id` as a contact role only)."""
    opportunity_id = store.ids.mint("006")
    stamp = f"{closed}T12:00:00.000+0000"
    audit = {"IsDeleted": 0, "CreatedDate": stamp, "LastModifiedDate": stamp,
             "SystemModstamp": stamp}
    store.insert(store.sobject("Opportunity"), [{
        "Id": opportunity_id, **audit, "Name": "Renewal", "AccountId": account_id,
        "StageName": "Closed Won", "CloseDate": closed, "IsWon": 1, "IsClosed": 1,
        "Amount": 1000.0,
    }])
    if contact_id:
        store.insert(store.sobject("OpportunityContactRole"), [{
            "Id": store.ids.mint("00K"), **audit, "OpportunityId": opportunity_id,
            "ContactId": contact_id, "Role": "Economic Buyer", "IsPrimary": 0,
        }])
    return opportunity_id


def test_a_contact_wins_through_its_contact_role_or_else_through_its_accounts_deal() -> None:
    with start_salesforce(leads=300, seed=9) as running:
        crm = SalesforceCrm(running)
        before = crm.conversions()
        rows = running.store.read('SELECT "Id", "AccountId" FROM "Contact" '
                                  'WHERE "AccountId" IS NOT NULL ORDER BY "Id"')
        members: dict[str, list[str]] = {}
        for contact_id, account_id in rows:
            if contact_id in before:  # not a converted Lead's Contact (that Lead stands for it)
                members.setdefault(account_id, []).append(contact_id)
        unwon = [(account, contacts) for account, contacts in members.items()
                 if len(contacts) > 1 and not any(before[c] for c in contacts)]
        (roled_account, roled), (team_account, team) = unwon[:2]
        won_deal(running.store, roled_account, "2026-10-02", contact_id=roled[0])
        won_deal(running.store, team_account, "2026-10-31")  # no contact on it

        outcomes = {o.lead_id: o for o in crm.connector().pull_outcomes(None)}

    assert outcomes[roled[0]].converted and outcomes[roled[0]].value == 1000.0
    assert not any(outcomes[c].converted for c in roled[1:])
    assert all(outcomes[c].converted for c in team)
    assert {str(outcomes[c].at)[:10] for c in [roled[0], *team]} == {"2026-10-02", "2026-10-31"}
    others = set(outcomes) - {*roled, *team}
    assert all(outcomes[c].converted == before[c] for c in others)


# ---- writes: the assignment rule, per-record errors ------------------------------------------
def test_writes_send_auto_assign_false_so_the_assignment_rule_leaves_owners_alone(
    small: SalesforceCrm,
) -> None:
    rule = small.running.emulator.writer.assignment_rule
    assert rule is not None
    queue = rule.owner_ids[0]
    scored, routed, control = user_owned_lead_ids(small, 3)
    kept_owner = owner_of(small, scored)
    new_owner = next(user for user in active_user_ids(small) if user != owner_of(small, routed))

    results = small.connector().write([
        LeadUpdate(lead_id=scored, changes={"leadq_Score__c": 12.0}),
        LeadUpdate(lead_id=routed, changes={"leadq_Score__c": 80.0, "OwnerId": new_owner}),
    ])
    small.raw_client().Lead.update(control, {"leadq_Score__c": 1})

    assert all(result.ok for result in results)
    assert owner_of(small, scored) == kept_owner
    assert owner_of(small, routed) == new_owner
    assert owner_of(small, control) == queue  # what the rule does without the header


def test_leads_and_contacts_written_in_pull_order_go_out_grouped_by_type(
    small: SalesforceCrm,
) -> None:
    leads = user_owned_lead_ids(small, 6)
    contacts = small.column('SELECT "Id" FROM "Contact" WHERE "IsDeleted" = 0 ORDER BY "Id" '
                            "LIMIT 6")
    interleaved = [
        LeadUpdate(lead_id=record_id, kind=kind, changes={"leadq_Score__c": 7.0})
        for pair in zip(leads, contacts, strict=True)
        for record_id, kind in zip(pair, ("lead", "contact"), strict=True)
    ]

    results = small.connector().write(interleaved)

    assert [result.lead_id for result in results] == [update.lead_id for update in interleaved]
    assert all(result.ok for result in results)
    (write,) = [entry for entry in small.running.emulator.log.entries()
                if entry.path.endswith("/composite/sobjects")]
    assert write.status == 200


def test_permanent_record_errors_come_back_as_one_line_results_and_the_rest_is_written(
    small: SalesforceCrm,
) -> None:
    converted = str(small.one_value('SELECT "Id" FROM "Lead" WHERE "IsConverted" = 1 LIMIT 1'))
    inactive_target, fine = user_owned_lead_ids(small, 2)
    inactive_user = str(small.one_value('SELECT "Id" FROM "User" WHERE "IsActive" = 0'))

    results = small.connector().write([
        LeadUpdate(lead_id=converted, changes={"leadq_Score__c": 5.0}),
        LeadUpdate(lead_id=inactive_target, changes={"OwnerId": inactive_user}),
        LeadUpdate(lead_id=fine, changes={"leadq_Score__c": 5.0}),
    ])

    assert [result.error for result in results] == [
        f"Lead {converted} was converted; Salesforce keeps converted leads read-only, so leadq "
        "leaves it alone",
        f"Lead {inactive_target}: the owner leadq chose is an inactive Salesforce user; "
        "reactivate the user or take them out of the routing pool",
        None,
    ]
    assert [result.transient for result in results] == [False] * 3
    assert small.one_value('SELECT "leadq_Score__c" FROM "Lead" WHERE "Id" = ?', (fine,)) == 5.0


def test_a_record_the_integration_user_may_not_edit_is_reported_with_what_to_grant(
    small: SalesforceCrm,
) -> None:
    small.running.emulator.writer.no_edit_access.add("Lead")
    (lead_id,) = user_owned_lead_ids(small, 1)
    update = LeadUpdate(lead_id=lead_id, changes={"leadq_Score__c": 1})
    (result,) = small.connector().write([update])

    assert result == WriteResult(
        lead_id=lead_id, ok=False,
        error=f"Lead {lead_id}: the integration user may not edit this record; give it edit "
        "access to Lead (profile, permission set or sharing)",
    )


def test_records_that_stay_locked_are_reported_as_transient(small: SalesforceCrm) -> None:
    small.running.emulator.faults = FaultPlan(record_failure=1.0)
    (lead_id,) = user_owned_lead_ids(small, 1)
    connector = small.connector()
    (result,) = connector.write([LeadUpdate(lead_id=lead_id, changes={"leadq_Score__c": 1})])

    assert result == WriteResult(
        lead_id=lead_id, ok=False, transient=True,
        error=f"Lead {lead_id} stayed locked by another Salesforce process through every retry; "
        "the next run writes it",
    )
    assert connector.stats.requests["write"] == SALESFORCE_RETRIES.max_attempts
    assert connector.stats.retries["record_lock"] == SALESFORCE_RETRIES.max_attempts - 1


# ---- logins and sessions ----------------------------------------------------------------------
@pytest.mark.parametrize("login", ["password", "jwt", "client_credentials"])
def test_an_expired_session_is_renewed_by_logging_in_again(
    small: SalesforceCrm, login: str, tmp_path: Path
) -> None:
    connector = small.connector(small.settings(login, tmp_path))
    connector.list_owners()
    small.running.emulator.expire_sessions()
    owners = connector.list_owners()

    assert owners
    assert connector.stats.requests["auth"] == 2
    assert connector.stats.retries["session_expired"] == 1
    assert small.running.emulator.log.count(status=401) == 1


def test_an_expired_session_id_is_renewed_with_the_password_when_one_is_set(
    small: SalesforceCrm,
) -> None:
    settings = small.settings("session", salesforce_username=small.running.username,
                            salesforce_password=small.running.password,
                            salesforce_security_token=small.running.security_token)
    connector = small.connector(settings)
    small.running.emulator.expire_sessions()

    assert connector.list_owners()
    assert connector.stats.requests["auth"] == 1


def test_an_expired_session_id_without_credentials_names_the_variables_to_set(
    small: SalesforceCrm,
) -> None:
    connector = small.connector(small.settings("session"))
    small.running.emulator.expire_sessions()

    with pytest.raises(AuthenticationError) as raised:
        connector.list_owners()
    assert str(raised.value) == (
        "Salesforce rejected the session (INVALID_SESSION_ID: Session expired or invalid): "
        "LEADQ_SALESFORCE_SESSION_ID has expired or does not belong to "
        "LEADQ_SALESFORCE_INSTANCE_URL. Set a fresh session id, or set login credentials "
        "(LEADQ_SALESFORCE_USERNAME and LEADQ_SALESFORCE_PASSWORD, or "
        "LEADQ_SALESFORCE_CONSUMER_KEY) so leadq can log in again by itself."
    )


def test_a_connector_built_on_a_client_of_ones_own_reads_with_its_options(
    small: SalesforceCrm,
) -> None:
    running = small.running
    client = Salesforce(session_id=running.emulator.open_session(),
                        instance_url=running.instance_url, session=running.session())
    options = SalesforceOptions(objects=("Lead", "Contact"), page_size=200)
    connector = SalesforceConnector(client, options=options)
    pages = list(connector.pull_changed(None))
    small.running.emulator.expire_sessions()

    assert {lead.kind for page in pages for lead in page.leads} == {"lead", "contact"}
    assert [len(page.leads) for page in pages][:-1] == [200] * (len(pages) - 1)
    assert len(pages) > 1
    with pytest.raises(AuthenticationError, match=r"^Salesforce rejected the session"):
        connector.list_owners()


def test_a_wrong_consumer_secret_names_the_variables_to_check(small: SalesforceCrm) -> None:
    settings = small.settings("client_credentials", salesforce_consumer_secret="wrong")
    with pytest.raises(AuthenticationError) as raised:
        small.connector(settings)
    assert str(raised.value) == (
        "Salesforce refused the client-credentials login (invalid_client: invalid client "
        "credentials). Check LEADQ_SALESFORCE_CONSUMER_KEY, LEADQ_SALESFORCE_CONSUMER_SECRET and "
        "LEADQ_SALESFORCE_LOGIN_URL (your My Domain, https://yourcompany.my.salesforce.com); the "
        "connected app needs the client credentials flow enabled with a Run As user."
    )


def test_a_jwt_login_through_the_my_domain_names_login_salesforce_com_as_audience(
    small: SalesforceCrm, tmp_path: Path
) -> None:
    my_domain = f"https://{small.running.my_domain}.salesforce.com"
    settings = small.settings("jwt", tmp_path, salesforce_login_url=my_domain)

    connector = small.connector(settings)

    assert connector.list_owners()
    assert small.running.emulator.log.count("POST", "/services/oauth2/token", 200) == 1


def test_a_jwt_for_an_unknown_user_names_the_variables_to_check(
    small: SalesforceCrm, tmp_path: Path
) -> None:
    settings = small.settings("jwt", tmp_path, salesforce_username="someone@else.example")
    with pytest.raises(AuthenticationError) as raised:
        small.connector(settings)
    assert str(raised.value) == (
        "Salesforce refused the JWT bearer login (invalid_grant: user hasn't approved this "
        "consumer). Check LEADQ_SALESFORCE_CONSUMER_KEY (the connected app's consumer key), "
        "LEADQ_SALESFORCE_PRIVATE_KEY_FILE (its certificate must be the one uploaded to the "
        "connected app), LEADQ_SALESFORCE_USERNAME (a user pre-authorised for the app) and "
        "LEADQ_SALESFORCE_LOGIN_URL."
    )


# ---- limits, permissions, fields --------------------------------------------------------------
def test_a_used_up_daily_limit_says_when_requests_free_up(small: SalesforceCrm) -> None:
    connector = small.connector()
    connector.list_owners()
    used = small.running.emulator.usage.used
    small.running.emulator.usage = ApiUsage(used)
    small.running.emulator.usage.used = used  # nothing left for today

    with pytest.raises(DailyLimitExhaustedError) as raised:
        connector.list_owners()
    usage = connector.calls.usage
    assert usage is not None
    resets = (usage.seen_at + timedelta(hours=24)).strftime("%Y-%m-%d %H:%M UTC")
    assert str(raised.value) == (
        f"the org's daily Salesforce API limit is used up ({used:,} of {used:,} requests in the "
        "last 24 hours). Salesforce counts a rolling 24 hours, so requests free up as they age "
        f"and all of them by {resets}; leadq stops until then (ask Salesforce for a higher limit "
        "if this recurs)"
    )


def test_a_refusal_that_never_ends_gives_up_within_the_budget(small: SalesforceCrm) -> None:
    small.running.emulator.faults = FaultPlan(rate_limited=1.0)
    connector = small.connector()
    with pytest.raises(RetriesExhaustedError) as raised:
        connector.list_owners()

    assert str(raised.value) == (
        "the CRM kept failing (Salesforce refused the request for now (REQUEST_LIMIT_EXCEEDED: "
        f"TotalRequests Limit exceeded., api usage {small.running.emulator.usage.used:,}/100,000)"
        "); gave up after 8 attempts or 60 s. Try again later; nothing was lost."
    )
    assert connector.stats.retries["rate_limited"] == 7


def test_an_api_version_salesforce_does_not_serve_is_named(small: SalesforceCrm) -> None:
    connector = small.connector(small.settings(salesforce_api_version="5.0"))
    with pytest.raises(RecordNotFoundError) as raised:
        connector.list_owners()
    assert str(raised.value) == (
        "Salesforce answered NOT_FOUND for query: check LEADQ_SALESFORCE_API_VERSION and "
        "LEADQ_SALESFORCE_INSTANCE_URL"
    )


def test_a_server_certificate_that_is_not_trusted_names_the_ca_setting(
    small: SalesforceCrm,
) -> None:
    untrusting = requests.Session()
    untrusting.trust_env = False  # verify against the public CAs only, not the sandbox's
    connector = salesforce_connector(small.settings("session"), untrusting)
    with pytest.raises(ConnectorError) as raised:
        connector.list_owners()
    assert str(raised.value) == (
        "the Salesforce server's TLS certificate is not trusted: check "
        "LEADQ_SALESFORCE_INSTANCE_URL and LEADQ_SALESFORCE_CA_BUNDLE"
    )


OUTPUTS = [
    OutputField("leadq_score", "leadq score", "number"),
    OutputField("leadq_grade", "leadq grade", "string"),
    OutputField("leadq_reasons", "leadq reasons", "string"),
]


def test_writing_a_field_salesforce_does_not_have_fails_that_record_with_what_to_create(
    small: SalesforceCrm,
) -> None:
    unknown, fine = user_owned_lead_ids(small, 2)
    results = small.connector().write([
        LeadUpdate(lead_id=unknown, changes={"leadq_Stage__c": "MQL"}),
        LeadUpdate(lead_id=fine, changes={"leadq_Score__c": 64.0}),
    ])

    assert results == [
        WriteResult(lead_id=unknown, ok=False, error=(
            f"Lead {unknown}: Salesforce has no field leadq_Stage__c on Lead that leadq may use: "
            "create it (README, 'Salesforce: the fields an admin creates') or give the "
            "integration user access to it (field-level security), or remove it from the "
            "scoring model")),
        WriteResult(lead_id=fine, ok=True),
    ]


def test_ensure_fields_confirms_fields_that_exist(small: SalesforceCrm) -> None:
    connector = small.connector(salesforce_objects=["Lead", "Contact"])
    version = OutputField("leadq_model_version", "leadq model version", "string")
    report = connector.ensure_fields([*OUTPUTS, version])

    assert report.existing == [
        "Lead.leadq_Score__c", "Lead.leadq_Grade__c", "Lead.leadq_Reasons__c",
        "Lead.leadq_Model_Version__c", "Contact.leadq_Score__c", "Contact.leadq_Grade__c",
        "Contact.leadq_Reasons__c", "Contact.leadq_Model_Version__c",
    ]
    assert report.missing == [] and report.created == []


def test_ensure_fields_lists_every_missing_field_with_the_type_to_create() -> None:
    with start_salesforce(leads=20, seed=2, custom_fields=False) as running:
        connector = SalesforceCrm(running, objects=("Lead",)).connector(extra_fields=())
        with pytest.raises(MissingFieldError) as raised:
            connector.ensure_fields(OUTPUTS)
        report = connector.check_fields(OUTPUTS)

    assert str(raised.value) == (
        "Salesforce lacks 3 of leadq's fields; an admin must create them in Setup › Object "
        "Manager (the Metadata API is needed to do it automatically, which leadq does not use): "
        "Lead.leadq_Score__c (Number(18, 2), label 'leadq score'); Lead.leadq_Grade__c "
        "(Text(255), label 'leadq grade'); Lead.leadq_Reasons__c (Long Text Area(32768), label "
        "'leadq reasons'). See README, 'Salesforce: the fields an admin creates'."
    )
    assert report.missing == ["Lead.leadq_Score__c", "Lead.leadq_Grade__c",
                              "Lead.leadq_Reasons__c"]
