"""Shared builders for tests: small models, leads and activities, all at a fixed `NOW`."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.records import Activity, Company, Lead
from scoring.config import ScoringModel
from scoring.loading import parse_model

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def model_from(yaml_text: str) -> ScoringModel:
    text = textwrap.dedent(yaml_text)
    if not text.lstrip().startswith("name:"):
        text = "name: test model\n" + text
    return parse_model(text)


def make_lead(lead_id: str = "L1", company: dict[str, Any] | None = None, **values: Any) -> Lead:
    return Lead(
        id=lead_id,
        company=Company(id=f"C-{lead_id}", **company) if company is not None else None,
        **values,
    )


def activity(kind: str, days_ago: float, lead_id: str = "L1", **details: Any) -> Activity:
    return Activity(
        lead_id=lead_id, type=kind, occurred_at=NOW - timedelta(days=days_ago), **details
    )
