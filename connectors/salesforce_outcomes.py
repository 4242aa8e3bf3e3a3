"""Outcomes of Salesforce people for backtest and learn: Lead conversions (ConvertedDate, the
converted Opportunity's Amount when won) and, for Contacts, won Opportunities (CloseDate) through
contact roles, the Opportunity's ContactId, or else its Account. A Contact a Lead was converted
into is that Lead, counted once.

Which Contact and Opportunity each converted Lead became is read once per history read
(`read_conversions`, called as `pull_history` starts) and kept for the rest of it: the outcomes
and the converted Leads' activities (which conversion moved to the Contact) use the same answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from connectors.records import Outcome, parse_timestamp
from connectors.salesforce_records import Row
from connectors.salesforce_soql import datetime_literal, where


@dataclass(frozen=True)
class Conversions:
    """What the converted Leads became."""

    contact_of: dict[str, str] = field(default_factory=dict)  # Lead id → its Contact
    opportunities: frozenset[str] = frozenset()

    @property
    def contacts(self) -> set[str]:
        return set(self.contact_of.values())


class SalesforceOutcomes:
    def __init__(
        self,
        query_rows: Callable[[str, str], Iterator[Row]],
        id_queries: Callable[[Callable[[str], str], Sequence[str]], Iterator[str]],
        objects: Sequence[str],
    ) -> None:
        self.query_rows = query_rows
        self.id_queries = id_queries
        self.objects = objects
        self.conversions: Conversions | None = None  # read by the current history read

    def read_conversions(self) -> Conversions:
        """The Contact and the Opportunity each converted Lead became (none when Leads are not
        read), in one query, kept as `conversions` for the rest of the history read."""
        contact_of: dict[str, str] = {}
        opportunities: set[str] = set()
        if "Lead" in self.objects:
            soql = ("SELECT Id, ConvertedContactId, ConvertedOpportunityId FROM Lead "
                    "WHERE IsConverted = true ORDER BY Id")
            for row in self.query_rows(soql, "query"):
                if row.get("ConvertedContactId"):
                    contact_of[row["Id"]] = row["ConvertedContactId"]
                if row.get("ConvertedOpportunityId"):
                    opportunities.add(row["ConvertedOpportunityId"])
        self.conversions = Conversions(contact_of, frozenset(opportunities))
        return self.conversions

    def pull(self, since: datetime | None) -> Iterator[Outcome]:
        """One outcome per Lead (converted = IsConverted, dated ConvertedDate, valued at the
        converted Opportunity's Amount when won) and, with Contacts configured, per Contact
        not converted from a Lead (converted = on a won Opportunity: its earliest CloseDate,
        the sum of Amounts; see `won_by_contact`)."""
        changed = [f"SystemModstamp > {datetime_literal(since)}"] if since else []
        if "Lead" in self.objects:
            soql = (
                "SELECT Id, IsConverted, ConvertedDate, ConvertedOpportunity.IsWon, "
                "ConvertedOpportunity.Amount FROM Lead" + where(changed) + " ORDER BY Id"
            )
            for row in self.query_rows(soql, "query"):
                won = bool(row.get("ConvertedOpportunity.IsWon"))
                yield Outcome(
                    lead_id=row["Id"], converted=bool(row.get("IsConverted")),
                    at=row.get("ConvertedDate"),
                    value=row.get("ConvertedOpportunity.Amount") if won else None,
                )
        if "Contact" in self.objects:
            conversions = self.conversions or self.read_conversions()
            converted_into = conversions.contacts
            won = self.won_by_contact(conversions.opportunities)
            soql = "SELECT Id FROM Contact" + where(changed) + " ORDER BY Id"
            for row in self.query_rows(soql, "query"):
                if row["Id"] in converted_into:
                    continue
                deal = won.get(row["Id"])
                yield Outcome(lead_id=row["Id"], converted=deal is not None,
                              at=deal[0] if deal else None, value=deal[1] if deal else None)

    def won_by_contact(self, from_leads: frozenset[str] = frozenset()) -> (
        dict[str, tuple[datetime | None, float | None]]
    ):
        """Contact id → (earliest CloseDate, summed Amount) of the won Opportunities it is on:
        through its OpportunityContactRoles or the Opportunity's ContactId. A won Opportunity
        with neither, not converted from a Lead (`from_leads`: that Lead is its person), counts
        for each Contact of its Account created by the day it closed."""
        won = {row["Id"]: row for row in self.query_rows(
            "SELECT Id, AccountId, ContactId, CloseDate, Amount FROM Opportunity "
            "WHERE IsWon = true ORDER BY CloseDate, Id", "query")}
        deals: dict[str, dict[str, Row]] = {}
        for contact_id, opportunity_id in self.contact_roles(list(won)):
            deals.setdefault(contact_id, {})[opportunity_id] = won[opportunity_id]
        for row in won.values():
            if row.get("ContactId"):
                deals.setdefault(row["ContactId"], {})[row["Id"]] = row
        credited = {opportunity_id for rows in deals.values() for opportunity_id in rows}
        by_account: dict[str, list[Row]] = {}
        for row in won.values():
            if row["Id"] not in credited | from_leads and row.get("AccountId"):
                by_account.setdefault(row["AccountId"], []).append(row)
        for contact in self.contacts_of_accounts(list(by_account)):
            created = parse_timestamp(contact.get("CreatedDate"))
            for row in by_account[contact["AccountId"]]:
                closed = parse_timestamp(row.get("CloseDate"))
                if created is None or closed is None or created.date() <= closed.date():
                    deals.setdefault(contact["Id"], {})[row["Id"]] = row
        return {contact_id: _first_close_and_total(rows.values())
                for contact_id, rows in deals.items()}

    def contact_roles(self, opportunity_ids: Sequence[str]) -> Iterator[tuple[str, str]]:
        """(ContactId, OpportunityId) of the contact roles on these Opportunities."""
        for soql in self.id_queries(
            lambda id_text: "SELECT ContactId, OpportunityId FROM OpportunityContactRole "
            f"WHERE OpportunityId IN ({id_text}) ORDER BY Id", opportunity_ids,
        ):
            for row in self.query_rows(soql, "query"):
                if row.get("ContactId"):
                    yield row["ContactId"], row["OpportunityId"]

    def contacts_of_accounts(self, account_ids: Sequence[str]) -> Iterator[Row]:
        for soql in self.id_queries(
            lambda id_text: "SELECT Id, AccountId, CreatedDate FROM Contact "
            f"WHERE AccountId IN ({id_text}) ORDER BY Id", account_ids,
        ):
            yield from self.query_rows(soql, "query")


def _first_close_and_total(deals: Iterable[Row]) -> tuple[datetime | None, float | None]:
    rows = list(deals)
    closes = [moment for row in rows if (moment := parse_timestamp(row.get("CloseDate")))]
    amounts = [float(row["Amount"]) for row in rows if row.get("Amount") is not None]
    return min(closes, default=None), sum(amounts) if amounts else None
