"""CRM strings become typed values once, at the edge."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from connectors.records import Activity, Company, Lead, Outcome, Owner, parse_timestamp


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("2026-10-01T09:30:00.000Z", datetime(2026, 10, 1, 9, 30, tzinfo=UTC)),
        ("2026-10-01T09:30:00.000+0000", datetime(2026, 10, 1, 9, 30, tzinfo=UTC)),
        ("2026-10-01T11:30:00+02:00", datetime(2026, 10, 1, 9, 30, tzinfo=UTC)),
        ("2026-10-01", datetime(2026, 10, 1, tzinfo=UTC)),
        ("2026/10/01 09:30", datetime(2026, 10, 1, 9, 30, tzinfo=UTC)),
        ("1790847000000", datetime(2026, 10, 1, 9, 30, tzinfo=UTC)),
        ("", None),
    ],
)
def test_timestamps_in_every_crm_format_become_aware_utc(
    wire: str, expected: datetime | None
) -> None:
    assert parse_timestamp(wire) == expected


def test_company_numbers_arrive_as_strings_and_are_parsed() -> None:
    company = Company(id="1", employees="1,200", annual_revenue="2500000.50", industry="  ")
    assert (company.employees, company.annual_revenue, company.industry) == (1200, 2500000.5, None)


def test_a_number_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValidationError):
        Company(id="1", employees="lots")


def test_owner_and_outcome_flags_read_crm_booleans() -> None:
    assert Owner(id="7", active="false").active is False
    assert Outcome(lead_id="1", converted="true", value="1200").converted is True


def test_a_lead_knows_its_name_and_email_domain() -> None:
    lead = Lead(id="1", first_name="Maya", last_name="Okafor", email="Maya@Northwind.Example")
    assert (lead.name, lead.email_domain) == ("Maya Okafor", "northwind.example")
    assert Lead(id="2", first_name="太郎", last_name="山田").name == "山田 太郎"
    assert Lead(id="3", email="not-an-address").email_domain is None


def test_records_are_immutable() -> None:
    activity = Activity(lead_id="1", type="page_view", occurred_at="2026-10-01")
    with pytest.raises(ValidationError):
        activity.type = "demo_request"  # type: ignore[misc]
