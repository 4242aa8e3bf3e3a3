"""Seeded synthetic CRM orgs: owners, companies, people, activity histories and outcomes.

`SynthOrg(OrgSpec(leads=..., seed=...))` describes one org. Owners are few and kept in memory;
companies and people are *streams*: every record is derived from its own random generator, seeded
from (org seed, record kind, index), so `company(key)` and `person(key)` rebuild one record alone,
`people(start, stop)` slices the stream, and iterating a million people keeps memory flat. The same
spec gives the same org on every run and on every machine, so the HubSpot and the Salesforce
emulators render the same people, each in its own shape.

`spec.leads` is the number of people; a `contact_share` of them have kind "contact" (Salesforce
Contacts, mostly at an Account), the rest kind "lead". There are `companies_per_100_leads`
companies per 100 people, `spec.owners` person owners (o001 always active, about one in six
inactive, at least one) and then one queue. Keys are stable strings: "o001" (owners, from 1;
the queue comes last), "c000123" (companies) and "p0000042" (people), from 0 in stream order.

Everything has happened by `spec.now`: activities fall in the `history_days` before it (and after
the person was created), sorted by time; conversions are observed outcomes (`at` <= now), so an
emulator can show them (IsConverted, a deal, lifecycle stage "opportunity" or "customer").
`simulate_activity` adds fresh activity after that, for incremental syncs and the demo.

The hidden propensity
---------------------
Whether a person converted is drawn once from a logistic function of two hidden terms, computed
from the person's own visible fields, so that a scoring model built from those fields can recover
it and a careless one cannot:

* **Fit**, the sum of
  - industry: Software and Financial Services are the best customers, then Telecommunications,
    Healthcare and Consulting; Manufacturing and Media are neutral; Retail and Real Estate are
    below; Education, Government and Nonprofits are poor;
  - company size: 50 to 5,000 employees is the sweet spot, larger companies are good, 10 to 49
    neutral and fewer than 10 poor;
  - seniority read from the title: VPs, chiefs, heads and directors are the buyers, managers a
    little positive, individual contributors slightly negative, interns and students strongly
    negative; the function adds a little: revenue operations, marketing and sales buy this
    product, engineering, finance and HR do not;
  - country: the US, GB, CA and AU are good markets, Western Europe neutral-positive, the rest
    slightly negative;
  - penalties: no company, a personal e-mail domain (gmail.com, ...), a student (a university
    `.edu` address) and, strongest of all, a competitor's domain (they essentially never buy).
* **Recent intent**: a weighted sum over the person's activities in the last 60 days, each
  weighted by its recency (half-life 21 days): demo requests and "Contact sales" forms weigh most,
  then booked meetings, e-mail replies, pricing page views and webinar attendance; downloads,
  calls and registrations weigh a little; page views and e-mail opens weigh nothing. Its effect on
  the logit grows with the logarithm of the sum. Unsubscribes and bounces subtract.

Good-fit people are also more likely to show a burst of intent, and competitors look at pricing
pages, so a naive "count the page views" score ranks people clearly worse than a fit and recent
intent score. The base rate is about 11-12%. A conversion happens after the activities that drove
it and never after `spec.now`; its value, a deal amount, grows with the company's size.
"""

from __future__ import annotations

import hashlib
import math
import random
import struct
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import chain, count
from operator import itemgetter
from typing import Generic, Literal, TypeVar

_T = TypeVar("_T")

# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SynthOwner:
    key: str
    email: str
    first_name: str
    last_name: str
    active: bool
    kind: Literal["person", "queue"]
    teams: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SynthCompany:
    key: str
    name: str
    domain: str
    industry: str
    employees: int
    annual_revenue: float
    country: str
    state: str | None
    owner_key: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SynthActivity:
    person_key: str
    type: str
    occurred_at: datetime
    url: str | None = None
    form: str | None = None
    campaign: str | None = None
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class SynthOutcome:
    person_key: str
    converted: bool
    at: datetime | None
    value: float | None


@dataclass(frozen=True, slots=True)
class SynthPerson:
    key: str
    kind: Literal["lead", "contact"]
    email: str
    first_name: str
    last_name: str
    title: str
    phone: str | None
    country: str
    state: str | None
    source: str
    company_key: str | None
    company_name: str
    owner_key: str | None
    lifecycle_stage: str
    lead_status: str
    created_at: datetime
    updated_at: datetime
    activities: tuple[SynthActivity, ...]
    outcome: SynthOutcome


@dataclass(frozen=True)
class OrgSpec:
    leads: int = 1000
    seed: int = 7
    now: datetime = datetime(2026, 11, 1, tzinfo=UTC)
    history_days: int = 180
    contact_share: float = 0.3
    companies_per_100_leads: int = 25
    owners: int = 8

    def __post_init__(self) -> None:
        if self.leads < 1:
            raise ValueError("an org needs at least one lead")
        if self.now.tzinfo is None:
            raise ValueError("spec.now must be timezone-aware")
        if self.history_days < 1:
            raise ValueError("history_days must be at least 1")
        if not 0.0 <= self.contact_share <= 1.0:
            raise ValueError("contact_share must be between 0 and 1")
        if self.companies_per_100_leads < 1:
            raise ValueError("companies_per_100_leads must be at least 1")
        if self.owners < 2:
            raise ValueError("an org needs at least two person owners (one of them inactive)")


# --------------------------------------------------------------------------------------------
# Seeded draws
# --------------------------------------------------------------------------------------------

_OWNER, _COMPANY, _PERSON, _SIMULATION, _ORG = 1, 2, 3, 4, 5


class _Weighted(Generic[_T]):
    """A fixed table of values with relative weights, picked by one uniform draw."""

    __slots__ = ("_cumulative", "_total", "values")

    def __init__(self, weighted: Sequence[tuple[_T, float]]) -> None:
        self.values: tuple[_T, ...] = tuple(value for value, _ in weighted)
        running, cumulative = 0.0, []
        for _, weight in weighted:
            running += weight
            cumulative.append(running)
        self._cumulative = tuple(cumulative)
        self._total = running

    def at(self, uniform: float) -> _T:
        return self.values[bisect_right(self._cumulative, uniform * self._total)]


class _Draws:
    """Draws for one record, all made from a stream of uniforms in [0, 1).

    Every record has its own stream, keyed by (org seed, record kind, index), so any record can
    be rebuilt alone. Two sources feed it, both stable across Python versions and machines:
    `_mersenne_draws` (Python's `Random(seed).random()`, whose sequence Python guarantees:
    ~4 µs to seed, 0.04 µs a draw) for people, who need a hundred draws or more, and
    `_digest_draws` (BLAKE2b in counter mode: ~0.5 µs to start, 1.5 µs per 16 draws) for
    companies and owners, who need about a dozen. A per-record
    `numpy.random.default_rng([seed, kind, index])` costs ~13 µs to build and ~1 µs a scalar draw.
    """

    __slots__ = ("random",)

    def __init__(self, uniform: Callable[[], float]) -> None:
        self.random = uniform

    def pick(self, table: _Weighted[_T]) -> _T:
        return table.at(self.random())

    def choose(self, values: Sequence[_T]) -> _T:
        return values[int(self.random() * len(values))]

    def below(self, bound: int) -> int:
        return min(int(self.random() * bound), bound - 1)

    def chance(self, probability: float) -> bool:
        return self.random() < probability

    def uniform_between(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def normal(self) -> float:
        radius = math.sqrt(-2.0 * math.log(1.0 - self.random()))
        return radius * math.cos(2.0 * math.pi * self.random())

    def lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(sigma * self.normal())

    def exponential(self, mean: float) -> float:
        return -mean * math.log(1.0 - self.random())

    def poisson(self, mean: float) -> int:
        if mean <= 0.0:
            return 0
        if mean > 30.0:
            return max(0, round(mean + math.sqrt(mean) * self.normal()))
        threshold, count, product = math.exp(-mean), 0, self.random()
        while product > threshold:
            count += 1
            product *= self.random()
        return count


def _stream_key(seed: int, kind: int, index: int) -> bytes:
    return f"{seed}:{kind}:{index}:".encode()


def _mersenne_draws(seed: int, kind: int, index: int) -> _Draws:
    digest = hashlib.blake2b(_stream_key(seed, kind, index), digest_size=16).digest()
    return _Draws(random.Random(int.from_bytes(digest, "little")).random)


_WORDS_PER_BLOCK = struct.Struct("<16I")
_WORD_SCALE = 2.0**-32


def _digest_draws(seed: int, kind: int, index: int) -> _Draws:
    key = _stream_key(seed, kind, index)

    def block(number: int) -> list[float]:
        digest = hashlib.blake2b(key + number.to_bytes(8, "little"), digest_size=64).digest()
        return [word * _WORD_SCALE for word in _WORDS_PER_BLOCK.unpack(digest)]

    return _Draws(chain.from_iterable(map(block, count())).__next__)


class _Permutation:
    """A seeded bijection of range(size): record `i` gets a distinct slot, so names never clash.

    Slots advance by a multiplier near size / golden ratio, coprime to size, which spreads
    neighbouring records far apart.
    """

    def __init__(self, size: int, seed: int, kind: int) -> None:
        multiplier = max(1, round(size * 0.6180339887))
        while math.gcd(multiplier, size) != 1:
            multiplier += 1
        self.size, self._multiplier = size, multiplier
        self._offset = _digest_draws(seed, _ORG, kind).below(size)

    def __call__(self, index: int) -> int:
        return (index * self._multiplier + self._offset) % self.size


# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

VENDOR_DOMAIN = "acme-saas.example"
VENDOR_SITE = f"https://{VENDOR_DOMAIN}"

_INDUSTRY_FIT: dict[str, float] = {
    "Software": 1.0,
    "Financial Services": 0.7,
    "Telecommunications": 0.4,
    "Healthcare": 0.3,
    "Consulting": 0.3,
    "Manufacturing": 0.0,
    "Media": 0.0,
    "Retail": -0.3,
    "Real Estate": -0.4,
    "Education": -0.8,
    "Government": -1.0,
    "Nonprofit": -1.0,
}
_INDUSTRIES = _Weighted(
    [
        ("Software", 20),
        ("Financial Services", 11),
        ("Telecommunications", 4),
        ("Healthcare", 10),
        ("Consulting", 8),
        ("Manufacturing", 12),
        ("Media", 5),
        ("Retail", 10),
        ("Real Estate", 5),
        ("Education", 7),
        ("Government", 5),
        ("Nonprofit", 3),
    ]
)
# Revenue per employee differs by industry (software and finance earn more per head).
_REVENUE_PER_EMPLOYEE: dict[str, float] = {
    "Software": 260_000,
    "Financial Services": 320_000,
    "Telecommunications": 280_000,
    "Healthcare": 150_000,
    "Consulting": 170_000,
    "Manufacturing": 220_000,
    "Media": 190_000,
    "Retail": 130_000,
    "Real Estate": 240_000,
    "Education": 90_000,
    "Government": 110_000,
    "Nonprofit": 70_000,
}

_COUNTRY_FIT: dict[str, float] = {
    "US": 0.4,
    "GB": 0.3,
    "CA": 0.3,
    "AU": 0.3,
    "DE": 0.1,
    "NL": 0.1,
    "FR": 0.0,
    "SE": 0.1,
    "ES": -0.2,
    "JP": -0.3,
    "IN": -0.4,
    "BR": -0.4,
    "SG": 0.0,
}
_COUNTRIES = _Weighted(
    [
        ("US", 45),
        ("GB", 10),
        ("DE", 8),
        ("CA", 6),
        ("IN", 6),
        ("FR", 5),
        ("JP", 4),
        ("AU", 4),
        ("BR", 4),
        ("NL", 3),
        ("ES", 2),
        ("SE", 2),
        ("SG", 1),
    ]
)
_STATES: dict[str, _Weighted[str]] = {
    "US": _Weighted(
        [
            ("CA", 12), ("TX", 9), ("NY", 8), ("FL", 6), ("IL", 4), ("MA", 4), ("WA", 4),
            ("PA", 4), ("GA", 3), ("NC", 3), ("OH", 3), ("CO", 3), ("NJ", 3), ("VA", 3),
            ("MI", 2), ("AZ", 2), ("MN", 2), ("OR", 2), ("UT", 2), ("TN", 2), ("MD", 2),
        ]
    ),
    "CA": _Weighted([("ON", 40), ("QC", 22), ("BC", 14), ("AB", 12), ("MB", 4), ("NS", 3)]),
}
_TLDS: dict[str, str] = {
    "GB": "co.uk", "DE": "de", "FR": "fr", "JP": "co.jp", "CA": "ca", "AU": "com.au",
    "NL": "nl", "IN": "in", "BR": "com.br", "ES": "es", "SE": "se", "SG": "sg",
}
_LEGAL_SUFFIXES: dict[str, str] = {
    "US": "Inc.", "GB": "Ltd", "DE": "GmbH", "FR": "SAS", "JP": "K.K.", "CA": "Inc.",
    "AU": "Pty Ltd", "NL": "B.V.", "IN": "Pvt Ltd", "BR": "Ltda", "ES": "S.L.", "SE": "AB",
    "SG": "Pte Ltd",
}
_PHONE_PREFIXES: dict[str, str] = {
    "US": "+1", "CA": "+1", "GB": "+44", "DE": "+49", "FR": "+33", "JP": "+81", "AU": "+61",
    "NL": "+31", "IN": "+91", "BR": "+55", "ES": "+34", "SE": "+46", "SG": "+65",
}

_COMPANY_PREFIXES = (
    "Blue", "North", "Silver", "Bright", "Red", "Iron", "Summit", "Cedar", "Golden", "Clear",
    "Swift", "Stone", "Oak", "River", "Green", "Star", "Frost", "Maple", "Harbor", "Pine",
    "Copper", "Crystal", "Eagle", "Falcon", "Granite", "Hollow", "Lake", "Meadow", "Nova",
    "Orchid", "Quartz", "Raven", "Sable", "Terra", "Upland", "Vista", "West", "Amber", "Birch",
    "Coral",
)
_COMPANY_ROOTS = (
    "peak", "wind", "field", "bridge", "wave", "point", "forge", "gate", "light", "line",
    "crest", "path", "works", "haven", "ridge", "vale", "port", "mark", "spring", "brook",
    "craft", "view", "loop", "shore", "hill", "dale", "ford", "grove", "moor", "wick",
)
_COMPANY_NOUNS = (
    "Systems", "Labs", "Group", "Partners", "Analytics", "Dynamics", "Solutions", "Technologies",
    "Networks", "Logistics", "Holdings", "Industries", "Ventures", "Health", "Capital", "Media",
    "Digital", "Software", "Robotics", "Energy", "Foods", "Retail", "Consulting", "Bank",
    "Insurance", "Studios", "Supply", "Pharma", "Telecom", "Academy",
)

_FIRST_NAMES = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty",
    "Mark", "Sandra", "Steven", "Ashley", "Paul", "Emily", "Andrew", "Donna", "Joshua",
    "Michelle", "Kevin", "Carol", "Brian", "Amanda", "George", "Melissa", "Oliver", "Amelia",
    "Harry", "Isla", "Lukas", "Lea", "Felix", "Hannah", "Jonas", "Emma", "Louis", "Chloé",
    "Hugo", "Manon", "Hiroshi", "Yuki", "Haruto", "Sakura", "Liam", "Olivia", "Noah", "Ava",
    "Arjun", "Priya", "Rahul", "Ananya", "Vikram", "Deepika", "Lucas", "Gabriela", "Mateus",
    "Juliana", "Pedro", "Camila", "Sven", "Ingrid", "Erik", "Astrid", "Daan", "Sanne", "Wei",
    "Mei", "Javier", "Lucía", "Mohammed", "Fatima", "Omar", "Aisha", "Chen", "Ling", "Kwame",
    "Amara", "Dmitri", "Elena", "Siobhan", "Connor", "Zoe", "Ethan",
)
_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams", "Baker",
    "Nelson", "Carter", "Mitchell", "Roberts", "Evans", "Turner", "Phillips", "Campbell",
    "Parker", "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "O'Brien", "Kelly",
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Dubois",
    "Moreau", "Laurent", "Lefèvre", "Tanaka", "Suzuki", "Takahashi", "Watanabe", "Sato",
    "Patel", "Sharma", "Singh", "Gupta", "Iyer", "Reddy", "Silva", "Santos", "Oliveira",
    "Souza", "Pereira", "Andersson", "Johansson", "Lindqvist", "de Vries", "van Dijk",
    "Bakker", "Janssen", "Wang", "Zhang", "Liu", "Nguyen", "Tran", "Kim", "Park", "Ivanova",
    "Okafor", "Mensah", "Haddad", "Khan", "Fernández", "Romero", "Sánchez", "Walsh", "Byrne",
    "Novak", "Kowalski", "Rossi", "Russo", "Ferrari", "Costa", "Fontaine", "Cohen", "Levi",
    "Hughes", "Price", "Bennett", "Wood", "Barnes", "Ross", "Henderson", "Coleman", "Jenkins",
)


def _ascii_slug(name: str) -> str:
    folded = name.lower().translate(str.maketrans("àáâäçèéêëíïñóöøúüß", "aaaaceeeeiinooouus"))
    return "".join(character for character in folded if character.isalnum())


_PERSONAL_DOMAIN_LIST = (
    "gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com",
    "proton.me", "gmx.de", "web.de", "yahoo.co.jp", "hotmail.co.uk", "orange.fr",
)
PERSONAL_DOMAINS = frozenset(_PERSONAL_DOMAIN_LIST)
COMPETITORS: tuple[tuple[str, str], ...] = (
    ("Scorely", "scorely.io"),
    ("LeadSift Pro", "leadsiftpro.com"),
    ("PipeRank", "piperank.com"),
    ("QualifyHQ", "qualifyhq.com"),
)
COMPETITOR_DOMAINS = frozenset(domain for _, domain in COMPETITORS)
UNIVERSITIES: tuple[tuple[str, str], ...] = (
    ("Westbrook University", "westbrook.edu"),
    ("Northfield State University", "northfield.edu"),
    ("Lakeshore College", "lakeshore.edu"),
    ("Pinecrest Institute of Technology", "pinecrest.edu"),
    ("Riverside Business School", "riverside-bs.edu"),
    ("Highland University", "highland.edu"),
)
_NO_COMPANY_NAMES = ("Self-employed", "Freelance", "Independent consultant", "[not provided]")

_FUNCTION_FIT: dict[str, float] = {
    "Revenue Operations": 0.8,
    "Marketing": 0.6,
    "Sales": 0.5,
    "General Management": 0.3,
    "Operations": 0.1,
    "Customer Success": 0.0,
    "Product": 0.0,
    "IT": -0.1,
    "Finance": -0.3,
    "Engineering": -0.4,
    "Human Resources": -0.6,
}
_FUNCTIONS = _Weighted(
    [
        ("Marketing", 20), ("Sales", 20), ("Revenue Operations", 8), ("General Management", 6),
        ("Operations", 8), ("Customer Success", 6), ("Product", 6), ("IT", 8), ("Finance", 6),
        ("Engineering", 9), ("Human Resources", 3),
    ]
)
_SENIORITY_FIT: dict[str, float] = {
    "chief": 1.0,
    "vp": 1.2,
    "head": 1.0,
    "director": 0.9,
    "manager": 0.3,
    "individual": -0.3,
    "intern": -1.5,
    "student": -1.8,
}
_BUSINESS_SENIORITIES = _Weighted(
    [
        ("chief", 5), ("vp", 8), ("head", 6), ("director", 14), ("manager", 25),
        ("individual", 39), ("intern", 3),
    ]
)
_CHIEF_TITLES: dict[str, str] = {
    "Revenue Operations": "Chief Revenue Officer",
    "Sales": "Chief Sales Officer",
    "Marketing": "Chief Marketing Officer",
    "General Management": "CEO",
    "Operations": "Chief Operating Officer",
    "Customer Success": "Chief Customer Officer",
    "Product": "Chief Product Officer",
    "IT": "Chief Information Officer",
    "Finance": "CFO",
    "Engineering": "CTO",
    "Human Resources": "Chief People Officer",
}
_INDIVIDUAL_TITLES: dict[str, tuple[str, ...]] = {
    "Revenue Operations": ("RevOps Analyst", "Salesforce Administrator", "HubSpot Administrator"),
    "Sales": ("Account Executive", "Sales Development Representative", "Account Manager"),
    "Marketing": ("Marketing Specialist", "Demand Generation Specialist", "Content Marketer"),
    "General Management": ("Chief of Staff", "Business Analyst"),
    "Operations": ("Operations Analyst", "Operations Coordinator"),
    "Customer Success": ("Customer Success Manager", "Support Specialist"),
    "Product": ("Product Manager", "Product Designer"),
    "IT": ("Systems Administrator", "IT Specialist"),
    "Finance": ("Financial Analyst", "Accountant"),
    "Engineering": ("Software Engineer", "Senior Software Engineer", "Data Engineer"),
    "Human Resources": ("Recruiter", "HR Generalist"),
}
_STUDENT_TITLES = ("Student", "Graduate Student", "MBA Student", "PhD Candidate")


def _titles_for(seniority: str, function: str) -> tuple[str, ...]:
    area = "Business" if function == "General Management" else function
    by_seniority: dict[str, tuple[str, ...]] = {
        "chief": (_CHIEF_TITLES[function],),
        "vp": (f"VP of {area}", f"Vice President, {area}", f"SVP {area}"),
        "head": (f"Head of {area}",),
        "director": (f"Director of {area}", f"{area} Director", f"Senior Director, {area}"),
        "manager": (f"{area} Manager", f"Senior {area} Manager"),
        "individual": _INDIVIDUAL_TITLES[function],
        "intern": (f"{area} Intern", "Intern"),
        "student": _STUDENT_TITLES,
    }
    return by_seniority[seniority]


def _build_title_fit() -> dict[str, float]:
    fit: dict[str, float] = {}
    for seniority, seniority_fit in _SENIORITY_FIT.items():
        for function, function_fit in _FUNCTION_FIT.items():
            for title in _titles_for(seniority, function):
                # A title two templates share keeps the first (the more senior) reading.
                fit.setdefault(title, seniority_fit + function_fit)
    for title in _STUDENT_TITLES:
        fit[title] = _SENIORITY_FIT["student"]
    fit["Intern"] = _SENIORITY_FIT["intern"]
    return fit


_TITLE_FIT = _build_title_fit()
_FIRST_NAME_SLUGS = tuple(_ascii_slug(name) for name in _FIRST_NAMES)
_LAST_NAME_SLUGS = tuple(_ascii_slug(name) for name in _LAST_NAMES)

_SOURCES = _Weighted(
    [
        ("Web", 30), ("Paid Search", 14), ("Webinar", 9), ("Referral", 8), ("Event", 10),
        ("Partner", 7), ("Outbound", 22),
    ]
)
_PERSON_OWNER_TEAMS = (
    ("Inbound SDR",),
    ("Inbound SDR", "North America"),
    ("Mid-Market AE", "North America"),
    ("Enterprise AE", "North America"),
    ("Mid-Market AE", "EMEA"),
    ("Enterprise AE", "EMEA"),
    ("SDR", "APAC"),
    ("Partner Sales",),
)

_BLOG_POSTS = (
    "lead-scoring-that-sales-trusts", "the-three-browses-trap", "mql-is-not-a-lead",
    "routing-in-under-a-minute", "decay-your-scores", "hubspot-vs-salesforce-scoring",
    "what-revops-measures", "bant-is-not-dead", "cleaning-crm-data", "why-leads-go-cold",
    "intent-signals-that-matter", "round-robin-done-right",
)
_PRODUCT_PAGES = (
    "/product/lead-scoring", "/product/routing", "/product/explanations",
    "/product/integrations/hubspot", "/product/integrations/salesforce", "/product/backtest",
)
_OTHER_PAGES = (
    "/", "/customers", "/customers/northwind-case-study", "/about", "/security",
    "/docs/getting-started", "/docs/api", "/careers", "/partners",
)
_PRICING_PAGES = ("/pricing", "/pricing", "/pricing/enterprise", "/pricing/compare")
_DOWNLOADS = (
    ("Ebook: The lead scoring playbook", "/resources/lead-scoring-playbook"),
    ("Whitepaper: Routing leads in under a minute", "/resources/routing-whitepaper"),
    ("Checklist: Cleaning your CRM", "/resources/crm-cleanup-checklist"),
    ("Report: The state of RevOps 2026", "/resources/state-of-revops-2026"),
    ("Template: MQL definition worksheet", "/resources/mql-worksheet"),
)
_SIGNUP_FORMS = (
    ("Newsletter", "/blog"),
    ("Newsletter", "/blog"),
    ("Free trial", "/signup"),
    ("Event: booth scan", "/events"),
)
_CONTACT_SALES = ("Contact sales", "/contact-sales")
_DEMO_FORM = ("Request a demo", "/demo")
_NURTURE_EMAILS = (
    ("Nurture: RevOps essentials", "Three signs your lead scoring is broken"),
    ("Nurture: RevOps essentials", "How top teams define an MQL"),
    ("Nurture: RevOps essentials", "Stop routing leads by hand"),
    ("Product update", "New: explanations on every lead score"),
    ("Product update", "Backtest your scoring model in one click"),
)
_SALES_REPLY_SUBJECTS = (
    "Re: Following up on your demo request",
    "Re: Lead routing at your team",
    "Re: Quick question about your CRM",
    "Re: Pricing for 25 seats",
)
_CALL_SUBJECTS = (
    "Discovery call", "Left voicemail", "Follow-up call", "No answer", "Connected: next steps",
)
_MEETING_SUBJECTS = (
    "Intro call: Acme SaaS", "Product demo", "Pricing review", "Technical deep dive",
)
_WEBINAR_TOPICS = (
    "Lead scoring that sales trusts",
    "Routing leads in under a minute",
    "From MQL to pipeline: a RevOps playbook",
    "Decay, caps and the three-browses trap",
    "One scoring model for HubSpot and Salesforce",
    "Backtesting your lead scores",
)

# --------------------------------------------------------------------------------------------
# The hidden propensity (see the module docstring)
# --------------------------------------------------------------------------------------------

_BASE_LOGIT = -4.1
_INTENT_SCALE = 1.6
_INTENT_HALF_LIFE_DAYS = 21.0
_INTENT_HORIZON_DAYS = 60.0
_INTENT_WEIGHTS: dict[str, float] = {
    "demo_request": 3.0,
    "meeting_booked": 2.0,
    "email_reply": 1.4,
    "pricing_page_view": 1.0,
    "webinar_attended": 1.0,
    "content_download": 0.3,
    "call": 0.3,
    "webinar_registered": 0.2,
    "email_click": 0.1,
    "unsubscribe": -1.5,
    "bounce": -2.5,
}
_CONTACT_SALES_WEIGHT = 3.0
_PERSONAL_DOMAIN_PENALTY = -1.0
_STUDENT_PENALTY = -2.0
_COMPETITOR_PENALTY = -6.0
_NO_COMPANY_FIT = -0.3
_DAY = 86_400.0
_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)


def _size_fit(employees: int) -> float:
    if employees < 10:
        return -0.8
    if employees < 50:
        return 0.0
    if employees <= 5_000:
        return 0.8
    return 0.5


def _hidden_fit(title: str, email_domain: str, country: str, company: SynthCompany | None) -> float:
    fit = _TITLE_FIT.get(title, 0.0) + _COUNTRY_FIT.get(country, -0.2)
    if company is None:
        fit += _NO_COMPANY_FIT
    else:
        fit += _INDUSTRY_FIT[company.industry] + _size_fit(company.employees)
    if email_domain in COMPETITOR_DOMAINS:
        fit += _COMPETITOR_PENALTY
    elif email_domain.endswith(".edu"):
        fit += _STUDENT_PENALTY
    elif email_domain in PERSONAL_DOMAINS:
        fit += _PERSONAL_DOMAIN_PENALTY
    return fit


def _intent_weight(activity_type: str, form: str | None) -> float:
    if form == _CONTACT_SALES[0]:
        return _CONTACT_SALES_WEIGHT
    return _INTENT_WEIGHTS.get(activity_type, 0.0)


def _intent_effect(weighted_signals: Sequence[tuple[float, float]]) -> float:
    """Logit contribution of (weight, age in days) signals: log-damped, recency-weighted."""
    positive = negative = 0.0
    for weight, age_days in weighted_signals:
        if weight == 0.0 or age_days > _INTENT_HORIZON_DAYS:
            continue
        recency = 0.5 ** (age_days / _INTENT_HALF_LIFE_DAYS)
        if weight > 0.0:
            positive += weight * recency
        else:
            negative -= weight * recency
    return _INTENT_SCALE * math.log1p(positive) - negative


def _propensity(person: SynthPerson, company: SynthCompany | None, now: datetime) -> float:
    """The hidden conversion logit of a generated person, computed from its visible fields."""
    signals = [
        (_intent_weight(activity.type, activity.form), (now - activity.occurred_at) / _ONE_DAY)
        for activity in person.activities
    ]
    fit = _hidden_fit(person.title, _email_domain(person.email), person.country, company)
    return _BASE_LOGIT + fit + _intent_effect(signals)


def _email_domain(email: str) -> str:
    return email.rpartition("@")[2]


def _sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-logit))


# --------------------------------------------------------------------------------------------
# Activity histories
# --------------------------------------------------------------------------------------------

_Details = tuple[str | None, str | None, str | None, str | None]  # url, form, campaign, subject


@dataclass(frozen=True, slots=True)
class _Webinar:
    campaign: str
    age_days: float  # how long before spec.now it was held


def _webinar_schedule(spec: OrgSpec) -> tuple[_Webinar, ...]:
    """A webinar every four weeks at 16:00 UTC, the latest 10 to 17 days before `now`."""
    webinars = []
    age_days, number = 10.0 + (spec.seed % 7) + 8.0 / 24.0, 0
    while age_days < spec.history_days:
        held_on = spec.now - timedelta(days=age_days)
        topic = _WEBINAR_TOPICS[(spec.seed + number) % len(_WEBINAR_TOPICS)]
        webinars.append(_Webinar(f"Webinar: {topic} ({_month_and_year(held_on)})", age_days))
        age_days += 28.0
        number += 1
    return tuple(webinars)


_BACKGROUND_WEIGHTS: dict[str, list[tuple[str, float]]] = {
    "business": [
        ("page_view", 45), ("email_open", 26), ("email_click", 8), ("content_download", 4),
        ("pricing_page_view", 3), ("form_submission", 3), ("call", 2), ("email_reply", 0.5),
        ("unsubscribe", 0.6), ("bounce", 0.3),
    ],
    "personal": [
        ("page_view", 52), ("email_open", 26), ("email_click", 8), ("content_download", 5),
        ("pricing_page_view", 3), ("form_submission", 4), ("unsubscribe", 1.2), ("bounce", 0.6),
    ],
    "student": [
        ("page_view", 60), ("email_open", 14), ("email_click", 5), ("content_download", 16),
        ("form_submission", 4), ("pricing_page_view", 1), ("unsubscribe", 0.5),
    ],
    "competitor": [
        ("page_view", 40), ("pricing_page_view", 30), ("content_download", 12),
        ("email_open", 12), ("email_click", 4), ("form_submission", 2),
    ],
}
_BURST_WEIGHTS: list[tuple[str, float]] = [
    ("pricing_page_view", 34), ("demo_request", 11), ("email_reply", 13), ("meeting_booked", 8),
    ("contact_sales", 7), ("content_download", 10), ("call", 9), ("page_view", 8),
]
# Sales only calls or books meetings with people someone owns.
_SALES_TOUCHES = frozenset({"call", "meeting_booked"})


def _type_table(weights: list[tuple[str, float]], *, owned: bool) -> _Weighted[str]:
    return _Weighted([(name, w) for name, w in weights if owned or name not in _SALES_TOUCHES])


_BACKGROUND_TYPES: dict[tuple[str, bool], _Weighted[str]] = {
    (persona, owned): _type_table(weights, owned=owned)
    for persona, weights in _BACKGROUND_WEIGHTS.items()
    for owned in (False, True)
}
_BURST_TYPES: dict[bool, _Weighted[str]] = {
    owned: _type_table(_BURST_WEIGHTS, owned=owned) for owned in (False, True)
}


def _on_site(path: str, form: str | None = None) -> _Details:
    return f"{VENDOR_SITE}{path}", form, None, None


def _spread(details: Sequence[_Details], share: float) -> list[tuple[_Details, float]]:
    return [(detail, share / len(details)) for detail in details]


def _email(campaign: str, subject: str, url: str | None = None) -> _Details:
    return url, None, campaign, subject


@dataclass(frozen=True, slots=True)
class _ActivityKind:
    """How the generator draws one kind of activity and what it weighs in the hidden intent."""

    type: str
    details: _Weighted[_Details]
    newsletter_share: float = 0.0  # e-mails: the share that is the month's newsletter

    @property
    def intent(self) -> float:
        weights = {_intent_weight(self.type, form) for _, form, _, _ in self.details.values}
        if len(weights) != 1:
            raise ValueError(f"{self.type}: details must share one intent weight")
        return weights.pop()

    def details_at(self, uniform: Callable[[], float], occurred_at: datetime) -> _Details:
        if self.newsletter_share and uniform() < self.newsletter_share:
            return _newsletter(self.type, occurred_at.year, occurred_at.month)
        return self.details.at(uniform())


@lru_cache(maxsize=256)
def _newsletter(activity_type: str, year: int, month: int) -> _Details:
    edition = f"{_MONTH_NAMES[month - 1]} {year}"
    url = f"{VENDOR_SITE}/blog?utm_campaign=newsletter" if activity_type == "email_click" else None
    return _email(f"Newsletter {edition}", f"The RevOps digest: {edition}", url)


_MARKETING_EMAILS = _Weighted(
    _spread([_email(campaign, subject) for campaign, subject in _NURTURE_EMAILS], 1.0)
)
# The generator's kinds: "contact_sales" is a form_submission of the Contact sales form, which
# weighs more in the hidden intent than a newsletter sign-up.
_KINDS: dict[str, _ActivityKind] = {
    "page_view": _ActivityKind(
        "page_view",
        _Weighted(
            _spread([_on_site(f"/blog/{post}") for post in _BLOG_POSTS], 0.5)
            + _spread([_on_site(path) for path in _PRODUCT_PAGES], 0.25)
            + _spread([_on_site(path) for path in _OTHER_PAGES], 0.25)
        ),
    ),
    "pricing_page_view": _ActivityKind(
        "pricing_page_view", _Weighted(_spread([_on_site(p) for p in _PRICING_PAGES], 1.0))
    ),
    "form_submission": _ActivityKind(
        "form_submission",
        _Weighted(_spread([_on_site(path, form) for form, path in _SIGNUP_FORMS], 1.0)),
    ),
    "contact_sales": _ActivityKind(
        "form_submission", _Weighted([(_on_site(_CONTACT_SALES[1], _CONTACT_SALES[0]), 1.0)])
    ),
    "demo_request": _ActivityKind(
        "demo_request", _Weighted([(_on_site(_DEMO_FORM[1], _DEMO_FORM[0]), 1.0)])
    ),
    "content_download": _ActivityKind(
        "content_download",
        _Weighted(_spread([_on_site(path, form) for form, path in _DOWNLOADS], 1.0)),
    ),
    "email_open": _ActivityKind("email_open", _MARKETING_EMAILS, newsletter_share=0.4),
    "email_click": _ActivityKind(
        "email_click",
        _Weighted(
            _spread(
                [
                    _email(campaign, subject, f"{VENDOR_SITE}/blog/{post}?utm_medium=email")
                    for (campaign, subject), post in zip(_NURTURE_EMAILS, _BLOG_POSTS, strict=False)
                ],
                1.0,
            )
        ),
        newsletter_share=0.4,
    ),
    "unsubscribe": _ActivityKind("unsubscribe", _MARKETING_EMAILS, newsletter_share=0.4),
    "bounce": _ActivityKind("bounce", _MARKETING_EMAILS, newsletter_share=0.4),
    "email_reply": _ActivityKind(
        "email_reply",
        _Weighted(_spread([(None, None, None, subject) for subject in _SALES_REPLY_SUBJECTS], 1)),
    ),
    "call": _ActivityKind(
        "call", _Weighted(_spread([(None, None, None, subject) for subject in _CALL_SUBJECTS], 1))
    ),
    "meeting_booked": _ActivityKind(
        "meeting_booked",
        _Weighted(_spread([(None, None, None, subject) for subject in _MEETING_SUBJECTS], 1)),
    ),
}
_DRAFT_INTENT: dict[str, float] = {
    **{name: kind.intent for name, kind in _KINDS.items()},
    "webinar_registered": _intent_weight("webinar_registered", None),
    "webinar_attended": _intent_weight("webinar_attended", None),
}
_EMAIL_TYPES = frozenset({"email_open", "email_click"})
_OPT_OUTS = frozenset({"unsubscribe", "bounce"})
_age_of = itemgetter(0)
_MONTH_NAMES = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)


# --------------------------------------------------------------------------------------------
# The org
# --------------------------------------------------------------------------------------------

_Persona = Literal["business", "personal", "student", "competitor"]
_LEAD_PERSONAS: _Weighted[_Persona] = _Weighted(
    [("business", 74), ("personal", 14), ("student", 7), ("competitor", 5)]
)
_CONTACT_PERSONAS: _Weighted[_Persona] = _Weighted(
    [("business", 92), ("personal", 5), ("student", 2), ("competitor", 1)]
)


# A generated activity with its age in whole seconds before `now` and the generator's own type
# (which tells a "Contact sales" form from other form submissions).
_Draft = tuple[int, str, SynthActivity]


class SynthOrg:
    """A synthetic org, derived entirely from its spec: owners in memory, the rest on demand."""

    def __init__(self, spec: OrgSpec) -> None:
        self.spec = spec
        self.company_count = max(1, (spec.leads * spec.companies_per_100_leads + 99) // 100)
        self.person_count = spec.leads
        self.owners: tuple[SynthOwner, ...] = self._make_owners()
        self.queue_key: str = self.owners[-1].key
        self._person_owner_keys = tuple(owner.key for owner in self.owners[:-1])
        self._webinars = _webinar_schedule(spec)
        self._company_names = _Permutation(
            _names_needed(self.company_count, len(_COMPANY_PREFIXES) * len(_COMPANY_ROOTS)
                          * len(_COMPANY_NOUNS)),
            spec.seed,
            _COMPANY,
        )
        self._person_names = _Permutation(
            _names_needed(self.person_count, len(_FIRST_NAMES) * len(_LAST_NAMES)),
            spec.seed,
            _PERSON,
        )

    # ---- owners -----------------------------------------------------------------------------

    def _make_owners(self) -> tuple[SynthOwner, ...]:
        count = self.spec.owners
        org_rng = _digest_draws(self.spec.seed, _ORG, 0)
        # o001 always stays active; at least one other owner has left the company.
        leavers = _distinct_indices(org_rng, count - 1, max(1, count // 6))
        inactive = {2 + offset for offset in leavers}
        owners = [
            self._person_owner(number, active=number not in inactive)
            for number in range(1, count + 1)
        ]
        owners.append(
            SynthOwner(
                key=_owner_key(count + 1),
                email=f"sales-queue@{VENDOR_DOMAIN}",
                first_name="Inbound",
                last_name="Lead Queue",
                active=True,
                kind="queue",
                teams=("Inbound SDR",),
            )
        )
        return tuple(owners)

    def _person_owner(self, number: int, *, active: bool) -> SynthOwner:
        rng = _digest_draws(self.spec.seed, _OWNER, number)
        first, last = rng.choose(_FIRST_NAMES), rng.choose(_LAST_NAMES)
        return SynthOwner(
            key=_owner_key(number),
            email=f"{_ascii_slug(first)}.{_ascii_slug(last)}{number}@{VENDOR_DOMAIN}",
            first_name=first,
            last_name=last,
            active=active,
            kind="person",
            teams=rng.choose(_PERSON_OWNER_TEAMS),
        )

    def owner(self, key: str) -> SynthOwner:
        for candidate in self.owners:
            if candidate.key == key:
                return candidate
        raise KeyError(key)

    # ---- companies --------------------------------------------------------------------------

    def companies(self, start: int = 0, stop: int | None = None) -> Iterator[SynthCompany]:
        """Companies in key order; `start`/`stop` slice the stream without generating the rest."""
        for index in range(*slice(start, stop).indices(self.company_count)):
            yield self._company_at(index)

    def company(self, key: str) -> SynthCompany:
        return self._company_at(_index_of(key, "c", self.company_count))

    def _company_at(self, index: int) -> SynthCompany:
        rng = _digest_draws(self.spec.seed, _COMPANY, index)
        industry = rng.pick(_INDUSTRIES)
        country = rng.pick(_COUNTRIES)
        employees = _company_employees(rng)
        revenue = employees * _REVENUE_PER_EMPLOYEE[industry] * rng.lognormal(1.0, 0.45)
        name, domain = self._company_identity(index, country, rng)
        owner_key = rng.choose(self._person_owner_keys) if rng.chance(0.35) else None
        age_days = rng.uniform_between(20.0, 1_100.0)
        return SynthCompany(
            key=_company_key(index),
            name=name,
            domain=domain,
            industry=industry,
            employees=employees,
            annual_revenue=float(round(revenue, -3)),
            country=country,
            state=_state_in(rng, country),
            owner_key=owner_key,
            created_at=_seconds_before(self.spec.now, age_days * _DAY),
        )

    def _company_identity(self, index: int, country: str, rng: _Draws) -> tuple[str, str]:
        """A name and a domain; the domain is unique in the org (the name need not be)."""
        slot = self._company_names(index)
        slot, prefix_at = divmod(slot, len(_COMPANY_PREFIXES))
        slot, root_at = divmod(slot, len(_COMPANY_ROOTS))
        cycle, noun_at = divmod(slot, len(_COMPANY_NOUNS))
        stem = _COMPANY_PREFIXES[prefix_at] + _COMPANY_ROOTS[root_at]
        noun = _COMPANY_NOUNS[noun_at]
        name = f"{stem} {noun}"
        if rng.chance(0.5):
            name = f"{name} {_LEGAL_SUFFIXES[country]}"
        separator = "-" if rng.chance(0.5) else ""
        tld = _TLDS.get(country, "com") if rng.chance(0.6) else rng.choose(("com", "com", "io"))
        numbered_stem = stem.lower() + (str(cycle + 1) if cycle else "")
        return name, f"{numbered_stem}{separator}{noun.lower()}.{tld}"

    # ---- people -----------------------------------------------------------------------------

    def people(self, start: int = 0, stop: int | None = None) -> Iterator[SynthPerson]:
        """People in key order; `start`/`stop` slice the stream without generating the rest."""
        for index in range(*slice(start, stop).indices(self.person_count)):
            yield self._person_at(index)

    def person(self, key: str) -> SynthPerson:
        return self._person_at(_index_of(key, "p", self.person_count))

    def _person_at(self, index: int) -> SynthPerson:
        spec, key = self.spec, _person_key(index)
        rng = _mersenne_draws(spec.seed, _PERSON, index)
        kind: Literal["lead", "contact"] = "contact" if rng.chance(spec.contact_share) else "lead"
        persona = rng.pick(_CONTACT_PERSONAS if kind == "contact" else _LEAD_PERSONAS)
        first, last, local_part = self._person_name(index, rng)
        company = (
            self._company_at(rng.below(self.company_count)) if persona == "business" else None
        )
        email_domain, company_name = _email_domain_and_company(rng, persona, company)
        title = _title_for(rng, persona)
        country = company.country if company and rng.chance(0.9) else rng.pick(_COUNTRIES)
        state = company.state if company and company.country == country else _state_in(rng, country)
        owner_key = self._owner_for(rng, company)

        created_age_days = _created_age_days(rng, spec.history_days)
        window_days = min(created_age_days, float(spec.history_days))
        fit = _hidden_fit(title, email_domain, country, company)
        drafts = self._activity_drafts(rng, key, persona, fit, window_days, owner_key)
        intent = _intent_of(drafts)
        converted = rng.random() < _sigmoid(_BASE_LOGIT + fit + intent)
        outcome_age = _outcome_age_seconds(rng, drafts, created_age_days) if converted else None
        now = spec.now
        return SynthPerson(
            key=key,
            kind=kind,
            email=f"{local_part}@{email_domain}",
            first_name=first,
            last_name=last,
            title=title,
            phone=_phone_for(rng, country) if rng.chance(0.7) else None,
            country=country,
            state=state,
            source=_source_for(rng, drafts),
            company_key=company.key if company else None,
            company_name=company_name,
            owner_key=owner_key,
            lifecycle_stage=_lifecycle_stage(rng, persona, converted, intent, owner_key),
            lead_status=_lead_status(rng, persona, converted, owner_key, created_age_days),
            created_at=_seconds_before(now, created_age_days * _DAY),
            updated_at=_seconds_before(
                now, _updated_age_seconds(rng, created_age_days, drafts, outcome_age)
            ),
            activities=tuple(activity for _, _, activity in drafts),
            outcome=SynthOutcome(
                person_key=key,
                converted=converted,
                at=None if outcome_age is None else _seconds_before(now, outcome_age),
                value=_deal_value(rng, company) if converted else None,
            ),
        )

    def _person_name(self, index: int, rng: _Draws) -> tuple[str, str, str]:
        slot = self._person_names(index)
        slot, first_at = divmod(slot, len(_FIRST_NAMES))
        cycle, last_at = divmod(slot, len(_LAST_NAMES))
        first, last = _FIRST_NAMES[first_at], _LAST_NAMES[last_at]
        given, family = _FIRST_NAME_SLUGS[first_at], _LAST_NAME_SLUGS[last_at]
        roll = rng.random()
        if roll < 0.75:
            local = f"{given}.{family}"
        elif roll < 0.87:
            local = f"{given}_{family}"
        else:
            local = f"{family}.{given}"
        return first, last, local + (str(cycle + 1) if cycle else "")

    def _owner_for(self, rng: _Draws, company: SynthCompany | None) -> str | None:
        roll = rng.random()
        if company is not None and company.owner_key is not None and roll < 0.5:
            return company.owner_key
        roll = rng.random()
        if roll < 0.12:
            return rng.choose(self._person_owner_keys)
        if roll < 0.22:
            return self.queue_key
        return None

    def _activity_drafts(
        self,
        rng: _Draws,
        person_key: str,
        persona: _Persona,
        fit: float,
        window_days: float,
        owner_key: str | None,
    ) -> list[_Draft]:
        """A person's history, oldest first: background, webinars, maybe a burst of intent."""
        now, window_seconds = self.spec.now, window_days * _DAY
        engagement = rng.lognormal(7.0, 1.0) * (1.6 if persona == "student" else 1.0)
        background = min(600, rng.poisson(engagement * window_days / self.spec.history_days))
        owned = owner_key is not None
        pick_type, uniform = _BACKGROUND_TYPES[persona, owned].at, rng.random
        types = [pick_type(uniform()) for _ in range(background)]
        drafts = [
            _draft(uniform, person_key, draft_type, int(uniform() * window_seconds), now)
            for draft_type in types
        ]
        drafts.extend(self._webinar_drafts(rng, person_key, engagement, window_days))
        if rng.chance(_sigmoid(-1.2 + 0.6 * fit)):
            drafts.extend(self._burst_drafts(rng, person_key, window_seconds, owned))
        drafts.sort(key=_age_of, reverse=True)
        if _OPT_OUTS.isdisjoint(types):
            return drafts
        return _silence_email_after_opt_out(drafts)

    def _webinar_drafts(
        self, rng: _Draws, person_key: str, engagement: float, window_days: float
    ) -> list[_Draft]:
        drafts: list[_Draft] = []
        registration_chance = min(0.4, 0.006 * engagement)
        now = self.spec.now
        for webinar in self._webinars:
            if webinar.age_days >= window_days or not rng.chance(registration_chance):
                continue
            details = (None, None, webinar.campaign, None)
            earliest = min(window_days, webinar.age_days + 14.0)
            registered_age = rng.uniform_between(webinar.age_days, earliest)
            drafts.append(
                _fixed_draft(person_key, now, registered_age * _DAY, "webinar_registered", details)
            )
            if rng.chance(0.45):
                attended_age = webinar.age_days - rng.uniform_between(0.0, 0.04)
                drafts.append(
                    _fixed_draft(person_key, now, attended_age * _DAY, "webinar_attended", details)
                )
        return drafts

    def _burst_drafts(
        self, rng: _Draws, person_key: str, window_seconds: float, owned: bool
    ) -> list[_Draft]:
        """A few days of buying intent: pricing, demo requests, replies, meetings."""
        start, now = rng.random() * window_seconds, self.spec.now
        burst_types = _BURST_TYPES[owned]
        drafts = []
        for _ in range(1 + rng.poisson(2.0)):
            age_seconds = int(start - _delay_within(rng, 3.0 * _DAY, start))
            drafts.append(_draft(rng.random, person_key, rng.pick(burst_types), age_seconds, now))
        return drafts

    # ---- simulated new activity -------------------------------------------------------------

    def simulate_activity(self, count: int, now: datetime, seed: int) -> list[SynthActivity]:
        """Fresh activity for `count` distinct existing people, in the hour before `now`.

        Deterministic in (spec.seed, seed, count, now); sorted by time. Meant for
        incremental-sync tests and the demo, where people "come back" to the site.
        """
        if not 0 <= count <= self.person_count:
            raise ValueError(f"count must be between 0 and {self.person_count}")
        rng = _mersenne_draws(self.spec.seed, _SIMULATION, seed)
        activities = []
        for index in _distinct_indices(rng, self.person_count, count):
            key = _person_key(index)
            for _ in range(1 + rng.poisson(0.6)):
                activity_type = rng.pick(_SIMULATED_TYPES)
                age_seconds = int(rng.random() * 3_600.0)
                activities.append(_draft(rng.random, key, activity_type, age_seconds, now)[2])
        activities.sort(key=_by_time)
        return activities


_SIMULATED_TYPES = _Weighted(
    [
        ("page_view", 40), ("pricing_page_view", 15), ("email_open", 15), ("email_click", 8),
        ("content_download", 7), ("form_submission", 4), ("contact_sales", 3),
        ("demo_request", 4), ("email_reply", 4),
    ]
)


# --------------------------------------------------------------------------------------------
# Record pieces
# --------------------------------------------------------------------------------------------


def _owner_key(number: int) -> str:
    return f"o{number:03d}"


def _company_key(index: int) -> str:
    return f"c{index:06d}"


def _person_key(index: int) -> str:
    return f"p{index:07d}"


def _index_of(key: str, prefix: str, count: int) -> int:
    digits = key[1:]
    if not key.startswith(prefix) or not digits.isdigit() or int(digits) >= count:
        raise KeyError(key)
    return int(digits)


def _names_needed(count: int, combinations: int) -> int:
    """Name slots: whole cycles of every combination, enough for `count` records."""
    return combinations * ((count + combinations - 1) // combinations)


def _distinct_indices(rng: _Draws, population: int, count: int) -> list[int]:
    """`count` distinct indices below `population` (Floyd's algorithm: O(count) memory)."""
    chosen: dict[int, None] = {}
    for upper in range(population - count, population):
        candidate = rng.below(upper + 1)
        chosen[upper if candidate in chosen else candidate] = None
    return list(chosen)


def _seconds_before(now: datetime, seconds: float) -> datetime:
    return now - _ONE_SECOND * round(seconds)


def _state_in(rng: _Draws, country: str) -> str | None:
    states = _STATES.get(country)
    return rng.pick(states) if states else None


def _company_employees(rng: _Draws) -> int:
    return max(1, min(100_000, round(rng.lognormal(60.0, 1.9))))


def _email_domain_and_company(
    rng: _Draws, persona: _Persona, company: SynthCompany | None
) -> tuple[str, str]:
    if company is not None:
        return company.domain, company.name
    if persona in ("student", "competitor"):
        name, domain = rng.choose(UNIVERSITIES if persona == "student" else COMPETITORS)
        return domain, name
    return rng.choose(_PERSONAL_DOMAIN_LIST), rng.choose(_NO_COMPANY_NAMES)


def _title_for(rng: _Draws, persona: _Persona) -> str:
    if persona == "student":
        return rng.choose(_STUDENT_TITLES)
    seniority = rng.pick(_BUSINESS_SENIORITIES)
    return rng.choose(_titles_for(seniority, rng.pick(_FUNCTIONS)))


def _phone_for(rng: _Draws, country: str) -> str:
    prefix = _PHONE_PREFIXES.get(country, "+1")
    if prefix == "+1":
        return f"+1 {200 + rng.below(800)} 555 {rng.below(10_000):04d}"
    return f"{prefix} {10 + rng.below(90)} {rng.below(10_000):04d} {rng.below(10_000):04d}"


def _created_age_days(rng: _Draws, history_days: int) -> float:
    if rng.chance(0.6):
        return rng.uniform_between(0.05, float(history_days))
    return rng.uniform_between(float(history_days), 3.0 * 365.0)


def _draft(
    uniform: Callable[[], float], person_key: str, draft_type: str, age_seconds: int, now: datetime
) -> _Draft:
    kind = _KINDS[draft_type]
    occurred_at = now - _ONE_SECOND * age_seconds
    url, form, campaign, subject = kind.details_at(uniform, occurred_at)
    activity = _new_activity(person_key, kind.type, occurred_at, url, form, campaign, subject)
    return age_seconds, draft_type, activity


def _fixed_draft(
    person_key: str, now: datetime, age_seconds: float, activity_type: str, details: _Details
) -> _Draft:
    whole_seconds = round(age_seconds)
    occurred_at = now - _ONE_SECOND * whole_seconds
    activity = _new_activity(person_key, activity_type, occurred_at, *details)
    return whole_seconds, activity_type, activity


# A frozen dataclass's __init__ sets every field through object.__setattr__, which is half the
# cost of generating an activity; an org of a million leads has about ten million of them. So
# the generator fills SynthActivity's slots directly (a test checks the result equals the
# dataclass's own construction, field for field).
_set_person_key = SynthActivity.person_key.__set__  # type: ignore[attr-defined]
_set_type = SynthActivity.type.__set__  # type: ignore[attr-defined]
_set_occurred_at = SynthActivity.occurred_at.__set__  # type: ignore[attr-defined]
_set_url = SynthActivity.url.__set__  # type: ignore[attr-defined]
_set_form = SynthActivity.form.__set__  # type: ignore[attr-defined]
_set_campaign = SynthActivity.campaign.__set__  # type: ignore[attr-defined]
_set_subject = SynthActivity.subject.__set__  # type: ignore[attr-defined]


def _new_activity(
    person_key: str,
    activity_type: str,
    occurred_at: datetime,
    url: str | None,
    form: str | None,
    campaign: str | None,
    subject: str | None,
) -> SynthActivity:
    activity = object.__new__(SynthActivity)
    _set_person_key(activity, person_key)
    _set_type(activity, activity_type)
    _set_occurred_at(activity, occurred_at)
    _set_url(activity, url)
    _set_form(activity, form)
    _set_campaign(activity, campaign)
    _set_subject(activity, subject)
    return activity


def _month_and_year(moment: datetime) -> str:
    return f"{_MONTH_NAMES[moment.month - 1]} {moment.year}"


def _by_time(activity: SynthActivity) -> tuple[datetime, str]:
    return activity.occurred_at, activity.person_key


def _silence_email_after_opt_out(drafts: list[_Draft]) -> list[_Draft]:
    """No marketing e-mail is opened after an unsubscribe or a bounce (drafts oldest first)."""
    kept, opted_out = [], False
    for draft in drafts:
        draft_type = draft[1]
        if opted_out and draft_type in _EMAIL_TYPES:
            continue
        if draft_type in _OPT_OUTS:
            if opted_out:
                continue
            opted_out = True
        kept.append(draft)
    return kept


_DRIVER_TYPES = frozenset(
    {"demo_request", "contact_sales", "meeting_booked", "email_reply", "pricing_page_view",
     "webinar_attended"}
)


def _intent_of(drafts: list[_Draft]) -> float:
    return _intent_effect([(_DRAFT_INTENT[kind], age / _DAY) for age, kind, _ in drafts])


def _updated_age_seconds(
    rng: _Draws, created_age_days: float, drafts: list[_Draft], outcome_age: float | None
) -> float:
    """Records are last modified at most two days after the latest thing that happened to them."""
    latest_age = created_age_days * _DAY
    if drafts:
        latest_age = min(latest_age, drafts[-1][0])
    if outcome_age is not None:
        latest_age = min(latest_age, outcome_age)
    return latest_age - rng.random() * min(latest_age, 2 * _DAY)


def _outcome_age_seconds(
    rng: _Draws, drafts: list[_Draft], created_age_days: float
) -> float:
    """When the conversion happened: a little after the last activity that drove it."""
    drivers = [age for age, draft_type, _ in drafts if draft_type in _DRIVER_TYPES]
    if drivers:
        driver_age = float(drivers[-1])
    else:
        driver_age = float(drafts[-1][0]) if drafts else created_age_days * _DAY
    return driver_age - _delay_within(rng, 6.0 * _DAY, driver_age)


def _delay_within(rng: _Draws, mean: float, limit: float) -> float:
    """An exponential delay, redrawn uniformly below `limit` when it would pass it (i.e. `now`)."""
    delay = rng.exponential(mean)
    return delay if delay < limit else limit * rng.random()


def _deal_value(rng: _Draws, company: SynthCompany | None) -> float:
    if company is None:
        return float(round(rng.uniform_between(1_200.0, 6_000.0), -2))
    seats_value = 6_000.0 * (company.employees / 100.0) ** 0.55
    return float(round(max(1_200.0, seats_value * rng.lognormal(1.0, 0.35)), -2))


def _source_for(rng: _Draws, drafts: list[_Draft]) -> str:
    first_type = drafts[0][1] if drafts else None
    if first_type == "webinar_registered" and rng.chance(0.6):
        return "Webinar"
    return rng.pick(_SOURCES)


def _lifecycle_stage(
    rng: _Draws, persona: _Persona, converted: bool, intent: float, owner_key: str | None
) -> str:
    if converted:
        return "customer" if rng.chance(0.3) else "opportunity"
    if persona in ("student", "personal") and rng.chance(0.4):
        return "subscriber"
    if intent > 1.0 and rng.chance(0.5):
        return "salesqualifiedlead" if owner_key and rng.chance(0.4) else "marketingqualifiedlead"
    return "subscriber" if rng.chance(0.12) else "lead"


def _lead_status(
    rng: _Draws,
    persona: _Persona,
    converted: bool,
    owner_key: str | None,
    created_age_days: float,
) -> str:
    if converted:
        return "CONNECTED"
    if owner_key is None:
        return "NEW" if created_age_days < 30 or rng.chance(0.5) else "OPEN"
    if persona in ("student", "competitor") and rng.chance(0.6):
        return "UNQUALIFIED"
    return rng.choose(
        ("OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "ATTEMPTED_TO_CONTACT", "CONNECTED",
         "BAD_TIMING", "UNQUALIFIED")
    )
