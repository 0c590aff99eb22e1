"""Find, in one pass, the few places of a long text where personal data can possibly be.

Every recognizer carries an ``ANCHOR``: a short pattern that each of its matches contains (an
``@`` for e-mail, four digits and three more for a card, a name key for names). One hyperscan
database holds all anchors and scans the text once (about 1 GB/s, however many anchors), and
each hit opens a *window*: ``BEFORE`` characters ahead of it (presidio's context words and the
front of the match) and ``AFTER`` behind it (longer than any match). Overlapping windows merge
and remember which recognizers fired in them, so a recognizer's regex only ever runs where its
anchor is. On prose-and-code prompts the windows are a small part of the text.

Hyperscan works on bytes; the text goes in as UTF-8 and hit offsets come back as ``str``
offsets. Anchors end on whole characters (ASCII or literal CJK words); one led by a negated
class may begin inside a character and is moved to the next whole one.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import hyperscan

from detectors.build_cache import compiled_database

BEFORE = 96
AFTER = 64
# How far a window edge may move to reach whitespace.
EDGE_SLACK = 48


@dataclass(frozen=True, slots=True)
class Window:
    start: int
    end: int
    # Indices of the anchors (one per recognizer, in the order given) that fired inside.
    anchors: frozenset[int]
    # Per anchor, where its own hits lie: the stretch its recognizer needs to read.
    reach: Mapping[int, tuple[int, int]] = field(default_factory=dict)

    def hit_span(self, anchor: int) -> tuple[int, int]:
        """From the start of the window's first hit of one anchor to the end of its last."""
        return self.reach.get(anchor, (self.start, self.end))

    def span_for(self, text: str, anchor: int) -> tuple[int, int]:
        """The part of the window one recognizer reads: around its own anchor hits."""
        first, last = self.reach.get(anchor, (self.start, self.end))
        return (
            max(self.start, edge_left(text, max(0, first - BEFORE))),
            min(self.end, edge_right(text, min(len(text), last + AFTER))),
        )


@dataclass(frozen=True, slots=True)
class Hit:
    anchor: int
    start: int
    end: int


class AnchorScanner:
    """All anchors in one hyperscan database; ``hits`` is safe to call from many threads
    (each thread gets its own scratch space)."""

    def __init__(self, anchors: Sequence[str], caseless: Sequence[bool], starts: Sequence[bool] | None = None) -> None:
        """``starts[i]`` False: anchor i's hits carry only where they end (``Hit.start ==
        Hit.end``), which is all a caller that wants the line of a hit needs, and hyperscan
        scans faster without tracking where each match began."""
        self.anchors = tuple(anchors)
        self._starts = tuple(starts) if starts is not None else (True,) * len(self.anchors)
        flags = [
            (hyperscan.HS_FLAG_SOM_LEFTMOST if leftmost else 0) | (hyperscan.HS_FLAG_CASELESS if fold else 0)
            for leftmost, fold in zip(self._starts, caseless)
        ]
        self._database = compiled_database([anchor.encode() for anchor in self.anchors], flags)
        self._local = threading.local()

    def hits(self, text: str) -> list[Hit]:
        """Every anchor hit, in ``str`` offsets, sorted by start."""
        # A lone surrogate cannot be encoded; "?" stands in for it, one character for one.
        data = text.encode("utf-8", "replace")
        found: list[list[int]] = []
        latest: dict[int, list[int]] = {}

        starts = self._starts

        def on_match(anchor: int, start: int, end: int, _flags: int, _context: object) -> None:
            if not starts[anchor]:
                start = end
            # A run of digits fires at every end it could have; one hit per run is enough.
            previous = latest.get(anchor)
            if previous is not None and start <= previous[1]:
                previous[1] = max(previous[1], end)
                return
            hit = [start, end, anchor]
            latest[anchor] = hit
            found.append(hit)

        self._database.scan(data, match_event_handler=on_match, scratch=self._scratch())
        found.sort()
        if len(data) == len(text):
            return [Hit(anchor, start, end) for start, end, anchor in found]
        return _to_str_offsets(data, found)

    def _scratch(self) -> "hyperscan.Scratch":
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = hyperscan.Scratch(self._database)
            self._local.scratch = scratch
        return scratch


def literal_alternatives(alternatives: str) -> str:
    """A regex alternation of words as a hyperscan anchor: optional dots dropped, literal
    dots made optional (``St\\.`` fires on "St" and "St.")."""
    return alternatives.replace("\\.?", "").replace("\\.", "\\.?")


def windows(text: str, hits: list[Hit]) -> list[Window]:
    """Merged windows around the hits, edges moved to whitespace so tokens are never cut."""
    spans: list[tuple[list[int], dict[int, list[int]]]] = []
    for hit in hits:
        start, end = max(0, hit.start - BEFORE), min(len(text), hit.end + AFTER)
        if spans and start <= spans[-1][0][1]:
            bounds, reach = spans[-1]
            bounds[1] = max(bounds[1], end)
        else:
            bounds, reach = [start, end], {}
            spans.append((bounds, reach))
        own = reach.get(hit.anchor)
        if own is None:
            reach[hit.anchor] = [hit.start, hit.end]
        else:
            own[1] = max(own[1], hit.end)
    merged: list[Window] = []
    for (start, end), reach in spans:
        # Moving edges to whitespace can make neighbours touch; merge those too.
        start, end = edge_left(text, start), edge_right(text, end)
        own = {anchor: (first, last) for anchor, (first, last) in reach.items()}
        if merged and start <= merged[-1].end:
            last_window = merged[-1]
            combined = dict(last_window.reach)
            for anchor, (first, last) in own.items():
                previous = combined.get(anchor)
                combined[anchor] = (previous[0], last) if previous else (first, last)
            merged[-1] = Window(last_window.start, max(last_window.end, end), last_window.anchors | own.keys(), combined)
        else:
            merged.append(Window(start, end, frozenset(own), own))
    return merged


def align_left(text: str, position: int) -> int:
    """The start of the whitespace-separated chunk at or before ``position``, or the last cut
    (``is_cut``) of a long run before it, whichever is later.

    spaCy splits on whitespace before anything else, so a text cut here tokenizes exactly as
    the whole text does from here on (runs of spaces included; a long run is tokenized in
    pieces between its cuts, see ``cuts_between``).
    """
    # ``re`` walks a reversed slice in C (its \s is str.isspace). The slice grows until the
    # walk ends inside it or a cut is inside it, so the cost stays within a few MAX_RUN (a walk
    # to the start of the run, one character at a time, made a long one-line JSON body cost
    # 644,000 ``isspace`` calls per 8 KB, and a 1 MB one quadratic).
    reach = _LOOK_BEHIND
    while True:
        floor = max(0, position - reach)
        behind = text[floor:position][::-1]
        walked = _SPACES_THEN_CHUNK.match(behind).end()
        if walked < len(behind) or floor == 0:
            start = position - walked
            cut = _cut_at_or_before(text, position, start) if walked >= MAX_RUN // 2 else None
            return start if cut is None else cut
        if reach > 2 * MAX_RUN:
            cut = _cut_at_or_before(text, position, floor)
            if cut is not None:
                return cut
        reach *= 4


def align_right(text: str, position: int) -> int:
    """The end of the whitespace-separated chunk at or after ``position``, or the first cut
    of a long run after it, whichever is earlier."""
    limit = min(len(text), position + 3 * MAX_RUN)
    end = _CHUNK.match(text, position, limit).end()
    if end - position < MAX_RUN // 2:
        return end
    # A cut lies within 3 MAX_RUN of a run that reaches ``limit``, so the walk stops there.
    cut = (position + MAX_RUN - 1) // MAX_RUN * MAX_RUN
    while cut < end:
        if is_cut(text, cut):
            return cut
        cut += MAX_RUN
    return end if end < limit or limit == len(text) else _CHUNK.match(text, position).end()


def is_cut(text: str, position: int) -> bool:
    """Whether a long run without whitespace is cut at ``position``: a multiple of MAX_RUN with
    no whitespace within MAX_RUN / 2 on either side.

    spaCy strips a run's prefixes and suffixes one copy of the run at a time, and learns a new
    string for every token: a 100 KB one-line JSON body took 25 s to tokenize whole, and the
    context of one result in a 1 MB run needed all of it. Cut, each stretch is a few pieces
    around its results. The cuts depend only on the text near them, so every stretch agrees on
    them; runs shorter than MAX_RUN, which is all of ordinary prose and code, are never cut.
    Only results within a token of a cut can see other context words than presidio would.
    """
    half = MAX_RUN // 2
    return (
        position % MAX_RUN == 0
        and half <= position <= len(text) - half
        and _SPACE.search(text, position - half, position + half) is None
    )


def cuts_between(text: str, left: int, right: int) -> list[int]:
    """The cuts strictly inside ``text[left:right]``, in order."""
    first = left // MAX_RUN * MAX_RUN + MAX_RUN
    return [cut for cut in range(first, right, MAX_RUN) if is_cut(text, cut)]


def _cut_at_or_before(text: str, position: int, lowest: int) -> int | None:
    """The last cut in ``(lowest, position]``, if any."""
    cut = position // MAX_RUN * MAX_RUN
    while cut > lowest:
        if is_cut(text, cut):
            return cut
        cut -= MAX_RUN
    return None


def edge_left(text: str, position: int) -> int:
    """A window's left edge: ``position`` moved back to whitespace, at most EDGE_SLACK."""
    floor = max(0, position - EDGE_SLACK)
    # Only the slack (and one character before it) is read: a walk that does not end inside
    # it ends before ``floor``, and then the edge stays at ``position``.
    lowest = max(0, floor - 1)
    behind = text[lowest:position][::-1]
    walked = _SPACES_THEN_CHUNK.match(behind).end()
    if walked == len(behind) and lowest > 0:
        return position
    aligned = position - walked
    return aligned if aligned >= floor else position


def edge_right(text: str, position: int) -> int:
    """A window's right edge: ``position`` moved on to whitespace, at most EDGE_SLACK."""
    return _CHUNK.match(text, position, min(len(text), position + EDGE_SLACK)).end()


_CHUNK = re.compile(r"\S*")
_SPACE = re.compile(r"\s")
# Runs without whitespace longer than this are tokenized in pieces (``is_cut``).
MAX_RUN = 1024
_SPACES_THEN_CHUNK = re.compile(r"\s*\S*")
_LOOK_BEHIND = 256


def _to_str_offsets(data: bytes, found: list[list[int]]) -> list[Hit]:
    """Byte offsets (sorted by start) to character offsets.

    A character's offset is its byte offset less the UTF-8 continuation bytes before it;
    those are counted in C, gap by gap.
    """
    continuation = data.translate(_CONTINUATION)
    hits: list[Hit] = []
    byte_at, char_at = 0, 0
    for start, end, anchor in found:
        # An anchor led by "not a digit" may begin inside a multi-byte character; its hit
        # begins at the next whole one.
        while start < end and data[start] & 0xC0 == 0x80:
            start += 1
        char_at += (start - byte_at) - continuation.count(1, byte_at, start)
        byte_at = start
        length = (end - start) - continuation.count(1, start, end)
        hits.append(Hit(anchor, char_at, char_at + length))
    return hits


# 1 for the bytes that continue a UTF-8 character (0b10xxxxxx), 0 for all others.
_CONTINUATION = bytes(1 if 0x80 <= byte <= 0xBF else 0 for byte in range(256))
