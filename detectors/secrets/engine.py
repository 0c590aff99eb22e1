"""The multi-pattern matcher: hyperscan finds where rules may match, ``regex`` confirms there.

Hyperscan (vectorscan) runs every rule's pattern over the text in one linear pass and reports
(rule, end offset) events; it cannot extract capture groups. For each rule that fired, the
events are merged into byte windows reaching back the rule's longest possible match, and only
those windows are searched with the rule's compiled ``regex`` pattern (with a timeout), which
yields the secret's exact span. Text is scanned as UTF-8 bytes: the rules are ASCII, and
hyperscan's byte mode is what makes a few hundred patterns fit one database.

Without hyperscan installed the engine falls back to a keyword prefilter plus whole-text regex
searches: correct, but two orders of magnitude slower.
"""

from __future__ import annotations

import re
import threading
import warnings
from dataclasses import dataclass
from typing import Iterator, Sequence

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
    """All rules compiled once; ``matches`` is safe to call from many threads."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._rules = [_compile(rule) for rule in rules]
        # As in gitleaks, a rule with keywords only counts where one of them occurs in the text
        # (case-insensitively): "sourcegraph" must be present before a bare 40-hex is its token.
        self._keywords = sorted({k for c in self._rules for k in c.rule.keywords})
        keyword_index = {k: i for i, k in enumerate(self._keywords)}
        self._rule_keywords = [frozenset(keyword_index[k] for k in c.rule.keywords) for c in self._rules]
        self.hex_markers = tuple(
            marker
            for c in self._rules
            if "hex" in c.rule.decodes
            for k in c.rule.keywords
            for word in {k, k.upper()}
            for marker in {word.encode().hex().encode(), word.encode().hex().upper().encode()}
        )
        self._database = self._build_database() if hyperscan is not None else None
        self._local = threading.local()

    @property
    def rules(self) -> list[Rule]:
        return [compiled.rule for compiled in self._rules]

    @property
    def uses_hyperscan(self) -> bool:
        return self._database is not None

    def _build_database(self) -> "hyperscan.Database":
        expressions = [_hyperscan_syntax(c.rule.prefilter or c.rule.regex) for c in self._rules]
        try:
            hyperscan.Database().compile(
                expressions=expressions, ids=list(range(len(expressions))), elements=len(expressions)
            )
            flags = [0] * len(expressions)
        except hyperscan.error:
            flags = [self._flags_for(c.rule.id, e) for c, e in zip(self._rules, expressions)]
        # Keywords ride in the same database, reported once each, after the rule patterns.
        keyword_flags = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH
        expressions += [regex.escape(k).encode() for k in self._keywords]
        flags += [keyword_flags] * len(self._keywords)
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        ids = list(range(len(expressions)))
        database.compile(expressions=expressions, ids=ids, elements=len(ids), flags=flags)
        return database

    @staticmethod
    def _flags_for(rule_id: str, expression: bytes) -> int:
        """Flags one expression compiles with: exact if possible, else prefilter mode, which
        accepts constructs hyperscan cannot run exactly and may over-report (the confirming
        regex absorbs that)."""
        for flags in (0, hyperscan.HS_FLAG_PREFILTER):
            try:
                hyperscan.Database().compile(expressions=[expression], ids=[0], elements=1, flags=[flags])
            except hyperscan.error:
                continue
            return flags
        raise ValueError(f"secret rule {rule_id!r}: pattern does not compile in hyperscan")

    def _scratch(self) -> "hyperscan.Scratch":
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = hyperscan.Scratch(self._database)
            self._local.scratch = scratch
        return scratch

    def matches(self, data: bytes) -> Iterator[RawMatch]:
        for index, windows in self._windows(data):
            yield from self._confirm(self._rules[index], data, windows)

    def _windows(self, data: bytes) -> Iterator[tuple[int, list[tuple[int, int]]]]:
        """Per fired rule, the merged byte windows its regex must search."""
        size = len(data)
        for index, runs in self._hit_runs(data).items():
            compiled = self._rules[index]
            windows: list[tuple[int, int]] = []
            for first, last in runs:
                start = max(0, first - compiled.lookbehind - 1)
                stop = min(size, last + compiled.lookahead + 2)
                if windows and start <= windows[-1][1]:
                    windows[-1] = (windows[-1][0], max(stop, windows[-1][1]))
                else:
                    windows.append((start, stop))
            yield index, windows

    def _hit_runs(self, data: bytes) -> dict[int, list[list[int]]]:
        """Per fired rule, runs of match end offsets as ``[first, last]`` pairs."""
        if self._database is None:
            return self._keyword_hits(data)
        runs: dict[int, list[list[int]]] = {}
        keywords_seen: set[int] = set()
        first_keyword = len(self._rules)

        def on_match(rule_id: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            if rule_id >= first_keyword:
                keywords_seen.add(rule_id - first_keyword)
                return
            # Hyperscan reports ends in increasing order; a long token fires at every end it
            # could have, and one run of them needs one window, not many.
            rule_runs = runs.get(rule_id)
            if rule_runs is None:
                runs[rule_id] = [[to, to]]
            elif to - rule_runs[-1][1] > 1:
                rule_runs.append([to, to])
            else:
                rule_runs[-1][1] = to

        self._database.scan(data, match_event_handler=on_match, scratch=self._scratch())
        return {
            index: rule_runs
            for index, rule_runs in runs.items()
            if not self._rule_keywords[index] or self._rule_keywords[index] & keywords_seen
        }

    def _keyword_hits(self, data: bytes) -> dict[int, list[list[int]]]:
        lowered = data.lower()
        hits: dict[int, list[list[int]]] = {}
        for index, compiled in enumerate(self._rules):
            keywords = compiled.rule.keywords
            if not keywords or any(k.encode() in lowered for k in keywords):
                hits[index] = [[len(data), len(data)]]
        return hits

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
                    # A window end acts as end-of-text for the regex; a match that leans on
                    # that artificial end is not a real match.
                    if match.end() == stop and stop != size:
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
