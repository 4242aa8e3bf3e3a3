"""`leadq validate`, `leadq schema` and `leadq setup`: the scoring model checked on its own and
against the CRM, its JSON Schema, and leadq's output fields created in the CRM."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from connectors.base import Connector
from scoring.config import ScoringModel, json_schema
from scoring.loading import load_model, load_model_with_warnings
from sync.cli_options import ModelReplacingOption, SettingsFileOption, console
from sync.settings import load_settings
from sync.terminal import markup_safe
from sync.user_errors import UserError, error_console, user_errors


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


def schema() -> None:
    """Print the JSON Schema of the scoring model (for editor completion)."""
    typer.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))


def setup(
    model: ModelReplacingOption = None,
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
