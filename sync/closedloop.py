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
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from connectors.csvfile import (
    ActivityIndex,
    CsvInputError,
    CsvLeadReader,
    LeadColumns,
    open_csv,
)
from connectors.records import Activity, Company, Lead, Outcome, parse_timestamp
from scoring.backtest import (
    BacktestResult,
    LabelledLeads,
    Segment,
    cut_off_before_outcomes,
    labelled_from_records,
    run_backtest,
)
from scoring.conditions import normalise_text
from scoring.config import ScoringModel
from scoring.crossvalidation import Estimate, estimate
from scoring.learn import (
    DEFAULT_REGULARISATION,
    Learner,
    LearnSettings,
    Suspect,
    TooFewOutcomesError,
    check_outcomes,
)
from scoring.loading import load_model
from scoring.proposal_diff import ProposedChange, compare
from scoring.proposal_yaml import render_yaml
from scoring.report import ExtraTable, NamedResult, Report, render_report
from scoring.scorecard import Capacity, Scorecard, parse_capacity, propose
from sync.user_errors import user_errors

if TYPE_CHECKING:
    from connectors.base import Connector
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
class ConnectorOutcomes:
    """Leads, their activities and the Outcome stream, pulled through a CRM connector."""

    connector: Connector

    def labelled(self, model: ScoringModel, now: datetime | None) -> Loaded:
        leads = [lead for page in self.connector.pull_changed(None) for lead in page.leads]
        activities = self.connector.pull_activities(leads, None)
        outcomes = list(self.connector.pull_outcomes(None))
        end = now or _latest_moment(leads, activities, [_epoch(o.at) for o in outcomes])
        labelled = labelled_from_records(leads, activities, outcomes, end)
        return Loaded(labelled, f"{self.connector.crm} ({len(leads):,} leads)")


@dataclass(frozen=True)
class CrmOutcomes:
    """`--crm`: the CRM the LEADQ_* settings name, through its connector."""

    def labelled(self, model: ScoringModel, now: datetime | None) -> Loaded:
        from sync.runtime import build_connector
        from sync.settings import load_settings

        connector = build_connector(load_settings(), model)
        return ConnectorOutcomes(connector).labelled(model, now)


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
        mapping = model.csv.activities
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


def _epoch(moment: datetime | None) -> float:
    return math.nan if moment is None else moment.timestamp()


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


# --------------------------------------------------------------------------- the commands


console = Console(highlight=False)


def outcome_source(
    crm: bool,
    csv: Path | None,
    label: str | None,
    positive: str | None,
    activities: Path | None,
    outcome_at: str | None,
    encoding: str,
    sandbox: int | None,
) -> OutcomeSource:
    """The one source the options name: the CRM, a CSV with a label column, or a sandbox org."""
    chosen = [
        name for name, given in (("--crm", crm), ("--csv", csv), ("--sandbox", sandbox)) if given
    ]
    if len(chosen) != 1:
        raise ClosedLoopError(
            "say where the outcomes are: --csv leads.csv --label COLUMN, or --crm"
            if not chosen
            else f"give one source of outcomes, not {' and '.join(chosen)}"
        )
    if crm:
        return CrmOutcomes()
    if sandbox is not None:
        return SandboxOutcomes(sandbox)
    if label is None:
        raise ClosedLoopError("--csv needs --label: the column that says who converted")
    assert csv is not None
    return CsvOutcomes(csv, label, positive, activities, outcome_at, encoding)


def parse_when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = parse_timestamp(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise ClosedLoopError(
            f"--now {value!r} is not a date, e.g. 2026-11-01 or 2026-11-01T12:00Z"
        )
    return parsed


def check_share(value: float | None, option: str) -> float | None:
    if value is not None and not 0 < value < 1:
        raise ClosedLoopError(f"{option} is a share of leads between 0 and 1, e.g. 0.2")
    return value


ModelOption = Annotated[Path, typer.Option("--model", "-m", help="The scoring model YAML.")]
CrmOption = Annotated[
    bool, typer.Option("--crm", help="Outcomes from the CRM (needs the connectors).")
]
CsvOption = Annotated[
    Path | None, typer.Option("--csv", help="Leads CSV with a column saying who converted.")
]
LabelOption = Annotated[
    str | None, typer.Option("--label", help="The CSV column that says who converted, e.g. y.")
]
PositiveOption = Annotated[
    str | None,
    typer.Option("--positive", help="The label value meaning converted (default: yes/true/1/won)."),
]
ActivitiesOption = Annotated[
    Path | None, typer.Option("--activities", "-a", help="Activities CSV for the leads.")
]
OutcomeAtOption = Annotated[
    str | None,
    typer.Option(
        "--outcome-at", help="CSV column with when the outcome happened (score before it)."
    ),
]
EncodingOption = Annotated[str, typer.Option("--encoding", "-e", help="Encoding of the CSVs.")]
SandboxOption = Annotated[
    int | None,
    typer.Option("--sandbox", help="Try the loop on a synthetic org of this many leads."),
]
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="End of the data: leads with no outcome time are scored as of it."),
]
TimeSplitOption = Annotated[
    float | None,
    typer.Option("--time-split", help="Measure only the latest share of leads, e.g. 0.2."),
]
ReportOption = Annotated[
    Path | None, typer.Option("--report", help="Write a self-contained HTML report here.")
]


def backtest(
    model: ModelOption = Path("scoring.yaml"),
    crm: CrmOption = False,
    csv: CsvOption = None,
    label: LabelOption = None,
    positive: PositiveOption = None,
    activities: ActivitiesOption = None,
    outcome_at: OutcomeAtOption = None,
    encoding: EncodingOption = "utf-8",
    sandbox: SandboxOption = None,
    now: NowOption = None,
    time_split: TimeSplitOption = None,
    report: ReportOption = None,
) -> None:
    """Measure how well a model predicts real conversions, each lead scored before its outcome."""
    with user_errors(ClosedLoopError, TooFewOutcomesError):
        scoring_model = load_model(model)
        source = outcome_source(
            crm, csv, label, positive, activities, outcome_at, encoding, sandbox
        )
        share = check_share(time_split, "--time-split")
        loaded = source.labelled(scoring_model, parse_when(now))
        result = run_backtest(loaded.labelled, scoring_model, share, loaded.notes)
    for line in backtest_summary(result, loaded.source):
        console.print(line)
    if report is not None:
        page = Report(
            title=f"leadq backtest — {scoring_model.name}",
            results=[NamedResult("current model", result)],
            lines=[f"Data: {loaded.source}.", result.cutoffs],
        )
        report.write_text(render_report(page), encoding="utf-8")
        console.print(f"Wrote {report}.")


def learn(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the proposal.")],
    model: ModelOption = Path("scoring.yaml"),
    crm: CrmOption = False,
    csv: CsvOption = None,
    label: LabelOption = None,
    positive: PositiveOption = None,
    activities: ActivitiesOption = None,
    outcome_at: OutcomeAtOption = None,
    encoding: EncodingOption = "utf-8",
    sandbox: SandboxOption = None,
    now: NowOption = None,
    capacity: Annotated[
        str | None,
        typer.Option(
            "--capacity",
            help="Leads sales can take: 200/month, 50/week or 10% (default: today's MQL volume).",
        ),
    ] = None,
    folds: Annotated[
        int, typer.Option("--folds", help="Folds for the cross-validated estimate (0: skip).")
    ] = 5,
    time_split: Annotated[
        float, typer.Option("--time-split", help="Share of latest leads for the time-ordered test.")
    ] = 0.2,
    keep: Annotated[
        list[str] | None,
        typer.Option("--keep", help="Use this field even if it looks like a leak (repeatable)."),
    ] = None,
    regularisation: Annotated[
        float,
        typer.Option("--regularisation", help="C of the logistic regression (smaller: simpler)."),
    ] = DEFAULT_REGULARISATION,
    report: ReportOption = None,
) -> None:
    """Propose better points, grades and an MQL threshold from real outcomes, as a new model."""
    with user_errors(ClosedLoopError, TooFewOutcomesError):
        scoring_model = load_model(model)
        wanted = _capacity(capacity)
        source = outcome_source(
            crm, csv, label, positive, activities, outcome_at, encoding, sandbox
        )
        share = check_share(time_split, "--time-split")
        loaded = source.labelled(scoring_model, parse_when(now))
        settings = LearnSettings(regularisation=regularisation, keep=tuple(keep or ()))
        run = learn_from(loaded, scoring_model, settings, wanted, folds, share)
        output.write_text(run.yaml_text, encoding="utf-8")
    for line in learn_summary(run, output):
        console.print(line)
    if report is not None:
        report.write_text(render_report(learn_report(run, loaded)), encoding="utf-8")
        console.print(f"Wrote {report}.")


def _capacity(text: str | None) -> Capacity | None:
    if text is None:
        return None
    try:
        return parse_capacity(text)
    except ValueError as error:
        raise ClosedLoopError(str(error)) from None


@dataclass(frozen=True)
class LearnRun:
    current: BacktestResult
    current_latest: BacktestResult | None
    estimate: Estimate
    card: Scorecard
    changes: list[ProposedChange]
    suspects: list[Suspect]
    yaml_text: str


def learn_from(
    loaded: Loaded,
    model: ScoringModel,
    settings: LearnSettings,
    capacity: Capacity | None,
    folds: int,
    test_share: float | None,
) -> LearnRun:
    labelled = loaded.labelled
    check_outcomes(labelled, settings)
    learner = Learner(labelled, model, settings)
    suspects = learner.find_leaks()
    try:
        estimated = estimate(learner, capacity, folds, test_share)
        card = propose(learner, capacity)
    except ValueError as error:  # a capacity per month without creation dates
        raise ClosedLoopError(str(error)) from None
    current = run_backtest(labelled, model, notes=loaded.notes)
    current_latest = run_backtest(labelled, model, test_share) if test_share else None
    header = _yaml_header(loaded, model, estimated, current, current_latest)
    return LearnRun(
        current=current,
        current_latest=current_latest,
        estimate=estimated,
        card=card,
        changes=compare(model, card),
        suspects=suspects,
        yaml_text=render_yaml(card, header),
    )


def _yaml_header(
    loaded: Loaded,
    model: ScoringModel,
    estimated: Estimate,
    current: BacktestResult,
    current_latest: BacktestResult | None,
) -> list[str]:
    labelled = loaded.labelled
    lines = [
        f"Proposed by `leadq learn` from {loaded.source}: {len(labelled):,} leads, "
        f"{labelled.converted_count:,} converted ({labelled.base_rate:.1%}).",
        f"Based on {model.name!r} (version {model.version}). Review every change before use.",
        f"ROC AUC, current model: {current.auc:.3f} on all leads"
        + (f", {current_latest.auc:.3f} on the latest leads." if current_latest else "."),
    ]
    if estimated.mean_fold_auc is not None:
        lines.append(
            f"ROC AUC, this proposal on leads it did not learn from: "
            f"{estimated.mean_fold_auc:.3f} ({len(estimated.fold_aucs)}-fold)"
            + (
                f", {estimated.latest.auc:.3f} on the {estimated.latest.split}."
                if estimated.latest
                else "."
            )
        )
    return lines


# --------------------------------------------------------------------------- terminal output


def backtest_summary(result: BacktestResult, source: str) -> list[Any]:
    passed = result.passed_to_sales
    lines: list[Any] = [
        f"[bold]Backtest of {escape(result.model_name)}[/bold] (version {result.model_version}) "
        f"on {escape(source)}",
        f"{result.leads:,} leads, {result.converted:,} converted ({result.base_rate:.1%}); "
        f"{escape(result.cutoffs)}"
        + (f"; measured on the {escape(result.split)}" if result.split else ""),
        f"[bold]ROC AUC {result.auc:.3f}[/bold]"
        + (
            f", probability {result.probability_auc:.3f}"
            if result.probability_auc is not None
            else ""
        )
        + f"; top-decile lift {result.top_decile_lift:.2f}×",
    ]
    if passed:
        lines.append(
            f"Stage rules pass {passed.leads:,} leads ({passed.leads / result.leads:.1%}) to "
            f"sales: {passed.rate:.1%} converted, "
            f"{passed.share_of_conversions:.0%} of all conversions."
        )
    lines += [f"[yellow]note:[/yellow] {escape(note)}" for note in result.notes]
    if result.bands_out_of_order:
        lines.append(
            "[yellow]calibration:[/yellow] score bands converting worse than a lower band: "
            + ", ".join(result.bands_out_of_order)
        )
    lines.append(_segments_table("By score decile", "decile", result.by_decile))
    lines.append(_segments_table("By grade", "grade", result.by_grade))
    lines.append(_thresholds_table(result))
    lines.append(_stages_table(result))
    return lines


def _segments_table(title: str, key: str, segments: list[Segment]) -> Table:
    table = Table(title=title, title_justify="left")
    for name in (key, "leads", "converted", "rate", "lift"):
        table.add_column(name, justify="left" if name == key else "right")
    for s in segments:
        table.add_row(s.name, f"{s.leads:,}", f"{s.converted:,}", f"{s.rate:.1%}", f"{s.lift:.2f}×")
    return table


def _thresholds_table(result: BacktestResult) -> Table:
    table = Table(title="Candidate MQL thresholds", title_justify="left")
    for name in ("score ≥", "leads", "share", "precision", "recall", "lift"):
        table.add_column(name, justify="right")
    for row in result.thresholds:
        if row.threshold % 10 == 0 and row.leads:
            table.add_row(
                str(row.threshold),
                f"{row.leads:,}",
                f"{row.share:.1%}",
                f"{row.precision:.1%}",
                f"{row.recall:.1%}",
                f"{row.lift:.2f}×",
            )
    return table


def _stages_table(result: BacktestResult) -> Table:
    table = Table(title="What the stage rules pass to sales", title_justify="left")
    for name in ("stage rule", "stage", "leads", "rate", "of conversions"):
        table.add_column(name, justify="left" if name.startswith("stage") else "right")
    for p in result.stages:
        table.add_row(
            escape(p.rule),
            p.stage,
            f"{p.leads:,}",
            f"{p.rate:.1%}",
            f"{p.share_of_conversions:.0%}",
        )
    return table


def learn_summary(run: LearnRun, output: Path) -> list[Any]:
    lines: list[Any] = [f"[yellow]warning:[/yellow] {escape(s.warning)}" for s in run.suspects]
    lines += [f"[yellow]note:[/yellow] {escape(note)}" for note in run.current.notes]
    lines.append(_estimate_table(run))
    lines.append(_changes_table(run.changes))
    card = run.card
    lines.append(
        f"MQL at score ≥ {card.mql_threshold} (sales capacity: {escape(card.capacity_text)}). "
        f"{card.points_per_logit * math.log(2):.0f} points double a lead's odds of converting."
    )
    lines.append(
        f"Wrote {output}: a leadq model. Review it, then `leadq backtest --model {output} …`."
    )
    return lines


def _estimate_table(run: LearnRun) -> Table:
    table = Table(title="How well each model ranks conversions (ROC AUC)", title_justify="left")
    for name in ("model", "cross-validated", "latest leads", "top-decile lift"):
        table.add_column(name, justify="left" if name == "model" else "right")
    estimate_ = run.estimate
    table.add_row(
        "current",
        f"{run.current.auc:.3f} (all leads)",
        f"{run.current_latest.auc:.3f}" if run.current_latest else "—",
        f"{run.current.top_decile_lift:.2f}×",
    )
    table.add_row(
        "proposed",
        f"{estimate_.mean_fold_auc:.3f} ({len(estimate_.fold_aucs)}-fold)"
        if estimate_.mean_fold_auc is not None
        else "—",
        f"{estimate_.latest.auc:.3f}" if estimate_.latest else "—",
        f"{estimate_.out_of_fold.top_decile_lift:.2f}×" if estimate_.out_of_fold else "—",
    )
    return table


CHANGE_STYLE = {"added": "green", "changed": "yellow", "removed": "red"}


def _changes_table(changes: list[ProposedChange]) -> Table:
    table = Table(title="Proposed changes, with their evidence", title_justify="left")
    table.add_column("", min_width=7)
    table.add_column("rule or setting", min_width=24)
    table.add_column("points", justify="right", max_width=30)
    for name in ("leads", "conv.", "weight"):
        table.add_column(name, justify="right", no_wrap=True)
    for change in changes:
        evidence = change.evidence
        why = f"\n[italic]{escape(change.why)}[/italic]" if change.why else ""
        table.add_row(
            f"[{CHANGE_STYLE[change.kind]}]{change.kind}[/]",
            f"{escape(change.label)}\n[dim]{escape(change.what)}[/dim]{why}",
            f"{escape(change.before)} → {escape(change.after)}",
            f"{evidence.leads:,}" if evidence else "",
            f"{evidence.rate:.1%}" if evidence else "",
            f"{evidence.weight:+.2f}" if evidence else "",
        )
    return table


def change_rows(changes: list[ProposedChange]) -> list[list[str]]:
    return [
        [
            change.kind,
            change.what,
            change.label,
            change.before,
            change.after,
            f"{change.evidence.leads:,}" if change.evidence else "",
            f"{change.evidence.rate:.1%}" if change.evidence else "",
            f"{change.evidence.weight:+.2f}" if change.evidence else "",
            change.why,
        ]
        for change in changes
    ]


def learn_report(run: LearnRun, loaded: Loaded) -> Report:
    results = []
    if run.estimate.out_of_fold is not None:
        results.append(
            NamedResult(
                "learned (each lead scored by a fold that did not see it)", run.estimate.out_of_fold
            )
        )
    results.append(NamedResult("current model", run.current))
    if run.estimate.latest is not None:
        results.append(NamedResult("learned on earlier leads, latest leads", run.estimate.latest))
    if run.current_latest is not None:
        results.append(NamedResult("current model, latest leads", run.current_latest))
    header = ["change", "what", "rule", "before", "after", "leads", "conversion", "weight", "why"]
    return Report(
        title=f"leadq learn — {run.card.model.name}",
        results=results,
        lines=[f"Data: {loaded.source}.", run.current.cutoffs],
        warnings=[s.warning for s in run.suspects],
        tables=[
            ExtraTable("Proposed changes, with their evidence", header, change_rows(run.changes))
        ],
    )


def register(app: typer.Typer) -> None:
    """Add `backtest` and `learn` to the leadq command."""
    app.command("backtest")(backtest)
    app.command("learn")(learn)
