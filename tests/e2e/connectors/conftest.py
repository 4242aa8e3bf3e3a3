"""Sandbox CRMs for the connector tests: one org per CRM seeded once per session, a fresh copy of
it served for each test, and `crm`, which runs a contract test once for each CRM."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from connector_crms import (
    CONTRACT_ORG,
    ConnectorCrm,
    HubSpotCrm,
    SalesforceCrm,
    SeededOrg,
    seed_hubspot,
    seed_salesforce,
)


@pytest.fixture(scope="session")
def seeded_portal(tmp_path_factory: pytest.TempPathFactory) -> SeededOrg:
    return seed_hubspot(CONTRACT_ORG, tmp_path_factory.mktemp("hubspot"))


@pytest.fixture(scope="session")
def seeded_org(tmp_path_factory: pytest.TempPathFactory) -> SeededOrg:
    return seed_salesforce(CONTRACT_ORG, tmp_path_factory.mktemp("salesforce"))


@pytest.fixture
def hubspot(seeded_portal: SeededOrg, tmp_path: Path) -> Iterator[HubSpotCrm]:
    with HubSpotCrm.serving(seeded_portal, tmp_path) as crm:
        yield crm


@pytest.fixture
def salesforce(seeded_org: SeededOrg, tmp_path: Path) -> Iterator[SalesforceCrm]:
    with SalesforceCrm.serving(seeded_org, tmp_path) as crm:
        yield crm


@pytest.fixture(params=["hubspot", "salesforce"])
def crm(request: pytest.FixtureRequest) -> ConnectorCrm:
    return request.getfixturevalue(request.param)
