"""Where the audit remembers which findings a conversation has recorded: this process, a file in
the confdir, or the Redis the vault lives in.

A store only holds opaque 16-byte keyed digests (``recorded.py`` makes them) with the time each
was last marked; nothing in it leads back to a value, a user or a tenant without the proxy's key.
Every store forgets an entry ``ttl_seconds`` after it was last marked (``recorded.py`` marks a
finding seen again only once its mark is an hour old, so one read answers most requests); memory
and file also keep at most ``max_entries`` (the least recently marked go first), Redis is bounded
by the TTL and its own ``maxmemory``. A store may raise on any call: the caller then records
again (``recorded.py``).

Which one the proxy uses follows its vault (``open_recorded_store``): a fleet that shares a Redis
vault shares this memory too, so a conversation balanced across instances is recorded once; a
single proxy keeps it in its confdir, so a restart remembers.
"""

from __future__ import annotations

import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from llm_dlp.confdir_db import ConfdirDb

DEFAULT_TTL_SECONDS = 24 * 3600
DEFAULT_MAX_ENTRIES = 200_000  # a busy team's day of agent sessions; ~10 MB on disk, ~40 MB in memory
FILE_NAME = "llm-dlp-recorded.sqlite"
REDIS_PREFIX = "llm-dlp:recorded:"


class RecordedStore(Protocol):
    def known(self, keys: Sequence[bytes]) -> dict[bytes, float]:
        """The keys marked within the TTL, each with the seconds since it was last marked."""

    def mark(self, keys: Sequence[bytes]) -> None:
        """Seen now: new keys are added, known ones kept alive for another TTL."""

    def close(self) -> None: ...

    def __len__(self) -> int: ...


class MemoryRecorded:
    """In this process only; forgotten when it exits. Callers hold their own lock."""

    def __init__(self, *, ttl_seconds: float = DEFAULT_TTL_SECONDS, max_entries: int = DEFAULT_MAX_ENTRIES,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._now = monotonic
        self._seen: OrderedDict[bytes, float] = OrderedDict()

    def known(self, keys: Sequence[bytes]) -> dict[bytes, float]:
        now = self._now()
        return {key: now - seen for key in keys if (seen := self._seen.get(key)) is not None and now - seen <= self._ttl}

    def mark(self, keys: Sequence[bytes]) -> None:
        now = self._now()
        for key in keys:
            self._seen[key] = now
            self._seen.move_to_end(key)
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)
        # Oldest first: stop at the first entry still alive.
        while self._seen:
            key, seen = next(iter(self._seen.items()))
            if now - seen <= self._ttl:
                break
            del self._seen[key]

    def close(self) -> None:
        self._seen.clear()

    def __len__(self) -> int:
        return len(self._seen)


class FileRecorded:
    """SQLite in the confdir (``confdir_db.py``), so a restarted proxy remembers; wall-clock times
    for the same reason. Several proxies on one host sharing the confdir share the file; one that
    finds it locked for longer than a moment records again."""

    _TRIM_EVERY = 512  # marks between sweeps of expired and surplus entries
    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS recorded (key BLOB PRIMARY KEY, seen REAL NOT NULL) WITHOUT ROWID",
        "CREATE INDEX IF NOT EXISTS recorded_seen ON recorded (seen)",
    )

    def __init__(self, path: str | Path, *, ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 max_entries: int = DEFAULT_MAX_ENTRIES, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._ttl = ttl_seconds
        self._max = max_entries
        self._now = clock
        self._file = ConfdirDb(self.path, self._SCHEMA)
        self._marks = 0

    def known(self, keys: Sequence[bytes]) -> dict[bytes, float]:
        found: dict[bytes, float] = {}
        now = self._now()
        with self._file.connection() as db:
            for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
                batch = list(keys[start : start + 500])
                marks = ",".join("?" * len(batch))
                rows = db.execute(f"SELECT key, seen FROM recorded WHERE seen >= ? AND key IN ({marks})",
                                  (now - self._ttl, *batch))
                found.update((bytes(key), now - seen) for key, seen in rows)
        return found

    def mark(self, keys: Sequence[bytes]) -> None:
        if not keys:
            return
        now = self._now()
        with self._file.connection() as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO recorded (key, seen) VALUES (?, ?) "
                           "ON CONFLICT (key) DO UPDATE SET seen = excluded.seen", [(key, now) for key in keys])
            self._marks += len(keys)
            if self._marks >= self._TRIM_EVERY:
                self._marks = 0
                self._trim(db, now)
            db.execute("COMMIT")

    def close(self) -> None:
        self._file.close()

    def __len__(self) -> int:
        with self._file.connection() as db:
            (total,) = db.execute("SELECT COUNT(*) FROM recorded WHERE seen >= ?", (self._now() - self._ttl,)).fetchone()
        return int(total)

    def _trim(self, db: sqlite3.Connection, now: float) -> None:
        db.execute("DELETE FROM recorded WHERE seen < ?", (now - self._ttl,))
        (total,) = db.execute("SELECT COUNT(*) FROM recorded").fetchone()
        if total > self._max:
            db.execute("DELETE FROM recorded WHERE key IN (SELECT key FROM recorded ORDER BY seen LIMIT ?)",
                       (total - self._max,))


class RedisRecorded:
    """Shared by every proxy pointed at the same Redis; Redis expires the keys. A key's value is
    the wall-clock time it was marked, so one MGET answers a whole request."""

    def __init__(self, url: str, *, ttl_seconds: float = DEFAULT_TTL_SECONDS, client: object | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if client is None:
            import redis  # only deployments that share a vault need the client

            # Short timeouts: the lookup sits on the audit write of every request.
            client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._client = client
        self._ttl_ms = max(1, int(ttl_seconds * 1000))
        self._now = clock

    def known(self, keys: Sequence[bytes]) -> dict[bytes, float]:
        if not keys:
            return {}
        values = self._client.mget([_redis_key(key) for key in keys])  # type: ignore[attr-defined]
        now = self._now()
        return {key: max(0.0, now - _marked_at(value)) for key, value in zip(keys, values) if value is not None}

    def mark(self, keys: Sequence[bytes]) -> None:
        if not keys:
            return
        now = f"{self._now():.3f}".encode()
        pipe = self._client.pipeline(transaction=False)  # type: ignore[attr-defined]
        for key in keys:
            pipe.set(_redis_key(key), now, px=self._ttl_ms)
        pipe.execute()

    def close(self) -> None:
        self._client.close()  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return sum(1 for _ in self._client.scan_iter(match=REDIS_PREFIX + "*", count=1000))  # type: ignore[attr-defined]


def _marked_at(value: bytes) -> float:
    try:
        return float(value)
    except ValueError:  # not ours, or an older form: known, and due a fresh mark
        return float("-inf")


def _redis_key(key: bytes) -> str:
    return REDIS_PREFIX + key.hex()


def open_recorded_store(vault: str, confdir: str | Path, *, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> RecordedStore:
    """Redis when the vault is a Redis (the fleet shares both), else a file in the confdir."""
    if vault.startswith(("redis://", "rediss://", "unix://")):
        return RedisRecorded(vault, ttl_seconds=ttl_seconds)
    return FileRecorded(Path(confdir) / FILE_NAME, ttl_seconds=ttl_seconds)
