"""The example model (examples/scoring.yaml) written out by hand in plain numpy: the yardstick
`python -m benchmarks scoring` measures leadq's scoring against.

It reads the same columns leadq does (a `LeadTable` and an `ActivityFrame`), evaluates each text
test once per distinct value as leadq does, and must give the same fit, engagement, score, grade,
label, priority and stage for every lead (the benchmark and tests/unit/scoring/
test_numpy_reference.py check it). It knows nothing but this one model: when the example's rules
change, change it with them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scoring.frame import ActivityFrame, LeadTable, TextColumn

DAY = 86400.0
SENIOR = re.compile(r"\b(VP|Vice President|Director|Head|Chief|C[EFOTR]O)\b", re.IGNORECASE)
AUTHORITY = re.compile(
    r"\b(VP|Vice President|Director|Head|Chief|C[EFOTR]O|Owner|Founder)\b", re.IGNORECASE
)
PRACTITIONER = re.compile(r"analy|data|rev ?ops|operations", re.IGNORECASE)
INTERN_OR_STUDENT = re.compile(r"intern|student", re.IGNORECASE)
STUDENT = re.compile(r"\b(student|intern)\b", re.IGNORECASE)
CONTACT_FORM = re.compile(r"contact|talk to sales", re.IGNORECASE)
PRICING_URL = re.compile(r"/pricing", re.IGNORECASE)
INDUSTRIES = {"software", "financial services", "healthcare", "retail"}
CORE_MARKETS = {"us", "united states", "gb", "united kingdom", "de", "germany", "ca", "canada"}
PERSONAL = {"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "gmx.de"}
COMPETITORS = {"rivalytics.example", "datadash.example"}
TIMELINES = {"this quarter", "next quarter"}
TRUE = {"true", "yes", "1", "y", "on"}
GRADES = np.array(["A", "B", "C", "D", "F"], dtype=object)
LETTERS = np.array(["A", "B", "C", "D"], dtype=object)
PRIORITY = np.add.outer(np.arange(4), np.arange(4)) + 2  # after hand-raisers (priority 1)
PRIORITY[0, 0] = PRIORITY[0, 1] = PRIORITY[1, 0] = 2  # A1 A2 B1
PRIORITY[0, 2] = PRIORITY[1, 1] = PRIORITY[2, 0] = 3  # A3 B2 C1


@dataclass(frozen=True)
class ReferenceScores:
    fit: np.ndarray
    engagement: np.ndarray
    score: np.ndarray
    grade: np.ndarray
    label: np.ndarray
    priority: np.ndarray
    stage: np.ndarray


def on_distinct(column: TextColumn, test: Callable[[str | None], bool]) -> np.ndarray:
    """A text test run once per distinct value, spread to every row by its code."""
    lookup = np.array([test(value) for value in column.distinct], dtype=bool)
    return lookup[column.codes]


def searched(pattern: re.Pattern[str]) -> Callable[[str | None], bool]:
    return lambda value: value is not None and pattern.search(value) is not None


def reference_scores(leads: LeadTable, activities: ActivityFrame, now: float) -> ReferenceScores:
    fit = _fit(leads, now)
    engagement = _engagement(activities, len(leads), now)
    reached = fit[:, None] >= np.array([75, 55, 35, 15])[None, :]
    grade_index = np.where(reached.any(axis=1), reached.argmax(axis=1), 4)
    bands = engagement[:, None] >= np.array([60, 40, 20])[None, :]
    band = np.where(bands.any(axis=1), bands.argmax(axis=1), 3)
    letter = np.minimum(grade_index, 3)
    disqualified = _disqualified(leads)  # the example's `disqualify:` rules
    hand_raiser = _hand_raisers(activities, len(leads), now) & ~disqualified
    priority = np.where(hand_raiser, 1, PRIORITY[letter, band])
    fit_and_engaged = (grade_index <= 1) & (engagement >= 40)
    qualified = (fit_and_engaged | hand_raiser) & ~disqualified
    stage = np.where(qualified, "mql", "lead").astype(object)
    return ReferenceScores(
        fit=fit,
        engagement=engagement,
        score=np.rint((fit / 100 + engagement / 100) * 100 / 2).astype(np.int64),
        grade=GRADES[grade_index],
        label=LETTERS[letter] + (band + 1).astype(str).astype(object),
        priority=priority,
        stage=stage,
    )


def _disqualified(leads: LeadTable) -> np.ndarray:
    columns = leads.columns
    competitor = on_distinct(columns["email_domain"], COMPETITORS.__contains__)
    return competitor | on_distinct(columns["title"], searched(STUDENT))


def _fit(leads: LeadTable, now: float) -> np.ndarray:
    columns = leads.columns
    employees = np.asarray(columns["company.employees"], dtype=np.float64)
    revenue = np.asarray(columns["company.annual_revenue"], dtype=np.float64)
    created = np.asarray(columns["created_at"], dtype=np.float64)
    title, domain = columns["title"], columns["email_domain"]
    confirmed = on_distinct(_text(leads, "fields.budget_confirmed"), TRUE.__contains__)
    budget = (revenue >= 1e7) | confirmed
    authority = on_distinct(title, searched(AUTHORITY))
    need = on_distinct(_text(leads, "fields.use_case"), lambda v: v is not None)
    timing = on_distinct(_text(leads, "fields.timeline"), TIMELINES.__contains__)
    bant_count = budget.astype(np.int64) + authority + need + timing
    points = np.column_stack(
        [
            20 * ((employees >= 50) & (employees <= 5000)),
            10 * (employees > 5000),
            15 * on_distinct(columns["company.industry"], INDUSTRIES.__contains__),
            10 * on_distinct(columns["country"], CORE_MARKETS.__contains__),
            20 * on_distinct(title, searched(SENIOR)),
            10 * on_distinct(
                title,
                lambda v: searched(PRACTITIONER)(v) and not searched(INTERN_OR_STUDENT)(v),
            ),
            5 * on_distinct(_text(leads, "fields.tech_stack"), lambda v: "salesforce" in (v or "")),
            10 * (revenue >= 1e7),
            10 * (bant_count >= 3),
            5 * ((now - created) <= 90 * DAY),
            -20 * on_distinct(domain, PERSONAL.__contains__),
            -50 * on_distinct(domain, COMPETITORS.__contains__),
            -30 * on_distinct(title, searched(STUDENT)),
            -10 * on_distinct(columns["email"], lambda v: v is None),
        ]
    ).astype(np.float64)
    return np.rint(np.clip(points.sum(axis=1), 0, 100)).astype(np.int64)


def _text(leads: LeadTable, path: str) -> TextColumn:
    column = leads.columns[path]
    assert isinstance(column, TextColumn), f"{path} must be given as text"
    return column


def _engagement(activities: ActivityFrame, size: int, now: float) -> np.ndarray:
    happened = activities.occurred_at <= now
    lead = activities.lead_index
    age = np.maximum(now - activities.occurred_at, 0.0) / DAY
    decay = np.exp2(-age / 30)
    kind = activities.text("type")
    url, form = activities.text("url"), activities.text("form")
    kind_codes = np.where(happened, kind.codes, -1)  # the future has not happened
    code_of = {name: code for code, name in enumerate(kind.distinct)}
    blog = on_distinct(url, lambda v: v is not None and "/blog/" in v)
    product = on_distinct(url, lambda v: v is not None and "/product" in v)
    contact = on_distinct(form, searched(CONTACT_FORM))

    def of_type(*names: str) -> np.ndarray:
        found = np.zeros(len(kind_codes), dtype=bool)
        for name in names:
            if name in code_of:
                found |= kind_codes == code_of[name]
        return found

    page_view = of_type("page_view")

    def total(rows: np.ndarray, points: float, cap: float | None = None) -> np.ndarray:
        summed = np.bincount(lead[rows], weights=points * decay[rows], minlength=size)
        return summed if cap is None else np.clip(summed, -cap, cap)

    def once(rows: np.ndarray, points: np.ndarray | float, strongest=np.maximum) -> np.ndarray:
        best = np.zeros(size)
        strongest.at(best, lead[rows], np.broadcast_to(points, rows.shape)[rows])
        return best

    inquiry = of_type("form_submission", "content_download")
    pricing = of_type("pricing_page_view", "page_view") & on_distinct(url, searched(PRICING_URL))
    rules = [
        once(page_view & ~(blog | product), 5 * decay),
        total(page_view & blog, 5, cap=10),
        total(page_view & product, 10),
        total(inquiry, 20, cap=40),
        once(of_type("form_submission") & contact, 40 * decay),
        total(pricing & (age <= 30), 15, cap=20),
        once(of_type("webinar_attended"), 15 * decay),
        total(of_type("email_click"), 3),
        total(of_type("email_reply"), 10),
        once(of_type("meeting_booked"), 30 * decay),
        once(of_type("demo_request"), 50 * decay),
        once(of_type("unsubscribe"), -20.0, np.minimum),
        once(of_type("bounce"), -10.0, np.minimum),
    ]
    browsing = rules[0] + rules[1] + rules[2]
    email = rules[7] + rules[8]
    caps = [np.clip(browsing, -15, 15) - browsing, np.clip(email, -10, 10) - email]
    summed = np.column_stack(rules + caps).sum(axis=1)
    return np.rint(np.clip(summed, 0, 100)).astype(np.int64)


def _hand_raisers(activities: ActivityFrame, size: int, now: float) -> np.ndarray:
    recent = (activities.occurred_at <= now) & ((now - activities.occurred_at) <= 30 * DAY)
    kind, form = activities.text("type"), activities.text("form")
    demo = recent & on_distinct(kind, lambda v: v == "demo_request")
    contact = (
        recent
        & on_distinct(kind, lambda v: v == "form_submission")
        & on_distinct(form, searched(CONTACT_FORM))
    )
    return np.bincount(activities.lead_index[demo | contact], minlength=size) > 0
