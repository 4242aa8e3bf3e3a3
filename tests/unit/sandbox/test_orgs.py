"""The synthetic org generator: determinism, streaming, realism and the hidden propensity."""

from __future__ import annotations

import dataclasses
import math
import re
import statistics
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from connectors.records import ACTIVITY_TYPES
from sandbox.orgs import (
    COMPETITOR_DOMAINS,
    PERSONAL_DOMAINS,
    VENDOR_SITE,
    OrgSpec,
    SynthActivity,
    SynthCompany,
    SynthOrg,
    SynthPerson,
)
from sandbox.orgs.propensity import propensity
from sandbox.orgs.records import new_activity

T = TypeVar("T")
NOW = datetime(2026, 11, 1, tzinfo=UTC)
LIFECYCLE_STAGES = {
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
}
LEAD_STATUSES = {
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
    "UNQUALIFIED",
}
SOURCES = {"Web", "Webinar", "Paid Search", "Referral", "Event", "Partner", "Outbound"}
DRIVERS = {
    "demo_request",
    "meeting_booked",
    "email_reply",
    "pricing_page_view",
    "webinar_attended",
}


@pytest.fixture(scope="module")
def org() -> SynthOrg:
    return SynthOrg(OrgSpec(leads=5000, seed=11))


@pytest.fixture(scope="module")
def people(org: SynthOrg) -> list[SynthPerson]:
    return list(org.people())


def company_of(org: SynthOrg, person: SynthPerson) -> SynthCompany | None:
    return org.company(person.company_key) if person.company_key else None


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve from ranks (Mann-Whitney U), ties sharing their mean rank."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    positives = sum(labels)
    negatives = len(labels) - positives
    positive_rank_sum = sum(rank for rank, label in zip(ranks, labels, strict=True) if label)
    return (positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


# --- determinism and streaming -----------------------------------------------------------------


def test_the_same_seed_gives_the_same_org() -> None:
    first, second = SynthOrg(OrgSpec(leads=400, seed=3)), SynthOrg(OrgSpec(leads=400, seed=3))
    assert first.owners == second.owners
    assert list(first.companies()) == list(second.companies())
    assert list(first.people()) == list(second.people())


def test_a_different_seed_gives_a_different_org() -> None:
    first, second = SynthOrg(OrgSpec(leads=200, seed=3)), SynthOrg(OrgSpec(leads=200, seed=4))
    first_emails = {person.email for person in first.people()}
    second_emails = {person.email for person in second.people()}
    assert len(first_emails & second_emails) < 20
    assert [c.domain for c in first.companies()] != [c.domain for c in second.companies()]


def peak_memory_of(run: Callable[[], T]) -> tuple[T, int]:
    """What `run` returns, and the peak bytes Python allocated while it ran (result included)."""
    tracemalloc.start()
    try:
        result = run()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_people_are_generated_as_a_stream_with_flat_memory() -> None:
    org = SynthOrg(OrgSpec(leads=100_000, seed=5))
    activities, streamed = peak_memory_of(
        lambda: sum(len(person.activities) for person in org.people(0, 3000))
    )
    _, held = peak_memory_of(lambda: list(org.people(0, 600)))
    assert activities > 3000 * 5
    # Holding people takes about 2 kB each; streaming keeps only the current one (plus the
    # interpreter's bounded free lists), so streaming five times as many takes far less memory.
    # `python -m benchmarks sandbox` streams 1,000,000 people and measures the process's memory.
    assert streamed < held / 2


def test_a_slice_of_the_stream_equals_the_same_part_of_the_whole_stream(
    org: SynthOrg, people: list[SynthPerson]
) -> None:
    assert list(org.people(1200, 1210)) == people[1200:1210]
    assert list(org.companies(40, 45)) == list(org.companies())[40:45]
    assert org.person("p0001234") == people[1234]


def test_company_can_be_regenerated_from_its_key_alone(org: SynthOrg) -> None:
    streamed = list(org.companies())
    fresh = SynthOrg(OrgSpec(leads=5000, seed=11))
    assert fresh.company("c000123") == streamed[123]
    assert fresh.company(streamed[-1].key) == streamed[-1]
    for missing in ("c999999", "p000123", "c12x", ""):
        with pytest.raises(KeyError):
            fresh.company(missing)


def test_keys_are_stable_strings_numbered_in_stream_order(
    org: SynthOrg, people: list[SynthPerson]
) -> None:
    assert [person.key for person in people[:3]] == ["p0000000", "p0000001", "p0000002"]
    assert [company.key for company in org.companies(0, 2)] == ["c000000", "c000001"]
    assert [owner.key for owner in org.owners] == [f"o{n:03d}" for n in range(1, 10)]
    assert org.company_count == 1250
    assert org.person_count == len(people) == 5000


def test_the_spec_rejects_orgs_that_cannot_exist() -> None:
    with pytest.raises(ValueError, match="lead"):
        OrgSpec(leads=0)
    with pytest.raises(ValueError, match="timezone"):
        OrgSpec(now=datetime(2026, 11, 1))
    with pytest.raises(ValueError, match="owners"):
        OrgSpec(owners=1)
    with pytest.raises(ValueError, match="contact_share"):
        OrgSpec(contact_share=1.5)


def test_activities_built_on_the_fast_path_equal_the_dataclass_built_ones() -> None:
    fields = ("p0000001", "email_open", NOW, None, None, "Newsletter Oct 2026", "Subject")
    fast, regular = new_activity(*fields), SynthActivity(*fields)
    assert fast == regular
    assert hash(fast) == hash(regular)
    assert dataclasses.astuple(fast) == fields
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.type = "page_view"  # type: ignore[misc]


# --- owners --------------------------------------------------------------------------------------


def test_some_owners_are_inactive_and_one_is_a_queue(org: SynthOrg) -> None:
    people_owners = [owner for owner in org.owners if owner.kind == "person"]
    queues = [owner for owner in org.owners if owner.kind == "queue"]
    assert len(people_owners) == 8
    assert [queue.key for queue in queues] == [org.queue_key]
    assert any(not owner.active for owner in people_owners)
    assert sum(owner.active for owner in people_owners) >= 6
    assert len({owner.email for owner in org.owners}) == len(org.owners)
    assert all(owner.teams for owner in org.owners)
    assert org.owner("o001").active


def test_people_are_mostly_unowned_some_owned_by_a_person_some_by_the_queue(
    org: SynthOrg, people: list[SynthPerson]
) -> None:
    owners = Counter("none" if p.owner_key is None else org.owner(p.owner_key).kind for p in people)
    assert owners["none"] > 0.5 * len(people)
    assert owners["person"] > 0.1 * len(people)
    assert owners["queue"] > 0.05 * len(people)
    inactive = {owner.key for owner in org.owners if not owner.active}
    assert any(person.owner_key in inactive for person in people)


# --- time ----------------------------------------------------------------------------------------


def test_activities_never_fall_after_now(org: SynthOrg, people: list[SynthPerson]) -> None:
    history_start = NOW - timedelta(days=org.spec.history_days)
    for person in people:
        times = [activity.occurred_at for activity in person.activities]
        assert times == sorted(times)
        assert all(history_start <= moment <= NOW for moment in times)
        assert all(moment >= person.created_at for moment in times)
        assert all(activity.person_key == person.key for activity in person.activities)


def test_a_person_is_updated_after_everything_that_happened_to_them(
    people: list[SynthPerson],
) -> None:
    for person in people:
        assert person.created_at <= person.updated_at <= NOW
        if person.activities:
            assert person.updated_at >= person.activities[-1].occurred_at
        if person.outcome.at is not None:
            assert person.updated_at >= person.outcome.at


def test_conversions_happen_after_the_activities_that_drove_them(
    org: SynthOrg, people: list[SynthPerson]
) -> None:
    converted = [person for person in people if person.outcome.converted]
    assert converted
    for person in converted:
        assert person.outcome.person_key == person.key
        assert person.outcome.at is not None and person.outcome.at <= NOW
        drivers = [a.occurred_at for a in person.activities if a.type in DRIVERS]
        if drivers:
            assert person.outcome.at >= drivers[-1]
        assert person.outcome.value is not None and person.outcome.value > 0
        assert person.lifecycle_stage in {"opportunity", "customer"}
    for person in people:
        if not person.outcome.converted:
            assert person.outcome.at is None and person.outcome.value is None


def test_deal_values_grow_with_company_size(org: SynthOrg, people: list[SynthPerson]) -> None:
    deals = [
        (company.employees, person.outcome.value)
        for person in people
        if person.outcome.value is not None and (company := company_of(org, person))
    ]
    small = [value for employees, value in deals if employees < 50]
    large = [value for employees, value in deals if employees >= 1000]
    assert small and large
    assert statistics.median(large) > 3 * statistics.median(small)


# --- realism -------------------------------------------------------------------------------------


def test_companies_look_like_a_b2b_market(org: SynthOrg) -> None:
    companies = list(org.companies())
    employees = sorted(company.employees for company in companies)
    assert employees[0] >= 1 and employees[-1] <= 100_000
    assert statistics.median(employees) < 200 < employees[int(0.95 * len(employees))]
    assert len(Counter(company.industry for company in companies)) >= 10
    countries = Counter(company.country for company in companies)
    assert countries.most_common(1)[0][0] == "US"
    assert {"GB", "DE", "FR", "JP", "CA", "AU", "NL", "IN", "BR"} <= countries.keys()
    assert all(
        (company.state is not None) == (company.country in ("US", "CA")) for company in companies
    )
    by_size = sorted(companies, key=lambda company: company.employees)
    tenth = len(by_size) // 10
    assert statistics.median(c.annual_revenue for c in by_size[-tenth:]) > 20 * statistics.median(
        c.annual_revenue for c in by_size[:tenth]
    )
    assert len({company.domain for company in companies}) == len(companies)
    assert any(company.owner_key for company in companies)


def test_company_domains_stay_unique_in_a_large_org() -> None:
    org = SynthOrg(OrgSpec(leads=200_000, seed=2))
    domains = {company.domain for company in org.companies()}
    assert len(domains) == org.company_count == 50_000


def test_emails_are_unique_and_use_the_company_domain(org: SynthOrg) -> None:
    big = SynthOrg(OrgSpec(leads=20_000, seed=9))
    emails = [person.email for person in big.people()]
    assert len(set(emails)) == len(emails)
    for person in big.people(0, 2000):
        domain = person.email.rsplit("@", 1)[1]
        company = company_of(big, person)
        if company is not None:
            assert domain == company.domain and person.company_name == company.name
        else:
            assert domain in PERSONAL_DOMAINS | COMPETITOR_DOMAINS or domain.endswith(".edu")


def test_people_mix_leads_contacts_students_competitors_and_personal_addresses(
    people: list[SynthPerson],
) -> None:
    count = len(people)
    domains = [person.email.rsplit("@", 1)[1] for person in people]
    assert 0.25 < sum(p.kind == "contact" for p in people) / count < 0.35
    assert 0.1 < sum(p.company_key is None for p in people) / count < 0.35
    assert sum(domain in PERSONAL_DOMAINS for domain in domains) > 0.05 * count
    assert sum(domain in COMPETITOR_DOMAINS for domain in domains) > 0.01 * count
    assert sum(domain.endswith(".edu") for domain in domains) > 0.02 * count
    titles = " ".join(person.title for person in people)
    for word in ("VP", "Director", "Head of", "Chief", "Manager", "Engineer", "Student", "Intern"):
        assert word in titles
    assert {person.source for person in people} == SOURCES
    assert {person.lifecycle_stage for person in people} == LIFECYCLE_STAGES
    assert {person.lead_status for person in people} == LEAD_STATUSES
    assert 0.5 < sum(person.phone is not None for person in people) / count < 0.9
    us_people = [person for person in people if person.country == "US"]
    assert us_people and all(person.state for person in us_people)


def test_activity_histories_are_heavy_tailed_and_use_canonical_types(
    people: list[SynthPerson],
) -> None:
    counts = sorted(len(person.activities) for person in people)
    assert counts[0] == 0
    assert statistics.median(counts) <= 12
    assert counts[int(0.9 * len(counts))] <= 40
    assert counts[-1] > 100
    types = Counter(activity.type for person in people for activity in person.activities)
    assert set(types) == set(ACTIVITY_TYPES)
    assert types.most_common(1)[0][0] == "page_view"


def test_activities_carry_the_details_a_crm_would_show(people: list[SynthPerson]) -> None:
    activities = [activity for person in people for activity in person.activities]
    for activity in activities:
        if activity.type in ("page_view", "pricing_page_view", "form_submission", "demo_request"):
            assert activity.url is not None and activity.url.startswith(VENDOR_SITE)
        if activity.type == "pricing_page_view":
            assert "/pricing" in (activity.url or "")
        if activity.type in ("form_submission", "content_download", "demo_request"):
            assert activity.form
        if activity.type.startswith("webinar_"):
            assert activity.campaign and activity.campaign.startswith("Webinar: ")
        if activity.type in ("email_open", "email_click", "email_reply", "call", "meeting_booked"):
            assert activity.subject
    forms = {activity.form for activity in activities}
    assert {"Contact sales", "Newsletter", "Request a demo"} <= forms
    assert any(form and form.startswith("Ebook: ") for form in forms)
    assert any("/blog/" in (activity.url or "") for activity in activities)
    assert any("/product/" in (activity.url or "") for activity in activities)


# --- the hidden propensity -----------------------------------------------------------------------

SENIOR = re.compile(r"\b(VP|Vice President|SVP|Director|Head|Chief|CEO|CFO|CTO)\b")
JUNIOR = re.compile(r"Student|Intern|PhD")
GOOD_INDUSTRIES = {"Software": 1.0, "Financial Services": 0.7}
POOR_INDUSTRIES = {"Government", "Education", "Nonprofit"}
HAND_RAISERS = {"demo_request": 3, "meeting_booked": 2, "email_reply": 1.5, "pricing_page_view": 1}


def sensible_score(org: SynthOrg) -> Callable[[SynthPerson], float]:
    """What a RevOps admin would write: fit from visible fields plus last month's intent."""

    def score(person: SynthPerson) -> float:
        domain = person.email.rsplit("@", 1)[1]
        fit = 1.0 if SENIOR.search(person.title) else 0.0
        fit -= 1.5 if JUNIOR.search(person.title) else 0.0
        fit -= 1.5 if domain in PERSONAL_DOMAINS or domain.endswith(".edu") else 0.0
        fit -= 5.0 if domain in COMPETITOR_DOMAINS else 0.0
        company = company_of(org, person)
        if company is not None:
            fit += GOOD_INDUSTRIES.get(company.industry, 0.0)
            fit -= 1.0 if company.industry in POOR_INDUSTRIES else 0.0
            fit += 0.8 if 50 <= company.employees <= 5000 else 0.0
        recent = [a for a in person.activities if NOW - a.occurred_at <= timedelta(days=30)]
        intent = sum(HAND_RAISERS.get(a.type, 0) + 3 * (a.form == "Contact sales") for a in recent)
        return fit + math.log1p(intent)

    return score


def page_views(person: SynthPerson) -> float:
    return sum(activity.type == "page_view" for activity in person.activities)


def test_outcomes_follow_fit_and_recent_intent(org: SynthOrg, people: list[SynthPerson]) -> None:
    converted = [person.outcome.converted for person in people]
    assert 0.08 <= sum(converted) / len(people) <= 0.15
    hidden = [propensity(person, company_of(org, person), NOW) for person in people]
    assert auc(hidden, converted) >= 0.8
    sensible = auc([sensible_score(org)(person) for person in people], converted)
    naive = auc([page_views(person) for person in people], converted)
    assert sensible >= 0.75
    assert sensible - naive >= 0.15


def test_recent_intent_counts_more_than_old_intent(people: list[SynthPerson]) -> None:
    def demo_ages(person: SynthPerson) -> list[float]:
        return [(NOW - a.occurred_at).days for a in person.activities if a.type == "demo_request"]

    recent = [p.outcome.converted for p in people if any(age < 30 for age in demo_ages(p))]
    only_old = [p.outcome.converted for p in people if demo_ages(p) and min(demo_ages(p)) >= 90]
    assert len(recent) > 50 and len(only_old) > 50
    assert statistics.mean(recent) > 2 * statistics.mean(only_old)


def test_competitors_students_and_personal_addresses_rarely_convert(
    people: list[SynthPerson],
) -> None:
    def conversion_rate(people_subset: list[SynthPerson]) -> float:
        return statistics.mean(person.outcome.converted for person in people_subset)

    domain = {person.key: person.email.rsplit("@", 1)[1] for person in people}
    business = [p for p in people if p.company_key is not None]
    competitors = [p for p in people if domain[p.key] in COMPETITOR_DOMAINS]
    students = [p for p in people if domain[p.key].endswith(".edu")]
    personal = [p for p in people if domain[p.key] in PERSONAL_DOMAINS]
    assert conversion_rate(competitors) < 0.01
    assert conversion_rate(students) < 0.25 * conversion_rate(business)
    assert conversion_rate(personal) < 0.5 * conversion_rate(business)


# --- simulated activity --------------------------------------------------------------------------


def test_simulated_activity_comes_from_distinct_existing_people_in_the_last_hour(
    org: SynthOrg,
) -> None:
    later = NOW + timedelta(days=1)
    activities = org.simulate_activity(50, later, seed=1)
    people_touched = {activity.person_key for activity in activities}
    assert len(people_touched) == 50
    for key in people_touched:
        org.person(key)  # exists
    assert all(later - timedelta(hours=1) <= a.occurred_at <= later for a in activities)
    assert [a.occurred_at for a in activities] == sorted(a.occurred_at for a in activities)
    assert {a.type for a in activities} <= set(ACTIVITY_TYPES)
    assert org.simulate_activity(50, later, seed=1) == activities
    assert org.simulate_activity(50, later, seed=2) != activities
    with pytest.raises(ValueError, match="count"):
        org.simulate_activity(org.person_count + 1, later, seed=1)
