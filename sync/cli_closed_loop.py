"""`leadq backtest` and `leadq learn`, the closed loop: one option set says where the outcomes
are; backtest measures the model on them, learn proposes a better one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from scoring.backtest import run_backtest
from scoring.learn import DEFAULT_REGULARISATION, LearnSettings, TooFewOutcomesError
from scoring.loading import load_model
from scoring.report import Report, render_report
from scoring.scorecard import Capacity, parse_capacity
from sync.cli_options import ModelOption, console, parse_now, taking
from sync.learn_run import learn_from
from sync.outcomes import CrmOutcomes, CsvOutcomes, OutcomeSource, plugin_source
from sync.render_closed_loop import (
    acceptance_summary,
    backtest_report,
    backtest_summary,
    learn_report,
    learn_summary,
)
from sync.user_errors import UserError, user_errors


@dataclass(frozen=True)
class OutcomeOptions:
    """The options `backtest` and `learn` share: the model, where the outcomes are, the end of
    the data and the HTML report."""

    model: ModelOption = Path("scoring.yaml")
    crm: Annotated[
        bool, typer.Option("--crm", help="Outcomes from the CRM (needs the connectors).")
    ] = False
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Leads CSV with a column saying who converted.")
    ] = None
    label: Annotated[
        str | None, typer.Option("--label", help="The CSV column that says who converted, e.g. y.")
    ] = None
    positive: Annotated[
        str | None,
        typer.Option(
            "--positive", help="The label value meaning converted (default: yes/true/1/won)."
        ),
    ] = None
    activities: Annotated[
        Path | None, typer.Option("--activities", "-a", help="Activities CSV for the leads.")
    ] = None
    outcome_at: Annotated[
        str | None,
        typer.Option(
            "--outcome-at", help="CSV column with when the outcome happened (score before it)."
        ),
    ] = None
    encoding: Annotated[str, typer.Option("--encoding", "-e", help="Encoding of the CSVs.")] = (
        "utf-8"
    )
    sandbox: Annotated[
        int | None,
        typer.Option("--sandbox", help="Try the loop on a synthetic org of this many leads."),
    ] = None
    now: Annotated[
        str | None,
        typer.Option(
            "--now", help="End of the data: leads with no outcome time are scored as of it."
        ),
    ] = None
    report: Annotated[
        Path | None, typer.Option("--report", help="Write a self-contained HTML report here.")
    ] = None

    def source(self, learning: bool = False) -> OutcomeSource:
        """The one source the options name: the CRM, a CSV with a label column, or a plugin's
        (the sandbox's synthetic org). `learning`: a CRM's field history is read too."""
        given = (("--crm", self.crm), ("--csv", self.csv), ("--sandbox", self.sandbox))
        chosen = [name for name, value in given if value]
        if len(chosen) != 1:
            raise UserError(
                "say where the outcomes are: --csv leads.csv --label COLUMN, or --crm"
                if not chosen
                else f"give one source of outcomes, not {' and '.join(chosen)}"
            )
        if self.crm:
            return CrmOutcomes(field_history=learning)
        if self.sandbox is not None:
            return plugin_source("sandbox", self.sandbox)
        if self.label is None:
            raise UserError("--csv needs --label: the column that says who converted")
        assert self.csv is not None
        return CsvOutcomes(
            self.csv, self.label, self.positive, self.activities, self.outcome_at, self.encoding
        )

    def write_report(self, page: Report) -> None:
        if self.report is not None:
            self.report.write_text(render_report(page), encoding="utf-8")
            console.print(f"Wrote {self.report}.")


@taking(OutcomeOptions)
def backtest(
    shared: OutcomeOptions,
    time_split: Annotated[
        float | None,
        typer.Option("--time-split", help="Measure only the latest share of leads, e.g. 0.2."),
    ] = None,
) -> None:
    """Measure how well a model predicts real conversions, each lead scored before its outcome."""
    with user_errors(TooFewOutcomesError):
        scoring_model = load_model(shared.model)
        source = shared.source()
        share = check_share(time_split, "--time-split")
        loaded = source.labelled(scoring_model, parse_now(shared.now))
        result = run_backtest(loaded.labelled, scoring_model, share, loaded.notes)
    for line in [*backtest_summary(result, loaded.source), *acceptance_summary(loaded)]:
        console.print(line)
    shared.write_report(backtest_report(result, loaded))


@taking(OutcomeOptions)
def learn(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the proposal.")],
    shared: OutcomeOptions,
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
    recency_half_life: Annotated[
        float | None,
        typer.Option(
            "--recency-half-life",
            help="Weigh recent leads more: a lead counts half for each such share of newer "
            "leads, e.g. 0.05 (like learn.recency_half_life).",
        ),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Learn from the leads alone, not from the current rules (the proposal "
            "replaces them; stages, grades and mapping stay).",
        ),
    ] = False,
) -> None:
    """Propose better points, grades and an MQL threshold from real outcomes, as a new model."""
    with user_errors(TooFewOutcomesError):
        scoring_model = load_model(shared.model)
        wanted = parse_sales_capacity(capacity)
        source = shared.source(learning=True)
        share = check_share(time_split, "--time-split")
        half_life = check_share(recency_half_life, "--recency-half-life")
        loaded = source.labelled(scoring_model, parse_now(shared.now))
        settings = LearnSettings(
            regularisation=regularisation,
            keep=tuple(keep or ()),
            recency_half_life=half_life,
            fresh=fresh,
        )
        run = learn_from(loaded, scoring_model, settings, wanted, folds, share)
        output.write_text(run.yaml_text, encoding="utf-8")
    for line in learn_summary(run, output):
        console.print(line)
    shared.write_report(learn_report(run, loaded))


def check_share(value: float | None, option: str) -> float | None:
    if value is not None and not 0 < value < 1:
        raise UserError(f"{option} is a share of leads between 0 and 1, e.g. 0.2")
    return value


def parse_sales_capacity(text: str | None) -> Capacity | None:
    if text is None:
        return None
    try:
        return parse_capacity(text)
    except ValueError as error:
        raise UserError(str(error)) from None
