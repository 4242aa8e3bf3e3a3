"""The hidden propensity: whether a generated person converts, from their own visible fields.

It is drawn once from a logistic function of two hidden terms, computed from fields a scoring
model can see, so that a model built from those fields can recover it and a careless one cannot:

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
  (The industry, title and country tables are in the vocabulary's JSON files.)
* **Recent intent**: a weighted sum over the person's activities in the last 60 days, each
  weighted by its recency (half-life 21 days): demo requests and "Contact sales" forms weigh most,
  then booked meetings, e-mail replies, pricing page views and webinar attendance; downloads,
  calls and registrations weigh a little; page views and e-mail opens weigh nothing. Its effect on
  the logit grows with the logarithm of the sum. Unsubscribes and bounces subtract.

Good-fit people are also more likely to show a burst of intent, and competitors look at pricing
pages, so a naive "count the page views" score ranks people clearly worse than a fit and recent
intent score. The base rate is about 11-12%.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sandbox.orgs.records import SynthCompany, SynthPerson
from sandbox.orgs.vocabulary import (
    COMPETITOR_DOMAINS,
    CONTACT_SALES_FORM,
    COUNTRY_FIT,
    INDUSTRY_FIT,
    PERSONAL_DOMAINS,
    TITLE_FIT,
)

BASE_LOGIT = -4.1
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
_OTHER_COUNTRY_FIT = -0.2
_ONE_DAY = timedelta(days=1)


def _size_fit(employees: int) -> float:
    if employees < 10:
        return -0.8
    if employees < 50:
        return 0.0
    if employees <= 5_000:
        return 0.8
    return 0.5


def hidden_fit(title: str, email_domain: str, country: str, company: SynthCompany | None) -> float:
    fit = TITLE_FIT.get(title, 0.0) + COUNTRY_FIT.get(country, _OTHER_COUNTRY_FIT)
    if company is None:
        fit += _NO_COMPANY_FIT
    else:
        fit += INDUSTRY_FIT[company.industry] + _size_fit(company.employees)
    if email_domain in COMPETITOR_DOMAINS:
        fit += _COMPETITOR_PENALTY
    elif email_domain.endswith(".edu"):
        fit += _STUDENT_PENALTY
    elif email_domain in PERSONAL_DOMAINS:
        fit += _PERSONAL_DOMAIN_PENALTY
    return fit


def intent_weight(activity_type: str, form: str | None) -> float:
    if form == CONTACT_SALES_FORM:
        return _CONTACT_SALES_WEIGHT
    return _INTENT_WEIGHTS.get(activity_type, 0.0)


def intent_effect(weighted_signals: Sequence[tuple[float, float]]) -> float:
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


def propensity(person: SynthPerson, company: SynthCompany | None, now: datetime) -> float:
    """The hidden conversion logit of a generated person, computed from its visible fields."""
    signals = [
        (intent_weight(activity.type, activity.form), (now - activity.occurred_at) / _ONE_DAY)
        for activity in person.activities
    ]
    email_domain = person.email.rpartition("@")[2]
    fit = hidden_fit(person.title, email_domain, person.country, company)
    return BASE_LOGIT + fit + intent_effect(signals)


def sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-logit))
