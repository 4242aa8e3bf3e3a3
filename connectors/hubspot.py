"""HubSpot contacts as leadq leads, through `hubspot-api-client`, in pages and batches only.

    connector = HubSpotConnector(access_token="pat-…", output_properties=["leadq_score", …])
    for page in connector.pull_changed(cursor):
        activities = connector.pull_activities(page.leads, since=horizon)
        …
        connector.write(updates)

Reading
-------
* **Incremental** (`pull_changed(ChangeWindow(since, known, overlap, until))`): a search on
  `lastmodifieddate` ≥ `since` minus `overlap_seconds` (search shows new writes only after a
  few seconds; the engine skips the overlap when `count_changed` proves nothing new arrived in
  it), ascending, 200 a page; contacts the window knows at their modified time are dropped
  before companies are read.
  Every page restarts the query from the last timestamp it saw, leaving out the contacts already
  returned at that timestamp (keyset paging, hubspot_search), so a pull never pages towards
  search's 10,000-result cap however many contacts changed, reads no contact twice, and misses
  none when contacts change between pages. The query stops at the moment the pull began:
  contacts changed later (leadq's own writes of this run among them) are what `changed_since`
  (id and `lastmodifieddate` only) shows the engine when the run ends. Each page's cursor is
  the last `lastmodifieddate` it holds.
  Search has its own limit (about 5 requests/s), kept by a second limiter ("search").
* **Full** (`pull_changed(None)`): the contacts list, 100 a page by `after` (no search cap), with
  each contact's companies in the same response. Pages come in id order, so only the last page
  carries a cursor: the earlier of the newest `lastmodifieddate` seen and the pull's start.
* Properties: the canonical ones, the summary properties (hubspot_activities), `extra_properties`
  (custom fields the scoring model reads: the portal must have them) and `output_properties`
  (leadq's own, read where they exist so the engine can diff) land in `Lead.fields`, typed.
* **Companies**: contact→company associations in v4 batches (1,000 ids), companies in batch reads
  of 100, cached for the rest of the pull (in a temporary file, connectors/spooled_companies.py);
  the primary company is `Lead.company`, its
  `hubspot_owner_id` is `Company.owner_id`.
* **Activities**: hubspot_activities. **Owners**: `/crm/v3/owners/`, active ones then archived
  ones (`archived=true`, marked inactive); queues are `kind="queue"`. **Account owners**: a
  companies search on `domain` IN (100 domains a request), the oldest company with an owner wins.
* **Field history** (`field_history`, for backtest and learn): when each contact's values of the
  lead fields asked for were set (connectors/field_times.py), from `propertiesWithHistory` batch
  reads of 50 contacts (hubspot_history).
* **Outcomes**: a contact converted when its lifecycle stage reached `opportunity` or later in the
  portal's order (not `other`), at the earliest `hs_lifecyclestage_<stage>_date` of those stages
  (None where the portal does not keep them), valued by `total_revenue` where present. HubSpot
  moves contacts with a closed-won deal to `customer` by default, so deals are covered through the
  stage; deals are not read one by one (the sandbox has none).

Writing: hubspot_writes. Errors: hubspot_api (one translation for every request).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hubspot import HubSpot

from connectors.base import (
    ChangeWindow,
    CrmKind,
    FieldsReport,
    LeadPage,
    OutputField,
    RecordedActivities,
    SchemaCache,
)
from connectors.field_times import FieldTimes
from connectors.hubspot_activities import (
    ENGAGEMENT_TYPES,
    SUMMARY_PROPERTIES,
    ActivityReader,
    ActivitySource,
)
from connectors.hubspot_api import (
    ACCESS_TOKEN_VARIABLE,
    OAUTH_VARIABLES,
    HubSpotApi,
    OAuthApp,
    missing_properties_message,
)
from connectors.hubspot_history import read_field_times
from connectors.hubspot_properties import (
    PortalSchema,
    ensure_output_properties,
    load_schema,
    schema_from_json,
    schema_json,
)
from connectors.hubspot_records import (
    COMPANY_PROPERTIES,
    CONTACT_PROPERTIES,
    MODIFIED,
    associated_ids,
    chunked,
    company_from,
    epoch_ms,
    lead_from,
    modified_at,
    owner_from,
    primary_company_ids,
)
from connectors.hubspot_search import changed_records
from connectors.hubspot_tasks import HubSpotTasks
from connectors.hubspot_writes import BATCH_SIZE, ContactWriter
from connectors.records import (
    Activity,
    Company,
    Lead,
    LeadUpdate,
    Outcome,
    Owner,
    WriteResult,
    parse_timestamp,
)
from connectors.retry import (
    AuthenticationError,
    CallPolicy,
    MissingFieldError,
    RequestStats,
    RetrySettings,
    RollingWindowLimiter,
)
from connectors.spooled_companies import SpooledCompanies

__all__ = ["HubSpotConnector", "OAuthApp"]

DEFAULT_BASE_URL = "https://api.hubapi.com"
SEARCH_PAGE = 200
SEARCH_CAP = 10_000
LIST_PAGE_MAX = 100
OWNERS_PAGE = 500
ASSOCIATION_BATCH = 1_000
DOMAINS_PER_FILTER = 100
COMPANY_CACHE_LIMIT = 50_000
RATE_WINDOW_SECONDS = 10.0
CONVERTED_FROM = "opportunity"
NEVER_CONVERTED = frozenset({"other"})
OUTCOME_PROPERTIES = ("lifecyclestage", "createdate", MODIFIED, "total_revenue")


STRING_PROPERTY_LIMIT = 65_536  # characters in a HubSpot string property value


class HubSpotConnector:
    """The `Connector` for HubSpot (connectors/base.py)."""

    crm: CrmKind = "hubspot"
    write_batch_size: int = BATCH_SIZE
    queue_kinds: frozenset[str] = frozenset({"lead", "contact"})
    cursor_scope: tuple[str, ...] = ("contacts",)

    @staticmethod
    def field_name(name: str) -> str:
        """HubSpot properties keep the name the model gives them."""
        return name

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        access_token: str | None = None,
        oauth: OAuthApp | None = None,
        client: HubSpot | None = None,
        extra_properties: Sequence[str] = (),
        output_properties: Sequence[str] = (),
        company_properties: Sequence[str] = (),
        rate_limit: int = 100,
        search_rate: int = 4,
        overlap_seconds: float = 300.0,
        page_size: int = LIST_PAGE_MAX,
        activity_source: ActivitySource = "auto",
        engagement_types: Sequence[str] = ENGAGEMENT_TYPES,
        events_page_size: int = 1_000,
        events_refresh_seconds: float = 60.0,
        retry: RetrySettings | None = None,
        stats: RequestStats | None = None,
        clock: Callable[[], float] = time.time,
        timeout: tuple[float, float] = (5.0, 30.0),
    ) -> None:
        """`access_token` is a private app's token; `oauth` a public app's credentials (used
        when there is no access token). `client` replaces the client built from `base_url`
        (then its credentials are used as they are). `rate_limit` is requests per 10 s,
        `search_rate` search requests per second. `activity_source` "auto" uses the events API
        where the portal has it, "summary" never asks it, "events" requires it.
        `events_page_size` (1,000; HubSpot documents no maximum) and `events_refresh_seconds`
        (how old the kept events window may get before it is topped up) tune the events API."""
        if client is None:
            if not access_token and oauth is None:
                raise AuthenticationError(
                    f"HubSpot needs credentials: set {ACCESS_TOKEN_VARIABLE} (a private app's "
                    f"token), or {OAUTH_VARIABLES} for a public app"
                )
            # retry=False: urllib3 must not retry behind the policy's back (uncounted, unlimited)
            client = HubSpot(access_token=access_token or None, host=base_url.rstrip("/"),
                             retry=False)
        self.stats = stats or RequestStats()
        limiters = {
            "default": RollingWindowLimiter(rate_limit, RATE_WINDOW_SECONDS),
            # the setting already sits under HubSpot's ~5/s, so no headroom on top of it
            "search": RollingWindowLimiter(search_rate, 1.0, headroom=0.0),
        }
        self.api = HubSpotApi(client, CallPolicy(limiters, retry, self.stats),
                              oauth=None if access_token else oauth, clock=clock,
                              timeout=timeout)
        self.extra_properties = tuple(dict.fromkeys(extra_properties))
        self.output_properties = tuple(dict.fromkeys(output_properties))
        self.company_properties = tuple(dict.fromkeys([*COMPANY_PROPERTIES, *company_properties]))
        self.overlap_seconds = overlap_seconds
        self.page_size = max(1, min(page_size, LIST_PAGE_MAX))
        self._clock = clock
        self.activities = ActivityReader(self.api, activity_source, engagement_types,
                                         events_page_size, events_refresh_seconds)
        self._contacts: PortalSchema | None = None
        self._companies: PortalSchema | None = None
        # the company schema kept between runs (sync/schema_cache.py); the contact schema is read
        # by every run's check_access, which proves the token with it
        self.schema_cache: SchemaCache | None = None
        self._company_cache = SpooledCompanies()  # on disk: memory stays flat
        self.tasks = HubSpotTasks(self.api)

    @property
    def learned(self) -> dict[str, bool]:
        return self.activities.delivered

    # ---- access and limits ----------------------------------------------------------------------

    def check_access(self) -> None:
        """Reads the contact property definitions, which every pull needs (kept)."""
        self._contact_schema()

    def text_limit(self, field: str) -> int | None:
        """HubSpot keeps up to 65,536 characters in any string property."""
        return STRING_PROPERTY_LIMIT

    # ---- leads ----------------------------------------------------------------------------------

    def pull_changed(self, window: ChangeWindow | datetime | None) -> Iterator[LeadPage]:
        window = ChangeWindow.of(window)
        self._company_cache.clear()
        properties = self._contact_properties()
        lower = window.lower(timedelta(seconds=self.overlap_seconds))
        if lower is None:
            for records, cursor in self._listed(properties, with_companies=True):
                yield LeadPage(self._leads(records, listed=True), cursor)
        else:
            for records, cursor in self._searched(lower, properties, window.until):
                fresh = [record for record in records if _is_new(record, window)]
                yield LeadPage(self._leads(fresh, listed=False) if fresh else [], cursor)

    @staticmethod
    def stamp_of(lead: Lead) -> datetime | None:
        return lead.updated_at

    def changed_since(self, since: datetime) -> Iterator[tuple[str, datetime]]:
        for records in changed_records(self._search_contacts, epoch_ms(since),
                                       round(self._clock() * 1000), [MODIFIED]):
            for record in records:
                moment = modified_at(record)
                if moment is not None:
                    yield str(record["id"]), moment

    def count_changed(self, lower: datetime, upper: datetime) -> int:
        """A search of one result for the window: its `total` is the count."""
        answer = self._search_contacts(
            {"filterGroups": [{"filters": [
                {"propertyName": MODIFIED, "operator": "GTE", "value": str(epoch_ms(lower))},
                {"propertyName": MODIFIED, "operator": "LT", "value": str(epoch_ms(upper))}]}],
             "properties": [MODIFIED], "limit": 1})
        return int(answer.get("total") or 0)

    def pull_history(self) -> Iterator[LeadPage]:
        """Every contact (HubSpot keeps converted contacts as they are)."""
        return self.pull_changed(None)

    def field_history(
        self, leads: Sequence[Lead], paths: Sequence[str],
        entering: Mapping[str, Collection[str]] | None = None,
    ) -> FieldTimes:
        """From the contacts' property history, 50 contacts a request (hubspot_history)."""
        def read(body: dict[str, Any]) -> Any:
            return self.api.call("history", "reading contacts' property history",
                                 "crm.contacts.batch_api.read", body)

        return read_field_times(read, [lead.id for lead in leads], paths, entering or {})

    def read_leads(self, ids: Sequence[str]) -> list[Lead]:
        properties = self._contact_properties()
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunked(dict.fromkeys(str(i) for i in ids), BATCH_SIZE):
            answer = self.api.call(
                "batch_read", "reading contacts by id", "crm.contacts.batch_api.read",
                {"inputs": [{"id": lead_id} for lead_id in chunk], "properties": properties},
            )
            found.update({str(record["id"]): record for record in answer.get("results") or []})
        records = [found[lead_id] for lead_id in dict.fromkeys(map(str, ids)) if lead_id in found]
        return self._leads(records, listed=False)

    def pull_activities(self, leads: Sequence[Lead], since: datetime | None) -> list[Activity]:
        return self.activities.read(leads, since)

    def pull_recorded_activities(
        self, leads: Sequence[Lead], recorded_since: datetime | None, horizon: datetime
    ) -> RecordedActivities:
        return self.activities.read_recorded(leads, recorded_since, horizon)

    def people_of_companies(self, company_ids: Sequence[str]) -> list[str]:
        """The contacts associated with these companies, in v4 batch reads of 1,000 companies."""
        people: dict[str, None] = {}
        for chunk in chunked(dict.fromkeys(map(str, company_ids)), ASSOCIATION_BATCH):
            answer = self.api.call(
                "associations", "reading companies' contacts",
                "crm.associations.v4.batch_api.get_page", "companies", "contacts",
                {"inputs": [{"id": company_id} for company_id in chunk]},
            )
            for result in answer.get("results") or []:
                people.update(dict.fromkeys(
                    str(target["toObjectId"]) for target in result.get("to") or []))
        return list(people)

    def pull_outcomes(self, since: datetime | None) -> Iterator[Outcome]:
        schema = self._contact_schema()
        stages = schema.lifecycle_stages
        converted = self._converted_stages(stages)
        dates = [f"hs_lifecyclestage_{stage}_date" for stage in converted]
        properties = [*OUTCOME_PROPERTIES, *dates]
        pages = self._listed(properties, with_companies=False) if since is None \
            else self._searched(since, properties)
        for records, _ in pages:
            for record in records:
                yield _outcome(record, converted, dates)

    # ---- owners and accounts --------------------------------------------------------------------

    def list_owners(self) -> list[Owner]:
        owners: list[Owner] = []
        for archived in (False, True):
            after = None
            while True:
                answer = self.api.call(
                    "read", "listing owners", "crm.owners.owners_api.get_page",
                    limit=OWNERS_PAGE, after=after, archived=archived,
                )
                owners.extend(owner_from({**record, "archived": archived or
                                          record.get("archived", False)})
                              for record in answer.get("results") or [])
                after = _next_after(answer)
                if after is None:
                    break
        return owners

    def account_owners(self, domains: Sequence[str]) -> dict[str, str]:
        wanted = {domain: _bare_domain(domain) for domain in domains if domain and domain.strip()}
        owners: dict[str, str] = {}
        for chunk in chunked(sorted(set(wanted.values())), DOMAINS_PER_FILTER):
            owners.update(self._owners_at(chunk))
        return {domain: owners[bare] for domain, bare in wanted.items() if bare in owners}

    def _owners_at(self, domains: list[str]) -> dict[str, str]:
        owners: dict[str, str] = {}
        offset = 0
        while True:
            answer = self.api.call(
                "search", "the companies search by domain", "crm.companies.search_api.do_search",
                {"filterGroups": [{"filters": [{"propertyName": "domain", "operator": "IN",
                                                "values": domains}]}],
                 "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}],
                 "properties": ["domain", "hubspot_owner_id"], "limit": SEARCH_PAGE,
                 **_paged_from(offset)},
                limiter="search",
            )
            for record in answer.get("results") or []:
                properties = record.get("properties") or {}
                bare = _bare_domain(properties.get("domain") or "")
                owner = properties.get("hubspot_owner_id")
                if owner and bare in domains and bare not in owners:
                    owners[bare] = str(owner)
            after = _next_after(answer)
            if after is None or int(after) + SEARCH_PAGE > SEARCH_CAP:
                return owners
            offset = int(after)

    # ---- writes and fields ----------------------------------------------------------------------

    def write(self, updates: Sequence[LeadUpdate]) -> list[WriteResult]:
        if not updates:
            return []
        return ContactWriter(self.api, self._contact_schema()).write(updates)

    def ensure_fields(self, fields: Sequence[OutputField]) -> FieldsReport:
        report = ensure_output_properties(self.api, self._contact_schema(), fields)
        if report.created:
            self._contacts = None  # read the definitions again, with ours
        return report

    # ---- pages ----------------------------------------------------------------------------------

    def _listed(self, properties: list[str], with_companies: bool
                ) -> Iterator[tuple[list[dict[str, Any]], datetime | None]]:
        started = datetime.fromtimestamp(self._clock(), tz=UTC)
        newest: datetime | None = None
        after = None
        while True:
            answer = self.api.call(
                "read", "listing contacts", "crm.contacts.basic_api.get_page",
                limit=self.page_size, after=after, properties=properties,
                associations=self._listed_associations() if with_companies else None,
                archived=False,
            )
            records = answer.get("results") or []
            for record in records:
                modified = modified_at(record)
                if modified is not None and (newest is None or modified > newest):
                    newest = modified
            after = _next_after(answer)
            if after is None:
                yield records, min(newest, started) if newest else started
                return
            yield records, None

    def _searched(self, lower: datetime, properties: list[str], until: datetime | None = None
                  ) -> Iterator[tuple[list[dict[str, Any]], datetime | None]]:
        # contacts changed after the pull began (our own writes among them) are left to the
        # check a run makes when it ends (changed_since): every page written would otherwise
        # come back at the end of this one
        upper_ms = round(self._clock() * 1000) if until is None else epoch_ms(until)
        for records in changed_records(self._search_contacts, epoch_ms(lower), upper_ms,
                                       properties):
            yield records, modified_at(records[-1])

    def _search_contacts(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.api.call("search", "the contacts search",
                             "crm.contacts.search_api.do_search", body, limiter="search")

    # ---- companies ------------------------------------------------------------------------------

    def _leads(self, records: list[dict[str, Any]], listed: bool) -> list[Lead]:
        if listed:
            links = {str(record["id"]): primary_company_ids(record) for record in records}
            for record in records:
                self.activities.remember_links(str(record["id"]), associated_ids(
                    record, self.activities.engagement_types))
        else:
            links = self._company_links([str(record["id"]) for record in records])
        companies = self._companies_by_id(
            [ids[0] for ids in links.values() if ids]
        )
        types = self._contact_schema().types
        return [
            lead_from(record, types, _first(links.get(str(record["id"])), companies))
            for record in records
        ]

    def _company_links(self, contact_ids: list[str]) -> dict[str, list[str]]:
        """Contact id → its company ids, the primary one first (v4 batch read)."""
        links: dict[str, list[str]] = {}
        for chunk in chunked(contact_ids, ASSOCIATION_BATCH):
            answer = self.api.call(
                "associations", "reading contacts' companies",
                "crm.associations.v4.batch_api.get_page", "contacts", "companies",
                {"inputs": [{"id": contact_id} for contact_id in chunk]},
            )
            for result in answer.get("results") or []:
                targets = result.get("to") or []
                primary = [str(t["toObjectId"]) for t in targets if _is_primary(t)]
                others = [str(t["toObjectId"]) for t in targets]
                links[str((result.get("from") or {}).get("id"))] = list(
                    dict.fromkeys([*primary, *others]))
        return links

    def _companies_by_id(self, ids: list[str]) -> dict[str, Company | None]:
        cache = self._company_cache
        missing = [company_id for company_id in dict.fromkeys(ids) if company_id not in cache]
        if len(cache) + len(missing) > COMPANY_CACHE_LIMIT:
            cache.clear()
            missing = list(dict.fromkeys(ids))
        if missing:
            types = self._company_schema().types
            for chunk in chunked(missing, BATCH_SIZE):
                answer = self.api.call(
                    "batch_read", "reading companies", "crm.companies.batch_api.read",
                    {"inputs": [{"id": company_id} for company_id in chunk],
                     "properties": list(self.company_properties)},
                )
                for record in answer.get("results") or []:
                    cache[str(record["id"])] = company_from(record, types)
                for company_id in chunk:
                    cache.setdefault(company_id, None)  # deleted: remember, do not ask again
        return {company_id: cache.get(company_id) for company_id in ids}

    # ---- schema ---------------------------------------------------------------------------------

    def picklist_values(self, field: str) -> tuple[str, ...] | None:
        """A contact property's enumeration options (None: not an enumeration)."""
        return self._contact_schema().options.get(field)

    def _contact_schema(self) -> PortalSchema:
        if self._contacts is None:
            schema = load_schema(self.api, "contacts")
            missing = schema.lacks(self.extra_properties)
            if missing:
                raise MissingFieldError(missing_properties_message(missing, "contact"))
            self._contacts = schema
        return self._contacts

    def _company_schema(self) -> PortalSchema:
        if self._companies is None:
            schema = self._kept_schema("companies")
            if schema is None or schema.lacks(self.company_properties):
                schema = load_schema(self.api, "companies")
                if self.schema_cache is not None:
                    self.schema_cache.put("hubspot:companies", schema_json(schema))
            missing = schema.lacks(self.company_properties)
            if missing:
                raise MissingFieldError(missing_properties_message(missing, "company"))
            self._companies = schema
        return self._companies

    def _kept_schema(self, object_type: str) -> PortalSchema | None:
        kept = self.schema_cache.get(f"hubspot:{object_type}") if self.schema_cache else None
        return schema_from_json(kept) if kept is not None else None

    def _listed_associations(self) -> list[str]:
        """A list page brings each contact's companies and engagement ids along for free."""
        return ["companies", *self.activities.engagement_types]

    def _contact_properties(self) -> list[str]:
        schema = self._contact_schema()
        present_outputs = [name for name in self.output_properties if name in schema.types]
        return list(dict.fromkeys([*CONTACT_PROPERTIES, *SUMMARY_PROPERTIES,
                                   *self.extra_properties, *present_outputs]))

    @staticmethod
    def _converted_stages(stages: tuple[str, ...]) -> list[str]:
        if CONVERTED_FROM not in stages:
            return [stage for stage in ("customer",) if stage in stages]
        start = stages.index(CONVERTED_FROM)
        return [stage for stage in stages[start:] if stage not in NEVER_CONVERTED]


def _outcome(record: dict[str, Any], converted: list[str], dates: list[str]) -> Outcome:
    properties = record.get("properties") or {}
    stage = properties.get("lifecyclestage")
    reached = stage in converted
    moments = [properties.get(name) for name in dates if properties.get(name)]
    at = min((parsed for parsed in map(parse_timestamp, moments) if parsed), default=None)
    return Outcome(
        lead_id=str(record["id"]),
        converted=reached,
        at=at if reached else None,
        value=properties.get("total_revenue") if reached else None,
    )


def _is_new(record: dict[str, Any], window: ChangeWindow) -> bool:
    return window.is_new(str(record["id"]), modified_at(record))


def _modified_ms(record: dict[str, Any]) -> int:
    moment = modified_at(record)
    return epoch_ms(moment) if moment else 0


def _paged_from(offset: int) -> dict[str, str]:
    """A search's `after`: a string paging token, left out on the first page (HubSpot's spec
    types it as a string: null is not one)."""
    return {"after": str(offset)} if offset else {}


def _next_after(answer: dict[str, Any]) -> str | None:
    after = ((answer.get("paging") or {}).get("next") or {}).get("after")
    return str(after) if after not in (None, "") else None


def _is_primary(target: dict[str, Any]) -> bool:
    return any(kind.get("typeId") == 1 or kind.get("label") == "Primary"
               for kind in target.get("associationTypes") or [])


def _first(ids: list[str] | None, companies: dict[str, Company | None]) -> Company | None:
    return companies.get(ids[0]) if ids else None


def _bare_domain(domain: str) -> str:
    bare = domain.strip().lower()
    for prefix in ("https://", "http://", "www."):
        bare = bare.removeprefix(prefix)
    return bare.split("/", 1)[0]
