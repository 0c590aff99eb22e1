"""``ProprietaryCodeDetector``: does a prompt contain code from the company's indexed repositories?

The index is loaded into memory once (and again when it changes on disk) as a ``FingerprintTable``
(index_store.py): a sorted array of fingerprint hashes with postings (file, line range). A scan
fingerprints the prompt, looks every fingerprint up, and groups hits by indexed file and prompt
position. Fingerprints found in many indexed files (licence headers, boilerplate, idioms) count
only next to fingerprints specific to the same file, and a match needs several distinct
fingerprint values over a minimum run of tokens, so one shared idiom, however often a prompt
repeats it, never makes a prompt "proprietary". When several indexed places match a prompt
excerpt with exactly the same evidence (copied files; a family of modules one shape apart once
names are renamed; a table a file holds twice), the best-ranked is the finding and the others
are listed in its ``copies``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from detectors.base import Finding, FindingKind, Problem
from detectors.code.fingerprint import Fingerprints, K, W, fingerprint, is_normalised
from detectors.code.index_store import (
    DEFAULT_INDEX_DIR,
    FingerprintTable,
    IndexedSource,
    OutdatedIndexError,
    db_path,
)
from detectors.code.regions import find_regions
from detectors.code.tokenizer import CODE_NAME, CODE_NUMBER, CODE_STRING, line_numbers
from detectors.code.unwrap import unwrap
from detectors.code.views import View, file_details

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
# Boilerplate fingerprints count in a file only around this many specific ones of the same file.
MIN_SPECIFIC_WITH_BOILERPLATE = 2


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
    hits = _Hits(prompt_index, files, table.line_starts[postings], table.line_ends[postings], np.ones(len(files), bool))
    # prompt fingerprints numbered in token order, so one sort of (file, number) pairs puts each
    # file's hits in prompt order
    by_token = np.argsort(prints.first_token, kind="stable")
    order = _TokenOrder(np.empty(len(by_token), dtype=np.int64), prints.first_token[by_token])
    order.rank[by_token] = np.arange(len(by_token))
    specific = ~is_normalised(prints.hashes[prompt_index])
    named = _promising_files(files[specific], prompt_index[specific], order, MIN_SPECIFIC_WITH_BOILERPLATE)
    if len(named):
        index, where, starts, ends = table.boilerplate.hits(prints.hashes, named)
        hits = hits.plus(_Hits(index, where, starts, ends, np.zeros(len(index), bool)))
    # hits grouped by file, in prompt order within a file (one sort of (file, place in token
    # order) pairs); a new stretch where either changes. Stretches that cannot match are dropped
    # by _could_match, which is stricter than _promising_files: no need to prune files first.
    hits = hits.take(np.argsort(hits.files.astype(np.int64) << 32 | order.rank[hits.fps], kind="stable"))
    tokens = prints.first_token[hits.fps]
    breaks = np.flatnonzero((np.diff(hits.files) != 0) | (np.diff(tokens) > MAX_GAP_TOKENS)) + 1
    bounds = np.concatenate(([0], breaks, [len(hits.fps)]))
    # most stretches of a big unrelated prompt cannot match: skip their numpy work
    specific = ~is_normalised(prints.hashes[hits.fps])
    stretches = np.flatnonzero(_could_match(hits.fps, tokens, bounds, specific)).tolist()
    candidates = []
    for start, end in ((int(bounds[i]), int(bounds[i + 1])) for i in stretches):
        source = table.sources[int(hits.files[start])]
        for place in _densest_places(hits.take(slice(start, end))):
            candidate = _candidate(source, prints, place)
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


def _distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting: numpy 2's hash-table unique is ~3 times slower on the arrays of
    a few thousand integers this module counts."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) else ordered


@dataclass(frozen=True, slots=True)
class _Hits:
    """Prompt fingerprints found in indexed files: one entry per (fingerprint, place in a file)."""

    fps: np.ndarray  # prompt fingerprint index
    files: np.ndarray
    line_starts: np.ndarray
    line_ends: np.ndarray
    counted: np.ndarray  # bool: not boilerplate

    def take(self, which) -> _Hits:
        return _Hits(self.fps[which], self.files[which], self.line_starts[which], self.line_ends[which], self.counted[which])

    def plus(self, other: _Hits) -> _Hits:
        return _Hits(*(np.concatenate((a, b)) for a, b in zip(
            (self.fps, self.files, self.line_starts, self.line_ends, self.counted),
            (other.fps, other.files, other.line_starts, other.line_ends, other.counted), strict=True)))


def _same_evidence(a: Match, b: Match) -> bool:
    """The same prompt span matched as well: the excerpt is in both places (copied files, or a
    family of files one shape apart when names were renamed) and nothing tells which is meant."""
    return a.evidence == b.evidence and (a.first_token, a.last_token) == (b.first_token, b.last_token)


def _could_match(fps: np.ndarray, tokens: np.ndarray, bounds: np.ndarray, specific: np.ndarray | None = None) -> np.ndarray:
    """Per stretch of hits (``bounds``; hits sorted by prompt token, then fingerprint): could it
    pass MIN_FINGERPRINTS and MIN_TOKENS, and MIN_SHAPE_FINGERPRINTS when none of its hits is
    ``specific`` (exact or literal)? Its distinct fingerprints and the tokens they cover are
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
    possible = (distinct >= MIN_FINGERPRINTS) & (covered >= MIN_TOKENS)
    if specific is None:
        return possible
    named = np.add.reduceat(specific.astype(np.int64), bounds[:-1]) > 0
    return possible & (named | (distinct >= MIN_SHAPE_FINGERPRINTS))


@dataclass(frozen=True, slots=True)
class _TokenOrder:
    rank: np.ndarray  # per prompt fingerprint: its place in token order
    tokens: np.ndarray  # per place: the first token of the fingerprint there (ascending)


def _promising_files(files: np.ndarray, prompt_index: np.ndarray, order: _TokenOrder, needed: int = MIN_FINGERPRINTS) -> np.ndarray:
    """Files hit by ``needed`` distinct prompt fingerprints within one stretch of the prompt.

    A big prompt of unrelated code hits hundreds of files with a few idioms each; this vectorised
    test picks the few whose boilerplate is worth looking up.
    """
    pairs = _distinct(files.astype(np.int64) << 32 | order.rank[prompt_index])
    pair_files, pair_tokens = pairs >> 32, order.tokens[pairs & 0xFFFFFFFF]
    n = needed - 1
    if len(pair_files) <= n:
        return np.zeros(0, dtype=np.int64)
    close = (pair_files[n:] == pair_files[:-n]) & (pair_tokens[n:] - pair_tokens[:-n] <= n * MAX_GAP_TOKENS)
    return _distinct(pair_files[n:][close])


def _candidate(source: IndexedSource, prints: Fingerprints, hits: _Hits) -> Match | None:
    """The match of one stretch of hits in one file, on fingerprints that count, and with the
    boilerplate around them when at least MIN_SPECIFIC_WITH_BOILERPLATE specific ones name the
    file, whichever is the stronger evidence.

    Boilerplate counts for every file it is looked up in, also where the specific fingerprints
    alone already match: otherwise a sibling module (cp1254.py for a paste of cp1252.py, whose
    decoding table it shares but for a few rows) is ranked on its boilerplate and the specific
    rows it shares, the file itself on its specific rows alone, and the sibling wins."""
    if hits.counted.all():
        return _match(source, prints, hits)
    counted = hits.take(hits.counted)
    match = _match(source, prints, counted)
    named = _distinct(counted.fps[~is_normalised(prints.hashes[counted.fps])])
    if len(named) >= MIN_SPECIFIC_WITH_BOILERPLATE:
        fuller = _match(source, prints, hits)
        if fuller is not None and (match is None or fuller.evidence > match.evidence):
            match = fuller
    return match


def _match(source: IndexedSource, prints: Fingerprints, hits: _Hits) -> Match | None:
    distinct = _distinct(hits.fps)
    # Evidence is counted in distinct fingerprint values: a prompt that repeats one idiom (a run of
    # property getters and setters, of add_argument calls) hits the same few places of a file
    # once per repeat, which is no more evidence than hitting them once.
    values = _distinct(prints.hashes[distinct])
    if len(values) < MIN_FINGERPRINTS:
        return None
    starts = prints.first_token[distinct]
    first, last = int(starts.min()), int(starts.max()) + K - 1
    covered = np.zeros(last - first + 1, dtype=bool)
    for start in starts - first:
        covered[start : start + K] = True
    covered_tokens = int(covered.sum())
    if covered_tokens < MIN_TOKENS or covered_tokens < MIN_DENSITY * len(covered):
        return None
    specific = int((~is_normalised(values)).sum())
    if specific == 0 and (len(values) < MIN_SHAPE_FINGERPRINTS or _string_table(prints.tokens.codes[first : last + 1])):
        return None
    return Match(
        source=source,
        first_token=first,
        last_token=last,
        covered_tokens=covered_tokens,
        fingerprints=len(values),
        exact_fingerprints=specific,
        line_start=int(hits.line_starts.min()),
        line_end=int(hits.line_ends.max()),
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


def _densest_places(hits: _Hits) -> list[_Hits]:
    """The hits that fall in one compact stretch of the file, the stretch with most of them, or
    each of several stretches that have as many (the excerpt is in the file more than once).

    A copied excerpt hits one place in the file; an unrelated prompt that shares idioms with the
    file hits it all over. Code repeated within the file also points some prompt fingerprints at
    far-away copies, which must not stretch the reported line range. When the file holds the
    excerpt twice (a table or a docstring repeated for another function), both places match as
    well and are reported as copies of each other.
    """
    lines = hits.line_starts.astype(np.int64)
    order = np.argsort(lines, kind="stable")
    breaks = np.flatnonzero(np.diff(lines[order]) > MAX_GAP_LINES) + 1
    if len(breaks) == 0:
        return [hits]
    # distinct prompt fingerprints per cluster, in one pass over (cluster, fingerprint) pairs
    cluster = np.zeros(len(order), dtype=np.int64)
    cluster[breaks] = 1
    cluster = np.cumsum(cluster)
    pairs = _distinct(cluster << 32 | hits.fps[order])
    sizes = np.bincount(pairs >> 32, minlength=len(breaks) + 1)
    if sizes.max() < MIN_FINGERPRINTS:  # a stretch of scattered idioms: no place can match
        return []
    clusters = np.split(order, breaks)
    return [hits.take(clusters[i]) for i in np.flatnonzero(sizes == sizes.max())]


def _overlap(a: Match, b: Match) -> float:
    shared = min(a.last_token, b.last_token) - max(a.first_token, b.first_token) + 1
    return max(shared, 0) / (a.last_token - a.first_token + 1)


class ProprietaryCodeDetector:
    """Finds excerpts of indexed code; cheap when there is no index, safe to share between threads."""

    name = "proprietary_code"
    # ``label``: the index's label (``llm-dlp index build --label``); ``lines``: lines matched
    kinds = (FindingKind("proprietary_code", details=frozenset({"label", "lines"})),)
    takes_path_hint = True

    def rule_ids(self) -> Mapping[str, frozenset[str] | None]:
        """A finding's rule id is the name of the index it matched: the names in the index now,
        or not known in advance while there is no readable index (``self_check`` says why)."""
        try:
            names = frozenset(source.index_name for source in self.table().sources)
        except Exception:  # noqa: BLE001 — an unreadable index is self_check's to report
            names = frozenset()
        return {"proprietary_code": names or None}

    def self_check(self, needed: frozenset[str]) -> list[Problem]:
        """An index this version cannot read fails every request: always a problem. A missing or
        empty one finds nothing, which matters when a policy asks for proprietary code."""
        try:
            table = self.table()
        except OutdatedIndexError as exc:
            return [Problem(str(exc))]
        except Exception as exc:  # noqa: BLE001 — reported, so the proxy does not start on it
            return [Problem(f"the code index in {self.index_dir} cannot be read: {type(exc).__name__}: {exc}")]
        if "proprietary_code" not in needed or len(table):
            return []
        state = "is empty" if db_path(self.index_dir).exists() else "does not exist"
        return [Problem(
            f"the code index in {self.index_dir.resolve()} {state}; build it with "
            "`llm-dlp index build --name NAME PATH...` (and --index-dir DIR if it lives elsewhere)",
            missing_data=True,
        )]

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
        # A match covers at least MIN_TOKENS tokens of a view, each token at least one character,
        # and no view of a text is longer than the text: a shorter text (most of a JSON body's
        # keys and enum values) cannot match, and need not even look at the index on disk.
        if len(text) < MIN_TOKENS:
            return []
        table = self.table()
        if len(table) == 0:
            return []
        # Each view (a diff's new and old side) is fingerprinted on its own; where both sides
        # match the same excerpt of a file, the first view's (the new side's) finding stands.
        found: list[tuple[Match, Finding]] = []
        for view in unwrap(text):
            prints = fingerprint(view.text)
            for match in find_matches(table, prints):
                finding = self._finding(view, prints, match, path_hint)
                if not any(_same_excerpt(finding, other) for _, other in found):
                    found.append((match, finding))
        return [finding for _, finding in found]

    def _finding(self, view: View, prints: Fingerprints, match: Match, path_hint: str | None) -> Finding:
        tokens, text = prints.tokens, view.text
        start, end = int(tokens.starts[match.first_token]), int(tokens.ends[match.last_token])
        region_start, region_end = _enclosing_region(text, start, end)
        first, last = np.searchsorted(tokens.starts, [region_start, region_end])
        coverage = min(1.0, match.covered_tokens / max(int(last - first), 1))
        first_line, last_line = line_numbers(text, np.array([start, end - 1]))
        details = {
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
        }
        details.update(file_details(view, start, end, path_hint))
        original_start, original_end = view.span(start, end)
        return Finding(
            kind="proprietary_code",
            rule=match.source.index_name,
            start=original_start,
            end=original_end,
            confidence=round(min(1.0, 0.5 + match.fingerprints / 20), 3),
            detector=self.name,
            details=details,
        )


def _same_excerpt(a: Finding, b: Finding) -> bool:
    """Two views' findings of one excerpt of one indexed file (a diff's two sides)."""
    shared = min(a.end, b.end) - max(a.start, b.start)
    return (a.rule, a.details["repository"], a.details["path"]) == (b.rule, b.details["repository"], b.details["path"]) \
        and shared > 0.5 * min(a.end - a.start, b.end - b.start)


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
