"""The proprietary-code index on disk: one SQLite file per index directory.

Each indexed file is one row carrying its winnowed fingerprints as packed arrays (hashes, and
the first and last line each fingerprint covers). Re-indexing a file replaces its row, so an
incremental re-run touches only what changed; a reader loads every row into memory at once
(``FingerprintTable``) instead of querying per fingerprint, and sets aside as ``Boilerplate`` the
fingerprints too many files share to count on their own.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from detectors.code.fingerprint import is_normalised

DEFAULT_INDEX_DIR = "code-index"
DB_NAME = "index.sqlite3"
# 2: two fingerprint families (normalised and exact tokens), vectorised tokenizer
# 3: a one-character string is a string, not a lone triple-quote delimiter; k-grams repeated
#    within 24 tokens (tables, runs of like statements) are no fingerprints
# 4: shape k-grams code repeated names by distance; a third family (literal: names renamed,
#    string values and numbers kept); shouted licence lines and docstrings naming call()s are prose
# 5: prose lines are counted in words, not space-separated groups; string contents and values
#    are hashed without their whitespace (both survive re-spacing); shapes winnowed in windows of 8
SCHEMA_VERSION = 5

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


# A normalised fingerprint in more indexed files than this is boilerplate, not anybody's own code:
# at least 32 files, more in a big index, where related packages share more shapes. (Tables and
# runs of like statements, the shapes most files share, are no fingerprints at all: ``repeated``
# in fingerprint.py. A lower limit drops the shapes of code copied into a dozen files, e.g.
# spaCy's per-language modules, which renamed copies can only be found by.)
MIN_BOILERPLATE_FILES = 32
BOILERPLATE_SHARE = 1 / 100
# An exact-token fingerprint (names and strings kept) shared by many files is a copied file or
# block (70 codec tables, one module per spaCy language): still the company's code, so the limit
# is far higher; it only drops what every other file carries.
MIN_COMMON_EXACT_FILES = 64
COMMON_EXACT_SHARE = 1 / 50


def boilerplate_limits(files: int) -> tuple[int, int]:
    """(exact, normalised): a fingerprint in more indexed files than this does not count."""
    return (
        max(MIN_COMMON_EXACT_FILES, int(files * COMMON_EXACT_SHARE)),
        max(MIN_BOILERPLATE_FILES, int(files * BOILERPLATE_SHARE)),
    )


@dataclass(frozen=True, slots=True)
class IndexedSource:
    index_name: str
    label: str
    repository: str
    path: str


@dataclass(frozen=True)
class Boilerplate:
    """The fingerprints too common to count on their own, per file (sorted by file, then hash).

    They are looked up only in files that specific fingerprints already point at: there they
    cover what a copy of a codec module or a family's shared code has in common with the other
    members, around the few fingerprints (a name, a value) that say which member it is.
    """

    hashes: np.ndarray  # uint64, sorted within each file
    offsets: np.ndarray  # int64, len(sources) + 1: file f's fingerprints are offsets[f]:offsets[f+1]
    line_starts: np.ndarray  # uint32
    line_ends: np.ndarray  # uint32

    @classmethod
    def of(cls, hashes: np.ndarray, files: np.ndarray, starts: np.ndarray, ends: np.ndarray, sources: int) -> Boilerplate:
        order = np.lexsort((hashes, files))
        offsets = np.searchsorted(files[order], np.arange(sources + 1)).astype(np.int64)
        return cls(hashes[order], offsets, starts[order], ends[order])

    def hits(self, hashes: np.ndarray, files: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(prompt fingerprint index, file, line start, line end) of ``hashes`` in ``files``."""
        order = np.argsort(hashes)
        ordered = hashes[order]
        starts, counts = self.offsets[files], self.offsets[files + 1] - self.offsets[files]
        postings = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
        file_of = np.repeat(files.astype(np.int32), counts)
        # a file's boilerplate is a few hundred hashes, the prompt's thousands: search the prompt
        first = np.searchsorted(ordered, self.hashes[postings], side="left")
        sizes = np.searchsorted(ordered, self.hashes[postings], side="right") - first
        postings, file_of, first, sizes = postings[sizes > 0], file_of[sizes > 0], first[sizes > 0], sizes[sizes > 0]
        at = np.repeat(first - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))
        postings, file_of = np.repeat(postings, sizes), np.repeat(file_of, sizes)
        return order[at], file_of, self.line_starts[postings], self.line_ends[postings]


# 2**20 buckets: a few keys each in an index of millions, so 5 binary-search steps find any key
# (16 bits took 8 steps, twice the time); the bounds take 4 MB as int32.
BUCKET_BITS = 20


def _buckets(keys: np.ndarray) -> np.ndarray:
    bounds = np.searchsorted(keys >> np.uint64(64 - BUCKET_BITS), np.arange((1 << BUCKET_BITS) + 1, dtype=np.uint64))
    return bounds.astype(np.int32)


@dataclass(frozen=True)
class FingerprintTable:
    """Every fingerprint of an index directory, sorted by hash, with CSR-style postings."""

    keys: np.ndarray  # uint64, unique, sorted
    offsets: np.ndarray  # int64, len(keys) + 1: postings of keys[i] are offsets[i]:offsets[i+1]
    files: np.ndarray  # int32 index into sources
    line_starts: np.ndarray  # uint32
    line_ends: np.ndarray  # uint32
    sources: tuple[IndexedSource, ...]
    boilerplate: Boilerplate
    buckets: np.ndarray  # int32, 2**BUCKET_BITS + 1: keys starting with bits b are buckets[b]:buckets[b+1]

    @cached_property
    def bucket_steps(self) -> int:
        """Binary-search steps that find any key in its bucket (log2 of the biggest bucket)."""
        return int(np.ceil(np.log2(int(np.diff(self.buckets).max()) + 1)))

    @classmethod
    def empty(cls) -> FingerprintTable:
        z = np.zeros(0, dtype=np.uint64)
        lines = z.astype(np.uint32)
        boilerplate = Boilerplate(z, np.zeros(1, np.int64), lines, lines)
        return cls(z, np.zeros(1, np.int64), np.zeros(0, np.int32), lines, lines, (), boilerplate, _buckets(z))

    @classmethod
    def load(cls, index_dir: str | Path, unlimited: bool = False) -> FingerprintTable:
        store = IndexStore(index_dir)
        try:
            rows = list(store.rows())
        finally:
            store.close()
        if not rows:
            return cls.empty()
        sources = tuple(IndexedSource(r[1], r[2], r[3], r[4]) for r in rows)
        hashes = [np.frombuffer(r[5], dtype="<u8") for r in rows]
        counts = np.array([len(h) for h in hashes])
        all_hashes = np.concatenate(hashes).astype(np.uint64)
        files = np.repeat(np.arange(len(rows), dtype=np.int32), counts)
        starts = np.concatenate([np.frombuffer(r[6], dtype="<u4") for r in rows]).astype(np.uint32)
        ends = np.concatenate([np.frombuffer(r[7], dtype="<u4") for r in rows]).astype(np.uint32)
        order = np.lexsort((files, all_hashes))
        all_hashes, files, starts, ends = all_hashes[order], files[order], starts[order], ends[order]
        keys, first, per_key = np.unique(all_hashes, return_index=True, return_counts=True)
        # distinct files per hash: postings are sorted by (hash, file), count file changes
        new_file = np.ones(len(files), dtype=bool)
        new_file[1:] = (files[1:] != files[:-1]) | (all_hashes[1:] != all_hashes[:-1])
        files_per_key = np.add.reduceat(new_file.astype(np.int64), first)
        limits = np.where(~is_normalised(keys), *boilerplate_limits(len(rows)))
        common = np.repeat((files_per_key > limits) & (not unlimited), per_key)
        boilerplate = Boilerplate.of(all_hashes[common], files[common], starts[common], ends[common], len(rows))
        keep = ~common
        all_hashes, files, starts, ends = all_hashes[keep], files[keep], starts[keep], ends[keep]
        keys, first = np.unique(all_hashes, return_index=True)
        offsets = np.append(first, len(all_hashes)).astype(np.int64)
        return cls(keys, offsets, files, starts, ends, sources, boilerplate, _buckets(keys))

    def __len__(self) -> int:
        return len(self.files)

    def _slots(self, hashes: np.ndarray) -> np.ndarray:
        """``np.searchsorted(self.keys, hashes)``, in two levels: the bucket of the hash's top bits,
        then a binary search inside it, all needles a step at a time. A 200 KB prompt's 9,000
        needles in 2.9M keys: 0.33 ms CPU (np.searchsorted: 2.0 ms)."""
        bucket = (hashes >> np.uint64(64 - BUCKET_BITS)).astype(np.int64)
        lo, hi = self.buckets[bucket], self.buckets[bucket + 1]
        last = max(len(self.keys) - 1, 0)
        for _ in range(self.bucket_steps):
            middle = (lo + hi) >> 1
            right = (middle < hi) & (self.keys[np.minimum(middle, last)] < hashes)
            lo, hi = np.where(right, middle + 1, lo), np.where(right, hi, middle)
        return lo

    def lookup(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(prompt fingerprint index, posting index) for every hit."""
        if len(self.keys) == 0 or len(hashes) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        slots = self._slots(hashes)
        slots[slots == len(self.keys)] = 0
        found = np.flatnonzero(self.keys[slots] == hashes)
        if len(found) == 0:
            return found, found
        lo, hi = self.offsets[slots[found]], self.offsets[slots[found] + 1]
        sizes = hi - lo
        prompt_index = np.repeat(found, sizes)
        postings = np.repeat(lo - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
        return prompt_index, postings
