"""The multi-pattern matcher: hyperscan finds where rules may match, ``regex`` confirms there.

Hyperscan (vectorscan) runs every rule's pattern over the text in one linear pass and reports
(rule, end offset) events; it cannot extract capture groups. For each rule that fired, the
events are merged into byte windows reaching back the rule's longest possible match, and only
those windows are searched with the rule's compiled ``regex`` pattern (with a timeout), which
yields the secret's exact span. Text is scanned as UTF-8 bytes: the rules are ASCII, and
hyperscan's byte mode is what makes a few hundred patterns fit one database.

A rule may give a ``prefilter`` whose start hyperscan can report (``start_of_match``): its windows
then begin where the prefilter matched instead of the rule's longest possible match back, which
is what keeps the context-anchored generic rules cheap on code full of ``key``/``token`` names.
The same pass also reports *markers*: patterns the caller only needs to know are present (a
data URI, the hex form of a keyword), so that no extra pass over the text is needed for them.

Without hyperscan installed the engine falls back to a keyword prefilter plus whole-text regex
searches: correct, but two orders of magnitude slower.
"""

from __future__ import annotations

import re
import threading
import warnings
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import regex

from detectors.secrets.ruleset import Rule

try:
    import hyperscan
except ImportError:  # pragma: no cover - exercised only where the wheel is unavailable
    hyperscan = None

# Longest span a confirming regex is allowed to look back over when the rule's own pattern is
# unbounded; long enough for the longest token formats (GitLab routable, PyPI, 1Password).
MAX_LOOKBEHIND = 2048
# Per-window regex time limit: the worst case for a single window on adversarial input.
REGEX_TIMEOUT_S = 0.25


@dataclass(frozen=True, slots=True)
class RawMatch:
    """A confirmed regex match: byte offsets of the secret inside the scanned bytes."""

    rule: Rule
    start: int
    end: int
    value: bytes
    # What the regex matched before the secret: the identifier and assignment, if any.
    lead: bytes


@dataclass(frozen=True, slots=True)
class MatcherResult:
    """Everything one pass over the text found: confirmed rule matches and markers present."""

    matches: list[RawMatch]
    markers: frozenset[str]


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    rule: Rule
    pattern: regex.Pattern[bytes]
    lookbehind: int
    lookahead: int
    secret_group: int | str


def _max_width(pattern: str) -> int:
    """Longest match ``pattern`` can produce, from the stdlib parser (bounded for ``*``/``+``)."""
    try:
        with warnings.catch_warnings():  # POSIX classes like [[:alnum:]] read as nested sets
            warnings.simplefilter("ignore", FutureWarning)
            _, high = re._parser.parse(pattern).getwidth()  # type: ignore[attr-defined]
    except (re.error, OverflowError, RecursionError):
        return MAX_LOOKBEHIND
    return min(int(high), MAX_LOOKBEHIND)


def _hyperscan_syntax(pattern: str) -> bytes:
    """Hyperscan speaks PCRE: drop group names, spell end-of-text the PCRE way."""
    pattern = regex.sub(r"\(\?P<\w+>", "(", pattern)
    return pattern.replace(r"\Z", r"\z").encode()


def _compile(rule: Rule) -> _CompiledRule:
    pattern = regex.compile(rule.regex.encode())
    group: int | str = rule.secret_group or ("secret" if "secret" in pattern.groupindex else 0)
    lookbehind = _max_width(rule.prefilter) if rule.prefilter else _max_width(rule.regex)
    return _CompiledRule(rule, pattern, lookbehind, rule.lookahead, group)


_NAME_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def _name_start(data: bytes, start: int, limit: int = 50) -> int:
    """Walk back over the rest of an identifier the match begins inside (``public_`` of
    ``public_key``), so name-based filters see the whole name."""
    floor = max(0, start - limit)
    while start > floor and data[start - 1] in _NAME_BYTES:
        start -= 1
    return start


class RuleMatcher:
    """All rules compiled once; ``scan`` is safe to call from many threads.

    ``markers`` maps a name to a byte pattern (matched case-insensitively) whose presence
    ``scan`` reports alongside the matches."""

    def __init__(self, rules: Sequence[Rule], markers: Mapping[str, Sequence[bytes]] | None = None) -> None:
        self._rules = [_compile(rule) for rule in rules]
        self._markers = [(name, pattern) for name, patterns in (markers or {}).items() for pattern in patterns]
        # As in gitleaks, a rule with keywords only counts where one of them occurs in the text
        # (case-insensitively): "sourcegraph" must be present before a bare 40-hex is its token.
        self._keywords = sorted({k for c in self._rules for k in c.rule.keywords})
        keyword_index = {k: i for i, k in enumerate(self._keywords)}
        self._rule_keywords = [frozenset(keyword_index[k] for k in c.rule.keywords) for c in self._rules]
        self._database = self._build_database() if hyperscan is not None else None
        self._local = threading.local()

    @property
    def rules(self) -> list[Rule]:
        return [compiled.rule for compiled in self._rules]

    @property
    def uses_hyperscan(self) -> bool:
        return self._database is not None

    def _build_database(self) -> "hyperscan.Database":
        # One database: rule patterns, then keywords and markers, each of those reported once.
        expressions = [_hyperscan_syntax(c.rule.prefilter or c.rule.regex) for c in self._rules]
        once = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH
        extra = [regex.escape(k).encode() for k in self._keywords] + [p for _, p in self._markers]
        rule_flags = [hyperscan.HS_FLAG_SOM_LEFTMOST if c.rule.start_of_match else 0 for c in self._rules]
        try:
            return self._compile_database(expressions + extra, rule_flags + [once] * len(extra))
        except hyperscan.error:
            # Some pattern needs prefilter mode; finding which costs one compile per rule.
            rule_flags = [self._flags_for(c.rule, e) for c, e in zip(self._rules, expressions)]
            return self._compile_database(expressions + extra, rule_flags + [once] * len(extra))

    @staticmethod
    def _compile_database(expressions: list[bytes], flags: list[int]) -> "hyperscan.Database":
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        ids = list(range(len(expressions)))
        database.compile(expressions=expressions, ids=ids, elements=len(ids), flags=flags)
        return database

    @staticmethod
    def _flags_for(rule: Rule, expression: bytes) -> int:
        """Flags one expression compiles with: exact if possible, else prefilter mode, which
        accepts constructs hyperscan cannot run exactly and may over-report (the confirming
        regex absorbs that)."""
        exact = hyperscan.HS_FLAG_SOM_LEFTMOST if rule.start_of_match else 0
        for flags in (exact, hyperscan.HS_FLAG_PREFILTER):
            try:
                hyperscan.Database().compile(expressions=[expression], ids=[0], elements=1, flags=[flags])
            except hyperscan.error:
                continue
            return flags
        raise ValueError(f"secret rule {rule.id!r}: pattern does not compile in hyperscan")

    def _scratch(self) -> "hyperscan.Scratch":
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = hyperscan.Scratch(self._database)
            self._local.scratch = scratch
        return scratch

    def scan(self, data: bytes) -> MatcherResult:
        runs, markers = self._hit_runs(data) if self._database is not None else self._keyword_hits(data)
        matches: list[RawMatch] = []
        for index, windows in self._windows(data, runs):
            matches.extend(self._confirm(self._rules[index], data, windows))
        return MatcherResult(matches, markers)

    def _windows(self, data: bytes, runs: dict[int, list[list[int]]]) -> Iterator[tuple[int, list[tuple[int, int]]]]:
        """Per fired rule, the merged byte windows its regex must search."""
        size = len(data)
        for index, rule_runs in runs.items():
            compiled = self._rules[index]
            # A run is [start, first end, last end]; start is known only with start_of_match.
            windows: list[tuple[int, int]] = []
            for start, first, last in rule_runs:
                start = max(0, start - 1 if compiled.rule.start_of_match else first - compiled.lookbehind - 1)
                stop = min(size, last + compiled.lookahead + 2)
                if windows and start <= windows[-1][1]:
                    windows[-1] = (windows[-1][0], max(stop, windows[-1][1]))
                else:
                    windows.append((start, stop))
            yield index, windows

    def _hit_runs(self, data: bytes) -> tuple[dict[int, list[list[int]]], frozenset[str]]:
        """Per fired rule, runs of matches as ``[leftmost start, first end, last end]``, and
        the names of the markers present."""
        runs: dict[int, list[list[int]]] = {}
        extras_seen: set[int] = set()
        first_extra = len(self._rules)

        def on_match(rule_id: int, start: int, end: int, _flags: int, _ctx: object) -> None:
            if rule_id >= first_extra:
                extras_seen.add(rule_id - first_extra)
                return
            # Hyperscan reports ends in increasing order; a long token fires at every end it
            # could have, and one run of them needs one window, not many.
            rule_runs = runs.get(rule_id)
            if rule_runs is None:
                runs[rule_id] = [[start, end, end]]
            elif end - rule_runs[-1][2] > 1:
                rule_runs.append([start, end, end])
            else:
                run = rule_runs[-1]
                run[2] = end
                if start < run[0]:
                    run[0] = start

        self._database.scan(data, match_event_handler=on_match, scratch=self._scratch())
        keywords_seen = {i for i in extras_seen if i < len(self._keywords)}
        markers = frozenset(self._markers[i - len(self._keywords)][0] for i in extras_seen - keywords_seen)
        fired = {
            index: rule_runs
            for index, rule_runs in runs.items()
            if not self._rule_keywords[index] or self._rule_keywords[index] & keywords_seen
        }
        return fired, markers

    def _keyword_hits(self, data: bytes) -> tuple[dict[int, list[list[int]]], frozenset[str]]:
        lowered = data.lower()
        hits: dict[int, list[list[int]]] = {}
        for index, compiled in enumerate(self._rules):
            keywords = compiled.rule.keywords
            if not keywords or any(k.encode() in lowered for k in keywords):
                hits[index] = [[0, len(data), len(data)]]
        markers = frozenset(name for name, p in self._markers if regex.search(p, data, regex.IGNORECASE))
        return hits, markers

    def _confirm(
        self, compiled: _CompiledRule, data: bytes, windows: list[tuple[int, int]]
    ) -> Iterator[RawMatch]:
        size = len(data)
        if self._database is None:
            windows = [(0, size)]
        for start, stop in windows:
            try:
                for match in compiled.pattern.finditer(
                    data, start, stop, overlapped=False, timeout=REGEX_TIMEOUT_S
                ):
                    # A window end acts as end-of-text for the regex: a match that reaches it
                    # may be cut short (a value longer than the window) or lean on that
                    # artificial end; matching again from its start without the end decides.
                    if match.end() == stop and stop != size:
                        match = compiled.pattern.match(data, match.start(), timeout=REGEX_TIMEOUT_S)
                        if match is None:
                            continue
                    found = self._secret_span(compiled, match)
                    if found is not None:
                        value = data[found[0] : found[1]]
                        lead = data[_name_start(data, match.start()) : found[0]]
                        yield RawMatch(compiled.rule, found[0], found[1], value, lead)
            except TimeoutError:
                continue

    @staticmethod
    def _secret_span(compiled: _CompiledRule, match: regex.Match[bytes]) -> tuple[int, int] | None:
        if compiled.secret_group != 0:
            span = match.span(compiled.secret_group)
            return span if span[0] >= 0 and span[1] > span[0] else None
        for group in range(1, (match.re.groups or 0) + 1):
            span = match.span(group)
            if span[0] >= 0 and span[1] > span[0]:
                return span
        return match.span() if match.end() > match.start() else None
