"""``ProprietaryCodeDetector``: does a prompt contain code from the company's indexed repositories?

The index is loaded into memory once (and again when it changes on disk) as a sorted array of
fingerprint hashes with postings (file, line range). A scan fingerprints the prompt, looks every
fingerprint up with one ``searchsorted``, and groups hits by indexed file and prompt position.
Fingerprints found in many indexed files (licence headers, boilerplate, idioms) are dropped at
load time, and a match needs several fingerprints over a minimum run of tokens, so one shared
idiom never makes a prompt "proprietary". When several indexed files match a prompt excerpt with
exactly the same evidence (copied files; a family of modules one shape apart once names are
renamed), the best-ranked is the finding and the others are listed in its ``copies``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from detectors.base import Finding
from detectors.code.fingerprint import (
    CODE_NAME,
    CODE_NUMBER,
    CODE_STRING,
    Fingerprints,
    K,
    W,
    fingerprint,
    is_normalised,
    line_numbers,
)
from detectors.code.index_store import DEFAULT_INDEX_DIR, IndexStore, db_path
from detectors.code.regions import find_regions

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
# A match needs this many distinct fingerprints and this many prompt tokens covered by them.
MIN_FINGERPRINTS = 4
MIN_TOKENS = 50
# ... twice as many fingerprints when none is exact or literal: a shape alone is weaker evidence
# (unrelated code sharing a few idioms with a file hits it with 5 or 6 of them).
MIN_SHAPE_FINGERPRINTS = 2 * MIN_FINGERPRINTS
# ... and the covered tokens must be this share of the matched prompt span (copies are dense).
MIN_DENSITY = 0.6
# Hits further apart than this (in prompt tokens) belong to separate excerpts.
MAX_GAP_TOKENS = 3 * (K + W)
MAX_GAP_LINES = 40
# Identical copies of a matched excerpt reported besides the best one (70 codec modules share
# one shape once names are renamed; a finding does not list them all).
MAX_COPIES_REPORTED = 10


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
class FingerprintTable:
    """Every fingerprint of an index directory, sorted by hash, with CSR-style postings."""

    keys: np.ndarray  # uint64, unique, sorted
    offsets: np.ndarray  # int64, len(keys) + 1: postings of keys[i] are offsets[i]:offsets[i+1]
    files: np.ndarray  # int32 index into sources
    line_starts: np.ndarray  # uint32
    line_ends: np.ndarray  # uint32
    sources: tuple[IndexedSource, ...]

    @classmethod
    def empty(cls) -> FingerprintTable:
        z = np.zeros(0, dtype=np.uint64)
        return cls(z, np.zeros(1, np.int64), np.zeros(0, np.int32), z.astype(np.uint32), z.astype(np.uint32), ())

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
        keep = ~common
        all_hashes, files, starts, ends = all_hashes[keep], files[keep], starts[keep], ends[keep]
        keys, first = np.unique(all_hashes, return_index=True)
        offsets = np.append(first, len(all_hashes)).astype(np.int64)
        return cls(keys, offsets, files, starts, ends, sources)

    def __len__(self) -> int:
        return len(self.files)

    def lookup(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(prompt fingerprint index, posting index) for every hit."""
        if len(self.keys) == 0 or len(hashes) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        order = np.argsort(hashes)  # sorted needles walk the key array in order: fewer cache misses
        slots = np.empty(len(hashes), dtype=np.int64)
        slots[order] = np.searchsorted(self.keys, hashes[order])
        slots[slots == len(self.keys)] = 0
        found = np.flatnonzero(self.keys[slots] == hashes)
        if len(found) == 0:
            return found, found
        lo, hi = self.offsets[slots[found]], self.offsets[slots[found] + 1]
        sizes = hi - lo
        prompt_index = np.repeat(found, sizes)
        postings = np.repeat(lo - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
        return prompt_index, postings


@dataclass(frozen=True, slots=True)
class Location:
    source: IndexedSource
    line_start: int
    line_end: int


@dataclass(frozen=True, slots=True)
class Match:
    source: IndexedSource
    first_token: int  # prompt token span of the match
    last_token: int
    covered_tokens: int
    fingerprints: int
    exact_fingerprints: int  # of them, exact-token or literal ones: they tell copies of one shape apart
    line_start: int
    line_end: int
    # other indexed places that match the same prompt span exactly as well (identical copies)
    copies: tuple[Location, ...] = ()
    copies_total: int = 0

    @property
    def evidence(self) -> tuple[int, int, int]:
        """What ranks matches of one prompt span: specific fingerprints first (they name the copy)."""
        return self.exact_fingerprints, self.covered_tokens, self.fingerprints


def find_matches(table: FingerprintTable, prints: Fingerprints) -> list[Match]:
    """Matches of a prompt's fingerprints, strongest first, each prompt excerpt reported once."""
    prompt_index, postings = table.lookup(prints.hashes)
    if len(prompt_index) == 0:
        return []
    files = table.files[postings]
    keep = np.isin(files, _promising_files(files, prompt_index, prints.first_token))
    files, fps, posts = files[keep], prompt_index[keep], postings[keep]
    # hits grouped by file, in prompt order within a file; a new stretch where either changes
    order = np.lexsort((fps, prints.first_token[fps], files))
    files, fps, posts = files[order], fps[order], posts[order]
    tokens = prints.first_token[fps]
    breaks = np.flatnonzero((np.diff(files) != 0) | (np.diff(tokens) > MAX_GAP_TOKENS)) + 1
    bounds = np.concatenate(([0], breaks, [len(fps)]))
    # most stretches of a big unrelated prompt cannot match: skip their numpy work
    stretches = np.flatnonzero(_could_match(fps, tokens, bounds)).tolist()
    candidates = []
    for start, end in ((int(bounds[i]), int(bounds[i + 1])) for i in stretches):
        candidate = _candidate(table, int(files[start]), prints, fps[start:end], posts[start:end])
        if candidate is not None:
            candidates.append(candidate)
    candidates.sort(key=lambda m: tuple(-x for x in m.evidence))
    accepted: list[Match] = []
    copies: list[list[Location]] = []
    for candidate in candidates:
        overlapping = [i for i, other in enumerate(accepted) if _overlap(candidate, other) > 0.5]
        if not overlapping:
            accepted.append(candidate)
            copies.append([])
        elif _same_evidence(candidate, accepted[overlapping[0]]):
            copies[overlapping[0]].append(Location(candidate.source, candidate.line_start, candidate.line_end))
    return [
        replace(match, copies=tuple(found[:MAX_COPIES_REPORTED]), copies_total=len(found))
        for match, found in zip(accepted, copies, strict=True)
    ]


def _same_evidence(a: Match, b: Match) -> bool:
    """The same prompt span matched as well: the excerpt is in both places (copied files, or a
    family of files one shape apart when names were renamed) and nothing tells which is meant."""
    return a.evidence == b.evidence and (a.first_token, a.last_token) == (b.first_token, b.last_token)


def _could_match(fps: np.ndarray, tokens: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Per stretch of hits (``bounds``; hits sorted by prompt token, then fingerprint): could it
    pass MIN_FINGERPRINTS and MIN_TOKENS? Its distinct fingerprints and the tokens they cover are
    upper bounds of what ``_candidate`` counts on any part of it, so a stretch failing here is
    skipped without the per-stretch numpy work, which a big unrelated prompt needs ~100 times."""
    if len(fps) == 0:
        return np.zeros(0, dtype=bool)
    first = np.zeros(len(fps), dtype=bool)
    first[bounds[:-1]] = True
    new = first.copy()
    new[1:] |= fps[1:] != fps[:-1]
    gaps = np.zeros(len(fps), dtype=np.int64)
    gaps[1:] = np.diff(tokens)
    # a fingerprint covers K tokens from its first; the next one adds only the tokens past those
    covers = np.where(first, K, np.minimum(gaps, K)) * new
    distinct = np.add.reduceat(new.astype(np.int64), bounds[:-1])
    covered = np.add.reduceat(covers, bounds[:-1])
    return (distinct >= MIN_FINGERPRINTS) & (covered >= MIN_TOKENS)


def _promising_files(files: np.ndarray, prompt_index: np.ndarray, first_token: np.ndarray) -> np.ndarray:
    """Files hit by MIN_FINGERPRINTS distinct prompt fingerprints within one stretch of the prompt.

    A big prompt of unrelated code hits hundreds of files with a few idioms each; this vectorised
    test leaves the per-file grouping below only the files that could pass it.
    """
    # prompt fingerprints numbered in token order, so one sort of (file, number) pairs puts each
    # file's hits in prompt order
    by_token = np.argsort(first_token, kind="stable")
    rank = np.empty(len(by_token), dtype=np.int64)
    rank[by_token] = np.arange(len(by_token))
    pairs = np.unique(files.astype(np.int64) << 32 | rank[prompt_index])
    pair_files, pair_tokens = pairs >> 32, first_token[by_token[pairs & 0xFFFFFFFF]]
    n = MIN_FINGERPRINTS - 1
    if len(pair_files) <= n:
        return np.zeros(0, dtype=np.int64)
    close = (pair_files[n:] == pair_files[:-n]) & (pair_tokens[n:] - pair_tokens[:-n] <= n * MAX_GAP_TOKENS)
    return np.unique(pair_files[n:][close])


def _candidate(table, file_id, prints, fps, posts) -> Match | None:
    fps, posts = _densest_stretch(table, fps, posts)
    distinct = np.unique(fps)
    if len(distinct) < MIN_FINGERPRINTS:
        return None
    starts = prints.first_token[distinct]
    first, last = int(starts.min()), int(starts.max()) + K - 1
    covered = np.zeros(last - first + 1, dtype=bool)
    for start in starts - first:
        covered[start : start + K] = True
    covered_tokens = int(covered.sum())
    if covered_tokens < MIN_TOKENS or covered_tokens < MIN_DENSITY * len(covered):
        return None
    specific = int((~is_normalised(prints.hashes[distinct])).sum())
    if specific == 0 and (len(distinct) < MIN_SHAPE_FINGERPRINTS or _string_table(prints.tokens.codes[first : last + 1])):
        return None
    return Match(
        source=table.sources[file_id],
        first_token=first,
        last_token=last,
        covered_tokens=covered_tokens,
        fingerprints=len(distinct),
        exact_fingerprints=specific,
        line_start=int(table.line_starts[posts].min()),
        line_end=int(table.line_ends[posts].max()),
    )


# A span is a table of strings when names and code (keywords, operators) are each under this
# share of its tokens: the rest is strings and separators.
TABLE_SHARE = 0.1
_SEPARATORS = np.array(sorted(ord(c) for c in ",.()-':"), dtype=np.uint64)


def _string_table(codes: np.ndarray) -> bool:
    """Is this span of normalised tokens a list or table of strings? Its shape (``S, S, S)``,
    ``V = (S, S``) is in every file with a table, so shape fingerprints alone say nothing."""
    names = np.mean(codes == CODE_NAME)
    literals = (codes == CODE_STRING) | (codes == CODE_NUMBER)
    code = np.mean(~literals & (codes != CODE_NAME) & ~np.isin(codes, _SEPARATORS))
    return bool(names < TABLE_SHARE and code < TABLE_SHARE)


def _densest_stretch(table: FingerprintTable, fps: np.ndarray, posts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The hits that fall in one compact stretch of the file, the stretch with most of them.

    A copied excerpt hits one place in the file; an unrelated prompt that shares idioms with the
    file hits it all over. Code repeated within the file also points some prompt fingerprints at
    far-away copies, which must not stretch the reported line range.
    """
    lines = table.line_starts[posts].astype(np.int64)
    order = np.argsort(lines, kind="stable")
    clusters = np.split(order, np.flatnonzero(np.diff(lines[order]) > MAX_GAP_LINES) + 1)
    best = max(clusters, key=lambda c: len(np.unique(fps[c])))
    return fps[best], posts[best]


def _overlap(a: Match, b: Match) -> float:
    shared = min(a.last_token, b.last_token) - max(a.first_token, b.first_token) + 1
    return max(shared, 0) / (a.last_token - a.first_token + 1)


class ProprietaryCodeDetector:
    """Finds excerpts of indexed code; cheap when there is no index, safe to share between threads."""

    name = "proprietary_code"

    def __init__(self, index_dir: str | Path = DEFAULT_INDEX_DIR) -> None:
        self.index_dir = Path(index_dir)
        self._lock = threading.Lock()
        self._table = FingerprintTable.empty()
        self._loaded_stamp: tuple[float, ...] | None = None

    def _stamp(self) -> tuple[float, ...] | None:
        path = db_path(self.index_dir)
        try:
            stamp = [os.stat(path).st_mtime_ns]
        except OSError:
            return None
        for suffix in ("-wal",):
            try:
                stamp.append(os.stat(str(path) + suffix).st_mtime_ns)
            except OSError:
                stamp.append(0)
        return tuple(stamp)

    def table(self) -> FingerprintTable:
        """The in-memory index, reloaded when the index on disk has changed."""
        stamp = self._stamp()
        if stamp == self._loaded_stamp:
            return self._table
        with self._lock:
            if stamp != self._loaded_stamp:
                self._table = FingerprintTable.load(self.index_dir) if stamp else FingerprintTable.empty()
                self._loaded_stamp = stamp
            return self._table

    def scan(self, text: str, *, path_hint: str | None = None) -> list[Finding]:
        table = self.table()
        if len(table) == 0 or not text:
            return []
        prints = fingerprint(text)
        return [self._finding(text, prints, match) for match in find_matches(table, prints)]

    def _finding(self, text: str, prints: Fingerprints, match: Match) -> Finding:
        tokens = prints.tokens
        start, end = int(tokens.starts[match.first_token]), int(tokens.ends[match.last_token])
        region_start, region_end = _enclosing_region(text, start, end)
        first, last = np.searchsorted(tokens.starts, [region_start, region_end])
        coverage = min(1.0, match.covered_tokens / max(int(last - first), 1))
        first_line, last_line = line_numbers(text, np.array([start, end - 1]))
        return Finding(
            kind="proprietary_code",
            rule=match.source.index_name,
            start=start,
            end=end,
            confidence=round(min(1.0, 0.5 + match.fingerprints / 20), 3),
            detector=self.name,
            details={
                "repository": match.source.repository,
                "path": match.source.path,
                "line_start": match.line_start,
                "line_end": match.line_end,
                "label": match.source.label,
                "coverage": round(coverage, 3),
                "lines": int(last_line - first_line + 1),
                "copies": [
                    {"repository": c.source.repository, "path": c.source.path, "line_start": c.line_start, "line_end": c.line_end}
                    for c in match.copies
                ],
                "copies_total": match.copies_total,
            },
        )


# The code region around a match is looked for this many characters either side of it, not in
# the whole prompt (finding regions costs ~0.25 ms per KB; a prompt may be megabytes).
REGION_MARGIN = 20_000


def _enclosing_region(text: str, start: int, end: int) -> tuple[int, int]:
    """The code region of the prompt around a match, or the match itself when none is found."""
    window_start = text.rfind("\n", 0, max(start - REGION_MARGIN, 0)) + 1
    window_end = text.find("\n", min(end + REGION_MARGIN, len(text)))
    window_end = len(text) if window_end < 0 else window_end
    for region in find_regions(text[window_start:window_end]):
        region_start, region_end = region.start + window_start, region.end + window_start
        if region_start <= start < region_end or start <= region_start < end:
            return min(region_start, start), max(region_end, end)
    return start, end
