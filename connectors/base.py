"""The protocol every CRM connector implements.

A connector reads in pages and batches only — never one request per lead — and returns canonical
records (connectors/records.py). Writes go out in the CRM's largest batch and come back as one
`WriteResult` per lead. `stats` counts every request and retry for the run report.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

from connectors.field_times import FieldTimes
from connectors.records import (
    Activity,
    CrmTask,
    FollowUpTask,
    Lead,
    LeadUpdate,
    Outcome,
    Owner,
    WriteResult,
)
from connectors.retry import RequestStats

CrmKind = Literal["hubspot", "salesforce"]
KnownChange = Callable[[str, datetime], bool]  # (lead id, modified time) → handled already


@dataclass(frozen=True)
class ChangeWindow:
    """Which changed leads an incremental pull reads: those modified at or after `since` (less
    the connector's overlap unless `overlap` is False; every lead when `since` is None) and
    before `until` (if given), leaving out each lead `known` says was handled at that modified
    time. A bare datetime or None passed to `pull_changed` means `ChangeWindow(since)`."""

    since: datetime | None = None
    known: KnownChange | None = None
    overlap: bool = True
    until: datetime | None = None

    @classmethod
    def of(cls, window: ChangeWindow | datetime | None) -> ChangeWindow:
        return window if isinstance(window, ChangeWindow) else cls(window)

    def lower(self, overlap: timedelta) -> datetime | None:
        """The first modified time to read: `since`, less `overlap` when the overlap applies."""
        if self.since is None or not self.overlap:
            return self.since
        return self.since - overlap

    def is_new(self, lead_id: str, stamp: datetime | None) -> bool:
        """Whether a lead at this modified time is still to be handled (not `known`)."""
        return self.known is None or stamp is None or not self.known(lead_id, stamp)


@dataclass(frozen=True)
class LeadPage:
    """One page of changed leads, and the cursor to resume from after it is handled."""

    leads: list[Lead]
    cursor: datetime | None


@dataclass(frozen=True)
class RecordedActivities:
    """Activities read for a batch of leads, split by where they come from.

    `recorded`: what the CRM keeps as items of their own (events, engagements, tasks, campaign
    members) — these leads', and, when read since a moment, also other leads' that the same
    requests brought (the HubSpot events API lists across contacts): the ledger keeps them.
    `derived`: read off these leads' own fields (summary properties, opt-out, bounce), worked out
    afresh from every read of the lead and never kept."""

    recorded: list[Activity]
    derived: list[Activity]


@dataclass(frozen=True)
class OutputField:
    """A field leadq writes: its CRM name, a label for people, and its type."""

    name: str
    label: str
    type: Literal["number", "string", "datetime", "enumeration"]
    options: tuple[str, ...] = ()


@dataclass
class FieldsReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # could not be created: the admin must


class Connector(Protocol):
    crm: CrmKind
    stats: RequestStats
    write_batch_size: int
    learned: dict[str, bool]
    """Facts about the CRM the connector learned with requests of its own (HubSpot: which
    e-mail event types its events API delivers); a later run may hand them back by updating
    this dict, and spare those requests."""
    queue_kinds: frozenset[str]  # the kinds of Lead (lead, contact) a queue may own in this CRM
    # what the lead cursor covers (Salesforce: the synced objects): when it grows, the cursor
    # says nothing about the newcomers, and the next incremental run reads every lead once
    cursor_scope: tuple[str, ...]

    @staticmethod
    def field_name(name: str) -> str:
        """The CRM's API name for one of leadq's output fields, named in the model HubSpot's way
        (`leadq_score`). A static method: the planner needs names before a connector exists."""
        ...

    def check_access(self) -> None:
        """Prove the credentials with one request a run makes anyway (its answer is kept):
        raises a ConnectorError (refused, unreachable) before anything else is done."""
        ...

    def text_limit(self, field: str) -> int | None:
        """The most characters the CRM keeps in `field`, one of leadq's text output fields (the
        CRM's own name); None when it states no limit."""
        ...

    def pull_changed(self, window: ChangeWindow | datetime | None) -> Iterator[LeadPage]:
        """Leads created or changed in `window` (ChangeWindow; a datetime or None is its
        `since`), oldest first, in pages. A lead the window's `known(id, modified time)` says
        was handled already is left out before anything else is read for it."""
        ...

    @staticmethod
    def stamp_of(lead: Lead) -> datetime | None:
        """The modified time incremental pulls order and resume by (HubSpot lastmodifieddate,
        Salesforce SystemModstamp)."""
        ...

    def changed_since(self, since: datetime) -> Iterator[tuple[str, datetime]]:
        """(id, modified time) of every lead changed at or after `since`, oldest first, read
        with nothing else (a run checks what changed while it ran)."""
        ...

    def count_changed(self, lower: datetime, upper: datetime) -> int:
        """How many leads were last changed in [lower, upper): one request."""
        ...

    def pull_history(self) -> Iterator[LeadPage]:
        """Every lead with an outcome to learn from, in pages: what `pull_changed(None)` reads
        plus the records a CRM keeps read-only once converted (Salesforce's converted Leads),
        without counting a person twice. For backtest and learn, never for syncing."""
        ...

    def field_history(
        self, leads: Sequence[Lead], paths: Sequence[str],
        entering: Mapping[str, Collection[str]] | None = None,
    ) -> FieldTimes:
        """From the CRM's field history, when these leads' lead fields (`lead_status`,
        `fields.lead_quality`) got their values: the current one, the first one and, for the
        paths in `entering`, the first of those values (connectors/field_times.py). Leads or
        fields the CRM keeps no history of are left out. Read in batches, for backtest and learn
        only."""
        ...

    def read_leads(self, ids: Sequence[str]) -> list[Lead]:
        """The named leads with their companies, in batches; unknown ids are left out."""
        ...

    def pull_activities(self, leads: Sequence[Lead], since: datetime | None) -> list[Activity]:
        """The activities of these leads (after `since`, if given), in batches."""
        ...

    def pull_recorded_activities(
        self, leads: Sequence[Lead], recorded_since: datetime | None, horizon: datetime
    ) -> RecordedActivities:
        """The activities of these leads that happened after `horizon`; with `recorded_since`,
        only those the CRM recorded (or changed) from that moment on, so a run reads what is
        new and nothing more."""
        ...

    def people_of_companies(self, company_ids: Sequence[str]) -> list[str]:
        """The ids of the leads / contacts leadq scores that belong to these companies, read in
        batches (a company change rescores its people)."""
        ...

    def list_owners(self) -> list[Owner]:
        """Every owner, inactive ones and queues marked."""
        ...

    def account_owners(self, domains: Sequence[str]) -> dict[str, str]:
        """Lead-to-account matching: the owner id of the company/account at each e-mail domain."""
        ...

    def pull_outcomes(self, since: datetime | None) -> Iterator[Outcome]:
        """Conversions (and non-conversions) of the leads `pull_history` reads, each conversion
        dated when the CRM says when it happened, for backtest and learn."""
        ...

    def write(self, updates: Sequence[LeadUpdate]) -> list[WriteResult]:
        """Write in batches of `write_batch_size`; one result per update, in order."""
        ...

    def ensure_fields(self, fields: Sequence[OutputField]) -> FieldsReport:
        """Create leadq's output fields where the CRM allows it; report what is missing."""
        ...


@runtime_checkable
class TaskDesk(Protocol):
    """A CRM's follow-up tasks (HubSpot tasks, Salesforce Task): the `tasks` of the connectors
    whose CRM keeps them (`task_desk` finds it)."""

    def tasks_of(self, lead_ids: Sequence[str]) -> list[CrmTask]:
        """Every open or closed task about these leads, read in batches."""
        ...

    def create_tasks(self, tasks: Sequence[FollowUpTask]) -> list[WriteResult]:
        """Create the tasks, in batches; one result per task, in order (`lead_id` names it)."""
        ...

    def remove_tasks(self, task_ids: Sequence[str]) -> None:
        """Delete (HubSpot: archive) these tasks."""
        ...

    def tasks_created_since(self, since: datetime, token: str) -> Iterator[CrmTask]:
        """The tasks created at or after `since` whose body holds the word `token`."""
        ...


class SchemaCache(Protocol):
    """Where a connector keeps the CRM schemas it read (JSON values) between runs; `get` gives
    None once one is too old (sync/schema_cache.py)."""

    def get(self, name: str) -> Any | None: ...

    def put(self, name: str, schema: Any) -> None: ...


def keep_schemas(connector: Connector, cache: SchemaCache) -> None:
    """Let the connector keep its schemas in `cache`, where it reads any (`schema_cache`)."""
    if hasattr(connector, "schema_cache"):
        connector.schema_cache = cache  # type: ignore[attr-defined]


def keep_sessions(connector: Connector, cache: Any) -> None:
    """Let a connector that logs in keep its sessions in `cache` for later runs (Salesforce:
    `keep_sessions`, sealed; a CRM with no login keeps nothing)."""
    keep = getattr(connector, "keep_sessions", None)
    if keep is not None:
        keep(cache)


def window_read_limit(connector: Connector, default: int) -> int:
    """How many known changes behind the lead cursor the connector reads as cheaply as it counts
    them (`window_read_limit` where a connector names it: Salesforce's query page), else
    `default`."""
    return int(getattr(connector, "window_read_limit", default))


@dataclass(frozen=True)
class RoutingReads:
    """What owner routing reads from a CRM: every owner (people and queues), and the owner of
    the company/account at each of some e-mail domains."""

    owners: list[Owner]
    account_owners: dict[str, str]


@runtime_checkable
class RoutingReader(Protocol):
    """A CRM that reads the owners and the account owners at some domains together, in fewer
    requests than `list_owners` and `account_owners` one after the other (Salesforce: one
    Composite request)."""

    def routing_reads(self, domains: Sequence[str]) -> RoutingReads:
        """Every owner, and the account owner at each of `domains` that has one."""
        ...


@runtime_checkable
class Picklists(Protocol):
    """A CRM whose fields can restrict their values (HubSpot enumeration options, Salesforce
    picklists): `validate --crm` checks the values a model maps against them."""

    def picklist_values(self, field: str) -> tuple[str, ...] | None:
        """The values the field allows; None when the field restricts nothing (or is unknown)."""
        ...


def task_desk(connector: Connector) -> TaskDesk | None:
    """The connector's follow-up tasks, if its CRM keeps them (a CSV file does not)."""
    desk = getattr(connector, "tasks", None)
    return desk if isinstance(desk, TaskDesk) else None
