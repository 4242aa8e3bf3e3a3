"""The words synthetic orgs are made of, read from the JSON files beside this module.

- markets.json: industries and countries, each with its share of companies and its hidden fit
  (industries also with revenue per employee: software and finance earn more per head; countries
  with the domain suffix, legal suffix and phone prefix of their companies), and US / Canadian
  states by share.
- names.json: first and last names, and the prefixes, roots and nouns company names are built of.
- roles.json: job functions and seniorities with their shares and hidden fit (titles are built
  from the two), students, lead sources and the sales teams owners belong to.
- outsiders.json: people who are not at a company: personal e-mail domains, universities,
  competitors, and what such people type as their company.
- website.json: the vendor's site, forms, e-mails, sales subjects and webinar topics that
  activities carry.

Order matters: shares are drawn in file order and lists are indexed, so reordering a list changes
every org generated from a seed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from sandbox.orgs.draws import Weighted

Persona = Literal["business", "personal", "student", "competitor"]


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        resources.files("sandbox.orgs").joinpath(name).read_text(encoding="utf-8")
    )
    return document


def _pairs(rows: list[dict[str, str]], first: str, second: str) -> tuple[tuple[str, str], ...]:
    return tuple((row[first], row[second]) for row in rows)


def ascii_slug(name: str) -> str:
    folded = name.lower().translate(str.maketrans("àáâäçèéêëíïñóöøúüß", "aaaaceeeeiinooouus"))
    return "".join(character for character in folded if character.isalnum())


# ---- markets ---------------------------------------------------------------------------------

_MARKETS = _load("markets.json")
INDUSTRIES = Weighted([(row["name"], row["share"]) for row in _MARKETS["industries"]])
INDUSTRY_FIT: dict[str, float] = {row["name"]: row["fit"] for row in _MARKETS["industries"]}
REVENUE_PER_EMPLOYEE: dict[str, float] = {
    row["name"]: row["revenue_per_employee"] for row in _MARKETS["industries"]
}
COUNTRIES = Weighted([(row["code"], row["share"]) for row in _MARKETS["countries"]])
COUNTRY_FIT: dict[str, float] = {row["code"]: row["fit"] for row in _MARKETS["countries"]}
TLDS: dict[str, str] = {row["code"]: row["tld"] for row in _MARKETS["countries"]}
LEGAL_SUFFIXES: dict[str, str] = {row["code"]: row["legal_suffix"] for row in _MARKETS["countries"]}
PHONE_PREFIXES: dict[str, str] = {row["code"]: row["phone_prefix"] for row in _MARKETS["countries"]}
STATES: dict[str, Weighted[str]] = {
    country: Weighted(list(shares.items())) for country, shares in _MARKETS["states"].items()
}

# ---- names -----------------------------------------------------------------------------------

_NAMES = _load("names.json")
FIRST_NAMES: tuple[str, ...] = tuple(_NAMES["first_names"])
LAST_NAMES: tuple[str, ...] = tuple(_NAMES["last_names"])
FIRST_NAME_SLUGS = tuple(ascii_slug(name) for name in FIRST_NAMES)
LAST_NAME_SLUGS = tuple(ascii_slug(name) for name in LAST_NAMES)
COMPANY_PREFIXES: tuple[str, ...] = tuple(_NAMES["company_prefixes"])
COMPANY_ROOTS: tuple[str, ...] = tuple(_NAMES["company_roots"])
COMPANY_NOUNS: tuple[str, ...] = tuple(_NAMES["company_nouns"])

# ---- people who are not at a company ----------------------------------------------------------

_OUTSIDERS = _load("outsiders.json")
PERSONAL_EMAIL_DOMAINS: tuple[str, ...] = tuple(_OUTSIDERS["personal_email_domains"])
PERSONAL_DOMAINS = frozenset(PERSONAL_EMAIL_DOMAINS)
NO_COMPANY_NAMES: tuple[str, ...] = tuple(_OUTSIDERS["company_names_without_a_company"])
UNIVERSITIES = _pairs(_OUTSIDERS["universities"], "name", "domain")
COMPETITORS = _pairs(_OUTSIDERS["competitors"], "name", "domain")
COMPETITOR_DOMAINS = frozenset(domain for _, domain in COMPETITORS)

# ---- roles -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Function:
    name: str
    fit: float
    chief_title: str
    individual_titles: tuple[str, ...]


_ROLES = _load("roles.json")
_FUNCTIONS_BY_NAME = {
    row["name"]: _Function(
        row["name"], row["fit"], row["chief_title"], tuple(row["individual_titles"])
    )
    for row in _ROLES["functions"]
}
FUNCTIONS = Weighted([(row["name"], row["share"]) for row in _ROLES["functions"]])
BUSINESS_SENIORITIES = Weighted([(row["name"], row["share"]) for row in _ROLES["seniorities"]])
_SENIORITY_FIT: dict[str, float] = {row["name"]: row["fit"] for row in _ROLES["seniorities"]}
STUDENT_TITLES: tuple[str, ...] = tuple(_ROLES["students"]["titles"])
SOURCES = Weighted(list(_ROLES["lead_sources"].items()))
PERSON_OWNER_TEAMS: tuple[tuple[str, ...], ...] = tuple(
    tuple(teams) for teams in _ROLES["owner_teams"]
)


def titles_for(seniority: str, function: str) -> tuple[str, ...]:
    """The job titles a business person of this seniority in this function may hold."""
    area = "Business" if function == "General Management" else function
    by_seniority: dict[str, tuple[str, ...]] = {
        "chief": (_FUNCTIONS_BY_NAME[function].chief_title,),
        "vp": (f"VP of {area}", f"Vice President, {area}", f"SVP {area}"),
        "head": (f"Head of {area}",),
        "director": (f"Director of {area}", f"{area} Director", f"Senior Director, {area}"),
        "manager": (f"{area} Manager", f"Senior {area} Manager"),
        "individual": _FUNCTIONS_BY_NAME[function].individual_titles,
        "intern": (f"{area} Intern", "Intern"),
    }
    return by_seniority[seniority]


def _title_fit() -> dict[str, float]:
    fit: dict[str, float] = {}
    for seniority, seniority_fit in _SENIORITY_FIT.items():
        for function in _FUNCTIONS_BY_NAME.values():
            for title in titles_for(seniority, function.name):
                # A title two templates share keeps the first (the more senior) reading.
                fit.setdefault(title, seniority_fit + function.fit)
    for title in STUDENT_TITLES:
        fit[title] = _ROLES["students"]["fit"]
    fit["Intern"] = _SENIORITY_FIT["intern"]
    return fit


# The hidden fit of every title the generator gives.
TITLE_FIT = _title_fit()

# ---- the vendor's website, e-mails and sales conversations ---------------------------------------

_WEBSITE = _load("website.json")
VENDOR_DOMAIN: str = _WEBSITE["domain"]
VENDOR_SITE = f"https://{VENDOR_DOMAIN}"
BLOG_POSTS: tuple[str, ...] = tuple(_WEBSITE["blog_posts"])
PRODUCT_PAGES: tuple[str, ...] = tuple(_WEBSITE["product_pages"])
OTHER_PAGES: tuple[str, ...] = tuple(_WEBSITE["other_pages"])
PRICING_PAGES: tuple[str, ...] = tuple(_WEBSITE["pricing_pages"])
DOWNLOADS = _pairs(_WEBSITE["downloads"], "form", "path")
SIGNUP_FORMS = _pairs(_WEBSITE["signup_forms"], "form", "path")
CONTACT_SALES_FORM, CONTACT_SALES_PATH = _pairs([_WEBSITE["contact_sales_form"]], "form", "path")[0]
DEMO_FORM, DEMO_PATH = _pairs([_WEBSITE["demo_form"]], "form", "path")[0]
NURTURE_EMAILS = _pairs(_WEBSITE["nurture_emails"], "campaign", "subject")
SALES_REPLY_SUBJECTS: tuple[str, ...] = tuple(_WEBSITE["sales_reply_subjects"])
CALL_SUBJECTS: tuple[str, ...] = tuple(_WEBSITE["call_subjects"])
MEETING_SUBJECTS: tuple[str, ...] = tuple(_WEBSITE["meeting_subjects"])
WEBINAR_TOPICS: tuple[str, ...] = tuple(_WEBSITE["webinar_topics"])
