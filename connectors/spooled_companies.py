"""Companies a HubSpot pull has read, kept in a private temporary SQLite file for later pages.

Contacts of one company turn up on many pages of a full pull, so the connector keeps every
company it read (up to `COMPANY_CACHE_LIMIT`) rather than read it again. Held as objects that
cache grew with the org (about a kilobyte a company: ~50 MB at 200,000 contacts); here each is a
pickled row of a temporary database that SQLite deletes when the cache is closed or dropped, so a
run's memory stays flat. Only this process writes and reads the file.
"""

from __future__ import annotations

import pickle
import sqlite3
import threading
from collections.abc import Iterator, MutableMapping

from connectors.records import Company


class SpooledCompanies(MutableMapping[str, Company | None]):
    """Company id → the company, or None for one the CRM no longer has."""

    def __init__(self) -> None:
        # "": a private temporary database on disk, deleted when the connection closes
        self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("CREATE TABLE companies (id TEXT PRIMARY KEY, company BLOB)")
        self._count = 0

    def __getitem__(self, company_id: str) -> Company | None:
        with self._lock:
            row = self._db.execute(
                "SELECT company FROM companies WHERE id = ?", (company_id,)
            ).fetchone()
        if row is None:
            raise KeyError(company_id)
        company: Company | None = pickle.loads(row[0]) if row[0] is not None else None
        return company

    def __setitem__(self, company_id: str, company: Company | None) -> None:
        packed = pickle.dumps(company, pickle.HIGHEST_PROTOCOL) if company is not None else None
        with self._lock:
            self._count += self._db.execute(
                "INSERT OR IGNORE INTO companies (id, company) VALUES (?, ?)", (company_id, packed)
            ).rowcount
            self._db.execute("UPDATE companies SET company = ? WHERE id = ?", (packed, company_id))

    def __delitem__(self, company_id: str) -> None:
        with self._lock:
            deleted = self._db.execute("DELETE FROM companies WHERE id = ?", (company_id,)).rowcount
            self._count -= deleted
        if not deleted:
            raise KeyError(company_id)

    def __contains__(self, company_id: object) -> bool:
        with self._lock:
            return self._db.execute(
                "SELECT 1 FROM companies WHERE id = ?", (company_id,)
            ).fetchone() is not None

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            ids = [company_id for (company_id,) in self._db.execute("SELECT id FROM companies")]
        return iter(ids)

    def __len__(self) -> int:
        return self._count

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM companies")
            self._count = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
