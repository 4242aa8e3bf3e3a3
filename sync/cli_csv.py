"""`leadq score` and `leadq explain`: a leads CSV scored, or one of its leads explained, with no
CRM and no state."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from scoring.loading import load_model
from sync.cli_options import (
    ActivitiesOption,
    EncodingOption,
    ModelOption,
    NowOption,
    console,
    parse_now,
)
from sync.csvscore import CsvScoringRun, pyarrow_available, score_csv
from sync.render import distribution_line, explanation_panel, top_leads_table
from sync.user_errors import UserError, user_errors


def score(
    leads: Annotated[Path, typer.Argument(help="Leads CSV exported from a CRM or a sheet.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the scored CSV.")],
    model: ModelOption = Path("scoring.yaml"),
    activities: ActivitiesOption = None,
    encoding: EncodingOption = "utf-8",
    output_encoding: Annotated[
        str | None,
        typer.Option(help="Encoding of the output (default: the input's; UTF-8 for cp932)."),
    ] = None,
    now: NowOption = None,
    top: Annotated[int, typer.Option(help="How many top leads to show.")] = 10,
    formula_guard: Annotated[
        bool,
        typer.Option(
            "--formula-guard/--no-formula-guard",
            help="Prefix text cells starting with = + - @ with ' so spreadsheets show them "
            "as text, never run them as formulas.",
        ),
    ] = True,
) -> None:
    """Score a leads CSV and write it back with score, grade, label, stage and reasons."""
    with user_errors():
        scoring_model = load_model(model)
        run = CsvScoringRun(scoring_model, leads, activities, encoding=encoding)
        moment = parse_now(now) or datetime.now(UTC)
        report = score_csv(
            run, output, moment, output_encoding, top=top, formula_guard=formula_guard
        )
    console.print(top_leads_table(report, f"Top {len(report.top)} leads — {scoring_model.name}"))
    console.print(distribution_line(report))
    console.print(f"Wrote {output} (model version {scoring_model.version}).")
    if activities is not None and not pyarrow_available():
        console.print(
            "Activities were read row by row: pip install 'leadq[csv]' (pyarrow) reads them as "
            "columns, many times faster."
        )


def explain(
    leads: Annotated[Path, typer.Argument(help="Leads CSV.")],
    lead_id: Annotated[str, typer.Option("--id", help="The lead to explain.")],
    model: ModelOption = Path("scoring.yaml"),
    activities: ActivitiesOption = None,
    encoding: EncodingOption = "utf-8",
    now: NowOption = None,
) -> None:
    """Show, rule by rule, why one lead got its score, grade and stage."""
    with user_errors():
        scoring_model = load_model(model)
        moment = parse_now(now) or datetime.now(UTC)
        run = CsvScoringRun(scoring_model, leads, activities, encoding=encoding)
        explained = run.explain(lead_id, moment)
        if explained is None:
            raise UserError(f"no lead with id {lead_id!r} in {leads.name}")
    console.print(explanation_panel(explained))
