"""The two sandbox CRMs as the connector tests see them: a connector on each, what each holds (read
from the emulator's own store), what each was asked (its request log), and how each words the
refusals the contract suite (tests/e2e/connectors/test_connector_contract.py) provokes."""

from __future__ import annotations

import math
import re
import shutil
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol
from urllib.parse import unquote_plus

from hubspot import HubSpot
from simple_salesforce import Salesforce

from benchmarks.reliability import crm_state
from connectors.base import Connector, OutputField
from connectors.hubspot import HubSpotConnector
from connectors.records import Activity, Lead, LeadUpdate, WriteResult
from connectors.retry import RetrySettings
from connectors.salesforce import SalesforceConnector
from sandbox.hubspot import RunningHubSpot, start_hubspot
from sandbox.orgs import OrgSpec, SynthOrg
from sandbox.salesforce import RunningSalesforce, start_salesforce
from sandbox.server import LoggedRequest
from sync.connect import salesforce_connector
from sync.settings import Settings

CONTRACT_ORG = OrgSpec(leads=1_000, seed=11)  # pages and batches show at this size as at any


class ConnectorCrm(Protocol):
    """What the contract suite needs of a sandbox CRM."""

    name: ClassVar[str]
    score_field: ClassVar[str]
    owner_field: ClassVar[str]
    unknown_id: ClassVar[str]  # an id of the CRM's shape that no record has
    running: Any  # RunningHubSpot | RunningSalesforce

    def connector(self, **options: Any) -> Connector: ...

    def twin(self) -> AbstractContextManager[ConnectorCrm]:
        """A second copy of the same org, served beside this one."""
        ...

    def log(self) -> list[LoggedRequest]: ...

    def stored(self) -> dict[str, dict[str, Any]]:
        """Every lead's stored values (but the CRM's own write timestamps), by id."""
        ...

    def live_lead_ids(self) -> set[str]: ...

    def converted_into(self) -> set[str]:
        """Records converted leads became (Salesforce's Contacts, when Leads are read too):
        backtest counts each as its lead, once."""
        ...

    def api_writes(self) -> Counter[str]:
        """How many times the API wrote each lead since this copy started."""
        ...

    def owners(self) -> dict[str, tuple[bool, str]]:
        """Every owner's id → (active, kind)."""
        ...

    def domain_owners(self) -> dict[str, str]:
        """The owner of each company whose domain no other company has, by domain."""
        ...

    def conversions(self) -> dict[str, bool]:
        """Every lead's id → whether it converted, by the CRM's own definition."""
        ...

    def planted_conversions(self) -> dict[str, datetime]:
        """The conversions the org's generator planted that this CRM records (a Salesforce
        Contact only with its deal won), by lead id, at the time the generator drew."""
        ...

    def changed_after(self, moment: datetime) -> set[str]:
        """The leads whose change stamp (the incremental cursor's field) is after `moment`."""
        ...

    def change_stamp(self, lead: Lead) -> datetime: ...

    def delete(self, lead_id: str) -> None: ...

    def lead_pages(self, log: list[LoggedRequest]) -> int: ...

    def fewest_lead_pages(self) -> int: ...

    def write_batches(self, log: list[LoggedRequest]) -> int: ...

    def per_lead_requests(self, log: list[LoggedRequest]) -> list[str]: ...

    def deleted_error(self, lead_id: str) -> str: ...

    def refused_credentials(self) -> tuple[Callable[[], object], str]:
        """A call made with credentials the CRM refuses, and the message leadq gives."""
        ...

    def refused_permission(self) -> tuple[Callable[[], object], str]:
        """A call the integration user is not allowed to make, and the message leadq gives."""
        ...

    def missing_field(self) -> tuple[Callable[[], object], str]:
        """A pull naming a field the CRM lacks, and the message leadq gives."""
        ...


@dataclass(frozen=True)
class SeededOrg:
    """An org seeded once into a database file; each test serves a copy of it."""

    org: SynthOrg
    path: Path


def copy_of(seeded: SeededOrg, directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    copy = directory / f"{name}.db"
    shutil.copyfile(seeded.path, copy)
    return copy


# ---- HubSpot ------------------------------------------------------------------------------------

HUBSPOT_RETRIES = RetrySettings(max_attempts=12, budget_seconds=60, initial_wait=0.005,
                                max_wait=0.05, jitter=0.005)
UNLIMITED = {"rate_limit": (1_000_000, 10.0), "search_per_second": 100_000}
HUBSPOT_PER_LEAD_PATH = re.compile(r"^/crm/v[34]/objects/contacts/\d+")


HUBSPOT_OUTPUTS = [
    OutputField("leadq_score", "leadq score", "number"),
    OutputField("leadq_grade", "leadq grade", "enumeration", ("A", "B", "C", "D", "F")),
    OutputField("leadq_reasons", "leadq reasons", "string"),
    OutputField("leadq_scored_at", "leadq scored at", "datetime"),
]


def seed_hubspot(spec: OrgSpec, directory: Path, set_up: bool = True) -> SeededOrg:
    """A portal seeded from the org; `set_up`: with leadq's output properties, as after `leadq
    setup`."""
    org = SynthOrg(spec)
    path = directory / f"portal-{spec.leads}-{spec.seed}{'' if set_up else '-bare'}.sqlite"
    with start_hubspot(org=org, db_path=path) as running:
        if set_up:
            HubSpotConnector(base_url=running.base_url, access_token=running.access_token) \
                .ensure_fields(HUBSPOT_OUTPUTS)
    return SeededOrg(org, path)


@dataclass
class HubSpotCrm:
    name: ClassVar[str] = "hubspot"
    score_field: ClassVar[str] = "leadq_score"
    owner_field: ClassVar[str] = "hubspot_owner_id"
    unknown_id: ClassVar[str] = "99999999"
    seeded: SeededOrg
    directory: Path
    running: RunningHubSpot
    written: Counter[str] = field(default_factory=Counter)

    @classmethod
    @contextmanager
    def serving(cls, seeded: SeededOrg, directory: Path, name: str = "portal",
                **options: Any) -> Iterator[HubSpotCrm]:
        copy = copy_of(seeded, directory, name)
        with start_hubspot(org=seeded.org, db_path=copy, **{**UNLIMITED, **options}) as running:
            crm = cls(seeded, directory, running)
            crm.spy_on_writes(lambda record_id, _: crm.written.update([record_id]))
            yield crm

    def twin(self) -> AbstractContextManager[HubSpotCrm]:
        return HubSpotCrm.serving(self.seeded, self.directory, name="twin")

    @property
    def org(self) -> SynthOrg:
        return self.seeded.org

    def connector(self, **options: Any) -> HubSpotConnector:
        settings: dict[str, Any] = {
            "base_url": self.running.base_url,
            "access_token": self.running.access_token,
            "rate_limit": 1_000_000,
            "search_rate": 100_000,
            "retry": HUBSPOT_RETRIES,
            "output_properties": [field.name for field in HUBSPOT_OUTPUTS],
        }
        return HubSpotConnector(**{**settings, **options})

    def spy_on_writes(self, seen: Callable[[str, dict[str, str]], object]) -> None:
        """Call `seen(contact id, properties)` for each contact an API write updates."""
        writer = self.running.emulator.portal.writer
        update = writer.update

        def spied(object_type: str, updates: Any, source: Any, now_ms: Any = None) -> Any:
            if object_type == "contacts" and source.change_source == "INTEGRATION":
                for record, properties in updates:
                    seen(str(record.id), dict(properties))
            return update(object_type, updates, source, now_ms)

        writer.update = spied  # type: ignore[method-assign]

    # ---- what it holds and was asked -----------------------------------------------------------

    def log(self) -> list[LoggedRequest]:
        return self.running.emulator.log.entries()

    def requests_to(self, method: str, path: str | re.Pattern[str]) -> int:
        pattern = re.compile(f"^{re.escape(path)}$") if isinstance(path, str) else path
        return sum(1 for e in self.log() if e.method == method and pattern.match(e.path))

    def stored_contacts(self) -> dict[str, dict[str, str]]:
        return {str(record.id): record.properties
                for record in self.running.store.page("contacts", 0, 1_000_000)}

    def stored(self) -> dict[str, dict[str, Any]]:
        return crm_state("hubspot", self.running)

    def live_lead_ids(self) -> set[str]:
        return set(self.stored_contacts())

    def converted_into(self) -> set[str]:
        return set()

    def api_writes(self) -> Counter[str]:
        return self.written

    def owners(self) -> dict[str, tuple[bool, str]]:
        return {str(10_000_000 + int(owner.key[1:])): (owner.active, owner.kind)
                for owner in self.org.owners}

    def domain_owners(self) -> dict[str, str]:
        companies = self.running.store.page("companies", 0, 1_000_000)
        return _owners_of_unique(
            (c.properties.get("domain"), c.properties.get("hubspot_owner_id")) for c in companies)

    def conversions(self) -> dict[str, bool]:
        return {i: p.get("lifecyclestage") in ("opportunity", "customer", "evangelist")
                for i, p in self.stored_contacts().items()}

    def planted_conversions(self) -> dict[str, datetime]:
        people = {person.key: person for person in self.org.people()}
        records = self.running.store.records_by_source_key(list(people))
        return {str(record.id): at for key, record in records.items()
                if (at := people[key].outcome.at) is not None}

    def changed_after(self, moment: datetime) -> set[str]:
        after_ms = moment.timestamp() * 1000
        return {str(record.id) for record in self.running.store.page("contacts", 0, 1_000_000)
                if record.updated_ms > after_ms}

    def change_stamp(self, lead: Lead) -> datetime:
        assert lead.updated_at is not None
        return lead.updated_at

    def delete(self, lead_id: str) -> None:
        running = self.running
        HubSpot(access_token=running.access_token, host=running.base_url) \
            .crm.contacts.basic_api.archive(lead_id)

    def lead_pages(self, log: list[LoggedRequest]) -> int:
        return sum(1 for e in log if (e.method, e.path) == ("GET", "/crm/v3/objects/contacts"))

    def fewest_lead_pages(self) -> int:
        return math.ceil(len(self.live_lead_ids()) / 100)

    def write_batches(self, log: list[LoggedRequest]) -> int:
        return sum(1 for e in log if e.path == "/crm/v3/objects/contacts/batch/update")

    def per_lead_requests(self, log: list[LoggedRequest]) -> list[str]:
        return [f"{e.method} {e.path}" for e in log if HUBSPOT_PER_LEAD_PATH.match(e.path)
                or "objectId" in e.query]

    # ---- how it words refusals ------------------------------------------------------------------

    def deleted_error(self, lead_id: str) -> str:
        return f"HubSpot has no contact {lead_id}: it was deleted or merged; nothing was written"

    def refused_credentials(self) -> tuple[Callable[[], object], str]:
        connector = self.connector(access_token="pat-na1-not-a-token")
        return lambda: next(connector.pull_changed(None)), (
            "HubSpot refused the access token (401 INVALID_AUTHENTICATION): set "
            "LEADQ_HUBSPOT_ACCESS_TOKEN to the private app's access token (HubSpot → Settings → "
            "Integrations → Private apps → the app → Access token)"
        )

    def refused_permission(self) -> tuple[Callable[[], object], str]:
        self.running.emulator.credentials.granted_scopes.discard("crm.objects.owners.read")
        return self.connector().list_owners, (
            "HubSpot refused listing owners: the app lacks the scope crm.objects.owners.read; add "
            "it to the private app's scopes (or reinstall the public app with it) and run again"
        )

    def missing_field(self) -> tuple[Callable[[], object], str]:
        connector = self.connector(extra_properties=["annual_budget", "industry"])
        return lambda: next(connector.pull_changed(None)), (
            "HubSpot has no contact property annual_budget: run `leadq setup` to create leadq's "
            "output properties, or create the property in HubSpot (Settings → Properties) or fix "
            "the name in the scoring model"
        )


# ---- Salesforce ---------------------------------------------------------------------------------

SALESFORCE_RETRIES = RetrySettings(max_attempts=8, budget_seconds=60, initial_wait=0.01,
                                   max_wait=0.2, jitter=0.01)
SALESFORCE_OUTPUTS = ("leadq_Score__c", "leadq_Grade__c", "leadq_Scored_At__c")


def seed_salesforce(spec: OrgSpec, directory: Path) -> SeededOrg:
    org = SynthOrg(spec)
    path = directory / f"org-{spec.leads}-{spec.seed}.db"
    start_salesforce(org=org, db_path=path).stop()
    return SeededOrg(org, path)


def soql_of(entry: LoggedRequest) -> str:
    match = re.search(r"(?:^|&)q=([^&]*)", entry.query)
    return unquote_plus(match.group(1)) if match else ""


def is_page(entry: LoggedRequest) -> bool:
    """A page of query results: a first page (not a COUNT) or a nextRecordsUrl page."""
    if entry.method != "GET" or "/query" not in entry.path:
        return False
    return "COUNT()" not in soql_of(entry)


@dataclass
class SalesforceCrm:
    name: ClassVar[str] = "salesforce"
    score_field: ClassVar[str] = "leadq_Score__c"
    owner_field: ClassVar[str] = "OwnerId"
    unknown_id: ClassVar[str] = "00Q5g00000ZZZZZAAA"
    running: RunningSalesforce
    seeded: SeededOrg | None = None
    directory: Path | None = None
    objects: tuple[str, ...] = ("Lead", "Contact")  # what `connector()` reads unless told

    @classmethod
    @contextmanager
    def serving(cls, seeded: SeededOrg, directory: Path, name: str = "org",
                **options: Any) -> Iterator[SalesforceCrm]:
        copy = copy_of(seeded, directory, name)
        with start_salesforce(org=seeded.org, db_path=copy, **options) as running:
            yield cls(running, seeded, directory)

    def twin(self) -> AbstractContextManager[SalesforceCrm]:
        assert self.seeded is not None and self.directory is not None
        return SalesforceCrm.serving(self.seeded, self.directory, name="twin")

    def settings(self, login: str = "password", tmp_path: Path | None = None,
                 **overrides: Any) -> Settings:
        running = self.running
        if login in ("password", "session"):
            limits = {"salesforce_rate_limit": 10_000, **overrides}
            return running.leadq_settings(login, **limits)  # type: ignore[arg-type]
        credentials: dict[str, Any] = {
            "client_credentials": {
                "salesforce_consumer_key": running.consumer_key,
                "salesforce_consumer_secret": running.consumer_secret,
                "salesforce_login_url": f"https://{running.my_domain}.salesforce.com"},
        }.get(login, {})
        if login == "jwt":
            assert tmp_path is not None
            key_file = tmp_path / "leadq-jwt.key"
            key_file.write_text(running.jwt_private_key_pem)
            credentials = {"salesforce_username": running.username,
                           "salesforce_consumer_key": running.consumer_key,
                           "salesforce_private_key_file": key_file}
        values = {"crm": "salesforce", "salesforce_rate_limit": 10_000, **credentials,
                  **overrides}
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    def connector(self, settings: Settings | None = None,
                  extra_fields: tuple[str, ...] = SALESFORCE_OUTPUTS,
                  **overrides: Any) -> SalesforceConnector:
        """A connector logged in with the password, reading `objects` unless `overrides`
        (further settings) say otherwise."""
        settings = settings or self.settings(**{"salesforce_objects": list(self.objects),
                                                **overrides})
        return salesforce_connector(settings, self.running.session(), extra_fields=extra_fields,
                                    retry=SALESFORCE_RETRIES)

    def raw_client(self) -> Salesforce:
        running = self.running
        return Salesforce(username=running.username, password=running.password,
                          security_token=running.security_token, session=running.session())

    def one_value(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        row = self.running.store.read_one(sql, params)
        assert row is not None
        return row[0]

    def column(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return [row[0] for row in self.running.store.read(sql, params)]

    # ---- what it holds and was asked -----------------------------------------------------------

    def log(self) -> list[LoggedRequest]:
        return self.running.emulator.log.entries()

    def stored(self) -> dict[str, dict[str, Any]]:
        return crm_state("salesforce", self.running)

    def live_lead_ids(self) -> set[str]:
        return self.changed_after(None)

    def converted_into(self) -> set[str]:
        if not {"Lead", "Contact"} <= set(self.objects):
            return set()
        return set(self.column('SELECT "ConvertedContactId" FROM "Lead" '
                               'WHERE "ConvertedContactId" IS NOT NULL'))

    def api_writes(self) -> Counter[str]:
        return self.running.emulator.writer.applied

    def owners(self) -> dict[str, tuple[bool, str]]:
        users = self.running.store.read(
            'SELECT "Id", "IsActive" FROM "User" WHERE "UserType" = \'Standard\'')
        queues = self.column('SELECT "Id" FROM "Group" WHERE "Type" = \'Queue\'')
        return {**{user_id: (bool(active), "person") for user_id, active in users},
                **{queue_id: (True, "queue") for queue_id in queues}}

    def domain_owners(self) -> dict[str, str]:
        return _owners_of_unique(self.running.store.read(
            'SELECT "Website", "OwnerId" FROM "Account" WHERE "IsDeleted" = 0'))

    def conversions(self) -> dict[str, bool]:
        """Leads converted; contacts with a won opportunity."""
        leads = self.running.store.read('SELECT "Id", "IsConverted" FROM "Lead" '
                                        'WHERE "IsDeleted" = 0') if "Lead" in self.objects else []
        won = set(self.column('SELECT "ContactId" FROM "Opportunity" WHERE "IsWon" = 1'))
        contacts = self.column('SELECT "Id" FROM "Contact" WHERE "IsDeleted" = 0') \
            if "Contact" in self.objects else []
        counted_as_leads = self.converted_into()
        return {**{lead_id: bool(converted) for lead_id, converted in leads},
                **{contact_id: contact_id in won for contact_id in contacts
                   if contact_id not in counted_as_leads}}

    def planted_conversions(self) -> dict[str, datetime]:
        assert self.seeded is not None
        people = {person.key: person for person in self.seeded.org.people()}
        ids = self.running.store.ids_for_keys(list(people))
        return {record_id: at for key, (sobject, record_id) in ids.items()
                if sobject in self.objects and (at := people[key].outcome.at) is not None
                and (sobject == "Lead" or people[key].lifecycle_stage == "customer")}

    def changed_after(self, moment: datetime | None) -> set[str]:
        """The live leads and contacts (of `objects`) stamped after `moment` (None: all)."""
        stamp = (moment or datetime(1970, 1, 1)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        live = {"Lead": '"IsDeleted" = 0 AND "IsConverted" = 0', "Contact": '"IsDeleted" = 0'}
        return {record_id for table in self.objects for record_id in self.column(
            f'SELECT "Id" FROM "{table}" WHERE {live[table]} AND "SystemModstamp" > ?', (stamp,))}

    def change_stamp(self, lead: Lead) -> datetime:
        return lead.fields["SystemModstamp"]

    def delete(self, lead_id: str) -> None:
        store = self.running.store
        store.update(store.sobject("Lead"), lead_id, {"IsDeleted": 1})

    def lead_pages(self, log: list[LoggedRequest]) -> int:
        """First pages of Lead and Contact queries (no such query continues at 2,000 a page in
        an org this size)."""
        return sum(1 for e in log if is_page(e) and re.search(r" FROM (Lead|Contact)\b",
                                                              soql_of(e)))

    def fewest_lead_pages(self) -> int:
        """One query per object, 2,000 records a page."""
        people = self.live_lead_ids()
        return sum(math.ceil(sum(i.startswith(prefix) for i in people) / 2000)
                   for prefix in {"Lead": "00Q", "Contact": "003"}.values())

    def write_batches(self, log: list[LoggedRequest]) -> int:
        return sum(1 for e in log if e.path.endswith("/composite/sobjects"))

    def per_lead_requests(self, log: list[LoggedRequest]) -> list[str]:
        return [f"{e.method} {e.path}" for e in log if "/sobjects/" in e.path]

    # ---- how it words refusals ------------------------------------------------------------------

    def deleted_error(self, lead_id: str) -> str:
        return f"Lead {lead_id} was deleted in Salesforce; nothing was written"

    def refused_credentials(self) -> tuple[Callable[[], object], str]:
        settings = self.settings(salesforce_password="not-the-password")
        return lambda: self.connector(settings), (
            "Salesforce refused the password login (INVALID_LOGIN: Invalid username, password, "
            "security token; or user locked out.). Check LEADQ_SALESFORCE_USERNAME, "
            "LEADQ_SALESFORCE_PASSWORD and LEADQ_SALESFORCE_SECURITY_TOKEN (resetting the "
            "password e-mails a new token), and LEADQ_SALESFORCE_LOGIN_URL "
            "(https://test.salesforce.com for a sandbox org)."
        )

    def refused_permission(self) -> tuple[Callable[[], object], str]:
        connector = self.connector()
        self.running.emulator.api_enabled = False
        return connector.list_owners, (
            "Salesforce refused access (API_CURRENTLY_DISABLED: API is disabled for this User): "
            "give the integration user's profile or permission set 'API Enabled' and read access "
            "to Lead, Contact, Account, Task, Event, Campaign, CampaignMember, Opportunity, User "
            "and Group (edit on Lead and Contact)"
        )

    def missing_field(self) -> tuple[Callable[[], object], str]:
        connector = self.connector(extra_fields=("Buying_Stage__c",))
        return lambda: list(connector.pull_changed(None)), (
            "Salesforce has no field Buying_Stage__c on Lead that leadq may use: create it "
            "(README, 'Salesforce: the fields an admin creates') or give the integration user "
            "access to it (field-level security), or remove it from the scoring model"
        )


def _owners_of_unique(domains_and_owners: Any) -> dict[str, str]:
    """Domain → owner, for domains exactly one company has (and that company has an owner)."""
    pairs = [(domain, owner) for domain, owner in domains_and_owners if domain]
    counts = Counter(domain for domain, _ in pairs)
    return {domain: owner for domain, owner in pairs if counts[domain] == 1 and owner}


# ---- a sync as the contract suite runs it --------------------------------------------------------


@dataclass
class SyncRun:
    pulled: list[Lead]
    activities: list[Activity]
    updates: list[LeadUpdate]
    results: list[WriteResult]


def full_sync(crm: ConnectorCrm, connector: Connector) -> SyncRun:
    """Pull every lead page by page with its activities and its companies' owners, then write a
    score to each lead and an owner to every seventh, as a scoring run would."""
    people = sorted(o.id for o in connector.list_owners() if o.kind == "person" and o.active)
    pulled: list[Lead] = []
    activities: list[Activity] = []
    for page in connector.pull_changed(None):
        pulled.extend(page.leads)
        activities.extend(connector.pull_activities(page.leads, None))
        connector.account_owners(sorted({lead.email_domain for lead in page.leads
                                         if lead.email_domain}))
    updates = [planned_update(crm, lead, people) for lead in pulled]
    return SyncRun(pulled, activities, updates, connector.write(updates))


def planned_update(crm: ConnectorCrm, lead: Lead, people: list[str]) -> LeadUpdate:
    """Deterministic values from the lead alone."""
    checksum = zlib.crc32(lead.id.encode())
    changes: dict[str, Any] = {crm.score_field: float(checksum % 101)}
    if checksum % 7 == 0:
        changes[crm.owner_field] = people[checksum % len(people)]
    return LeadUpdate(lead_id=lead.id, kind=lead.kind, changes=changes)
