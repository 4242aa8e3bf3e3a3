"""Backtest and learn on 3,000-lead sandbox orgs of both CRMs, read through the connectors.

Each org is first synced (`leadq setup`, `leadq sync --full`), as a CRM leadq already writes to:
its scores, grades and reasons sit on every lead and must not be learned from. For each CRM: the
conversions backtest finds against those the generator planted (and that the CRM records: a
Salesforce Contact only with its deal won), and how three rankings of the same leads,
each as of the same cut-offs, compare by ROC AUC — the hand-written `examples/sandbox.yaml`, the
model `learn` proposes (5-fold, on leads it did not learn from) and the generator's own hidden
propensity (the ceiling: a learned model far above it has learned from a leak).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from typer.testing import CliRunner

from benchmarks.measure import Measurement
from connectors.base import Connector
from sandbox.hubspot import start_hubspot
from sandbox.orgs import OrgSpec, SynthOrg
from sandbox.orgs.propensity import propensity
from sandbox.salesforce import start_salesforce
from scoring.backtest import LabelledLeads, run_backtest
from scoring.conversion_measures import roc_auc
from scoring.learn import LearnSettings
from scoring.loading import load_model
from sync.cli import app
from sync.learn_run import learn_from
from sync.outcomes import ConnectorOutcomes
from sync.runtime import build_connector

Crm = Literal["hubspot", "salesforce"]
ORG = OrgSpec(leads=3_000, seed=7)
MODEL = Path(__file__).parents[1] / "examples" / "sandbox.yaml"
NOISE = 0.01  # about the standard error of a ROC AUC over 3,000 leads with 350 conversions


def closed_loop_benchmarks() -> list[Measurement]:
    """About a minute a CRM: seed, read the history, backtest, learn with 5 folds."""
    return [*crm_figures("hubspot"), *crm_figures("salesforce")]


def crm_figures(crm: Crm) -> list[Measurement]:
    org = SynthOrg(ORG)
    model = load_model(MODEL)
    with serving(crm, org) as connector:
        loaded = ConnectorOutcomes(connector).labelled(model, None)
        planted = planted_conversions(crm, org, loaded.labelled)
    labelled = loaded.labelled
    found = labelled.converted_count
    current = run_backtest(labelled, model).auc
    learned = learn_from(loaded, model, LearnSettings(), None, 5, None).estimate.mean_fold_auc
    hidden = hidden_auc(org, labelled)
    name = f"closed loop ({crm})"
    detail = f"{len(labelled):,} leads of a {ORG.leads:,}-person org (seed {ORG.seed})"
    return [
        Measurement(name, "conversions found / planted", found / planted, "ratio", "= 1",
                    found == planted, f"{found:,} of {planted:,}; {detail}"),
        auc_row(name, "ROC AUC, hand-written model", current),
        auc_row(name, "ROC AUC, learned (5-fold)", learned or 0.0,
                f"{current:.3f} < AUC ≤ {hidden + NOISE:.3f}",
                learned is not None and current < learned <= hidden + NOISE),
        auc_row(name, "ROC AUC, hidden propensity", hidden),
    ]


def auc_row(name: str, metric: str, auc: float, target: str = "",
            meets: bool | None = None) -> Measurement:
    return Measurement(name, metric, auc, "AUC", target, meets, f"{auc:.3f}")


@contextmanager
def serving(crm: Crm, org: SynthOrg) -> Iterator[Connector]:
    """A connector on a sandbox CRM seeded with `org` and synced once with the example model."""
    model = load_model(MODEL)
    if crm == "hubspot":
        with start_hubspot(org=org, rate_limit=(100_000, 10.0)) as hubspot:
            environment = {**hubspot.leadq_environment(), "LEADQ_HUBSPOT_RATE_LIMIT": "100000"}
            synced(environment)
            yield build_connector(hubspot.leadq_settings(hubspot_rate_limit=100_000), model)
    else:
        with start_salesforce(org=org) as salesforce:
            objects = {"LEADQ_SALESFORCE_OBJECTS": "Lead,Contact",
                       "LEADQ_SALESFORCE_RATE_LIMIT": "100000"}
            synced({**salesforce.leadq_environment("session"), **objects})
            settings = salesforce.leadq_settings(
                "session", salesforce_objects=["Lead", "Contact"], salesforce_rate_limit=100_000)
            yield build_connector(settings, model)


def synced(environment: dict[str, str]) -> None:
    """`leadq setup` and `leadq sync --full` with the example model, state in a temporary file."""
    with tempfile.TemporaryDirectory() as directory:
        env = {**environment, "LEADQ_MODEL_PATH": str(MODEL),
               "LEADQ_STATE_URL": f"sqlite:///{directory}/state.db"}
        for command in (["setup"], ["sync", "--full"]):
            result = CliRunner().invoke(app, command, env=env)
            if result.exit_code:
                raise RuntimeError(f"leadq {' '.join(command)} failed:\n{result.output}")


def planted_conversions(crm: Crm, org: SynthOrg, labelled: LabelledLeads) -> int:
    """The generator's conversions this CRM records, among the people it holds."""
    emails = {lead.email for lead in labelled.leads}
    return sum(
        person.outcome.converted and person.email in emails
        and (crm == "hubspot" or person.kind == "lead" or person.lifecycle_stage == "customer")
        for person in org.people()
    )


def hidden_auc(org: SynthOrg, labelled: LabelledLeads) -> float:
    """The generator's hidden propensity of each lead, as of the lead's own cut-off (only the
    activities before it), ranked against the outcomes."""
    people = {person.email: person for person in org.people()}
    logits = []
    for lead, cutoff in zip(labelled.leads, labelled.cutoff.tolist(), strict=True):
        person = people[lead.email]
        moment = datetime.fromtimestamp(cutoff, UTC)
        before = tuple(a for a in person.activities if a.occurred_at < moment)
        company = org.company(person.company_key) if person.company_key else None
        logits.append(propensity(dataclasses.replace(person, activities=before), company, moment))
    return roc_auc(labelled.converted, np.array(logits))
