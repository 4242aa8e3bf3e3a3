"""The closed loop: `leadq backtest` and `leadq learn`.

Outcomes come from an `OutcomeSource`: a CSV export with a label column today, the CRM through
its connector once connectors exist (`--crm` says so and exits 2), or a synthetic sandbox org
for trying the loop without any data. Every source ends in `scoring.backtest.LabelledLeads`:
leads, their activities before each lead's outcome, and whether each converted.

`register(app)` adds both commands to the `leadq` typer app.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from connectors.csvfile import (
    ActivityColumns,
    ActivityIndex,
    CsvInputError,
    CsvLeadReader,
    LeadColumns,
    open_csv,
)
from connectors.records import Activity, Company, Lead, Outcome, parse_timestamp
from scoring.backtest import (
    LabelledLeads,
    cut_off_before_outcomes,
    labelled_from_records,
)
from scoring.conditions import normalise_text
from scoring.config import ScoringModel

if TYPE_CHECKING:
    from sandbox.orgs import SynthActivity, SynthCompany, SynthOrg, SynthPerson

POSITIVE_VALUES = frozenset({"yes", "y", "true", "1", "won", "converted", "closed won"})
LINE_ID = "leadq_line"  # the id column given to files that have none


class ClosedLoopError(Exception):
    """A problem the person running backtest or learn can fix: one line, exit code 2."""


# --------------------------------------------------------------------------- outcome sources


class OutcomeSource(Protocol):
    def labelled(self, model: ScoringModel, now: datetime | None) -> Loaded: ...


@dataclass(frozen=True)
class Loaded:
    labelled: LabelledLeads
    source: str  # in words, for the summary and the report
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CrmOutcomes:
    """Leads, activities and Outcome records pulled through the configured CRM connector.

    When connectors exist this pulls `leads()`, `activities()` and `outcomes()` from the
    connector and hands them to `labelled_from_records`; until then it refuses clearly.
    """

    def labelled(self, model: ScoringModel, now: datetime | None) -> Loaded:
        raise ClosedLoopError("CRM outcomes need the connectors; use --csv")


@dataclass(frozen=True)
class CsvOutcomes:
    """A leads CSV with a label column saying who converted (and optionally when)."""

    leads: Path
    label: str
    positive: str | None = None
    activities: Path | None = None
    outcome_at: str | None = None
    encoding: str = "utf-8"

    def labelled(self, model: ScoringModel, now: datetime | None) -> Loaded:
        reader = NumberedLeadReader(self.leads, columns=model.csv.columns, encoding=self.encoding)
        leads, labels, times = self._read(reader)
        converted = self._converted(labels)
        activities = self._activities(model, leads)
        end = now or _latest_moment(leads, activities, times)
        notes = []
        if self.activities is not None and self.outcome_at is None:
            notes.append(
                "no --outcome-at column: every lead is scored as of the end of the data, so "
                "activities after a conversion count too; give the conversion date column for "
                "an honest backtest"
            )
        labelled = cut_off_before_outcomes(leads, activities, converted, np.array(times), end)
        return Loaded(labelled, f"{self.leads.name} (label {self.label!r})", notes)

    def _read(self, reader: NumberedLeadReader) -> tuple[list[Lead], list[str], list[float]]:
        leads: list[Lead] = []
        labels: list[str] = []
        times: list[float] = []
        label_at, time_at, unreadable = -1, None, set[str]()
        for batch in reader.batches():
            if label_at < 0:
                label_at = self._column(reader.header, self.label, "label")
                if self.outcome_at:
                    time_at = self._column(reader.header, self.outcome_at, "outcome time")
                unreadable = self._outcome_paths(reader.mapping)
            for cells, lead in batch:
                labels.append(cells[label_at] if label_at < len(cells) else "")
                times.append(self._time(cells, time_at, len(leads) + 2))
                leads.append(_without_fields(lead, unreadable))
        if not leads:
            raise CsvInputError(f"{self.leads.name}: no leads in the file")
        return leads, labels, times

    def _column(self, header: list[str], column: str, role: str) -> int:
        if column not in header:
            raise CsvInputError(
                f"{self.leads.name}: no {role} column {column!r}. Columns are: {', '.join(header)}"
            )
        return header.index(column)

    def _outcome_paths(self, mapping: dict[str, str]) -> set[str]:
        """The lead fields the label (and outcome time) columns would feed: never scored."""
        outcome_columns = {self.label, self.outcome_at} - {None}
        paths = {path for path, column in mapping.items() if column in outcome_columns}
        standard = sorted(p for p in paths if not p.startswith(("fields.", "company.fields.")))
        if standard:
            raise CsvInputError(
                f"{self.leads.name}: the outcome column feeds {standard[0]} through csv.columns; "
                "a model must not read the outcome it is measured against"
            )
        return paths

    def _time(self, cells: list[str], index: int | None, line: int) -> float:
        if index is None or index >= len(cells) or not cells[index].strip():
            return math.nan
        try:
            moment = parse_timestamp(cells[index])
        except ValueError:
            moment = None
        if moment is None:
            raise CsvInputError(f"{self.leads.name} line {line}: {cells[index]!r} is not a date")
        return moment.timestamp()

    def _converted(self, labels: list[str]) -> np.ndarray:
        values = [normalise_text(label) for label in labels]
        if self.positive is not None:
            wanted = normalise_text(self.positive)
            converted = np.array([value == wanted for value in values], dtype=bool)
            if not converted.any():
                raise CsvInputError(
                    f"{self.leads.name}: no lead has {self.label} = {self.positive!r}; "
                    f"its values are {_some_values(values)}"
                )
            return converted
        converted = np.array([value in POSITIVE_VALUES for value in values], dtype=bool)
        if not converted.any():
            raise CsvInputError(
                f"{self.leads.name}: none of the values of {self.label} ({_some_values(values)}) "
                "means converted; name the one that does with --positive"
            )
        return converted

    def _activities(self, model: ScoringModel, leads: list[Lead]) -> list[Activity]:
        if self.activities is None:
            return []
        mapping = ActivityColumns(**model.csv.activities.model_dump())
        with ActivityIndex(self.activities, mapping, encoding=self.encoding) as index:
            return index.for_leads(lead.id for lead in leads)


def _some_values(values: list[str | None]) -> str:
    distinct = sorted({value for value in values if value is not None})
    shown = ", ".join(repr(value) for value in distinct[:6])
    return shown + (", …" if len(distinct) > 6 else "") if shown else "all empty"


def _without_fields(lead: Lead, paths: set[str]) -> Lead:
    custom = {p.removeprefix("fields.") for p in paths if p.startswith("fields.")}
    if not custom & set(lead.fields):
        return lead
    kept = {key: value for key, value in lead.fields.items() if key not in custom}
    return lead.model_copy(update={"fields": kept})


def _latest_moment(leads: list[Lead], activities: list[Activity], times: list[float]) -> datetime:
    moments = [a.occurred_at.timestamp() for a in activities]
    moments += [lead.created_at.timestamp() for lead in leads if lead.created_at]
    moments += [t for t in times if not math.isnan(t)]
    if not moments:
        return datetime.now(UTC)  # nothing in the data is dated: any moment scores alike
    return datetime.fromtimestamp(max(moments), UTC)


class NumberedLeadReader(CsvLeadReader):
    """A CsvLeadReader that also reads files without an id column: each lead's id is its line.

    `mapping` tells, once reading started, which column feeds which lead field.
    """

    mapping: dict[str, str]

    def batches(self, size: int = 10_000) -> Iterator[list[tuple[list[str], Lead]]]:
        with open_csv(self.path, self.encoding, self.delimiter) as opened:
            header = opened[0]
        if "id" in self.columns.columns or "id" in header:
            self.mapping = self.columns.resolve(header, self.path.name)
            yield from super().batches(size)
            return
        yield from self._numbered_batches(size)

    def _numbered_batches(self, size: int) -> Iterator[list[tuple[list[str], Lead]]]:
        numbered = LeadColumns({**self.columns.columns, "id": LINE_ID})
        with open_csv(self.path, self.encoding, self.delimiter) as opened:
            header, rows = opened[0], opened[1]  # (header, rows, …): later items not needed
            self.header = header
            width = len(header)
            self.mapping = numbered.resolve([*header, LINE_ID], self.path.name)
            positions = {path: [*header, LINE_ID].index(c) for path, c in self.mapping.items()}
            batch: list[tuple[list[str], Lead]] = []
            for line, cells in rows:
                padded = [*cells[:width], *[""] * (width - len(cells)), str(line)]
                batch.append((cells, self._lead(line, padded, positions)))
                if len(batch) >= size:
                    yield batch
                    batch = []
            if batch:
                yield batch


@dataclass(frozen=True)
class SandboxOutcomes:
    """A synthetic org from the sandbox: people, activities and outcomes from a hidden
    propensity of fit and recent intent."""

    leads: int
    seed: int = 7

    def labelled(self, model: ScoringModel, now: datetime | None) -> Loaded:
        from sandbox.orgs import OrgSpec, SynthOrg

        org = SynthOrg(OrgSpec(leads=self.leads, seed=self.seed))
        leads, activities, outcomes = records_from_org(org)
        labelled = labelled_from_records(leads, activities, outcomes, now or org.spec.now)
        return Loaded(labelled, f"sandbox org of {self.leads:,} leads (seed {self.seed})")


def records_from_org(org: SynthOrg) -> tuple[list[Lead], list[Activity], list[Outcome]]:
    """A sandbox SynthOrg's people as canonical Lead, Activity and Outcome records."""
    leads: list[Lead] = []
    activities: list[Activity] = []
    outcomes: list[Outcome] = []
    companies: dict[str, Company] = {}
    for person in org.people():
        company = None
        if person.company_key:
            if person.company_key not in companies:
                companies[person.company_key] = _company(org.company(person.company_key))
            company = companies[person.company_key]
        leads.append(_lead(person, company))
        activities += [_activity(synth) for synth in person.activities]
        outcome = person.outcome
        outcomes.append(
            Outcome(
                lead_id=person.key, converted=outcome.converted, at=outcome.at, value=outcome.value
            )
        )
    return leads, activities, outcomes


def _company(synth: SynthCompany) -> Company:
    return Company(
        id=synth.key,
        name=synth.name,
        domain=synth.domain,
        industry=synth.industry,
        employees=synth.employees,
        annual_revenue=synth.annual_revenue,
        country=synth.country,
        owner_id=synth.owner_key,
    )


LEAD_ATTRIBUTES = (
    "kind",
    "email",
    "first_name",
    "last_name",
    "title",
    "country",
    "state",
    "source",
    "lifecycle_stage",
    "lead_status",
    "created_at",
    "updated_at",
)
ACTIVITY_ATTRIBUTES = ("type", "occurred_at", "url", "form", "campaign", "subject")


def _lead(person: SynthPerson, company: Company | None) -> Lead:
    values = {name: getattr(person, name) for name in LEAD_ATTRIBUTES}
    return Lead(id=person.key, owner_id=person.owner_key, company=company, **values)


def _activity(synth: SynthActivity) -> Activity:
    values = {name: getattr(synth, name) for name in ACTIVITY_ATTRIBUTES}
    return Activity(lead_id=synth.person_key, **values)
