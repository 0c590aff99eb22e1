"""Values this proxy has already redacted, per tenant, found again wherever they reappear.

A redacted value can be restored into the model's answer; the client then sends it back in the
next turn's history, in new surroundings where a keyword-gated rule may no longer fire. Looking
for the exact values we redacted before closes that gap: the value gets the same placeholder as
before, so the history stays byte-identical too. Kept in memory, bounded per tenant.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable

import hyperscan

from detectors.base import Finding
from llm_dlp.verdict import Redaction

MIN_LENGTH = 8  # shorter values would match ordinary text
MAX_VALUES_PER_TENANT = 20_000
# New values go into a small matcher of their own, compiled on every change; it is folded into
# the large one when it grows past this share of it, so a tenant with thousands of values does
# not recompile them all for each new one (hyperscan: ~140 ms for 5,000 literals, ~1 ms for 50).
_RECENT_SHARE = 4
_RECENT_MIN = 256


@dataclass(frozen=True, slots=True)
class _Known:
    kind: str
    rule: str


class _Literals:
    """Fixed strings found in one pass over a text, whatever their number (hyperscan literals;
    a regex alternation of the same values costs ~80 ms per 300 KB at 50 values, ~1 s at 500)."""

    def __init__(self, values: Iterable[str]) -> None:
        self.values = tuple(values)
        encoded = [value.encode("utf-8", "surrogatepass") for value in self.values]
        self._database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._database.compile(expressions=encoded, ids=list(range(len(encoded))),
                               flags=[hyperscan.HS_FLAG_SOM_LEFTMOST] * len(encoded), literal=True)
        self._local = threading.local()  # a scratch per thread: requests are inspected in threads

    def find(self, data: bytes) -> list[tuple[int, int, str]]:
        """(start, end, value) of every occurrence, in byte offsets, overlapping ones included."""
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._database)
        found: list[tuple[int, int, str]] = []
        values = self.values

        def on_match(index: int, start: int, end: int, flags: int, context: object) -> None:
            found.append((start, end, values[index]))

        self._database.scan(data, match_event_handler=on_match, scratch=scratch)
        return found


@dataclass(frozen=True, slots=True)
class _Matcher:
    """A tenant's values as of one change: the large matcher, the recent one, and the values
    in force (a value evicted since the large matcher was built is matched there, then dropped)."""

    settled: _Literals | None
    recent: _Literals | None
    known: dict[str, _Known]

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """Leftmost-longest occurrences, not overlapping (a value that contains another is matched
        whole), in character offsets."""
        data = text.encode("utf-8", "surrogatepass")
        hits = [hit for literals in (self.settled, self.recent) if literals is not None for hit in literals.find(data)
                if hit[2] in self.known]
        chosen: list[tuple[int, int, str]] = []
        end = -1
        for hit in sorted(hits, key=lambda h: (h[0], h[0] - h[1])):
            if hit[0] >= end:
                chosen.append(hit)
                end = hit[1]
        if len(data) != len(text):  # not ASCII: byte offsets to character offsets
            chars = lambda offset: len(data[:offset].decode("utf-8", "surrogatepass"))  # noqa: E731
            chosen = [(chars(start), chars(stop), value) for start, stop, value in chosen]
        return chosen


class KnownValues:
    name = "known_values"

    def __init__(self, limit: int = MAX_VALUES_PER_TENANT) -> None:
        self._limit = limit
        self._values: dict[str, OrderedDict[str, _Known]] = {}
        # tenant -> its matcher, rebuilt only when the values change, so a scan never copies the
        # table on the request path.
        self._matchers: dict[str, _Matcher] = {}
        self._lock = threading.Lock()

    def remember(self, tenant: str, redactions: Iterable[Redaction]) -> None:
        """Values just redacted for ``tenant``, to be found again in its later requests."""
        fresh = [r for r in redactions if len(r.value) >= MIN_LENGTH]
        if not fresh:
            return
        with self._lock:
            known = self._values.setdefault(tenant, OrderedDict())
            changed = False
            for redaction in fresh:
                if redaction.value in known:
                    known.move_to_end(redaction.value)
                else:
                    known[redaction.value] = _Known(redaction.kind, redaction.rule)
                    changed = True
            while len(known) > self._limit:
                known.popitem(last=False)
                changed = True
            if changed:
                self._matchers[tenant] = self._rebuilt(self._matchers.get(tenant), known)

    def scan(self, tenant: str, text: str) -> list[Finding]:
        matcher = self._matchers.get(tenant)
        if matcher is None or len(text) < MIN_LENGTH:
            return []
        findings = []
        for start, end, value in matcher.find(text):
            entry = matcher.known[value]
            findings.append(Finding(entry.kind, entry.rule, start, end, 1.0, self.name, {"seen_before": True}))
        return findings

    @staticmethod
    def _rebuilt(matcher: _Matcher | None, known: OrderedDict[str, _Known]) -> _Matcher:
        settled = matcher.settled if matcher is not None else None
        settled_values = frozenset(settled.values) if settled is not None else frozenset()
        recent = [value for value in known if value not in settled_values]
        if len(recent) > max(_RECENT_MIN, len(settled_values) // _RECENT_SHARE):
            return _Matcher(_Literals(known), None, dict(known))
        return _Matcher(settled, _Literals(recent) if recent else None, dict(known))
