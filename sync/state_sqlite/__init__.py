"""The embedded state store: one SQLite file, safe for several threads and processes at once.

`connections.py` holds the file's connections (one per thread, WAL, `BEGIN IMMEDIATE` for every
read-decide-write) and `schema.py` its tables and upgrades; each capability of the state protocol
is a module of its own — `cursors.py` (cursors, named documents), `written.py` (values leadq last
wrote), `ledger.py`, `routing.py`, `dedupe.py` (webhook keys), `runs.py` (leases, run records),
`work_queue.py` (`leadq serve`'s queue and claims), `retry_set.py`, `audit.py` (audit rows and the
write-ahead audit) — composed into `SqliteStateStore` by `store.py`; `checkpoints.py` keeps the
WAL short from a thread of its own.
"""

from sync.state_sqlite.schema import SCHEMA_VERSION
from sync.state_sqlite.store import SqliteStateStore

__all__ = ["SCHEMA_VERSION", "SqliteStateStore"]
