"""Webhook dedupe keys in the SQLite state store."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sync.state import chunked, epoch_seconds, expiry_second
from sync.state_sqlite.connections import IN_CLAUSE_SIZE, SqliteFile

_PURGE_EVERY = 256  # first_sighting calls between purges of expired dedupe keys


class SqliteDedupe(SqliteFile):
    """Webhook keys seen, each until it expires (expired ones purged now and then)."""

    def first_sighting(self, key: str, now: datetime, ttl: timedelta) -> bool:
        expires_at = expiry_second(now, ttl)
        now_seconds = epoch_seconds(now)
        with self._writing() as connection:
            if next(self._sightings) % _PURGE_EVERY == 0:
                connection.execute("DELETE FROM dedupe WHERE expires_at <= ?", (now_seconds,))
            cursor = connection.execute(
                "INSERT INTO dedupe (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                "SET expires_at = excluded.expires_at WHERE dedupe.expires_at <= ?",
                (key, expires_at, now_seconds),
            )
            return cursor.rowcount == 1

    def seen_webhooks(self, keys: Iterable[str], now: datetime) -> set[str]:
        unique_keys = list(dict.fromkeys(keys))
        now_seconds = epoch_seconds(now)
        seen: set[str] = set()
        with self._reading() as connection:
            for chunk in chunked(unique_keys, IN_CLAUSE_SIZE):
                placeholders = ", ".join("?" * len(chunk))
                rows = connection.execute(
                    f"SELECT key FROM dedupe WHERE key IN ({placeholders}) AND expires_at > ?",
                    (*chunk, now_seconds),
                ).fetchall()
                seen.update(key for (key,) in rows)
        return seen

    def remember_webhooks(self, keys: Iterable[str], now: datetime, ttl: timedelta) -> None:
        expires_at = expiry_second(now, ttl)
        with self._writing() as connection:
            if next(self._sightings) % _PURGE_EVERY == 0:
                connection.execute(
                    "DELETE FROM dedupe WHERE expires_at <= ?", (epoch_seconds(now),)
                )
            connection.executemany(
                "INSERT OR REPLACE INTO dedupe (key, expires_at) VALUES (?, ?)",
                [(key, expires_at) for key in dict.fromkeys(keys)],
            )
