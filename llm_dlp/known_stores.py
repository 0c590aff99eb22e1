"""Where the proxy keeps the values it has redacted, sealed, so that a restarted proxy or another
instance of a fleet finds them again: a file in the confdir, or the Redis the vault lives in.

A store is an append-only log per tenant of opaque blobs, each with the wall-clock time it was
added; ``known_values.py`` seals a value before it gets here, so nothing in a store reads as a
value without the proxy's key. Reading goes by cursor: ``newest`` once (start-up), then
``after`` the last cursor, so an instance picks up what its peers added with one small read that
comes back empty when nothing is new. A value is appended again when its entry is half a TTL
old, so the log may hold it twice; the reader keeps one. Entries older than the TTL are neither
returned nor kept, and a tenant keeps at most ``max_entries`` (the oldest go first). Any call
may raise: the caller then works from its memory for a while (``known_values.py``).

Which one the proxy uses follows its vault (``open_known_store``), as the audit's memory of
recorded findings does: a fleet that shares a Redis vault shares its known values; a single proxy
keeps them in its confdir, beside the CA and the key that opens them, so a restart remembers.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from llm_dlp.confdir_db import ConfdirDb

FILE_NAME = "llm-dlp-known.sqlite"
REDIS_PREFIX = "llm-dlp:known:"


@dataclass(frozen=True, slots=True)
class Entry:
    blob: bytes
    added: float  # wall-clock seconds


@dataclass(frozen=True, slots=True)
class Read:
    entries: tuple[Entry, ...]  # oldest first
    cursor: str  # what to pass to ``after`` next


class KnownStore(Protocol):
    def append(self, tenant: str, blobs: Sequence[bytes]) -> None: ...

    def newest(self, tenant: str) -> Read:
        """The tenant's newest entries, at most ``max_entries``, not expired."""

    def after(self, tenant: str, cursor: str) -> Read:
        """Entries appended since ``cursor`` was read (by any process), not expired."""

    def close(self) -> None: ...


class FileKnown:
    """SQLite in the confdir (``confdir_db.py``). Proxies on one host sharing the confdir share the
    file: SQLite serialises writers, so sequence numbers are committed in order and a cursor never
    skips one."""

    _TRIM_EVERY = 256  # appended entries between sweeps of expired and surplus entries
    _SCHEMA = (
        # AUTOINCREMENT: a sequence number is never reused after a trim, so cursors stay valid.
        ("CREATE TABLE IF NOT EXISTS known (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
         "tenant TEXT NOT NULL, blob BLOB NOT NULL, added REAL NOT NULL)"),
        "CREATE INDEX IF NOT EXISTS known_tenant_seq ON known (tenant, seq)",
        "CREATE INDEX IF NOT EXISTS known_added ON known (added)",
    )

    def __init__(self, path: str | Path, *, ttl_seconds: float, max_entries: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._ttl = ttl_seconds
        self._max = max_entries
        self._now = clock
        self._file = ConfdirDb(self.path, self._SCHEMA)
        self._appended = 0

    def append(self, tenant: str, blobs: Sequence[bytes]) -> None:
        if not blobs:
            return
        now = self._now()
        with self._file.connection() as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO known (tenant, blob, added) VALUES (?, ?, ?)",
                           [(tenant, blob, now) for blob in blobs])
            self._appended += len(blobs)
            if self._appended >= self._TRIM_EVERY:
                self._appended = 0
                self._trim(db, tenant, now)
            db.execute("COMMIT")

    def newest(self, tenant: str) -> Read:
        rows = self._select("SELECT seq, blob, added FROM known WHERE tenant = ? AND added > ? "
                            "ORDER BY seq DESC LIMIT ?", (tenant, self._now() - self._ttl, self._max))
        rows.reverse()
        return _read(rows, "0")

    def after(self, tenant: str, cursor: str) -> Read:
        rows = self._select("SELECT seq, blob, added FROM known WHERE tenant = ? AND seq > ? AND added > ? "
                            "ORDER BY seq LIMIT ?", (tenant, int(cursor), self._now() - self._ttl, self._max))
        return _read(rows, cursor)

    def close(self) -> None:
        self._file.close()

    def _select(self, query: str, parameters: tuple) -> list[tuple[int, bytes, float]]:
        with self._file.connection() as db:
            return [(seq, bytes(blob), added) for seq, blob, added in db.execute(query, parameters)]

    def _trim(self, db: sqlite3.Connection, tenant: str, now: float) -> None:
        db.execute("DELETE FROM known WHERE added <= ?", (now - self._ttl,))
        db.execute("DELETE FROM known WHERE tenant = ? AND seq <= "
                   "(SELECT seq FROM known WHERE tenant = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                   (tenant, tenant, self._max))


class RedisKnown:
    """A Redis stream per tenant, shared by every proxy pointed at the same Redis. Redis numbers
    the entries (its own clock), so a cursor never skips an entry another instance appended."""

    def __init__(self, url: str, *, ttl_seconds: float, max_entries: int, client: object | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if client is None:
            import redis  # only deployments that share a vault need the client

            # Short timeouts: a check sits on the request path (at most once a second per tenant).
            client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._client = client
        self._ttl = ttl_seconds
        self._max = max_entries
        self._now = clock

    def append(self, tenant: str, blobs: Sequence[bytes]) -> None:
        if not blobs:
            return
        key = _redis_key(tenant)
        pipe = self._client.pipeline(transaction=False)  # type: ignore[attr-defined]
        for blob in blobs:
            pipe.xadd(key, {b"v": blob}, maxlen=self._max, approximate=True)
        pipe.xtrim(key, minid=f"{int((self._now() - self._ttl) * 1000)}-0", approximate=True)
        pipe.pexpire(key, max(1, int(self._ttl * 1000)))  # a tenant gone quiet leaves nothing behind
        pipe.execute()

    def newest(self, tenant: str) -> Read:
        rows = self._client.xrevrange(_redis_key(tenant), "+", "-", count=self._max)  # type: ignore[attr-defined]
        rows.reverse()
        return self._read(rows, "0-0")

    def after(self, tenant: str, cursor: str) -> Read:
        rows = self._client.xrange(_redis_key(tenant), f"({cursor}", "+", count=self._max)  # type: ignore[attr-defined]
        return self._read(rows, cursor)

    def close(self) -> None:
        self._client.close()  # type: ignore[attr-defined]

    def _read(self, rows: list, cursor: str) -> Read:
        oldest = self._now() - self._ttl
        entries = []
        for entry_id, fields in rows:
            entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            added = int(entry_id.split("-")[0]) / 1000  # Redis's clock, from the entry's id
            blob = fields.get(b"v")
            if blob is not None and added > oldest:  # a trimmed stream may keep a few older ones
                entries.append(Entry(blob, added))
            cursor = entry_id
        return Read(tuple(entries), cursor)


def _read(rows: list[tuple[int, bytes, float]], cursor: str) -> Read:
    return Read(tuple(Entry(blob, added) for _, blob, added in rows), str(rows[-1][0]) if rows else cursor)


def _redis_key(tenant: str) -> str:
    return REDIS_PREFIX + tenant


def open_known_store(vault: str, confdir: str | Path, *, ttl_seconds: float, max_entries: int) -> KnownStore:
    """Redis when the vault is a Redis (the fleet shares both), else a file in the confdir."""
    if vault.startswith(("redis://", "rediss://", "unix://")):
        return RedisKnown(vault, ttl_seconds=ttl_seconds, max_entries=max_entries)
    return FileKnown(Path(confdir) / FILE_NAME, ttl_seconds=ttl_seconds, max_entries=max_entries)
