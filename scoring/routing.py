"""Owner routing: who gets a lead that just qualified and has no human owner. Pure.

In order: the owner of the lead's company or of the account whose domain matches the lead's
e-mail; else the first routing rule whose condition matches picks a pool and a strategy
(weighted round-robin, least-loaded, fixed), skipping inactive owners, queues and owners at their
daily cap; else the fallback owner or queue — or, for a record the CRM does not let a queue own
(Salesforce Contacts: only Leads and Cases take queues), the `fallback_user`. Every decision says
why.

This module only decides. The counters it decides from (a `PoolCounts` snapshot) live in the state
store, which commits each assignment atomically and makes the caller decide again if another run
assigned in between — so concurrent runs never double-assign nor skew the rotation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict

from connectors.records import Lead, Owner, masked_email
from scoring.conditions import Evaluator, compile_condition
from scoring.config import PoolMember, Routing, RoutingRule
from scoring.frame import LeadFrame, lead_field_kind


class PoolCounts(Protocol):
    """Assignments so far in one pool: in all, and today."""

    @property
    def assigned_total(self) -> Mapping[str, int]: ...

    @property
    def assigned_today(self) -> Mapping[str, int]: ...


@dataclass(frozen=True)
class NoCounts:
    assigned_total: Mapping[str, int] = field(default_factory=dict)
    assigned_today: Mapping[str, int] = field(default_factory=dict)


class RoutingDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    owner_id: str | None
    source: str  # "account", a routing rule id, "fallback" or "none"
    pool: str | None  # the rule whose counters this assignment counts against
    reason: str


ANY_KIND = frozenset({"lead", "contact"})


class Directory:
    """The CRM's owners and accounts, as routing needs them."""

    def __init__(
        self,
        owners: Sequence[Owner],
        account_owner_by_domain: Mapping[str, str] | None = None,
        integration_owner_ids: frozenset[str] = frozenset(),
        queue_kinds: frozenset[str] = ANY_KIND,
    ) -> None:
        """`queue_kinds`: the kinds of record (lead, contact) the CRM lets a queue own."""
        self.owners = list(owners)
        self.account_owner_by_domain = dict(account_owner_by_domain or {})
        self.integration_owner_ids = integration_owner_ids
        self.queue_kinds = queue_kinds
        self._by_id = {owner.id: owner for owner in self.owners}
        self._by_email = {owner.email.lower(): owner for owner in self.owners if owner.email}

    def find(self, reference: str) -> Owner | None:
        """An owner by CRM id or e-mail address."""
        return self._by_id.get(reference) or self._by_email.get(reference.strip().lower())

    def has_human_owner(self, lead: Lead) -> bool:
        """False when the lead is unowned, owned by a queue or by the integration user."""
        if not lead.owner_id or lead.owner_id in self.integration_owner_ids:
            return False
        owner = self.find(lead.owner_id)
        return owner is None or owner.kind == "person"


def _assignable(owner: Owner | None) -> bool:
    return owner is not None and owner.active and owner.kind == "person"


def _name(owner: Owner) -> str:
    return owner.display_name


class Router:
    def __init__(self, routing: Routing) -> None:
        self.routing = routing
        self._conditions: list[Evaluator | None] = [
            compile_condition(rule.when, lead_field_kind) if rule.when else None
            for rule in routing.rules
        ]

    def rule_matches(self, frame: LeadFrame) -> np.ndarray:
        """Which routing rules match each lead of a scored batch: (leads, rules) booleans."""
        matches = np.ones((frame.size, len(self._conditions)), dtype=bool)
        for column, condition in enumerate(self._conditions):
            if condition is not None:
                matches[:, column] = condition(frame)
        return matches

    def wants_owner(
        self, lead: Lead, new_stage: str, previous_stage: str | None, directory: Directory
    ) -> bool:
        """Only a lead that has just reached an assigning stage and has no human owner."""
        return self.reaches_assign_stage(new_stage, previous_stage) and not (
            directory.has_human_owner(lead)
        )

    def reaches_assign_stage(self, new_stage: str, previous_stage: str | None) -> bool:
        """Whether a lead has just reached an assigning stage: only such a lead may want an
        owner, so the owner directory is not read when no lead of a page does."""
        stages = self.routing.assign_stages
        return new_stage in stages and previous_stage not in stages

    def looks_up_account(self, lead: Lead, directory: Directory) -> bool:
        """Whether deciding this lead's owner needs the owner of the account at its e-mail
        domain: only when the account owner comes first and the lead's own company has no
        owner who can take it (that owner wins before any account found by domain)."""
        if not self.routing.account_owner_first or not lead.email_domain:
            return False
        company_owner = lead.company.owner_id if lead.company else None
        return not (company_owner and _assignable(directory.find(company_owner)))

    def decide(
        self,
        lead: Lead,
        matches: Sequence[bool],
        directory: Directory,
        counts: Mapping[str, PoolCounts],
    ) -> RoutingDecision:
        notes: list[str] = []
        if self.routing.account_owner_first:
            decision = _account_owner(lead, directory, notes)
            if decision is not None:
                return decision
        for rule, matched in zip(self.routing.rules, matches, strict=True):
            if matched:
                decision = _from_pool(rule, directory, counts.get(rule.id, NoCounts()), notes)
                if decision is not None:
                    return decision
        return self._fallback(lead, directory, notes)

    def _fallback(self, lead: Lead, directory: Directory, notes: list[str]) -> RoutingDecision:
        reference = self.routing.fallback
        target = directory.find(reference) if reference else None
        if target is not None and target.kind == "queue" and lead.kind not in directory.queue_kinds:
            notes.append(f"fallback queue {_name(target)} cannot own a {lead.kind}")
            return self._fallback_user(directory, notes)
        if target is not None and (target.kind == "queue" or target.active):
            return RoutingDecision(
                owner_id=target.id,
                source="fallback",
                pool=None,
                reason=_joined(f"fallback {target.kind} {_name(target)}", notes),
            )
        if reference:
            notes.append(f"fallback {masked_email(reference)} is unknown or inactive")
        return RoutingDecision(
            owner_id=None, source="none", pool=None, reason=_joined("no owner found", notes)
        )


    def _fallback_user(self, directory: Directory, notes: list[str]) -> RoutingDecision:
        reference = self.routing.fallback_user
        target = directory.find(reference) if reference else None
        if _assignable(target):
            assert target is not None
            return RoutingDecision(
                owner_id=target.id, source="fallback", pool=None,
                reason=_joined(f"fallback user {_name(target)}", notes),
            )
        notes.append(
            f"fallback_user {masked_email(reference)} is unknown, inactive or a queue"
            if reference else "no fallback_user set"
        )
        return RoutingDecision(
            owner_id=None, source="none", pool=None, reason=_joined("no owner found", notes)
        )


@dataclass(frozen=True)
class UnresolvedOwner:
    """An owner the model's routing names that cannot receive leads in this CRM."""

    path: str  # where the model names it: routing.rules[0].pool[1]
    reference: str  # as the model writes it: an e-mail address or a CRM owner id
    problem: str  # "not a user in the CRM", "inactive", "a queue"

    def __str__(self) -> str:
        return f"{self.path} {self.reference} ({self.problem})"


def unresolved_owners(routing: Routing, directory: Directory) -> list[UnresolvedOwner]:
    """Every pool member (and `fallback_user`) that is not an active person in the CRM, and a
    fallback that is not an active person or a queue: checked by `leadq setup` and `leadq
    validate --crm`, because a mistyped owner would otherwise send every lead of its pool to the
    fallback without a word."""
    found = []
    for index, rule in enumerate(routing.rules):
        for member_index, member in enumerate(rule.pool):
            problem = _pool_problem(directory.find(member.owner))
            if problem:
                path = f"routing.rules[{index}].pool[{member_index}]"
                found.append(UnresolvedOwner(path, member.owner, problem))
    if routing.fallback:
        target = directory.find(routing.fallback)
        if target is None:
            found.append(UnresolvedOwner("routing.fallback", routing.fallback, _UNKNOWN))
        elif target.kind == "person" and not target.active:
            found.append(UnresolvedOwner("routing.fallback", routing.fallback, "inactive"))
    if routing.fallback_user:
        problem = _pool_problem(directory.find(routing.fallback_user))
        if problem:
            found.append(UnresolvedOwner("routing.fallback_user", routing.fallback_user, problem))
    return found


_UNKNOWN = "not a user in the CRM"


def _pool_problem(owner: Owner | None) -> str | None:
    if owner is None:
        return _UNKNOWN
    if owner.kind == "queue":
        return "a queue: a pool hands leads to people"
    return None if owner.active else "inactive"


def _account_owner(lead: Lead, directory: Directory, notes: list[str]) -> RoutingDecision | None:
    candidates = []
    if lead.company and lead.company.owner_id:
        candidates.append((lead.company.owner_id, f"owner of {lead.company.name or 'the company'}"))
    domain = lead.email_domain
    if domain and domain in directory.account_owner_by_domain:
        candidates.append((directory.account_owner_by_domain[domain], f"owner of account {domain}"))
    for owner_id, why in candidates:
        owner = directory.find(owner_id)
        if _assignable(owner):
            assert owner is not None
            return RoutingDecision(
                owner_id=owner.id, source="account", pool=None, reason=f"{why}: {_name(owner)}"
            )
        notes.append(f"{why} {owner_id} is inactive or a queue")
    return None


def _from_pool(
    rule: RoutingRule, directory: Directory, counts: PoolCounts, notes: list[str]
) -> RoutingDecision | None:
    available: list[tuple[PoolMember, Owner]] = []
    skipped: list[str] = []
    for member in rule.pool:
        owner = directory.find(member.owner)
        cap = member.daily_cap if member.daily_cap is not None else rule.daily_cap
        if owner is None:
            skipped.append(f"{masked_email(member.owner)}: unknown owner")
        elif not _assignable(owner):
            skipped.append(f"{_name(owner)}: inactive")
        elif cap is not None and counts.assigned_today.get(owner.id, 0) >= cap:
            skipped.append(f"{_name(owner)}: at daily cap {cap}")
        else:
            available.append((member, owner))
    label = rule.label or rule.id
    if not available:
        notes.append(f"{label}: nobody available ({'; '.join(skipped)})")
        return None
    member, owner = _pick(rule.strategy, available, counts)
    strategy = rule.strategy.replace("_", "-")
    reason = f"{label}: {strategy} → {_name(owner)}"
    if skipped:
        reason += f" (skipped {'; '.join(skipped)})"
    return RoutingDecision(
        owner_id=owner.id, source=rule.id, pool=rule.id, reason=_joined(reason, notes)
    )


def _pick(
    strategy: str, available: list[tuple[PoolMember, Owner]], counts: PoolCounts
) -> tuple[PoolMember, Owner]:
    if strategy == "fixed":
        return available[0]
    total, today = counts.assigned_total, counts.assigned_today
    if strategy == "least_loaded":
        return min(
            available,
            key=lambda pair: (today.get(pair[1].id, 0), total.get(pair[1].id, 0) / pair[0].weight),
        )
    # Weighted round-robin: the owner furthest behind their share goes next; ties keep pool order.
    return min(available, key=lambda pair: (total.get(pair[1].id, 0) + 1) / pair[0].weight)


def _joined(reason: str, notes: list[str]) -> str:
    return reason if not notes else f"{reason}; {'; '.join(notes)}"
