"""Owner routing inside a sync run: which leads of a page want an owner, the CRM reads that
deciding needs (the owner directory, the accounts at the leads' domains), and each decision
committed atomically in the state store.

Only a lead that has just reached an assigning stage and has no human owner is routed, so a page
where no lead reaches such a stage reads nothing. The directory is read once per engine and kept;
accounts are read per page, for the domains whose account owner can decide. A CRM that reads
owners and accounts together (connectors.base.RoutingReader: Salesforce's Composite request)
reads them in one go the first time: the accounts at the domains of every lead reaching an
assigning stage, before the directory can say which of them already have a human owner or a
company owner — a few domains more, one request instead of three.

A decision is committed with the pool's version it was made from; when another run moved the
pool in between, it is made again after a jittered, doubling pause (tenacity's random exponential
wait), so two runs routing the same pool take turns instead of retrying in lockstep. A dry run
commits nothing and counts its own planned assignments, so the rotation it shows is the one a
real run would make.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_random_exponential

from connectors.base import Connector, RoutingReader
from connectors.records import Lead, Owner
from scoring.config import Routing
from scoring.frame import LeadFrame
from scoring.qualify import ScoredBatch
from scoring.routing import Directory, Router, RoutingDecision
from sync.state import RoutingSnapshot, StateStore

ASSIGN_ATTEMPTS = 12
ASSIGN_BACKOFF_SECONDS = 0.002
ASSIGN_BACKOFF_MAX_SECONDS = 0.1


@dataclass
class Assignment:
    lead_id: str
    lead_name: str
    owner_id: str
    owner_name: str
    reason: str


@dataclass
class RoutedPage:
    """A page's routing: the decisions by lead id, and the owners assigned (shown and counted)."""

    decisions: dict[str, RoutingDecision]
    assignments: list[Assignment]


NOTHING_ROUTED = RoutedPage({}, [])


@dataclass(frozen=True)
class AskedAccounts:
    """Account owners a page's routing read already: the domains asked, the owners found."""

    domains: frozenset[str] = frozenset()
    accounts: dict[str, str] = field(default_factory=dict)


class RoutingRun:
    """Owner routing for the runs of one engine: the routing rules, the directory read once,
    and the assignments a dry run plans."""

    def __init__(
        self,
        connector: Connector,
        store: StateStore,
        routing: Routing | None,
        integration_owner_ids: frozenset[str],
        clock: Callable[[], datetime],
    ) -> None:
        self.connector = connector
        self.store = store
        self.router = Router(routing) if routing else None
        self.integration_owner_ids = integration_owner_ids
        self.clock = clock
        self._directory: Directory | None = None
        self._planned_assignments: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def begin(self) -> None:
        """A new run: forget what an earlier dry run planned."""
        self._planned_assignments.clear()

    def route(
        self,
        leads: Sequence[Lead],
        frame: LeadFrame,
        scored: ScoredBatch,
        shown_stage: Callable[[Lead], str | None],
        dry_run: bool,
    ) -> RoutedPage:
        """Decide the owner of each lead of a scored page that wants one."""
        if self.router is None:
            return NOTHING_ROUTED
        router = self.router
        reaching = [
            index
            for index, lead in enumerate(leads)
            if router.reaches_assign_stage(str(scored.stage[index]), shown_stage(lead))
        ]
        if not reaching:  # no lead wants an owner: the owner directory is not read
            return NOTHING_ROUTED
        asked = self._read_together([leads[index] for index in reaching])
        directory = self.directory()
        wanting = [
            index
            for index in reaching
            if router.wants_owner(
                leads[index], str(scored.stage[index]), shown_stage(leads[index]), directory
            )
        ]
        if not wanting:
            return NOTHING_ROUTED
        domains = sorted({
            domain for i in wanting
            if (domain := leads[i].email_domain) and router.looks_up_account(leads[i], directory)
        })
        unasked = [domain for domain in domains if domain not in asked.domains]
        accounts = {domain: owner for domain, owner in asked.accounts.items() if domain in domains}
        accounts |= self.connector.account_owners(unasked) if unasked else {}
        directory = Directory(
            directory.owners, accounts, directory.integration_owner_ids, directory.queue_kinds
        )
        matches = router.rule_matches(frame)
        routed = RoutedPage({}, [])
        for index in wanting:
            lead = leads[index]
            decision = self.assign_owner(lead, matches[index].tolist(), directory, dry_run)
            if decision.owner_id is not None:
                routed.decisions[lead.id] = decision
                owner = directory.find(decision.owner_id)
                routed.assignments.append(
                    Assignment(
                        lead.id,
                        lead.name or lead.id,
                        decision.owner_id,
                        owner.display_name if owner else decision.owner_id,
                        decision.reason,
                    )
                )
        return routed

    def assign_owner(
        self, lead: Lead, matches: list[bool], directory: Directory, dry_run: bool
    ) -> RoutingDecision:
        """Decide, then commit atomically; if another run moved the pool, decide again."""
        day = self.clock().date()
        existing = self.store.assignment_for(lead.id)
        if existing is not None:
            return RoutingDecision(
                owner_id=existing, source="earlier", pool=None, reason="assigned by an earlier run"
            )
        attempts = Retrying(
            stop=stop_after_attempt(ASSIGN_ATTEMPTS),
            wait=wait_random_exponential(
                multiplier=ASSIGN_BACKOFF_SECONDS, max=ASSIGN_BACKOFF_MAX_SECONDS
            ),
            retry=retry_if_result(lambda decision: decision is None),
            retry_error_callback=lambda _: None,
        )
        decision = attempts(self._try_assign, lead, matches, directory, dry_run, day)
        if decision is None:
            raise RuntimeError(f"could not assign lead {lead.id}: the pools kept changing")
        return decision

    def _try_assign(
        self, lead: Lead, matches: list[bool], directory: Directory, dry_run: bool, day: date
    ) -> RoutingDecision | None:
        """Decide from the pools as they are now and commit it; None when another run moved the
        pool in between (decide again)."""
        assert self.router is not None
        pools = [rule.id for rule in self.router.routing.rules]
        snapshots = {pool: self.store.routing_snapshot(pool, day) for pool in pools}
        if dry_run:
            snapshots = {pool: self._with_planned(pool, snap) for pool, snap in snapshots.items()}
        decision = self.router.decide(lead, matches, directory, snapshots)
        if dry_run and decision.owner_id is not None and decision.pool is not None:
            self._planned_assignments[decision.pool][decision.owner_id] += 1
        if dry_run or decision.owner_id is None:
            return decision
        pool = decision.pool or decision.source
        expected = (
            snapshots[pool].version
            if pool in snapshots
            else self.store.routing_snapshot(pool, day).version
        )
        outcome = self.store.commit_assignment(pool, lead.id, decision.owner_id, day, expected)
        if outcome.status == "assigned":
            return decision
        if outcome.status == "already_assigned" and outcome.owner_id:
            return RoutingDecision(
                owner_id=outcome.owner_id,
                source="earlier",
                pool=None,
                reason="assigned by a concurrent run",
            )
        return None

    def _with_planned(self, pool: str, snapshot: RoutingSnapshot) -> RoutingSnapshot:
        """A dry run commits nothing: count its own planned assignments so that the rotation it
        shows is the one a real run would make."""
        planned = self._planned_assignments[pool]
        return RoutingSnapshot(
            version=snapshot.version,
            assigned_total=dict(Counter(snapshot.assigned_total) + planned),
            assigned_today=dict(Counter(snapshot.assigned_today) + planned),
        )

    def _read_together(self, reaching: Sequence[Lead]) -> AskedAccounts:
        """The first read of the directory, with the accounts at the reaching leads' domains,
        where the CRM reads both in one go; nothing otherwise."""
        if self._directory is not None or not isinstance(self.connector, RoutingReader):
            return AskedAccounts()
        assert self.router is not None
        account_first = self.router.routing.account_owner_first
        domains = sorted({
            domain for lead in reaching if account_first and (domain := lead.email_domain)
        })
        reads = self.connector.routing_reads(domains)
        self._directory = self._directory_of(reads.owners)
        return AskedAccounts(frozenset(domains), reads.account_owners)

    def directory(self) -> Directory:
        """The CRM's owners (people and queues), read once and kept."""
        if self._directory is None:
            self._directory = self._directory_of(self.connector.list_owners())
        return self._directory

    def _directory_of(self, owners: list[Owner]) -> Directory:
        return Directory(
            owners,
            integration_owner_ids=self.integration_owner_ids,
            queue_kinds=self.connector.queue_kinds,
        )

    def owner_name(self, owner_id: str) -> str:
        owner = self.directory().find(owner_id)
        return owner.display_name if owner else owner_id
