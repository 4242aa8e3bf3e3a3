"""The Salesforce connector end to end: the real simple-salesforce client over TLS against the
Salesforce emulator. Nothing in the client is patched; assertions read the emulated org's state
and its request log."""

from __future__ import annotations

import math
import re
import shutil
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
import requests
from simple_salesforce import Salesforce

from connectors.base import OutputField
from connectors.records import Lead, LeadUpdate, WriteResult
from connectors.retry import (
    AuthenticationError,
    ConnectorError,
    MissingFieldError,
    PermissionDeniedError,
    RecordNotFoundError,
    RetriesExhaustedError,
    RetrySettings,
)
from connectors.salesforce import SalesforceConnector, SalesforceOptions
from connectors.salesforce_calls import DailyLimitExhaustedError
from sandbox.salesforce import RunningSalesforce, start_salesforce
from sandbox.salesforce.app import ApiUsage
from sandbox.server import FaultPlan, LoggedRequest
from sync.settings import Settings

pytestmark = pytest.mark.e2e

OUTPUT_FIELDS = ("leadq_Score__c", "leadq_Grade__c", "leadq_Scored_At__c")
FAST_RETRY = RetrySettings(max_attempts=8, budget_seconds=60, initial_wait=0.01, max_wait=0.2,
                           jitter=0.01)
SCORED_AT = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
FAULTS = {"rate_limited": 0.10, "server_error": 0.10, "dropped": 0.02, "record_failure": 0.02}


# ---- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def seeded_10000(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 10,000-person org seeded once; every test that needs one starts from a copy."""
    path = tmp_path_factory.mktemp("salesforce") / "org-10000.db"
    with start_salesforce(leads=10_000, seed=7, db_path=path):
        pass
    return path


@contextmanager
def copy_of(seeded: Path) -> Iterator[RunningSalesforce]:
    with tempfile.TemporaryDirectory(prefix="leadq-sf-copy-") as directory:
        path = Path(directory) / "org.db"
        shutil.copyfile(seeded, path)
        with start_salesforce(db_path=path) as running:
            yield running


@pytest.fixture(scope="module")
def big_org(seeded_10000: Path) -> Iterator[RunningSalesforce]:
    with copy_of(seeded_10000) as running:
        yield running


@pytest.fixture(scope="module")
def small_org() -> Iterator[RunningSalesforce]:
    with start_salesforce(leads=300, seed=5) as running:
        yield running


@pytest.fixture
def small(small_org: RunningSalesforce) -> Iterator[RunningSalesforce]:
    """The small org with no faults or levers in force and a fresh log, before and after."""
    emulator = small_org.emulator

    def reset() -> None:
        emulator.faults = FaultPlan()
        emulator.usage = ApiUsage(100_000)
        emulator.api_enabled = True
        emulator.writer.no_edit_access.clear()
        emulator.log.clear()

    reset()
    yield small_org
    reset()


def settings_for(running: RunningSalesforce, login: str = "password", tmp_path: Path | None = None,
                 **overrides: Any) -> Settings:
    credentials: dict[str, Any] = {
        "password": {"salesforce_username": running.username,
                     "salesforce_password": running.password,
                     "salesforce_security_token": running.security_token},
        "client_credentials": {"salesforce_consumer_key": running.consumer_key,
                               "salesforce_consumer_secret": running.consumer_secret,
                               "salesforce_login_url": f"https://{running.my_domain}.salesforce.com"},
        "session": {"salesforce_session_id": running.emulator.open_session(),
                    "salesforce_instance_url": running.instance_url},
    }.get(login, {})
    if login == "jwt":
        assert tmp_path is not None
        key_file = tmp_path / "leadq-jwt.key"
        key_file.write_text(running.jwt_private_key_pem)
        credentials = {"salesforce_username": running.username,
                       "salesforce_consumer_key": running.consumer_key,
                       "salesforce_private_key_file": key_file}
    values = {"crm": "salesforce", "salesforce_rate_limit": 10_000, **credentials, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def connect(running: RunningSalesforce, settings: Settings | None = None,
            extra_fields: tuple[str, ...] = OUTPUT_FIELDS) -> SalesforceConnector:
    return SalesforceConnector.from_settings(
        settings or settings_for(running), session=running.session(), extra_fields=extra_fields,
        retry=FAST_RETRY,
    )


def raw_client(running: RunningSalesforce) -> Salesforce:
    return Salesforce(username=running.username, password=running.password,
                      security_token=running.security_token, session=running.session())


def one_value(running: RunningSalesforce, sql: str, params: tuple[Any, ...] = ()) -> Any:
    row = running.store.read_one(sql, params)
    assert row is not None
    return row[0]


def soql_of(entry: LoggedRequest) -> str:
    match = re.search(r"(?:^|&)q=([^&]*)", entry.query)
    return unquote_plus(match.group(1)) if match else ""


def is_page(entry: LoggedRequest) -> bool:
    """A page of query results: a first page (not a COUNT) or a nextRecordsUrl page."""
    if entry.method != "GET" or "/query" not in entry.path:
        return False
    return "COUNT()" not in soql_of(entry)


def grade(score: float) -> str:
    return "A" if score >= 80 else "B" if score >= 60 else "C" if score >= 40 else "D"


def planned_update(lead: Lead, activities: int, owners: dict[str, str],
                   active_users: list[str]) -> LeadUpdate:
    """What a sync would write: a score from the lead's activity and title, and for queue-owned
    leads an owner (the account's, else one from the pool)."""
    score = float(min(100, activities * 6 + len(lead.title or "")))
    changes: dict[str, Any] = {"leadq_Score__c": score, "leadq_Grade__c": grade(score),
                               "leadq_Scored_At__c": SCORED_AT}
    if lead.kind == "lead" and lead.fields.get("Owner.Type") == "Queue":
        account_owner = owners.get(lead.email_domain or "")
        pool_pick = active_users[zlib.crc32(lead.id.encode()) % len(active_users)]
        changes["OwnerId"] = account_owner if account_owner in active_users else pool_pick
    return LeadUpdate(lead_id=lead.id, kind=lead.kind, changes=changes)


def ids_in(entry: LoggedRequest) -> list[str]:
    return re.findall(r"'(\w{18})'", soql_of(entry))


@dataclass
class SyncRun:
    pulled: list[Lead]
    page_sizes: list[int]
    updates: list[LeadUpdate]
    results: list[WriteResult]


def full_sync(connector: SalesforceConnector) -> SyncRun:
    """Pull every lead and contact page by page with its activities and account owners, plan
    an update for each and write them all."""
    active_users = sorted(o.id for o in connector.list_owners() if o.kind == "person" and o.active)
    pulled: list[Lead] = []
    updates: list[LeadUpdate] = []
    page_sizes = []
    for page in connector.pull_changed(None):
        page_sizes.append(len(page.leads))
        pulled.extend(page.leads)
        per_lead = Counter(a.lead_id for a in connector.pull_activities(page.leads, None))
        owners = connector.account_owners(
            sorted({lead.email_domain for lead in page.leads if lead.email_domain})
        )
        updates.extend(planned_update(lead, per_lead[lead.id], owners, active_users)
                       for lead in page.leads)
    return SyncRun(pulled, page_sizes, updates, connector.write(updates))


def written_state(running: RunningSalesforce, ids: list[str]) -> dict[str, tuple[Any, ...]]:
    state: dict[str, tuple[Any, ...]] = {}
    for table in ("Lead", "Contact"):
        for row in running.store.read(
            f'SELECT "Id", "leadq_Score__c", "leadq_Grade__c", "leadq_Scored_At__c", "OwnerId" '
            f'FROM "{table}"'
        ):
            state[row[0]] = tuple(row[1:])
    return {record_id: state[record_id] for record_id in ids}


def live_people(running: RunningSalesforce) -> tuple[int, int]:
    leads = one_value(running, 'SELECT COUNT(*) FROM "Lead" WHERE "IsDeleted" = 0 AND '
                               '"IsConverted" = 0')
    contacts = one_value(running, 'SELECT COUNT(*) FROM "Contact" WHERE "IsDeleted" = 0')
    return int(leads), int(contacts)


# ---- pulling and writing 10,000 leads ---------------------------------------------------------
def test_a_10000_lead_sync_uses_pages_and_batches_only_within_5_percent_of_the_lower_bound(
    big_org: RunningSalesforce,
) -> None:
    big_org.emulator.log.clear()
    connector = connect(big_org, settings_for(big_org, salesforce_objects=["Lead", "Contact"]))
    run = full_sync(connector)
    log = big_org.emulator.log.entries()

    leads, contacts = live_people(big_org)
    assert len(run.pulled) == leads + contacts == len({lead.id for lead in run.pulled})
    assert all(result.ok for result in run.results)
    assert not [entry.path for entry in log if "/sobjects/" in entry.path]
    pages = [entry for entry in log if is_page(entry)]
    writes = [entry for entry in log if entry.method == "PATCH"]
    assert {entry.path for entry in writes} == {"/services/data/v59.0/composite/sobjects"}
    assert len(writes) == math.ceil(len(run.updates) / 200)
    task_queries = [ids_in(entry) for entry in pages if " FROM Task " in soql_of(entry)]
    per_query = max(map(len, task_queries))
    assert per_query >= 500  # as many ids as fit in a 16 KB URL
    assert sum(map(len, task_queries)) == len(run.pulled)
    assert len(task_queries) == sum(math.ceil(size / per_query) for size in run.page_sizes)
    lower_bound = len(pages) + math.ceil(len(run.updates) / 200)
    assert len(log) <= 1.05 * lower_bound
    assert connector.stats.total_requests == len(log)
    assert set(connector.stats.requests) == {"auth", "query", "query_more", "write"}


def test_a_full_pull_reads_leads_and_contacts_2000_to_a_page(big_org: RunningSalesforce) -> None:
    connector = connect(big_org, settings_for(big_org, salesforce_objects=["Lead", "Contact"]))
    big_org.emulator.log.clear()
    pages = list(connector.pull_changed(None))
    log = big_org.emulator.log.entries()
    leads, contacts = live_people(big_org)

    assert [len(page.leads) for page in pages] == [2000] * ((leads + contacts) // 2000) + [
        (leads + contacts) % 2000]
    assert sum(is_page(entry) for entry in log) == math.ceil(leads / 2000) + math.ceil(
        contacts / 2000)
    assert [soql_of(entry).split(" FROM ")[0] for entry in log if not is_page(entry)] == [
        "SELECT COUNT()", "SELECT COUNT()"]  # deciding between REST and Bulk API


def test_written_scores_and_owners_are_in_the_org_and_each_record_was_written_once(
    big_org: RunningSalesforce,
) -> None:
    connector = connect(big_org)
    lead = next(iter(connector.pull_changed(None))).leads[0]
    update = LeadUpdate(lead_id=lead.id, changes={"leadq_Score__c": 91.5, "leadq_Grade__c": "A",
                                                  "leadq_Scored_At__c": SCORED_AT})
    before = big_org.emulator.writer.applied[lead.id]

    assert connector.write([update]) == [WriteResult(lead_id=lead.id, ok=True)]
    assert written_state(big_org, [lead.id])[lead.id][:3] == (
        91.5, "A", "2026-11-01T09:30:00.000+0000"
    )
    assert big_org.emulator.writer.applied[lead.id] == before + 1


def test_under_injected_faults_every_update_lands_exactly_once_as_in_a_clean_run(
    seeded_10000: Path,
) -> None:
    with copy_of(seeded_10000) as reference, copy_of(seeded_10000) as twin:
        clean = full_sync(connect(reference, settings_for(reference,
                                                          salesforce_objects=["Lead", "Contact"])))
        twin.emulator.faults = FaultPlan(**FAULTS, seed=11)
        twin.emulator.log.clear()
        connector = connect(twin, settings_for(twin, salesforce_objects=["Lead", "Contact"]))
        faulty = full_sync(connector)
        log = twin.emulator.log.entries()
        ids = [update.lead_id for update in clean.updates]

        assert faulty.updates == clean.updates
        assert all(result.ok for result in faulty.results)
        assert written_state(twin, ids) == written_state(reference, ids)
        assert {twin.emulator.writer.applied[record_id] for record_id in ids} == {1}
        faults = Counter(entry.fault for entry in log if entry.fault)
        retries = connector.stats.retries
        assert retries["rate_limited"] == faults["rate_limited"] > 0
        assert retries["server_error"] == faults["server_error"] > 0
        assert retries["connection"] == faults["dropped"] > 0
        assert retries["record_lock"] > 0
        assert connector.stats.total_requests == len(log)


def test_a_full_pull_above_the_bulk_threshold_runs_as_bulk_api_query_jobs(
    big_org: RunningSalesforce,
) -> None:
    rest = [lead for page in connect(big_org).pull_changed(None) for lead in page.leads]
    settings = settings_for(big_org, salesforce_bulk_threshold=5_000)
    connector = connect(big_org, settings)
    big_org.emulator.log.clear()
    pages = list(connector.pull_changed(None))
    log = big_org.emulator.log.entries()

    bulk = [lead for page in pages for lead in page.leads]
    assert sorted(bulk, key=lambda lead: lead.id) == sorted(rest, key=lambda lead: lead.id)
    assert [entry.method for entry in log if "/jobs/query" in entry.path][:1] == ["POST"]
    results = [entry for entry in log if entry.path.endswith("/results")]
    assert len(results) == math.ceil(len(rest) / 10_000)
    assert connector.stats.requests["bulk"] == sum("/jobs/query" in e.path for e in log)
    assert [page.cursor for page in pages[:-1]] == [None] * (len(pages) - 1)
    assert pages[-1].cursor == max(lead.fields["SystemModstamp"] for lead in bulk)


def test_an_incremental_pull_reads_only_what_changed_since_the_cursor_minus_the_overlap(
    big_org: RunningSalesforce,
) -> None:
    connector = connect(big_org)
    cursor = datetime(2026, 10, 31, tzinfo=UTC)
    after = cursor - timedelta(seconds=300)
    expected = one_value(
        big_org, 'SELECT COUNT(*) FROM "Lead" WHERE "IsDeleted" = 0 AND "IsConverted" = 0 AND '
        '"SystemModstamp" > ?', (after.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),),
    )
    big_org.emulator.log.clear()
    pages = list(connector.pull_changed(cursor))

    stamps = [lead.fields["SystemModstamp"] for page in pages for lead in page.leads]
    assert len(stamps) == expected > 0
    assert stamps == sorted(stamps) and min(stamps) > after
    assert [page.cursor for page in pages] == [page.leads[-1].fields["SystemModstamp"]
                                               for page in pages]
    soql = soql_of(big_org.emulator.log.entries()[0])
    assert "WHERE IsConverted = false AND SystemModstamp > 2026-10-30T23:55:00Z ORDER BY " \
           "SystemModstamp, Id" in soql


# ---- what the records hold --------------------------------------------------------------------
def test_leads_carry_their_company_owner_details_and_the_extra_fields(
    small: RunningSalesforce,
) -> None:
    connector = connect(small)
    leads = [lead for page in connector.pull_changed(None) for lead in page.leads]
    lead = next(lead for lead in leads if lead.company and lead.company.employees)
    row = small.store.fetch(small.store.sobject("Lead"), [lead.id])[lead.id]

    assert lead.company is not None
    assert (lead.company.name, lead.company.domain, lead.company.employees) == (
        row["Company"], row["Website"], row["NumberOfEmployees"])
    assert lead.lead_status == row["Status"]
    assert set(OUTPUT_FIELDS) <= set(lead.fields)
    assert lead.fields["Owner.Type"] in ("User", "Queue")
    assert not any(lead.fields["IsConverted"] for lead in leads)


def test_contacts_carry_their_account_as_company(small: RunningSalesforce) -> None:
    connector = connect(small, settings_for(small, salesforce_objects=["Contact"]))
    contacts = [lead for page in connector.pull_changed(None) for lead in page.leads]
    contact = next(lead for lead in contacts if lead.company is not None)
    assert contact.company is not None
    account = small.store.fetch(small.store.sobject("Account"), [contact.company.id])[
        contact.company.id]

    assert {lead.kind for lead in contacts} == {"contact"}
    assert (contact.company.name, contact.company.owner_id) == (account["Name"],
                                                                account["OwnerId"])


def test_activities_come_in_batches_and_map_to_leadq_types(small: RunningSalesforce) -> None:
    connector = connect(small, settings_for(small, salesforce_objects=["Lead", "Contact"]))
    people = [lead for page in connector.pull_changed(None) for lead in page.leads]
    small.emulator.log.clear()
    activities = connector.pull_activities(people, None)
    types = Counter(activity.type for activity in activities)
    pulled = ('"WhoId" IN (SELECT "Id" FROM "Lead" WHERE "IsConverted" = 0) OR '
              '"WhoId" IN (SELECT "Id" FROM "Contact")')
    tasks = one_value(small, f'SELECT COUNT(*) FROM "Task" WHERE {pulled}')

    assert len(small.emulator.log.entries()) == 4  # Task, Event, and members of leads / contacts
    assert types["call"] + types["email_reply"] + types["email_sent"] == tasks
    assert types["meeting_booked"] == one_value(small, f'SELECT COUNT(*) FROM "Event" WHERE {pulled}')
    assert {"email_open", "form_submission", "webinar_registered"} <= set(types)
    assert "page_view" not in types


def test_activities_after_a_date_leave_older_ones_out(small: RunningSalesforce) -> None:
    connector = connect(small)
    people = [lead for page in connector.pull_changed(None) for lead in page.leads]
    since = datetime(2026, 9, 1, tzinfo=UTC)
    recent = connector.pull_activities(people, since)
    every = connector.pull_activities(people, None)

    assert recent
    assert all(activity.occurred_at > since for activity in recent)
    assert len(recent) < len(every)


def test_read_leads_returns_the_named_leads_in_order_and_leaves_unknown_ones_out(
    small: RunningSalesforce,
) -> None:
    connector = connect(small)
    leads = next(iter(connector.pull_changed(None))).leads
    wanted = [leads[7].id, "00Q5g00000ZZZZZAAA", leads[2].id]
    found = connector.read_leads(wanted)

    assert [lead.id for lead in found] == [leads[7].id, leads[2].id]


def test_owners_are_users_with_their_active_flag_and_the_queues(small: RunningSalesforce) -> None:
    owners = connect(small).list_owners()
    users = one_value(small, 'SELECT COUNT(*) FROM "User" WHERE "UserType" = \'Standard\'')

    assert Counter(owner.kind for owner in owners) == {"person": users, "queue": 1}
    assert any(not owner.active for owner in owners)


def test_account_owners_match_domains_however_the_website_is_written(
    small: RunningSalesforce,
) -> None:
    account = small.store.sobject("Account")
    row = small.store.read_one('SELECT "Id", "Website", "OwnerId" FROM "Account" '
                               'WHERE "Website" IS NOT NULL ORDER BY "Id" LIMIT 1')
    assert row is not None
    account_id, domain, owner_id = row
    small.store.update(account, account_id, {"Website": f"HTTPS://www.{domain.upper()}/about"})
    owners = connect(small).account_owners([domain, "gmail.com", f"www.{domain}"])

    assert owners == {domain: owner_id}


def test_outcomes_are_conversions_and_won_opportunities(small: RunningSalesforce) -> None:
    connector = connect(small, settings_for(small, salesforce_objects=["Lead", "Contact"]))
    outcomes = list(connector.pull_outcomes(None))
    converted = one_value(small, 'SELECT COUNT(*) FROM "Lead" WHERE "IsConverted" = 1')
    won_contacts = one_value(small, 'SELECT COUNT(DISTINCT "ContactId") FROM "Opportunity" '
                                    'WHERE "IsWon" = 1 AND "ContactId" IS NOT NULL')
    leads, contacts = one_value(small, 'SELECT COUNT(*) FROM "Lead"'), one_value(
        small, 'SELECT COUNT(*) FROM "Contact"')

    assert len(outcomes) == leads + contacts
    assert sum(o.converted for o in outcomes if o.lead_id.startswith("00Q")) == converted
    assert sum(o.converted for o in outcomes if o.lead_id.startswith("003")) == won_contacts
    assert all(o.at is not None for o in outcomes if o.converted)


# ---- writes: the assignment rule, per-record errors ------------------------------------------
def active_user_ids(running: RunningSalesforce) -> list[str]:
    return [row[0] for row in running.store.read(
        'SELECT "Id" FROM "User" WHERE "IsActive" = 1 AND "UserType" = \'Standard\' ORDER BY "Id"'
    )]


def user_owned_lead_ids(running: RunningSalesforce, count: int) -> list[str]:
    return [row[0] for row in running.store.read(
        'SELECT "Id" FROM "Lead" WHERE "IsConverted" = 0 AND "IsDeleted" = 0 AND '
        '"OwnerId" LIKE \'005%\' ORDER BY "Id" LIMIT ?', (count,)
    )]


def owner_of(running: RunningSalesforce, lead_id: str) -> str:
    return str(one_value(running, 'SELECT "OwnerId" FROM "Lead" WHERE "Id" = ?', (lead_id,)))


def test_writes_send_auto_assign_false_so_the_assignment_rule_leaves_owners_alone(
    small: RunningSalesforce,
) -> None:
    rule = small.emulator.writer.assignment_rule
    assert rule is not None
    queue = rule.owner_ids[0]
    scored, routed, control = user_owned_lead_ids(small, 3)
    kept_owner = owner_of(small, scored)
    new_owner = next(user for user in active_user_ids(small) if user != owner_of(small, routed))

    results = connect(small).write([
        LeadUpdate(lead_id=scored, changes={"leadq_Score__c": 12.0}),
        LeadUpdate(lead_id=routed, changes={"leadq_Score__c": 80.0, "OwnerId": new_owner}),
    ])
    raw_client(small).Lead.update(control, {"leadq_Score__c": 1})

    assert all(result.ok for result in results)
    assert owner_of(small, scored) == kept_owner
    assert owner_of(small, routed) == new_owner
    assert owner_of(small, control) == queue  # what the rule does without the header


def test_permanent_record_errors_come_back_as_one_line_results_and_the_rest_is_written(
    small: RunningSalesforce,
) -> None:
    converted = str(one_value(small, 'SELECT "Id" FROM "Lead" WHERE "IsConverted" = 1 LIMIT 1'))
    deleted, inactive_target, fine = user_owned_lead_ids(small, 3)
    small.store.update(small.store.sobject("Lead"), deleted, {"IsDeleted": 1})
    inactive_user = str(one_value(small, 'SELECT "Id" FROM "User" WHERE "IsActive" = 0'))

    results = connect(small).write([
        LeadUpdate(lead_id=converted, changes={"leadq_Score__c": 5.0}),
        LeadUpdate(lead_id=deleted, changes={"leadq_Score__c": 5.0}),
        LeadUpdate(lead_id=inactive_target, changes={"OwnerId": inactive_user}),
        LeadUpdate(lead_id=fine, changes={"leadq_Score__c": 5.0}),
    ])

    assert [result.error for result in results] == [
        f"Lead {converted} was converted; Salesforce keeps converted leads read-only, so leadq "
        "leaves it alone",
        f"Lead {deleted} was deleted in Salesforce; nothing was written",
        f"Lead {inactive_target}: the owner leadq chose is an inactive Salesforce user; "
        "reactivate the user or take them out of the routing pool",
        None,
    ]
    assert [result.transient for result in results] == [False] * 4
    assert one_value(small, 'SELECT "leadq_Score__c" FROM "Lead" WHERE "Id" = ?', (fine,)) == 5.0


def test_a_record_the_integration_user_may_not_edit_is_reported_with_what_to_grant(
    small: RunningSalesforce,
) -> None:
    small.emulator.writer.no_edit_access.add("Lead")
    (lead_id,) = user_owned_lead_ids(small, 1)
    (result,) = connect(small).write([LeadUpdate(lead_id=lead_id, changes={"leadq_Score__c": 1})])

    assert result == WriteResult(
        lead_id=lead_id, ok=False,
        error=f"Lead {lead_id}: the integration user may not edit this record; give it edit "
        "access to Lead (profile, permission set or sharing)",
    )


def test_records_that_stay_locked_are_reported_as_transient(small: RunningSalesforce) -> None:
    small.emulator.faults = FaultPlan(record_failure=1.0)
    (lead_id,) = user_owned_lead_ids(small, 1)
    connector = connect(small)
    (result,) = connector.write([LeadUpdate(lead_id=lead_id, changes={"leadq_Score__c": 1})])

    assert result == WriteResult(
        lead_id=lead_id, ok=False, transient=True,
        error=f"Lead {lead_id} stayed locked by another Salesforce process through every retry; "
        "the next run writes it",
    )
    assert connector.stats.requests["write"] == FAST_RETRY.max_attempts
    assert connector.stats.retries["record_lock"] == FAST_RETRY.max_attempts - 1


# ---- logins and sessions ----------------------------------------------------------------------
@pytest.mark.parametrize("login", ["password", "jwt", "client_credentials"])
def test_an_expired_session_is_renewed_by_logging_in_again(
    small: RunningSalesforce, login: str, tmp_path: Path
) -> None:
    connector = connect(small, settings_for(small, login, tmp_path))
    connector.list_owners()
    small.emulator.expire_sessions()
    owners = connector.list_owners()

    assert owners
    assert connector.stats.requests["auth"] == 2
    assert connector.stats.retries["session_expired"] == 1
    assert small.emulator.log.count(status=401) == 1


def test_an_expired_session_id_is_renewed_with_the_password_when_one_is_set(
    small: RunningSalesforce,
) -> None:
    settings = settings_for(small, "session", salesforce_username=small.username,
                            salesforce_password=small.password,
                            salesforce_security_token=small.security_token)
    connector = connect(small, settings)
    small.emulator.expire_sessions()

    assert connector.list_owners()
    assert connector.stats.requests["auth"] == 1


def test_an_expired_session_id_without_credentials_names_the_variables_to_set(
    small: RunningSalesforce,
) -> None:
    connector = connect(small, settings_for(small, "session"))
    small.emulator.expire_sessions()

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
    small: RunningSalesforce,
) -> None:
    client = Salesforce(session_id=small.emulator.open_session(), instance_url=small.instance_url,
                        session=small.session())
    options = SalesforceOptions(objects=("Lead", "Contact"), page_size=200)
    connector = SalesforceConnector(client, options=options)
    pages = list(connector.pull_changed(None))
    small.emulator.expire_sessions()

    assert {lead.kind for page in pages for lead in page.leads} == {"lead", "contact"}
    assert [len(page.leads) for page in pages][:-1] == [200] * (len(pages) - 1)
    assert len(pages) > 1
    with pytest.raises(AuthenticationError, match=r"^Salesforce rejected the session"):
        connector.list_owners()


def test_a_wrong_password_names_the_variables_to_check(small: RunningSalesforce) -> None:
    settings = settings_for(small, salesforce_password="not-the-password")
    with pytest.raises(AuthenticationError) as raised:
        connect(small, settings)
    assert str(raised.value) == (
        "Salesforce refused the password login (INVALID_LOGIN: Invalid username, password, "
        "security token; or user locked out.). Check LEADQ_SALESFORCE_USERNAME, "
        "LEADQ_SALESFORCE_PASSWORD and LEADQ_SALESFORCE_SECURITY_TOKEN (resetting the password "
        "e-mails a new token), and LEADQ_SALESFORCE_LOGIN_URL (https://test.salesforce.com for a "
        "sandbox org)."
    )
    assert small.username not in str(raised.value)


def test_a_wrong_consumer_secret_names_the_variables_to_check(small: RunningSalesforce) -> None:
    settings = settings_for(small, "client_credentials", salesforce_consumer_secret="wrong")
    with pytest.raises(AuthenticationError) as raised:
        connect(small, settings)
    assert str(raised.value) == (
        "Salesforce refused the client-credentials login (invalid_client: invalid client "
        "credentials). Check LEADQ_SALESFORCE_CONSUMER_KEY, LEADQ_SALESFORCE_CONSUMER_SECRET and "
        "LEADQ_SALESFORCE_LOGIN_URL (your My Domain, https://yourcompany.my.salesforce.com); the "
        "connected app needs the client credentials flow enabled with a Run As user."
    )


def test_a_jwt_for_an_unknown_user_names_the_variables_to_check(
    small: RunningSalesforce, tmp_path: Path
) -> None:
    settings = settings_for(small, "jwt", tmp_path, salesforce_username="someone@else.example")
    with pytest.raises(AuthenticationError) as raised:
        connect(small, settings)
    assert str(raised.value) == (
        "Salesforce refused the JWT bearer login (invalid_grant: user hasn't approved this "
        "consumer). Check LEADQ_SALESFORCE_CONSUMER_KEY (the connected app's consumer key), "
        "LEADQ_SALESFORCE_PRIVATE_KEY_FILE (its certificate must be the one uploaded to the "
        "connected app), LEADQ_SALESFORCE_USERNAME (a user pre-authorised for the app) and "
        "LEADQ_SALESFORCE_LOGIN_URL."
    )


# ---- limits, permissions, fields --------------------------------------------------------------
def test_a_used_up_daily_limit_says_when_requests_free_up(small: RunningSalesforce) -> None:
    connector = connect(small)
    connector.list_owners()
    used = small.emulator.usage.used
    small.emulator.usage = ApiUsage(used)
    small.emulator.usage.used = used  # nothing left for today

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


def test_a_refusal_that_never_ends_gives_up_within_the_budget(small: RunningSalesforce) -> None:
    small.emulator.faults = FaultPlan(rate_limited=1.0)
    connector = connect(small)
    with pytest.raises(RetriesExhaustedError) as raised:
        connector.list_owners()

    assert str(raised.value) == (
        "the CRM kept failing (Salesforce refused the request for now (REQUEST_LIMIT_EXCEEDED: "
        "TotalRequests Limit exceeded., api usage "
        f"{small.emulator.usage.used:,}/100,000)); gave up after 8 attempts or 60 s. Try again "
        "later; nothing was lost."
    )
    assert connector.stats.retries["rate_limited"] == 7


def test_an_api_version_salesforce_does_not_serve_is_named(small: RunningSalesforce) -> None:
    connector = connect(small, settings_for(small, salesforce_api_version="5.0"))
    with pytest.raises(RecordNotFoundError) as raised:
        connector.list_owners()
    assert str(raised.value) == (
        "Salesforce answered NOT_FOUND for query: check LEADQ_SALESFORCE_API_VERSION and "
        "LEADQ_SALESFORCE_INSTANCE_URL"
    )


def test_a_server_certificate_that_is_not_trusted_names_the_ca_setting(
    small: RunningSalesforce,
) -> None:
    untrusting = requests.Session()
    untrusting.trust_env = False  # verify against the public CAs only, not the sandbox's
    connector = SalesforceConnector.from_settings(settings_for(small, "session"), untrusting)
    with pytest.raises(ConnectorError) as raised:
        connector.list_owners()
    assert str(raised.value) == (
        "the Salesforce server's TLS certificate is not trusted: check "
        "LEADQ_SALESFORCE_INSTANCE_URL and LEADQ_SALESFORCE_CA_BUNDLE"
    )


def test_a_user_without_api_access_is_told_what_to_grant(small: RunningSalesforce) -> None:
    connector = connect(small)
    small.emulator.api_enabled = False
    with pytest.raises(PermissionDeniedError) as raised:
        connector.list_owners()
    assert str(raised.value) == (
        "Salesforce refused access (API_CURRENTLY_DISABLED: API is disabled for this User): give "
        "the integration user's profile or permission set 'API Enabled' and read access to Lead, "
        "Contact, Account, Task, Event, Campaign, CampaignMember, Opportunity, User and Group "
        "(edit on Lead and Contact)"
    )


def test_an_unknown_custom_field_in_the_model_is_a_missing_field_error(
    small: RunningSalesforce,
) -> None:
    connector = connect(small, extra_fields=("Buying_Stage__c",))
    with pytest.raises(MissingFieldError) as raised:
        list(connector.pull_changed(None))
    assert str(raised.value) == (
        "Salesforce has no field Buying_Stage__c on Lead that leadq may use: create it (README, "
        "'Salesforce: the fields an admin creates') or give the integration user access to it "
        "(field-level security), or remove it from the scoring model"
    )


OUTPUTS = [
    OutputField("leadq_score", "leadq score", "number"),
    OutputField("leadq_grade", "leadq grade", "string"),
    OutputField("leadq_reasons", "leadq reasons", "string"),
]


def test_writing_a_field_salesforce_does_not_have_fails_that_record_with_what_to_create(
    small: RunningSalesforce,
) -> None:
    unknown, fine = user_owned_lead_ids(small, 2)
    results = connect(small).write([
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


def test_ensure_fields_confirms_fields_that_exist(small: RunningSalesforce) -> None:
    connector = connect(small, settings_for(small, salesforce_objects=["Lead", "Contact"]))
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
        connector = connect(running, extra_fields=())
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
