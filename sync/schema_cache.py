"""CRM schemas (HubSpot's company property definitions, Salesforce's describe) kept in the state
store between runs for `SCHEMA_TTL`, so that a run every few minutes does not read them again.

Only what cannot corrupt the CRM when stale is kept: a schema says which fields exist, their types
and lengths. A field added since is read again at once (a connector reloads a schema that lacks a
field it needs); a length shortened since makes a write fail and retry, not write a wrong value.
Owners are never kept: routing to an owner who left since would hand them leads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sync.state import StateStore

SCHEMA_TTL = timedelta(hours=1)


def schema_document(name: str) -> str:
    return f"schema:{name}"


class StoredSchemas:
    """A connector's `SchemaCache` on the state store's documents."""

    def __init__(
        self,
        store: StateStore,
        ttl: timedelta = SCHEMA_TTL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store, self.ttl, self.clock = store, ttl, clock

    def get(self, name: str) -> Any | None:
        """The schema kept under `name` if it was read within the TTL; else None."""
        text = self.store.read_document(schema_document(name))
        if text is None:
            return None
        kept = json.loads(text)
        read_at = datetime.fromisoformat(kept["read_at"])
        if not read_at <= self.clock() < read_at + self.ttl:
            return None
        return kept["schema"]

    def put(self, name: str, schema: Any) -> None:
        kept = {"read_at": self.clock().isoformat(), "schema": schema}
        self.store.write_document(schema_document(name), json.dumps(kept, separators=(",", ":")))
