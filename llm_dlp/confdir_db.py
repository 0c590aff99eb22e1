"""A SQLite file the proxy keeps in its confdir for memory that must outlive the process.

Opened on first use, readable by its owner alone, and re-opened after any SQLite error, so a file
that was damaged and then removed or repaired is used again without a restart. Every use holds
one lock (requests are inspected in threads); several proxies on one host sharing the confdir
share the file through SQLite's own locks, waiting at most a moment before an error. The callers
decide what an error means (``audit/recorded_stores.py`` records again, ``known_stores.py`` works
from memory for a while).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

_BUSY_TIMEOUT_SECONDS = 0.5  # the caller is on a request's path


class ConfdirDb:
    def __init__(self, path: str | Path, schema: Sequence[str]) -> None:
        self.path = Path(path)
        self._schema = tuple(schema)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The open connection, under the lock; an SQLite error closes it (and is re-raised)."""
        with self._lock:
            db = self._open()
            try:
                yield db
            except sqlite3.Error:
                self._drop()
                raise

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _open(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=_BUSY_TIMEOUT_SECONDS)
        try:
            self.path.chmod(0o600)
            db.execute("PRAGMA journal_mode=WAL")
            # A crash may lose the last writes: both callers then do their work once more.
            db.execute("PRAGMA synchronous=NORMAL")
            for statement in self._schema:
                db.execute(statement)
        except sqlite3.Error:
            db.close()
            raise
        self._db = db
        return db

    def _drop(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None
