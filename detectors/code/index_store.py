"""The proprietary-code index on disk: one SQLite file per index directory.

Each indexed file is one row carrying its winnowed fingerprints as packed arrays (hashes, and
the first and last line each fingerprint covers). Re-indexing a file replaces its row, so an
incremental re-run touches only what changed; a reader loads every row into memory at once
(``FingerprintTable`` in ``proprietary.py``) instead of querying per fingerprint.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_INDEX_DIR = "code-index"
DB_NAME = "index.sqlite3"
# 2: two fingerprint families (normalised and exact tokens), vectorised tokenizer
# 3: a one-character string is a string, not a lone triple-quote delimiter; k-grams repeated
#    within 24 tokens (tables, runs of like statements) are no fingerprints
# 4: shape k-grams code repeated names by distance; a third family (literal fingerprints);
#    shouted licence lines and docstrings naming ``call()``s are prose
SCHEMA_VERSION = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS indexes (
    name TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    index_name TEXT NOT NULL REFERENCES indexes(name) ON DELETE CASCADE,
    repository TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL,
    lines INTEGER NOT NULL,
    hashes BLOB NOT NULL,
    line_starts BLOB NOT NULL,
    line_ends BLOB NOT NULL,
    UNIQUE (index_name, repository, path)
);
"""


class OutdatedIndexError(RuntimeError):
    """The index on disk was written with fingerprints this version does not compute."""


def db_path(index_dir: str | Path) -> Path:
    return Path(index_dir) / DB_NAME


@dataclass(frozen=True, slots=True)
class IndexedFile:
    """What the index keeps about one source file."""

    repository: str
    path: str
    size: int
    mtime_ns: int
    digest: str
    lines: int
    hashes: np.ndarray  # uint64
    line_starts: np.ndarray  # uint32
    line_ends: np.ndarray  # uint32


@dataclass(frozen=True, slots=True)
class IndexSummary:
    name: str
    label: str
    repositories: int
    files: int
    lines: int
    bytes: int
    fingerprints: int
    updated: float


@dataclass(frozen=True, slots=True)
class FileStamp:
    """Enough to tell whether a file changed since it was indexed."""

    id: int
    size: int
    mtime_ns: int
    digest: str


class IndexStore:
    """Read and write access to one index directory. One instance per thread."""

    def __init__(self, index_dir: str | Path, create: bool = False) -> None:
        path = db_path(index_dir)
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            raise FileNotFoundError(f"no code index in {index_dir}")
        self.connection = sqlite3.connect(path)
        self.connection.execute("PRAGMA foreign_keys = ON")
        version = self.connection.execute("PRAGMA user_version").fetchone()[0]
        if not create:
            # a reader must not write: the detector reloads the index whenever the file changes
            if version != SCHEMA_VERSION:
                self.connection.close()
                raise OutdatedIndexError(
                    f"the code index in {index_dir} was built by another llm-dlp version; "
                    "run `llm-dlp index build` again"
                )
            return
        self.connection.execute("PRAGMA journal_mode = WAL")
        self.connection.executescript(_SCHEMA)
        if version != SCHEMA_VERSION:
            # fingerprints of another version never match: forget every file, the build redoes them
            with self.connection:
                self.connection.execute("DELETE FROM files")
                self.connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.connection:
            yield

    def ensure_index(self, name: str, label: str | None) -> None:
        """Create the index, or mark it updated; a None label keeps the existing one (or the name)."""
        now = time.time()
        self.connection.execute(
            "INSERT INTO indexes (name, label, created, updated) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET label = COALESCE(?, label), updated = excluded.updated",
            (name, label or name, now, now, label),
        )

    def stamps(self, name: str, repository: str) -> dict[str, FileStamp]:
        rows = self.connection.execute(
            "SELECT path, id, size, mtime_ns, digest FROM files WHERE index_name = ? AND repository = ?",
            (name, repository),
        )
        return {path: FileStamp(id_, size, mtime, digest) for path, id_, size, mtime, digest in rows}

    def touch(self, file_id: int, mtime_ns: int) -> None:
        self.connection.execute("UPDATE files SET mtime_ns = ? WHERE id = ?", (mtime_ns, file_id))

    def put(self, name: str, item: IndexedFile) -> None:
        self.connection.execute(
            "INSERT INTO files (index_name, repository, path, size, mtime_ns, digest, lines, hashes, "
            "line_starts, line_ends) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(index_name, repository, path) DO UPDATE SET size = excluded.size, "
            "mtime_ns = excluded.mtime_ns, digest = excluded.digest, lines = excluded.lines, "
            "hashes = excluded.hashes, line_starts = excluded.line_starts, line_ends = excluded.line_ends",
            (
                name,
                item.repository,
                item.path,
                item.size,
                item.mtime_ns,
                item.digest,
                item.lines,
                item.hashes.astype("<u8").tobytes(),
                item.line_starts.astype("<u4").tobytes(),
                item.line_ends.astype("<u4").tobytes(),
            ),
        )

    def delete_files(self, file_ids: list[int]) -> None:
        self.connection.executemany("DELETE FROM files WHERE id = ?", [(i,) for i in file_ids])

    def remove(self, name: str) -> bool:
        with self.connection:
            self.connection.execute("DELETE FROM files WHERE index_name = ?", (name,))
            removed = self.connection.execute("DELETE FROM indexes WHERE name = ?", (name,)).rowcount
        self.connection.execute("VACUUM")
        return removed > 0

    def summaries(self) -> list[IndexSummary]:
        rows = self.connection.execute(
            "SELECT i.name, i.label, COUNT(DISTINCT f.repository), COUNT(f.id), COALESCE(SUM(f.lines), 0), "
            "COALESCE(SUM(f.size), 0), COALESCE(SUM(LENGTH(f.hashes)), 0) / 8, i.updated "
            "FROM indexes i LEFT JOIN files f ON f.index_name = i.name GROUP BY i.name ORDER BY i.name"
        )
        return [IndexSummary(*row) for row in rows]

    def rows(self) -> Iterator[tuple[int, str, str, str, str, bytes, bytes, bytes]]:
        """(file id, index name, label, repository, path, hashes, line starts, line ends) of every file."""
        return self.connection.execute(
            "SELECT f.id, f.index_name, i.label, f.repository, f.path, f.hashes, f.line_starts, f.line_ends "
            "FROM files f JOIN indexes i ON i.name = f.index_name ORDER BY f.id"
        )
