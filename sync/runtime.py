"""Put a run together from settings: the model, the connector the CRM needs, the state store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from connectors.base import Connector, OutputField, Picklists, keep_schemas, keep_sessions
from scoring.config import ScoringModel
from scoring.loading import load_model, located_error
from scoring.references import Loc, custom_field_uses
from scoring.routing import Directory, UnresolvedOwner, unresolved_owners
from sync.connect import (
    connector_type,
    hubspot_connector,
    retry_settings,
    salesforce_connector,
)
from sync.engine import EngineOptions, SyncEngine
from sync.plan import Planner, output_fields
from sync.schema_cache import StoredSchemas
from sync.session_cache import StoredSessions, existing_sqlite_store
from sync.settings import Settings
from sync.state import StateStore
from sync.state_url import open_state_store

GRADE_OPTIONS = ("A", "B", "C", "D", "F")
LABEL_OPTIONS = tuple(f"{letter}{band}" for letter in "ABCD" for band in range(1, 5))
OUTPUT_TYPES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "score": ("leadq score", "number", ()),
    "fit": ("leadq fit", "number", ()),
    "engagement": ("leadq engagement", "number", ()),
    "grade": ("leadq grade", "enumeration", GRADE_OPTIONS),
    "label": ("leadq label", "enumeration", LABEL_OPTIONS),
    "priority": ("leadq priority", "number", ()),
    "reasons": ("leadq reasons", "string", ()),
    "model_version": ("leadq model version", "string", ()),
    "scored_at": ("leadq scored at", "datetime", ()),
    "probability": ("leadq probability", "number", ()),
    "probability_reasons": ("leadq probability reasons", "string", ()),
}


def output_field_specs(model: ScoringModel, crm: str) -> list[OutputField]:
    """leadq's output fields as the CRM must hold them, for `leadq setup`."""
    specs = []
    for output, name in output_fields(model, connector_type(crm).field_name).items():
        label, kind, options = OUTPUT_TYPES[output]
        specs.append(OutputField(name, label, kind, options))  # type: ignore[arg-type]
    return specs


def build_connector(
    settings: Settings,
    model: ScoringModel,
    session: requests.Session | None = None,
    *,
    learning: bool = False,
    kept_sessions: StoredSessions | None = None,
    **options: Any,
) -> Connector:
    """The connector for `settings.crm`, reading what the model and the planner need (and, when
    `learning`, the custom fields `learn.fields` names); a Salesforce connector connects with
    the session `kept_sessions` holds for its login, if any."""
    settings.require_credentials()
    options.setdefault("retry", retry_settings(settings))
    lead_fields, company_fields = model.custom_fields(learning)
    planner = Planner(model, settings.crm, field_name=connector_type(settings.crm).field_name)
    diffed = planner.read_fields()
    if settings.crm == "hubspot":
        return hubspot_connector(
            settings,
            extra_properties=lead_fields,
            output_properties=diffed,
            company_properties=company_fields,
            **options,
        )
    # Leads' Status is a standard field the connector always reads; Contacts have none.
    outputs = list(planner.fields.values())
    return salesforce_connector(
        settings, session, extra_fields=[*lead_fields, *outputs], kept_sessions=kept_sessions,
        **options,
    )


def check_model_fields(
    connector: Connector, model: ScoringModel, source: Path | str | None
) -> None:
    """The custom fields the model reads must exist in the CRM (Salesforce: by describe), or
    every query that reads them fails; raises a ModelFileError located in `source`."""
    if connector.crm != "salesforce":
        return  # HubSpot answers an unknown property with no value: nothing fails
    from connectors.salesforce import SalesforceConnector  # imported only for Salesforce

    assert isinstance(connector, SalesforceConnector)
    uses = list(custom_field_uses(model))
    missing = connector.unreadable_fields(sorted({name for _, name in uses}))
    problems = [
        (loc, f"Salesforce has no field {name} on {' or '.join(missing[name])} that the "
              "integration user can read: correct the name (API names of custom fields end in "
              "__c) or give the user read access to it (field-level security)")
        for loc, name in uses if name in missing
    ]
    if problems:
        raise located_error(source, problems)


def check_lifecycle_values(
    connector: Connector, model: ScoringModel, source: Path | str | None
) -> None:
    """Refuse a model whose lifecycle maps values the CRM's picklists lack, located in `source`."""
    problems = lifecycle_value_problems(connector, model)
    if problems:
        raise located_error(source, problems)
def lifecycle_value_problems(connector: Connector, model: ScoringModel) -> list[tuple[Loc, str]]:
    """The status and stage values the model's lifecycle maps for this CRM (disqualified,
    recycle, dispositions) that the CRM's picklists do not offer: a write of one would fail, a
    disposition named wrong would never be read."""
    lifecycle = getattr(model.lifecycle, connector.crm, None)
    if lifecycle is None or not isinstance(connector, Picklists):
        return []
    where: tuple[str | int, ...] = ("lifecycle", connector.crm)
    status_values = {
        (*where, name): [value]
        for name in ("disqualified_status", "recycle_status", "requalified_status")
        if (value := getattr(lifecycle, name))
    }
    for verdict in ("accepted", "rejected", "not_a_fit", "no_response"):
        status_values[(*where, "dispositions", verdict)] = getattr(lifecycle.dispositions, verdict)
    stages = {(*where, "dispositions", "accepted_stages"): lifecycle.dispositions.accepted_stages}
    checks = [(lifecycle.status_field, status_values), (lifecycle.stage_field, stages)]
    problems: list[tuple[Loc, str]] = []
    for field_name, named in checks:
        allowed = connector.picklist_values(field_name) if field_name else None
        if allowed is None:
            continue
        problems += [
            (loc, f"{value!r} is not a value of {field_name} in the CRM (it offers: "
                  f"{', '.join(allowed)})")
            for loc, values in named.items() for value in values
            if value and value not in allowed
        ]
    return problems


def routing_owner_problems(connector: Connector, model: ScoringModel) -> list[UnresolvedOwner]:
    """The owners the model's routing names that the CRM does not have as active users."""
    if model.routing is None:
        return []
    return unresolved_owners(model.routing, Directory(connector.list_owners()))


def integration_owners(settings: Settings) -> frozenset[str]:
    owner = (
        settings.hubspot_integration_owner_id
        if settings.crm == "hubspot"
        else settings.salesforce_integration_user_id
    )
    return frozenset({owner} if owner else ())


@dataclass
class Runtime:
    settings: Settings
    model: ScoringModel
    connector: Connector
    store: StateStore

    def engine(self, clock: Callable[[], datetime] | None = None) -> SyncEngine:
        """An engine for this runtime; `clock` scores as of another time (leases keep real time)."""
        options = EngineOptions(
            min_score_change=self.settings.min_score_change,
            integration_owner_ids=integration_owners(self.settings),
            overlap=timedelta(seconds=self.settings.overlap_seconds),
            audit_retention=timedelta(days=self.settings.audit_retention_days) or None,
        )
        return SyncEngine(self.connector, self.store, self.model, options, clock)

    def close(self) -> None:
        self.store.close()


def open_runtime(
    settings: Settings,
    model: ScoringModel | None = None,
    session: requests.Session | None = None,
    **connector_options: Any,
) -> Runtime:
    """The model, the connector and the state store; the store is opened (a SQLite file created)
    only once the settings are good and the CRM took the credentials."""
    chosen = model or load_model(settings.model_path)
    existing = existing_sqlite_store(settings.state_url) if settings.crm == "salesforce" else None
    try:
        kept = StoredSessions(existing) if existing else None
        connector = build_connector(settings, chosen, session, kept_sessions=kept,
                                    **connector_options)
        connector.check_access()
        check_model_fields(connector, chosen, settings.model_path if model is None else None)
    except BaseException:
        if existing is not None:
            existing.close()
        raise
    store = existing or open_state_store(settings.state_url)
    keep_schemas(connector, StoredSchemas(store))
    keep_sessions(connector, StoredSessions(store))
    return Runtime(settings, chosen, connector, store)
