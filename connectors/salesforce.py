"""leadq's Salesforce connector, through simple-salesforce.

- **Leads** (and, when configured, **Contacts** with their Account) are pulled incrementally on
  `SystemModstamp`, to the millisecond (`WHERE SystemModstamp >= cursor − overlap ORDER BY
  SystemModstamp, Id`, the people already handled at their stamp dropped) in
  pages of up to 2,000 (`Sforce-Query-Options: batchSize`), Leads and Contacts merged in stamp
  order so every page's cursor is safe to resume from. Converted Leads are left out: Salesforce
  keeps them read-only. Backtest and learn read them too (`pull_history`), with their outcomes.
  For backtest and learn, `field_history` reads LeadHistory / ContactHistory (salesforce_history).
  A full pull of more records than the bulk threshold (one `COUNT()` per object decides) runs
  as Bulk API 2.0 query jobs instead.
- **Activities** come from Tasks, Events and CampaignMembers queried for many people at once
  (`WhoId IN (…)`, `LeadId IN (…)`), the id lists cut so every URL stays under 16 KB; see
  salesforce_records.py for the mapping and what Salesforce cannot give.
- **Owners** are active and inactive Users plus queues; **accounts** are matched to e-mail or
  website domains through Account.Website; **outcomes** are Lead conversions (ConvertedDate)
  and, for Contacts, won Opportunities (CloseDate) through contact roles, the Opportunity's
  ContactId, or else its Account (salesforce_outcomes.py).
- **Writes** go through sObject Collections with `Sforce-Auto-Assign: FALSE`
  (salesforce_writes.py). **Custom fields** are checked by describe.

Every request runs through `SalesforceCalls` (salesforce_calls.py): the shared rate limiter and
retry policy, one translation of errors, re-login on an expired session, and a count by kind in
`stats`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests
from simple_salesforce import Salesforce

from connectors.base import (
    ChangeWindow,
    CrmKind,
    FieldsReport,
    LeadPage,
    OutputField,
    RecordedActivities,
    RoutingReads,
    SchemaCache,
)
from connectors.field_times import FieldTimes
from connectors.records import (
    Activity,
    Lead,
    LeadUpdate,
    Outcome,
    Owner,
    WriteResult,
)
from connectors.retry import (
    CallPolicy,
    PermissionDeniedError,
    RequestStats,
    RetrySettings,
    RollingWindowLimiter,
)
from connectors.salesforce_bulk import BulkQuery, BulkSettings
from connectors.salesforce_calls import DEFAULT_TIMEOUT, SalesforceCalls, logged_in_client
from connectors.salesforce_composite import CompositeQueries
from connectors.salesforce_config import DEFAULT_API_VERSION, SalesforceConfig
from connectors.salesforce_history import fields_of, fold_history, history_query, people_by_object
from connectors.salesforce_kept_session import KeptSessions, SessionCache
from connectors.salesforce_login import Login, config_logins
from connectors.salesforce_outcomes import SalesforceOutcomes
from connectors.salesforce_records import (
    EVENT_FIELDS,
    MEMBER_FIELDS,
    PERSON_FIELDS,
    TASK_FIELDS,
    FieldKind,
    Row,
    dedupe,
    event_activity,
    flatten,
    is_record_id,
    member_activities,
    person_field_activities,
    person_from_row,
    queue_owner,
    salesforce_field_name,
    sobject_of,
    task_activity,
    typed,
    typed_row,
    user_owner,
    website_domain,
)
from connectors.salesforce_soql import (
    MAX_URI_LENGTH,
    contains_pattern,
    datetime_literal,
    encoded_length,
    string_literal,
    where,
    within_uri,
)
from connectors.salesforce_tasks import SalesforceTasks
from connectors.salesforce_writes import COLLECTION_LIMIT, CollectionWriter, FieldCheck

MAX_PAGE = 2000
MIN_PAGE = 200
RATE_WINDOW_SECONDS = 10.0
USERS_SOQL = (
    "SELECT Id, Name, Email, IsActive, Department FROM User WHERE UserType = 'Standard' ORDER BY Id"
)
QUEUES_SOQL = "SELECT Id, Name, Email FROM Group WHERE Type = 'Queue' ORDER BY Id"
DESCRIBE_KINDS: dict[str, FieldKind] = {
    "boolean": "bool", "int": "int", "double": "float", "currency": "float", "percent": "float",
    "datetime": "datetime", "date": "date",
}


@dataclass(frozen=True)
class SalesforceOptions:
    """What to read and how. `extra_fields` (custom fields the model mentions, leadq's output
    fields) are read into `Lead.fields` from every object in `objects`."""

    objects: tuple[str, ...] = ("Lead",)
    extra_fields: tuple[str, ...] = ()
    page_size: int = MAX_PAGE
    bulk_threshold: int = 50_000
    overlap: timedelta = timedelta(seconds=300)
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    bulk: BulkSettings = field(default_factory=BulkSettings)
    max_uri_length: int = MAX_URI_LENGTH

    def __post_init__(self) -> None:
        unknown = set(self.objects) - set(PERSON_FIELDS)
        if unknown or not self.objects:
            raise ValueError(f"objects must be Lead and/or Contact, not {sorted(unknown)}")
        object.__setattr__(self, "page_size", max(MIN_PAGE, min(MAX_PAGE, self.page_size)))


def default_policy(
    requests_per_10_seconds: int = 100, retry: RetrySettings | None = None
) -> CallPolicy:
    limiter = RollingWindowLimiter(requests_per_10_seconds, RATE_WINDOW_SECONDS)
    return CallPolicy({"default": limiter}, retry or RetrySettings(), RequestStats())


def config_session(config: SalesforceConfig) -> requests.Session:
    session = requests.Session()
    if config.ca_bundle:
        # with trust_env on, REQUESTS_CA_BUNDLE from the environment would override `verify`
        session.trust_env = False
        session.verify = str(config.ca_bundle)
    return session


def config_options(config: SalesforceConfig, extra_fields: Sequence[str] = ()) -> SalesforceOptions:
    return SalesforceOptions(
        objects=tuple(config.objects),
        extra_fields=tuple(extra_fields),
        page_size=config.page_size or MAX_PAGE,
        bulk_threshold=config.bulk_threshold,
        overlap=timedelta(seconds=config.overlap_seconds),
    )


class SalesforceConnector:
    crm: CrmKind = "salesforce"
    write_batch_size = COLLECTION_LIMIT
    # Lead and Case take queues as owners; Contact (and Account, Opportunity) owners are Users
    queue_kinds: frozenset[str] = frozenset({"lead"})

    @property
    def cursor_scope(self) -> tuple[str, ...]:
        """The objects synced: Contacts added to a Lead sync have no cursor of their own yet."""
        return self.options.objects

    @property
    def window_read_limit(self) -> int:
        """Known changes behind the cursor as cheap to read as to count: a count is one query
        per synced object, and so is a read of at most a page (sync/cursor_edge.py)."""
        return self.options.page_size

    # custom fields carry `__c` and title-cased words: leadq_model_version → leadq_Model_Version__c
    field_name = staticmethod(salesforce_field_name)

    def __init__(
        self,
        client: Salesforce,
        *,
        options: SalesforceOptions | None = None,
        policy: CallPolicy | None = None,
        logins: Sequence[Login] = (),
    ) -> None:
        """`client` is a logged-in simple-salesforce client; `logins`, when given, let the
        connector log in again once its session expires."""
        self.options = options or SalesforceOptions()
        self.calls = SalesforceCalls(client, policy or default_policy(), logins,
                                     self.options.timeout)
        self.stats: RequestStats = self.calls.policy.stats
        self.learned: dict[str, bool] = {}
        self.bulk = BulkQuery(self.calls, self.options.bulk)
        self.composite = CompositeQueries(self.calls, self.options.page_size)
        self.writer = CollectionWriter(self.calls)
        self.fields_check = FieldCheck(self.calls, self.options.objects)
        self.tasks = SalesforceTasks(self.calls, self.query_rows, self.id_queries)
        self.outcomes = SalesforceOutcomes(self.query_rows, self.id_queries,
                                           self.options.objects)

    @classmethod
    def connect(
        cls,
        logins: Sequence[Login],
        session: requests.Session,
        *,
        options: SalesforceOptions | None = None,
        policy: CallPolicy | None = None,
        version: str = DEFAULT_API_VERSION,
        kept_sessions: SessionCache | None = None,
    ) -> SalesforceConnector:
        """Connect with the session `kept_sessions` holds for the first of `logins`, else log in
        with it (counted as an "auth" request)."""
        policy = policy or default_policy()
        kept = KeptSessions.of(logins[0], kept_sessions) if kept_sessions else None
        restored = kept.read() if kept else None
        if restored is not None:
            session_id, instance = restored
            client = Salesforce(session_id=session_id, instance=instance, session=session,
                                version=version)
        else:
            client = logged_in_client(logins, session, policy, version)
        connector = cls(client, options=options, policy=policy, logins=logins)
        if restored is None and logins[0].can_log_in:
            connector.calls.remember_login(client.session_id, client.sf_instance)
        if kept is not None:
            connector.calls.keep_sessions(kept)
        return connector

    @classmethod
    def from_config(
        cls,
        config: SalesforceConfig,
        session: requests.Session | None = None,
        *,
        extra_fields: Sequence[str] = (),
        retry: RetrySettings | None = None,
        kept_sessions: SessionCache | None = None,
    ) -> SalesforceConnector:
        """Log in as the config says (session id, JWT, client credentials or password), or
        connect with the session an earlier run kept for that login."""
        return cls.connect(
            config_logins(config),
            session or config_session(config),
            options=config_options(config, extra_fields),
            policy=default_policy(config.rate_limit, retry),
            version=config.api_version,
            kept_sessions=kept_sessions,
        )

    @property
    def client(self) -> Salesforce:
        return self.calls.client

    # ---- leads ------------------------------------------------------------------------------
    def pull_changed(self, window: ChangeWindow | datetime | None) -> Iterator[LeadPage]:
        """Leads (and Contacts) changed in the window (− the overlap unless it says not), to the
        millisecond, oldest first, in pages whose cursor is safe to resume from; people the
        window knows at their SystemModstamp are left out. A full pull above the bulk
        threshold runs through Bulk API 2.0: its pages come unordered, so each carries the
        cursor it started from (None) and only the last one the newest stamp seen."""
        window = ChangeWindow.of(window)
        if window.since is None and self.total_people() > self.options.bulk_threshold:
            yield from self.bulk_pages()
            return
        after = window.lower(self.options.overlap)
        streams = [self.ordered_people(sobject, after, window.until)
                   for sobject in self.options.objects]
        merged = heapq.merge(*streams, key=lambda lead: (stamp(lead), lead.id))
        # known people are dropped before paging: the few new changes behind a window of known
        # ones make one page (one set of activity queries and writes), not one per query page
        fresh = (lead for lead in merged if window.is_new(lead.id, stamp(lead)))
        for chunk in chunked(fresh, self.options.page_size):
            yield LeadPage(chunk, cursor=stamp(chunk[-1]))

    @staticmethod
    def stamp_of(lead: Lead) -> datetime | None:
        return lead.fields.get("SystemModstamp")

    def changed_since(self, since: datetime) -> Iterator[tuple[str, datetime]]:
        streams = [
            self.query_rows(
                f"SELECT Id, SystemModstamp FROM {sobject}"
                + where([*live_people(sobject), f"SystemModstamp >= {datetime_literal(since)}"])
                + " ORDER BY SystemModstamp, Id",
                "query",
            )
            for sobject in self.options.objects
        ]
        for row in heapq.merge(*streams, key=lambda row: (row["SystemModstamp"], row["Id"])):
            yield row["Id"], row["SystemModstamp"]

    def count_changed(self, lower: datetime, upper: datetime) -> int:
        window = [f"SystemModstamp >= {datetime_literal(lower)}",
                  f"SystemModstamp < {datetime_literal(upper)}"]
        return sum(
            self.calls.count(f"SELECT COUNT() FROM {sobject}"
                             + where([*live_people(sobject), *window]))
            for sobject in self.options.objects
        )

    def read_leads(self, ids: Sequence[str]) -> list[Lead]:
        """The named Leads / Contacts (converted Leads and unknown ids left out), in the order
        asked, read with `Id IN (…)` queries."""
        found: dict[str, Lead] = {}
        for sobject in self.options.objects:
            wanted = [record_id for record_id in dict.fromkeys(ids)
                      if is_record_id(record_id) and sobject_of(record_id) == sobject]
            conditions = live_people(sobject)
            for soql in self.id_queries(
                lambda id_text, s=sobject, c=conditions: self.people_soql(
                    s, [f"Id IN ({id_text})", *c]
                ),
                wanted,
            ):
                for lead in self.query_people(sobject, soql, kind="read"):
                    found[lead.id] = lead
        by_15 = {record_id[:15]: lead for record_id, lead in found.items()}
        return [lead for record_id in ids if (lead := by_15.get(record_id[:15])) is not None]

    def total_people(self) -> int:
        return sum(
            self.calls.count(f"SELECT COUNT() FROM {sobject}" + where(live_people(sobject)))
            for sobject in self.options.objects
        )

    def ordered_people(
        self, sobject: str, after: datetime | None, until: datetime | None = None
    ) -> Iterator[Lead]:
        conditions = live_people(sobject)
        if after is not None:
            conditions.append(f"SystemModstamp >= {datetime_literal(after)}")
        if until is not None:
            conditions.append(f"SystemModstamp < {datetime_literal(until)}")
        soql = self.people_soql(sobject, conditions) + " ORDER BY SystemModstamp, Id"
        yield from self.query_people(sobject, soql, kind="query")

    def query_people(self, sobject: str, soql: str, kind: str) -> Iterator[Lead]:
        kinds = self.field_kinds(sobject)
        for records in self.calls.query_pages(soql, kind, self.options.page_size):
            for record in records:
                yield person_from_row(sobject, typed_row(flatten(record), kinds))

    def people_soql(self, sobject: str, conditions: Sequence[str]) -> str:
        return f"SELECT {', '.join(self.field_kinds(sobject))} FROM {sobject}" + where(conditions)

    def field_kinds(self, sobject: str, described: bool = False) -> dict[str, FieldKind]:
        """The fields read from `sobject` and their kinds; the extra fields' kinds come from
        describe only when `described` (Bulk CSV answers carry no types)."""
        base = PERSON_FIELDS[sobject]
        kinds: dict[str, FieldKind] = dict(base)
        entries = self.fields_check.describe(sobject) if described else {}
        for name in dedupe(self.options.extra_fields, list(base)):
            entry = entries.get(name.lower(), {})
            kinds[name] = DESCRIBE_KINDS.get(str(entry.get("type")), "text" if entry else "auto")
        return kinds

    def bulk_pages(self) -> Iterator[LeadPage]:
        newest: datetime | None = None
        pending: list[Lead] | None = None
        for sobject in self.options.objects:
            kinds = self.field_kinds(sobject, described=bool(self.options.extra_fields))
            soql = self.people_soql(sobject, live_people(sobject))
            for rows in self.bulk.pages(soql):
                people = [person_from_row(sobject, typed_row(row, kinds)) for row in rows]
                for chunk in chunked(people, self.options.page_size):
                    chunk_newest = max(map(stamp, chunk))
                    newest = chunk_newest if newest is None else max(newest, chunk_newest)
                    if pending is not None:
                        yield LeadPage(pending, cursor=None)
                    pending = chunk
        if pending is not None:
            yield LeadPage(pending, cursor=newest)

    # ---- activities -------------------------------------------------------------------------
    def pull_activities(self, leads: Sequence[Lead], since: datetime | None) -> list[Activity]:
        """Tasks, Events and CampaignMembers of these people (plus unsubscribes and bounces
        from their own fields), after `since` if given, oldest first per person."""
        activities = [
            *self.recorded_activities(leads, since),
            *(item for lead in leads for item in person_field_activities(lead)),
        ]
        kept = [item for item in activities if since is None or item.occurred_at > since]
        return sorted(kept, key=lambda item: (item.lead_id, item.occurred_at, item.type))

    def pull_recorded_activities(
        self, leads: Sequence[Lead], recorded_since: datetime | None, horizon: datetime
    ) -> RecordedActivities:
        """Tasks, Events and CampaignMembers changed since `recorded_since` (all when None);
        unsubscribes and bounces, from the people's own fields, are derived."""
        return RecordedActivities(
            [a for a in self.recorded_activities(leads, recorded_since) if a.occurred_at > horizon],
            [
                item
                for lead in leads
                for item in person_field_activities(lead)
                if item.occurred_at > horizon
            ],
        )

    def recorded_activities(
        self, leads: Sequence[Lead], changed_since: datetime | None
    ) -> list[Activity]:
        """The Tasks, Events and CampaignMembers of these people changed since `changed_since`
        (SystemModstamp), as activities, for many people per query."""
        wanted = {lead.id for lead in leads}
        converted_into = self.converted_contacts(leads)
        people = [lead.id for lead in leads] + list(converted_into)
        lead_ids = [lead.id for lead in leads if lead.kind == "lead"]
        contact_ids = [lead.id for lead in leads if lead.kind == "contact"] + list(converted_into)
        activities: list[Activity] = []
        changed = (
            f" AND SystemModstamp > {datetime_literal(changed_since)}" if changed_since else ""
        )
        # Tasks and Events older than a year are archived: only queryAll returns them (REST API
        # guide, resources_queryall), so they are read there, deleted ones left out by IsDeleted
        live = " AND IsDeleted = false"
        queries: list[tuple[str, list[str], Any, bool]] = [
            (f"SELECT {', '.join(TASK_FIELDS)} FROM Task WHERE WhoId IN ({{}}){live}", people,
             lambda row: [task_activity(row)], True),
            (f"SELECT {', '.join(EVENT_FIELDS)} FROM Event WHERE WhoId IN ({{}}){live}", people,
             lambda row: [event_activity(row)], True),
            (f"SELECT {', '.join(MEMBER_FIELDS)} FROM CampaignMember WHERE LeadId IN ({{}})",
             lead_ids, member_activities, False),
            (f"SELECT {', '.join(MEMBER_FIELDS)} FROM CampaignMember WHERE ContactId IN ({{}})",
             contact_ids, member_activities, False),
        ]
        for template, ids, to_activities, archived_too in queries:
            for soql in self.id_queries(lambda text, t=template: t.format(text) + changed, ids):
                for row in self.query_rows(soql, "query", query_all=archived_too):
                    activities.extend(item for item in to_activities(row) if item is not None)
        activities = [
            item.model_copy(update={"lead_id": converted_into[item.lead_id]})
            if item.lead_id in converted_into else item
            for item in activities
        ]
        return [activity for activity in activities if activity.lead_id in wanted]

    def converted_contacts(self, leads: Sequence[Lead]) -> dict[str, str]:
        """{Contact id: Lead id} for the converted Leads among `leads`: conversion moves a
        Lead's Tasks, Events and campaign memberships to the Contact it became (see
        sandbox/salesforce/seed.py), so that is where a converted Lead's history is read.
        Syncs never hold converted Leads: this costs them no request."""
        converted = [lead.id for lead in leads if lead.kind == "lead" and lead.fields.get(
            "IsConverted")]
        if self.outcomes.conversions is not None:  # read as this history read started
            contact_of = self.outcomes.conversions.contact_of
            return {contact_of[lead_id]: lead_id for lead_id in converted if lead_id in contact_of}
        soql = "SELECT Id, ConvertedContactId FROM Lead WHERE Id IN ({})"
        return {
            row["ConvertedContactId"]: row["Id"]
            for text in self.id_queries(soql.format, converted)
            for row in self.query_rows(text, "query")
            if row.get("ConvertedContactId")
        }

    # ---- owners, accounts, outcomes ---------------------------------------------------------
    def list_owners(self) -> list[Owner]:
        users = self.query_rows(USERS_SOQL, "query")
        queues = self.query_rows(QUEUES_SOQL, "query")
        return [*map(user_owner, users), *map(queue_owner, queues)]

    def account_owners(self, domains: Sequence[str]) -> dict[str, str]:
        """E-mail or website domain → the OwnerId of the Account whose Website is on it (the
        oldest such Account with an active owner, else the oldest)."""
        wanted, queries = self.account_queries(domains)
        rows = (row for soql in queries for row in self.query_rows(soql, "query"))
        return chosen_account_owners(wanted, rows)

    def routing_reads(self, domains: Sequence[str]) -> RoutingReads:
        """`list_owners` and `account_owners(domains)` in one Composite request (the User,
        queue and Account queries together, five to a request), one API call instead of three."""
        wanted, queries = self.account_queries(domains)
        users, queues, *accounts = [
            [row_of(record) for record in records]
            for records in self.composite.records_of([USERS_SOQL, QUEUES_SOQL, *queries])
        ]
        owners = [*map(user_owner, users), *map(queue_owner, queues)]
        rows = (row for found in accounts for row in found)
        return RoutingReads(owners, chosen_account_owners(wanted, rows))

    def account_queries(self, domains: Sequence[str]) -> tuple[list[str], list[str]]:
        """The website domains of `domains`, and the Account queries (as few as the URI limit
        allows) that find the Accounts on them."""
        wanted = sorted({d for raw in domains if (d := website_domain(raw)) is not None})
        terms = [f"Website LIKE {contains_pattern(domain)}" for domain in wanted]
        head = "SELECT Id, Website, OwnerId, Owner.IsActive, CreatedDate FROM Account WHERE "
        tail = " ORDER BY CreatedDate, Id"
        fixed = self.query_url_length(head + tail)
        batches = within_uri(terms, fixed, " OR ", self.options.max_uri_length)
        return wanted, [head + " OR ".join(batch) + tail for batch in batches]

    def people_of_companies(self, company_ids: Sequence[str]) -> list[str]:
        """The Contacts of these Accounts, when Contacts are synced (Leads belong to no Account
        until converted: none of them is returned)."""
        if "Contact" not in self.options.objects:
            return []
        people: dict[str, None] = {}
        for soql in self.id_queries(
            lambda id_text: f"SELECT Id FROM Contact WHERE AccountId IN ({id_text}) ORDER BY Id",
            list(dict.fromkeys(company_ids)),
        ):
            people.update(dict.fromkeys(row["Id"] for row in self.query_rows(soql, "query")))
        return list(people)

    def pull_history(self) -> Iterator[LeadPage]:
        """Leads, converted or not, and Contacts, in pages (REST queries in Id order). A Contact
        that a Lead was converted into is left out: that Lead stands for the person."""
        converted_into = self.outcomes.read_conversions().contacts
        for sobject in self.options.objects:
            soql = self.people_soql(sobject, []) + " ORDER BY Id"
            people = (lead for lead in self.query_people(sobject, soql, kind="query")
                      if lead.id not in converted_into)
            for chunk in chunked(people, self.options.page_size):
                yield LeadPage(chunk, cursor=None)

    def pull_outcomes(self, since: datetime | None) -> Iterator[Outcome]:
        return self.outcomes.pull(since)

    def field_history(
        self, leads: Sequence[Lead], paths: Sequence[str],
        entering: Mapping[str, Collection[str]] | None = None,
    ) -> FieldTimes:
        """From LeadHistory and ContactHistory, one paged query each (salesforce_history)."""
        times = FieldTimes()
        grouped = people_by_object([lead.id for lead in leads], sobject_of)
        for sobject, ids in grouped.items():
            names = fields_of(sobject, paths)
            if not names:
                continue
            try:
                rows = list(self.query_rows(history_query(sobject, names), "history"))
            except PermissionDeniedError:  # the user may not read its history: nothing dated
                continue
            fold_history(sobject, rows, ids, names, entering or {}, times)
        return times

    def check_access(self) -> None:
        """A session id handed over, never logged in with, is proved here by describing the first
        object leadq scores (kept for `text_limit` and the fields check); a login proved the
        credentials already."""
        if self.calls.logins and self.calls.logins[0].can_log_in:
            return
        self.fields_check.describe(self.options.objects[0])

    @property
    def schema_cache(self) -> SchemaCache | None:
        """Where describe is kept between runs (sync/schema_cache.py)."""
        return self.fields_check.schema_cache

    @schema_cache.setter
    def schema_cache(self, cache: SchemaCache | None) -> None:
        self.fields_check.schema_cache = cache

    def keep_sessions(self, cache: SessionCache) -> None:
        """Keep this connector's sessions in `cache` (sealed) for the runs after it, starting
        with the one it logged in to, if it did (salesforce_kept_session)."""
        if self.calls.logins and (kept := KeptSessions.of(self.calls.logins[0], cache)):
            self.calls.keep_sessions(kept)

    def unreadable_fields(self, names: Sequence[str]) -> dict[str, list[str]]:
        """Of `names` (fields a scoring model reads), those describe does not show on some of the
        objects leadq reads — a typo, or a field the integration user may not see — with those
        objects. Checked before a run: in SOQL they would fail the whole query."""
        missing: dict[str, list[str]] = {}
        for sobject in self.options.objects if names else ():
            described = self.fields_check.describe(sobject)
            for name in names:
                if name.lower() not in described:
                    missing.setdefault(name, []).append(sobject)
        return missing

    def text_limit(self, field: str) -> int | None:
        """The field's length in describe (a Long Text Area's as its admin set it), the
        shortest across the objects leadq scores; None when describe gives none."""
        lengths = [
            int(entry.get("length") or 0)
            for sobject in self.options.objects
            if (entry := self.fields_check.describe(sobject).get(field.lower()))
        ]
        return min((n for n in lengths if n > 0), default=None)

    def picklist_values(self, field: str) -> tuple[str, ...] | None:
        """The active picklist values of the field on a Lead (or the first object leadq scores),
        by a describe of now (picklist values are not kept between runs); None when it is no
        picklist."""
        described = self.fields_check.describe(self.options.objects[0], fresh=True)
        entry = described.get(field.lower()) or {}
        if entry.get("type") not in ("picklist", "multipicklist"):
            return None
        return tuple(str(value["value"]) for value in entry.get("picklistValues") or []
                     if value.get("active", True))

    # ---- writes and fields ------------------------------------------------------------------
    def write(self, updates: Sequence[LeadUpdate]) -> list[WriteResult]:
        """sObject Collections of up to 200 with `Sforce-Auto-Assign: FALSE`; one result per
        update, in order."""
        return self.writer.write(updates)

    def ensure_fields(self, fields: Sequence[OutputField]) -> FieldsReport:
        """Checks by describe that leadq's output fields exist on every configured object;
        raises MissingFieldError listing the missing ones with the type to create."""
        return self.fields_check.ensure(fields)

    def check_fields(self, fields: Sequence[OutputField]) -> FieldsReport:
        """Like ensure_fields, but reports what is missing instead of raising."""
        return self.fields_check.report(fields)[0]

    # ---- plumbing ---------------------------------------------------------------------------
    def query_rows(self, soql: str, kind: str, query_all: bool = False) -> Iterator[Row]:
        for records in self.calls.query_pages(soql, kind, self.options.page_size, query_all):
            yield from map(row_of, records)

    def query_url_length(self, soql: str) -> int:
        return len(self.client.base_url) + len("query/?q=") + encoded_length(soql)

    def id_queries(self, build: Callable[[str], str], ids: Sequence[str]) -> Iterator[str]:
        """SOQL texts `build(id list)` covering `ids`, as few as the URI limit allows."""
        if not ids:
            return
        fixed = self.query_url_length(build(""))
        quoted = [string_literal(record_id) for record_id in ids]
        for batch in within_uri(quoted, fixed, ",", self.options.max_uri_length):
            yield build(",".join(batch))


def typed_value(value: Any) -> Any:
    return typed(value, "auto")


def row_of(record: dict[str, Any]) -> Row:
    """A query's record as a flat row of typed values (`Owner.IsActive`)."""
    return {name: typed_value(value) for name, value in flatten(record).items()}


def chosen_account_owners(wanted: Sequence[str], rows: Iterable[Row]) -> dict[str, str]:
    """Domain → the OwnerId of the first Account on it (rows oldest first) whose owner is
    active, else of the first one."""
    chosen: dict[str, tuple[bool, str]] = {}
    for row in rows:
        domain = website_domain(row.get("Website"))
        if domain not in wanted or not row.get("OwnerId"):
            continue
        active = bool(row.get("Owner.IsActive"))
        if domain not in chosen or (active and not chosen[domain][0]):
            chosen[domain] = (active, row["OwnerId"])
    return {domain: owner for domain, (_, owner) in chosen.items()}


def stamp(lead: Lead) -> datetime:
    return lead.fields["SystemModstamp"]


def live_people(sobject: str) -> list[str]:
    return ["IsConverted = false"] if sobject == "Lead" else []


def chunked(items: Iterable[Lead], size: int) -> Iterator[list[Lead]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk

