"""Where sealed vault entries live: this process, a local SQLite file, or a shared Redis.

A store only moves opaque bytes with an expiry; sealing and key layout are the vault's. Calls
block (disk or network), so the proxy makes them off its event loop.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Mapping, Protocol


class VaultStore(Protocol):
    def put_many(self, items: Mapping[str, bytes], ttl_seconds: float) -> None: ...

    def get_many(self, keys: list[str]) -> dict[str, bytes]: ...

    def close(self) -> None: ...

    def count(self, prefix: str) -> int:
        """Entries under ``prefix`` not yet expired (for a gauge: may walk the store, so cache it)."""


class MemoryStore:
    """In this process only; gone when it exits."""

    _SWEEP_EVERY = 1024  # puts between sweeps of expired entries

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()
        self._puts = 0

    def put_many(self, items: Mapping[str, bytes], ttl_seconds: float) -> None:
        expires = time.monotonic() + ttl_seconds
        with self._lock:
            for key, blob in items.items():
                self._items[key] = (expires, blob)
            self._puts += len(items)
            if self._puts >= self._SWEEP_EVERY:
                self._puts = 0
                self._sweep(time.monotonic())

    def get_many(self, keys: list[str]) -> dict[str, bytes]:
        now = time.monotonic()
        with self._lock:
            found = {key: self._items.get(key) for key in keys}
        return {key: item[1] for key, item in found.items() if item is not None and item[0] > now}

    def close(self) -> None:
        with self._lock:
            self._items.clear()

    def count(self, prefix: str) -> int:
        now = time.monotonic()
        with self._lock:
            return sum(1 for key, (expires, _) in self._items.items() if expires > now and key.startswith(prefix))

    def _sweep(self, now: float) -> None:
        for key in [key for key, (expires, _) in self._items.items() if expires <= now]:
            del self._items[key]

    def __len__(self) -> int:
        return len(self._items)


class SqliteStore:
    """A local file, so restores survive a proxy restart; wall-clock expiry for the same reason."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.path.chmod(0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vault (key TEXT PRIMARY KEY, blob BLOB NOT NULL, expires REAL NOT NULL)")

    def put_many(self, items: Mapping[str, bytes], ttl_seconds: float) -> None:
        now = time.time()
        rows = [(key, blob, now + ttl_seconds) for key, blob in items.items()]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO vault (key, blob, expires) VALUES (?, ?, ?)", rows)
            self._db.execute("DELETE FROM vault WHERE expires <= ?", (now,))
            self._db.execute("COMMIT")

    def get_many(self, keys: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        now = time.time()
        with self._lock:
            for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
                batch = keys[start : start + 500]
                marks = ",".join("?" * len(batch))
                rows = self._db.execute(
                    f"SELECT key, blob FROM vault WHERE expires > ? AND key IN ({marks})", (now, *batch)
                )
                found.update({key: bytes(blob) for key, blob in rows})
        return found

    def count(self, prefix: str) -> int:
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._lock:
            (total,) = self._db.execute(
                "SELECT COUNT(*) FROM vault WHERE expires > ? AND key LIKE ? ESCAPE '\\'", (time.time(), pattern)
            ).fetchone()
        return int(total)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisStore:
    """Shared by every proxy instance pointed at the same Redis; Redis expires the keys."""

    def __init__(self, url: str) -> None:
        import redis  # only deployments that share a vault need the client

        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def put_many(self, items: Mapping[str, bytes], ttl_seconds: float) -> None:
        pipe = self._client.pipeline(transaction=False)
        for key, blob in items.items():
            pipe.set(key, blob, px=max(1, int(ttl_seconds * 1000)))
        pipe.execute()

    def get_many(self, keys: list[str]) -> dict[str, bytes]:
        values = self._client.mget(keys)
        return {key: value for key, value in zip(keys, values) if value is not None}

    def count(self, prefix: str) -> int:
        # SCAN, not KEYS: it walks the keyspace in small steps and never blocks Redis for other clients.
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in prefix) + "*"
        return sum(1 for _ in self._client.scan_iter(match=pattern, count=1000))

    def close(self) -> None:
        self._client.close()
