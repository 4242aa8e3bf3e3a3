"""Owner routing: account owners first, pools with strategies and caps, fallback, reasons."""

from __future__ import annotations

from collections import Counter

from builders import make_lead, model_from

from connectors.records import Owner
from scoring.routing import Directory, NoCounts, Router, unresolved_owners

OWNERS = [
    Owner(id="1", email="ana@acme.example", name="Ana"),
    Owner(id="2", email="ben@acme.example", name="Ben"),
    Owner(id="3", email="cy@acme.example", name="Cy", active=False),
    Owner(id="4", email="dee@acme.example", name="Dee"),
    Owner(id="Q", name="Inbound queue", kind="queue"),
    Owner(id="INT", email="integration@acme.example", name="Integration user"),
]
DIRECTORY = Directory(
    OWNERS, account_owner_by_domain={"bigco.example": "4"}, integration_owner_ids=frozenset({"INT"})
)


def router(routing_yaml: str) -> Router:
    model = model_from("routing:\n" + routing_yaml)
    assert model.routing is not None
    return Router(model.routing)


POOLS = router(
    """
  rules:
    - id: enterprise
      label: Enterprise team
      when: {field: company.employees, op: gte, value: 1000}
      pool: [{owner: ana@acme.example, weight: 2}, ben@acme.example, cy@acme.example]
      daily_cap: 3
    - id: everyone
      pool: [ben@acme.example, dee@acme.example]
      strategy: least_loaded
  fallback: Q
"""
)


class Counts:
    def __init__(self, total: dict[str, int] | None = None, today: dict[str, int] | None = None):
        self.assigned_total = total or {}
        self.assigned_today = today or {}


def test_only_a_newly_qualified_lead_without_a_human_owner_is_routed() -> None:
    assert POOLS.wants_owner(make_lead(), "mql", "lead", DIRECTORY)
    assert POOLS.wants_owner(make_lead(owner_id="Q"), "mql", "lead", DIRECTORY)
    assert POOLS.wants_owner(make_lead(owner_id="INT"), "mql", None, DIRECTORY)
    assert not POOLS.wants_owner(make_lead(owner_id="2"), "mql", "lead", DIRECTORY)
    assert not POOLS.wants_owner(make_lead(), "mql", "mql", DIRECTORY)
    assert not POOLS.wants_owner(make_lead(), "lead", None, DIRECTORY)


def test_the_companys_owner_keeps_the_lead() -> None:
    lead = make_lead(company={"name": "MegaCorp", "owner_id": "2", "employees": 5000})
    decision = POOLS.decide(lead, [True, True], DIRECTORY, {})
    assert (decision.owner_id, decision.source) == ("2", "account")
    assert decision.reason == "owner of MegaCorp: Ben"


def test_a_matching_account_domain_brings_its_owner() -> None:
    decision = POOLS.decide(make_lead(email="x@bigco.example"), [False, True], DIRECTORY, {})
    assert (decision.owner_id, decision.reason) == (
        "4",
        "owner of account bigco.example: Dee",
    )


def test_an_account_is_looked_up_by_domain_only_when_the_leads_own_company_owner_cannot_take_it(
) -> None:
    by_domain = {"email": "x@bigco.example"}
    assert POOLS.looks_up_account(make_lead(**by_domain), DIRECTORY)
    assert POOLS.looks_up_account(
        make_lead(company={"name": "OldCo", "owner_id": "3"}, **by_domain), DIRECTORY
    )
    assert not POOLS.looks_up_account(
        make_lead(company={"name": "MegaCorp", "owner_id": "2"}, **by_domain), DIRECTORY
    )
    assert not POOLS.looks_up_account(make_lead(), DIRECTORY)  # no e-mail domain
    pools_only = router(
        "  account_owner_first: false\n  rules:\n    - {id: all, pool: [ben@acme.example]}\n"
    )
    assert not pools_only.looks_up_account(make_lead(**by_domain), DIRECTORY)


def test_an_inactive_account_owner_is_passed_over_and_said_so() -> None:
    lead = make_lead(company={"name": "OldCo", "owner_id": "3"})
    decision = POOLS.decide(lead, [False, True], DIRECTORY, {"everyone": Counts()})
    assert decision.owner_id == "2"
    assert decision.reason.endswith("; owner of OldCo 3 is inactive or a queue")


def test_weighted_round_robin_follows_the_weights_and_skips_inactive_owners() -> None:
    given: Counter[str] = Counter()
    for _ in range(30):
        decision = POOLS.decide(
            make_lead(), [True, True], DIRECTORY, {"enterprise": Counts(dict(given))}
        )
        assert decision.pool == "enterprise"
        given[decision.owner_id] += 1
    assert given == {"1": 20, "2": 10}


def test_equal_weights_stay_within_one_assignment_of_each_other() -> None:
    equal = router(
        "  rules:\n    - {id: all, pool: [ana@acme.example, ben@acme.example, dee@acme.example]}\n"
    )
    given: Counter[str] = Counter()
    for step in range(1000):
        decision = equal.decide(make_lead(), [True], DIRECTORY, {"all": Counts(dict(given))})
        given[decision.owner_id] += 1
        assert max(given.values()) - min(given.get(o, 0) for o in ("1", "2", "4")) <= 1, step
    assert sum(given.values()) == 1000


def test_owners_at_their_daily_cap_are_skipped_and_the_next_rule_takes_over() -> None:
    full = Counts(total={"1": 9, "2": 9}, today={"1": 3, "2": 3})
    decision = POOLS.decide(
        make_lead(), [True, True], DIRECTORY, {"enterprise": full, "everyone": Counts()}
    )
    assert decision.source == "everyone"
    assert (
        "Enterprise team: nobody available (Ana: at daily cap 3; " in decision.reason
    )
    assert "Cy: inactive" in decision.reason


def test_least_loaded_gives_the_lead_to_whoever_has_had_fewest_today() -> None:
    counts = {"everyone": Counts(total={"2": 1, "4": 50}, today={"2": 5, "4": 1})}
    decision = POOLS.decide(make_lead(), [False, True], DIRECTORY, counts)
    assert decision.owner_id == "4"
    assert decision.reason == "everyone: least-loaded → Dee"


def test_a_fixed_pool_always_picks_the_first_available_owner() -> None:
    fixed = router(
        "  rules:\n    - {id: vip, pool: [cy@acme.example, dee@acme.example], strategy: fixed}\n"
    )
    decision = fixed.decide(make_lead(), [True], DIRECTORY, {"vip": NoCounts()})
    assert decision.owner_id == "4"
    assert decision.reason == "vip: fixed → Dee (skipped Cy: inactive)"


def test_without_any_rule_the_fallback_queue_gets_the_lead() -> None:
    decision = POOLS.decide(make_lead(), [False, False], DIRECTORY, {})
    assert (decision.owner_id, decision.source, decision.reason) == (
        "Q",
        "fallback",
        "fallback queue Inbound queue",
    )


def test_a_contact_the_crm_lets_no_queue_own_goes_to_the_fallback_user_instead() -> None:
    salesforce = Directory(OWNERS, queue_kinds=frozenset({"lead"}))
    with_user = router("  fallback: Q\n  fallback_user: dee@acme.example\n")
    contact = make_lead(kind="contact")

    decision = with_user.decide(contact, [], salesforce, {})
    assert (decision.owner_id, decision.reason) == (
        "4", "fallback user Dee; fallback queue Inbound queue cannot own a contact"
    )
    assert with_user.decide(make_lead(), [], salesforce, {}).owner_id == "Q"
    unset = POOLS.decide(contact, [False, False], salesforce, {})
    assert (unset.owner_id, unset.reason) == (
        None, "no owner found; fallback queue Inbound queue cannot own a contact; "
        "no fallback_user set"
    )


def test_with_no_fallback_the_lead_stays_unowned_and_the_reason_says_why() -> None:
    bare = router("  rules:\n    - {id: only, pool: [cy@acme.example]}\n")
    decision = bare.decide(make_lead(), [True], DIRECTORY, {})
    assert decision.owner_id is None
    assert decision.reason == "no owner found; only: nobody available (Cy: inactive)"


def test_routing_rules_are_checked_when_the_model_loads() -> None:
    import pytest

    from scoring.loading import ModelFileError, parse_model

    text = (
        "name: m\nrouting:\n  rules:\n    - {id: a, when: {field: titel, op: exists}, pool: [x]}\n"
    )
    with pytest.raises(ModelFileError) as caught:
        parse_model(text)
    assert caught.value.lines() == [
        "scoring.yaml:4 routing.rules[0].when.field: unknown field 'titel'; did you mean 'title'?"
    ]


def test_reasons_never_carry_a_full_email_address() -> None:
    nameless = Directory([Owner(id="9", email="sam.jones@acme.example")])
    rules = router("  rules:\n    - {id: solo, pool: [sam.jones@acme.example, ghost@acme.example]}\n")
    decision = rules.decide(make_lead(), [True], nameless, {})
    assert decision.reason == "solo: round-robin → s***@acme.example (skipped g***@acme.example: unknown owner)"


def test_owners_the_crm_lacks_has_deactivated_or_are_queues_are_listed_with_their_place() -> None:
    model = model_from(
        """
        routing:
          rules:
            - id: team
              pool: [ana@acme.example, anna@acme.example, cy@acme.example, Q, "2"]
          fallback: nobody@acme.example
        """
    )
    assert model.routing is not None
    assert [str(found) for found in unresolved_owners(model.routing, DIRECTORY)] == [
        "routing.rules[0].pool[1] anna@acme.example (not a user in the CRM)",
        "routing.rules[0].pool[2] cy@acme.example (inactive)",
        "routing.rules[0].pool[3] Q (a queue: a pool hands leads to people)",
        "routing.fallback nobody@acme.example (not a user in the CRM)",
    ]


def test_a_queue_as_fallback_is_fine() -> None:
    model = model_from("routing:\n  rules: []\n  fallback: Q\n")
    assert model.routing is not None
    assert unresolved_owners(model.routing, DIRECTORY) == []
