"""The `leadq` command: one function per subcommand, each reading its options, calling the
modules that do the work, and printing through `sync.render`."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import typer
from rich.console import RenderableType

from connectors.base import Connector
from scoring.backtest import run_backtest
from scoring.config import ScoringModel, json_schema
from scoring.learn import DEFAULT_REGULARISATION, LearnSettings, TooFewOutcomesError
from scoring.loading import load_model, load_model_with_warnings
from scoring.report import Report, render_report
from scoring.scorecard import Capacity, parse_capacity
from sync.cli_options import NowOption, console, parse_now
from sync.csvscore import CsvScoringRun, pyarrow_available, score_csv
from sync.engine import RunWatch
from sync.learn_run import learn_from
from sync.outcomes import CrmOutcomes, CsvOutcomes, OutcomeSource, plugin_source
from sync.render import (
    acceptance_summary,
    audit_table,
    backtest_report,
    backtest_summary,
    distribution_line,
    explanation_panel,
    failures_table,
    learn_report,
    learn_summary,
    not_found_line,
    run_summary,
    status_view,
    streamed_assignments,
    streamed_changes,
    top_leads_table,
    waiting_table,
)
from sync.settings import Settings, load_settings
from sync.state import StateStore
from sync.terminal import markup_safe
from sync.user_errors import (
    ClickException,
    UsageError,
    UserError,
    error_console,
    print_error,
    usage_error,
    user_errors,
)

app = typer.Typer(
    name="leadq",
    help="Lead qualification for HubSpot and Salesforce: score, explain, route and sync.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def taking(options: type[Any]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Options declared once, in the dataclass `options`, for several commands: the command's
    parameter annotated with `options` stands, for typer, for every field of it (in its place),
    and the command receives them as one `options` instance."""
    hints = get_type_hints(options, include_extras=True)
    keyword = inspect.Parameter.KEYWORD_ONLY
    fields = [
        inspect.Parameter(f.name, keyword, default=f.default, annotation=hints[f.name])
        for f in dataclasses.fields(options)
    ]

    def declare(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        (name,) = (p.name for p in signature.parameters.values() if p.annotation is options)
        parameters = [
            field
            for p in signature.parameters.values()
            for field in (fields if p.name == name else [p.replace(kind=keyword)])
        ]

        @functools.wraps(command)
        def run(**given: Any) -> None:
            shared = {field.name: given.pop(field.name) for field in fields}
            command(**given, **{name: options(**shared)})

        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        return run

    return declare


ModelOption = Annotated[
    Path, typer.Option("--model", "-m", help="The scoring model YAML.", show_default=True)
]
ActivitiesOption = Annotated[
    Path | None,
    typer.Option("--activities", "-a", help="Activities CSV (lead id, type, time, details)."),
]
EncodingOption = Annotated[
    str,
    typer.Option(
        "--encoding", "-e", help="Encoding of the input files: utf-8 (BOM or not), cp932 …"
    ),
]


@app.command()
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


SettingsFileOption = Annotated[
    Path | None, typer.Option("--env-file", help="Read LEADQ_* settings from this file.")
]


@app.command()
def validate(
    model: Annotated[Path, typer.Argument(help="The scoring model YAML.")],
    crm: Annotated[
        bool,
        typer.Option(
            "--crm",
            help="Also check the model against the CRM: routing owners, fields, status values.",
        ),
    ] = False,
    env_file: SettingsFileOption = None,
) -> None:
    """Check a scoring model and say exactly where any problem is."""
    with user_errors():
        scoring_model, warnings = load_model_with_warnings(model)
        if crm:
            check_against_crm(scoring_model, model, env_file)
    for warning in warnings:
        console.print(f"[yellow]warning:[/yellow] {markup_safe(warning)}")
    fit_rules, engagement_rules = len(scoring_model.fit.rules), len(scoring_model.engagement.rules)
    console.print(
        f"[green]ok[/green] {markup_safe(model.name)}: {markup_safe(repr(scoring_model.name))}, "
        f"{fit_rules} fit rules, "
        f"{engagement_rules} engagement rules, {len(scoring_model.stages)} stage rules; "
        f"version {scoring_model.version}"
    )


@app.command()
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


@app.command()
def schema() -> None:
    """Print the JSON Schema of the scoring model (for editor completion)."""
    typer.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))


def check_record_ids(crm: str, ids: list[str] | tuple[str, ...]) -> None:
    """Record ids are checked before any request: a malformed Salesforce id would fail the whole
    SOQL query it is quoted into, a HubSpot id that is no 64-bit number the whole batch read."""
    if crm == "salesforce":
        from connectors.salesforce_records import is_record_id

        kind = "Salesforce record id (15 or 18 letters and digits, e.g. 00Q5g00000AbCdEEAV)"
    else:
        from connectors.hubspot_records import is_record_id

        kind = "HubSpot record id (a whole number up to 9223372036854775807, e.g. 51)"
    malformed = [record_id for record_id in ids if not is_record_id(record_id)]
    if malformed:
        raise UserError(f"--ids {', '.join(map(repr, malformed))}: not a {kind}")


@app.command()
def sync(
    full: Annotated[
        bool, typer.Option("--full", help="Rescore every lead (decay, new model).")
    ] = False,
    ids: Annotated[
        list[str] | None, typer.Option("--ids", help="Only these leads (repeat the option).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show every planned change; write nothing.")
    ] = False,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Scoring model YAML.")] = None,
    now: NowOption = None,
    env_file: SettingsFileOption = None,
) -> None:
    """Score leads in the CRM and write score, grade, reasons, stage and owner back."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from sync.runtime import open_runtime

    kind = "ids" if ids else ("full" if full else "incremental")
    with user_errors():
        settings = load_settings(env_file)
        if model is not None:
            settings = settings.model_copy(update={"model_path": model})
        check_record_ids(settings.crm, ids or ())
        as_of = parse_now(now)
        runtime = open_runtime(settings)
        try:
            engine = runtime.engine((lambda: as_of) if as_of else None)
            changes = streamed_changes(console, dry_run)
            assignments = streamed_assignments(console)
            watch = (
                RunWatch(changes=changes.add, assignments=assignments.add)
                if dry_run
                else RunWatch(assignments=assignments.add)
            )
            with Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task(f"{kind} sync: pulling …", total=None)
                report = engine.run(
                    kind,
                    ids or (),
                    dry_run,  # type: ignore[arg-type]
                    progress=lambda n: bar.update(task, description=f"{kind} sync: {n:,} leads"),
                    watch=watch,
                )
        finally:
            runtime.close()
    changes.close()
    assignments.close()
    if report.failed:
        console.print(failures_table(report))
    if report.waiting:
        console.print(waiting_table(report.waiting))
    console.print(run_summary(report))
    if report.not_found:
        error_console().print(not_found_line(report))
    if report.failed or report.not_found:
        raise typer.Exit(1)


def check_page_target(path: Path) -> None:
    """Refuse, before any work, a page that could not be written."""
    if path.is_dir():
        raise UserError(f"{path}: is a directory; give a file name for the page")
    if not path.parent.is_dir():
        raise UserError(f"{path}: the folder {path.parent} does not exist")


def write_page(path: Path, text: str) -> None:
    """Write the whole page or nothing: a page cut short by a failure never replaces a good one."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


@app.command()
def preview(
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the preview as an HTML page.")
    ] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Scoring model YAML.")] = None,
    now: NowOption = None,
    env_file: SettingsFileOption = None,
) -> None:
    """Score the live CRM without writing anything: distributions, MQLs now and per week, who
    would get them, and the rules that count most — before a model goes live."""
    from sync.preview_render import preview_page, preview_view
    from sync.preview_run import run_preview

    with user_errors():
        settings = page_run_settings(env_file, model, html)
        result = run_preview(settings, parse_now(now))
        if html is not None:
            write_page(html, preview_page(result))
    show_with_page(preview_view(result), html)


def page_run_settings(env_file: Path | None, model: Path | None, html: Path | None) -> Settings:
    """The settings of a command that reads the CRM and may write a page (`--model` replacing the
    model path); a page that could not be written is refused first."""
    settings = load_settings(env_file)
    if model is not None:
        settings = settings.model_copy(update={"model_path": model})
    if html is not None:
        check_page_target(html)
    return settings


def show_with_page(view: RenderableType, html: Path | None) -> None:
    console.print(view)
    if html is not None:
        console.print(f"Wrote {markup_safe(str(html))}")


report_app = typer.Typer(help="Reports read from the CRM.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("handoff")
def report_handoff(
    days: Annotated[
        int, typer.Option("--days", min=1, max=3660, help="Handoffs of the last N days.")
    ] = 7,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the report as an HTML page.")
    ] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Scoring model YAML.")] = None,
    now: NowOption = None,
    env_file: SettingsFileOption = None,
) -> None:
    """Speed-to-lead: per owner and per grade, the MQLs leadq handed off, their follow-up tasks
    done on time, late or still open, the median time to the first touch, and how many the reps
    accepted or rejected. Reads the CRM, writes nothing."""
    from sync.handoff_report import handoff_figures, handoff_sections
    from sync.runtime import open_runtime
    from sync.sections import sections_page, sections_view

    with user_errors():
        settings = page_run_settings(env_file, model, html)
        moment = parse_now(now) or datetime.now(UTC)
        runtime = open_runtime(settings)
        try:
            figures = handoff_figures(
                runtime.connector, moment - timedelta(days=days), moment, runtime.model
            )
        finally:
            runtime.close()
        sections = handoff_sections(figures)
        if html is not None:
            write_page(html, sections_page(
                "leadq speed-to-lead", "Speed to lead", sections[0].note, sections))
    show_with_page(sections_view(sections), html)


@app.command()
def setup(
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Scoring model YAML.")] = None,
    env_file: SettingsFileOption = None,
) -> None:
    """Create leadq's output fields in the CRM (or say exactly which an admin must create)."""
    from sync.runtime import build_connector, check_model_fields, output_field_specs

    with user_errors():
        settings = load_settings(env_file)
        model_path = model or settings.model_path
        scoring_model = load_model(model_path)
        connector = build_connector(settings, scoring_model)
        require_routing_owners(connector, scoring_model, settings.crm)
        report = connector.ensure_fields(output_field_specs(scoring_model, settings.crm))
        check_model_fields(connector, scoring_model, model_path)
    for label, names in (("created", report.created), ("already there", report.existing)):
        if names:
            console.print(f"{label}: {', '.join(names)}")
    if report.missing:
        error_console().print(f"[red]missing:[/red] {', '.join(report.missing)}")
        raise typer.Exit(2)
    console.print("[green]ok[/green] leadq's fields are in place")


def check_against_crm(model: ScoringModel, source: Path, env_file: Path | None) -> None:
    """What only the CRM can tell: the owners routing names, the fields the model reads."""
    from sync.runtime import build_connector, check_lifecycle_values, check_model_fields

    settings = load_settings(env_file)
    connector = build_connector(settings, model)
    require_routing_owners(connector, model, settings.crm)
    check_model_fields(connector, model, source)
    check_lifecycle_values(connector, model, source)


def require_routing_owners(connector: Connector, model: ScoringModel, crm: str) -> None:
    """Refuse a model whose routing names owners the CRM cannot give leads to, listing them."""
    from sync.runtime import routing_owner_problems

    problems = routing_owner_problems(connector, model)
    if problems:
        crm_name = "HubSpot" if crm == "hubspot" else "Salesforce"
        listed = "; ".join(str(problem) for problem in problems)
        raise UserError(
            f"routing names {len(problems)} owner{'s' if len(problems) > 1 else ''} who cannot "
            f"take leads in {crm_name}: {listed}"
        )


@contextmanager
def state_store_of(env_file: Path | None) -> Iterator[tuple[Settings, StateStore]]:
    """The settings, and the state store they name, to read (closed after use): a SQLite file
    that is not there is refused rather than created empty."""
    from sync.state_url import open_state_store

    settings = load_settings(env_file)
    require_state_file(settings.state_url)
    store = open_state_store(settings.state_url)
    try:
        yield settings, store
    finally:
        store.close()


def require_state_file(url: str) -> None:
    """A SQLite state file must already be there (a DynamoDB table is checked when opened)."""
    from sync.state_url import state_location

    location = state_location(url)
    if location.backend == "sqlite" and not Path(location.name).exists():
        raise UserError(
            f"no leadq state at {location.name}: no sync has run with LEADQ_STATE_URL={url} "
            "(check the setting, or run leadq sync first)"
        )


@app.command()
def audit(
    lead_id: Annotated[str, typer.Argument(help="The CRM id of the lead.")],
    limit: Annotated[int, typer.Option(help="How many changes to show.")] = 50,
    env_file: SettingsFileOption = None,
) -> None:
    """Show a lead's history of changes made by leadq, and why."""
    with user_errors(), state_store_of(env_file) as (settings, store):
        entries = store.audit_for(lead_id, limit=limit)
        if not entries:
            raise UserError(f"leadq has not changed lead {lead_id!r} (state: {settings.state_url})")
    console.print(audit_table(lead_id, entries))


@app.command()
def status(
    runs: Annotated[int, typer.Option(help="How many of the latest runs to show.")] = 10,
    env_file: SettingsFileOption = None,
) -> None:
    """Show the sync's state: cursor, latest runs, leads waiting for a retry and why, lease."""
    from sync.status import read_status

    with user_errors(), state_store_of(env_file) as (settings, store):
        found = read_status(store, settings.crm, datetime.now(UTC), runs)
    for shown in status_view(found):
        console.print(shown)


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


@app.command()
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


@app.command()
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
) -> None:
    """Propose better points, grades and an MQL threshold from real outcomes, as a new model."""
    with user_errors(TooFewOutcomesError):
        scoring_model = load_model(shared.model)
        wanted = parse_sales_capacity(capacity)
        source = shared.source(learning=True)
        share = check_share(time_split, "--time-split")
        loaded = source.labelled(scoring_model, parse_now(shared.now))
        settings = LearnSettings(regularisation=regularisation, keep=tuple(keep or ()))
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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker threads scoring queued leads.")] = 2,
    every: Annotated[
        float, typer.Option(min=0.01, help="Minutes between incremental runs.")
    ] = 15.0,
    nightly: Annotated[str, typer.Option(help="When the nightly full run starts (UTC).")] = "02:30",
    env_file: SettingsFileOption = None,
) -> None:
    """Receive CRM webhooks, score the leads they name, and run the schedules, in one process
    (until SIGTERM or Ctrl-C; queued leads survive a restart)."""
    from datetime import time as clock_time
    from datetime import timedelta

    from sync.secrets import with_secrets
    from sync.serve import ServeOptions, serve_until_stopped

    with user_errors():
        try:
            at = clock_time.fromisoformat(nightly)
        except ValueError:
            raise UserError(f"--nightly {nightly!r} is not a time of day, e.g. 02:30") from None
        settings = with_secrets(load_settings(env_file))
        settings.require_credentials()
        load_model(settings.model_path)  # a broken model stops here, not in every worker
        options = ServeOptions(host, port, workers, timedelta(minutes=every), at)

        def announce(address: str, restored: int) -> None:
            console.print(f"leadq serve: listening on {address}", soft_wrap=True)
            if restored:
                console.print(f"{restored} queued units left by an earlier run are queued again")
            console.file.flush()

        serve_until_stopped(settings, options, announce)


def add_plugin_commands(typer_app: typer.Typer) -> None:
    """Commands other packages add to `leadq` through the `leadq.commands` entry points — the
    sandbox's `demo` and `sandbox` — so that no deployed module imports them. A plugin whose own
    package is not there (the Lambda bundle leaves the sandbox out) adds nothing; any other
    import error in a plugin is a bug and surfaces."""
    for entry in entry_points(group="leadq.commands"):
        try:
            register = entry.load()
        except ModuleNotFoundError as missing:
            if missing.name and is_within(entry.module, missing.name):
                continue
            raise
        register(typer_app)


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


add_plugin_commands(app)


def main() -> None:
    """Run the CLI: a mistyped command or option is one `error:` line and a hint, exit code 2,
    like every other user error (typer would draw a boxed panel)."""
    try:
        outcome = app(prog_name="leadq", standalone_mode=False)
    except UsageError as mistake:
        raise SystemExit(usage_error(mistake)) from None
    except ClickException as refusal:
        print_error(refusal.format_message())
        raise SystemExit(refusal.exit_code) from None
    except (KeyboardInterrupt, typer.Abort):
        error_console().print("interrupted")
        raise SystemExit(130) from None
    raise SystemExit(outcome if isinstance(outcome, int) else 0)


if __name__ == "__main__":
    main()
