"""Point leadq at a running emulator: its `LEADQ_*` environment as leadq `Settings`.

Each running emulator says how to reach it (`RunningHubSpot.leadq_environment()`,
`RunningSalesforce.leadq_environment(login)`): the one description that `leadq sandbox` prints,
the demo runs on, and tests and benchmarks use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.settings import ENV_PREFIX, Settings


def settings_from_environment(environment: Mapping[str, str], **overrides: Any) -> Settings:
    """`Settings` from `LEADQ_*` variables (not the process's own), with `overrides` on top."""
    values: dict[str, Any] = {
        name.removeprefix(ENV_PREFIX).lower(): value for name, value in environment.items()
    }
    return Settings(_env_file=None, **{**values, **overrides})  # type: ignore[call-arg]
