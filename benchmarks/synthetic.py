"""Synthetic leads and activities for benchmarks: varied enough that every rule does real work."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from connectors.records import Company, Lead
from scoring.frame import ActivityFrame, LeadTable, factorise, normalised

NOW = datetime(2026, 11, 1, tzinfo=UTC)
TITLES = [
    "VP Sales",
    "Director of Analytics",
    "Data Engineer",
    "Marketing Manager",
    "Student",
    "Head of RevOps",
    "CFO",
    "Intern",
    "Operations Analyst",
    "Consultant",
]
INDUSTRIES = ["Software", "Financial Services", "Healthcare", "Retail", "Education", "Government"]
COUNTRIES = ["US", "GB", "DE", "FR", "JP", "CA", "BR", "IN"]
DOMAINS = ["acme.example", "gmail.com", "globex.example", "initech.example", "rivalytics.example"]
ACTIVITY_TYPES = [
    "page_view",
    "page_view",
    "page_view",
    "email_open",
    "email_click",
    "pricing_page_view",
    "form_submission",
    "content_download",
    "webinar_attended",
    "demo_request",
    "meeting_booked",
    "email_reply",
    "unsubscribe",
    "bounce",
]
URLS = [
    "https://acme.example/",
    "https://acme.example/blog/a",
    "https://acme.example/product/x",
    "https://acme.example/pricing",
    None,
]
FORMS = ["Contact sales", "Ebook: RevOps", None]


def leads(count: int, seed: int = 1) -> list[Lead]:
    rng = np.random.default_rng(seed)
    employees = rng.lognormal(5, 2, count).astype(int)
    picks = {
        "title": rng.integers(0, len(TITLES), count),
        "industry": rng.integers(0, len(INDUSTRIES), count),
        "country": rng.integers(0, len(COUNTRIES), count),
        "domain": rng.integers(0, len(DOMAINS), count),
    }
    created = NOW.timestamp() - rng.uniform(0, 400, count) * 86400
    return [
        Lead.model_construct(
            id=f"L{i}",
            kind="lead",
            email=f"p{i}@{DOMAINS[picks['domain'][i]]}",
            first_name="P",
            last_name=str(i),
            title=TITLES[picks["title"][i]],
            country=COUNTRIES[picks["country"][i]],
            created_at=datetime.fromtimestamp(created[i], UTC),
            company=Company.model_construct(
                id=f"C{i % 5000}",
                industry=INDUSTRIES[picks["industry"][i]],
                employees=int(employees[i]),
                annual_revenue=float(employees[i]) * 150_000.0,
                fields={},
            ),
            fields={"tech_stack": "Salesforce" if i % 3 == 0 else None, "use_case": None},
        )
        for i in range(count)
    ]


LEAD_TABLE_PATHS = (
    "email",
    "email_domain",
    "title",
    "country",
    "created_at",
    "company.industry",
    "company.employees",
    "company.annual_revenue",
    "fields.tech_stack",
    "fields.budget_confirmed",
    "fields.use_case",
    "fields.timeline",
)


def lead_table(count: int, seed: int = 1) -> LeadTable:
    """The same leads as `leads`, as columns (custom fields as text), as a bulk reader gives."""
    table = LeadTable.from_leads(leads(count, seed), LEAD_TABLE_PATHS)
    for path in LEAD_TABLE_PATHS:
        if path.startswith("fields."):
            table.columns[path] = factorise(table.columns[path])
    return table


def activity_frame(count: int, per_lead: int, seed: int = 2) -> ActivityFrame:
    """Activities as a connector reading in bulk hands them over: factorised columns."""
    rng = np.random.default_rng(seed)
    total = count * per_lead
    return ActivityFrame(
        lead_index=np.repeat(np.arange(count), per_lead),
        occurred_at=NOW.timestamp() - rng.uniform(0, 180, total) * 86400,
        columns={
            "type": normalised(rng.integers(0, len(ACTIVITY_TYPES), total), ACTIVITY_TYPES),
            "url": normalised(rng.integers(0, len(URLS), total), URLS),
            "form": normalised(rng.integers(0, len(FORMS), total), FORMS),
        },
        now=NOW.timestamp(),
    )


def write_leads_csv(path: Path, count: int, seed: int = 3) -> None:
    """A leads CSV in the example model's column layout, written in chunks."""
    header = [
        "Lead ID",
        "First Name",
        "Last Name",
        "Email",
        "Job Title",
        "Country",
        "Lead Source",
        "Company",
        "Website",
        "Industry",
        "Employees",
        "Annual Revenue",
        "Tech Stack",
        "Budget Confirmed",
        "Use Case",
        "Timeline",
        "Created",
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for chunk in _chunks(count, 50_000):
            writer.writerows(_csv_rows(chunk, seed))


def write_activities_csv(path: Path, count: int, per_lead: int, seed: int = 4) -> None:
    rng = np.random.default_rng(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Lead ID", "Activity", "Date", "URL", "Form", "Campaign", "Subject"])
        for chunk in _chunks(count, 20_000):
            size = len(chunk) * per_lead
            days = rng.uniform(0, 180, size)
            types = rng.integers(0, len(ACTIVITY_TYPES), size)
            urls = rng.integers(0, len(URLS), size)
            writer.writerows(
                [
                    f"L{chunk[j // per_lead]}",
                    ACTIVITY_TYPES[types[j]],
                    datetime.fromtimestamp(NOW.timestamp() - days[j] * 86400, UTC).isoformat(),
                    URLS[urls[j]] or "",
                    "",
                    "",
                    "",
                ]
                for j in range(size)
            )


def _chunks(count: int, size: int) -> Iterator[range]:
    for start in range(0, count, size):
        yield range(start, min(count, start + size))


def _csv_rows(indices: range, seed: int) -> list[list[object]]:
    rng = np.random.default_rng([seed, indices.start])
    n = len(indices)
    employees = rng.lognormal(5, 2, n).astype(int)
    titles = rng.integers(0, len(TITLES), n)
    return [
        [
            f"L{i}",
            "P",
            str(i),
            f"p{i}@{DOMAINS[i % len(DOMAINS)]}",
            TITLES[titles[k]],
            COUNTRIES[i % len(COUNTRIES)],
            "Web",
            f"Company {i % 5000}",
            f"company{i % 5000}.example",
            INDUSTRIES[i % len(INDUSTRIES)],
            int(employees[k]),
            int(employees[k]) * 150_000,
            "Salesforce" if i % 3 == 0 else "",
            "yes" if i % 7 == 0 else "",
            "Forecasting" if i % 4 == 0 else "",
            "this quarter" if i % 5 == 0 else "",
            "2026-06-01",
        ]
        for k, i in enumerate(indices)
    ]
