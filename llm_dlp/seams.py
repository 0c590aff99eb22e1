"""Values split across segments: a token or a PEM key cut between two text blocks or two messages.

Each segment is scanned on its own (and cached on its own), so ``AKIAIOSF`` at the end of one
content block and ``ODNN7EXAMPLE`` at the start of the next are two harmless halves. Here the
segments that carry text are read as one stream, in document order, and only the *seams* are
scanned again: the ``SEAM_REACH`` characters either side of each place where one segment ends
and the next begins, with the secrets detector alone (the fast one; PII and code findings are
not credentials an attacker splits to get past the proxy). A finding is kept only if it crosses
a seam, and is cut at the seams into one finding per segment it touches, so redaction replaces
every part.

Cost: seams near each other merge into one region, and a region longer than ``CHUNK`` is cut
into chunks that overlap by ``2 * SEAM_REACH`` and are laid out from the region's start, so a
conversation that grows at its end leaves its earlier chunks' text, and so their cache keys,
unchanged: a resent turn scans only the seams near what is new. At most one extra secrets pass
over the text on a first turn; tiny on a resent one.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from detectors.base import Finding
from llm_dlp.providers import Segment
from llm_dlp.providers.base import OBJECT_KEY

# Characters read either side of a seam: a split 4096-bit RSA key in PEM is ~3.3 KB long.
SEAM_REACH = 4096
CHUNK = 64 * 1024
# A segment whose last path step is OBJECT_KEY is a JSON object key: it sits between two texts
# in the document, not in the text a model reads, so it is no part of the stream.


@dataclass(frozen=True, slots=True)
class Window:
    """Text scanned for one seam region: the stream from ``start`` (a stream offset)."""

    start: int
    text: str


@dataclass(frozen=True, slots=True)
class _Stream:
    members: tuple[int, ...]  # indices into the request's segments, in document order
    offsets: tuple[int, ...]  # where each member starts in the stream; then the stream's length
    texts: tuple[str, ...]
    seams: tuple[int, ...]  # stream offsets where one member ends and the next begins

    @classmethod
    def of(cls, segments: Sequence[Segment]) -> _Stream:
        members = tuple(i for i, s in enumerate(segments) if s.text and s.path[-1:] != (OBJECT_KEY,))
        offsets = [0]
        for i in members:
            offsets.append(offsets[-1] + len(segments[i].text))
        return cls(members, tuple(offsets), tuple(segments[i].text for i in members), tuple(offsets[1:-1]))

    def read(self, start: int, end: int) -> str:
        first = bisect.bisect_right(self.offsets, start) - 1
        parts = []
        for k in range(first, len(self.texts)):
            if self.offsets[k] >= end:
                break
            parts.append(self.texts[k][max(start - self.offsets[k], 0) : end - self.offsets[k]])
        return "".join(parts)


def windows(segments: Sequence[Segment]) -> list[Window]:
    """The texts to scan for values that cross a seam between segments."""
    return _windows(_Stream.of(segments))


def _windows(stream: _Stream) -> list[Window]:
    regions: list[list[int]] = []
    for seam in stream.seams:
        low, high = max(seam - SEAM_REACH, 0), min(seam + SEAM_REACH, stream.offsets[-1])
        if regions and low <= regions[-1][1]:
            regions[-1][1] = high
        else:
            regions.append([low, high])
    found = []
    for low, high in regions:
        start = low
        while True:
            end = min(start + CHUNK, high)
            found.append(Window(start, stream.read(start, end)))
            if end == high:
                break
            start = end - 2 * SEAM_REACH
    return found


def with_seam_findings(
    segments: Sequence[Segment],
    found: list[list[Finding]],
    scan: Callable[[list[str]], list[list[Finding]]] | list[list[Finding]],
    generic_rules: frozenset[str] = frozenset(),
    spans: Sequence[Window] | None = None,
) -> list[list[Finding]]:
    """``found`` (per segment) with the parts of every value that crosses a seam added.

    ``scan``: findings for each window text (the scanner's cached secrets-only scan), or those
    findings already, for the windows of ``windows(segments)`` in order (``spans``: those
    windows, when the caller has them).
    ``generic_rules``: rules without a fixed shape (``password = <anything>``). Joined to the
    next segment, a value a segment's own scan already found runs on into that segment's first
    word for such a rule; so a generic finding that overlaps a segment's own finding is not a
    split value. A rule with a fixed shape cannot run on like that, and is always kept."""
    stream = _Stream.of(segments)
    if len(stream.members) < 2:
        return found
    spans = _windows(stream) if spans is None else spans
    seen: set[tuple[int, int, str]] = set()
    result = [list(f) for f in found]
    scanned = scan if isinstance(scan, list) else scan([w.text for w in spans])
    for window, window_findings in zip(spans, scanned):
        for finding in window_findings:
            start, end = window.start + finding.start, window.start + finding.end
            if (start, end, finding.rule) in seen or not _crosses(stream.seams, start, end):
                continue
            seen.add((start, end, finding.rule))
            parts = _parts(stream, finding, start, end)
            if finding.rule in generic_rules and any(
                _overlaps(part, found[stream.members[member]]) for member, part in parts
            ):
                continue
            for member, part in parts:
                result[stream.members[member]].append(part)
    return result


def _overlaps(part: Finding, own: list[Finding]) -> bool:
    return any(f.start < part.end and part.start < f.end for f in own)


def _crosses(seams: tuple[int, ...], start: int, end: int) -> bool:
    k = bisect.bisect_right(seams, start)
    return k < len(seams) and seams[k] < end


def _parts(stream: _Stream, finding: Finding, start: int, end: int) -> list[tuple[int, Finding]]:
    """The finding cut at the seams: one finding per stream member it touches, in its offsets."""
    first = bisect.bisect_right(stream.offsets, start) - 1
    parts = []
    member = first
    count = bisect.bisect_left(stream.offsets, end) - first
    while member < len(stream.texts) and stream.offsets[member] < end:
        offset = stream.offsets[member]
        details = {**finding.details, "split_across": count}
        parts.append((member, dataclasses.replace(
            finding, start=max(start - offset, 0), end=min(end, stream.offsets[member + 1]) - offset, details=details)))
        member += 1
    return parts
