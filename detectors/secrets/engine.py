"""The multi-pattern matcher: hyperscan finds where rules may match, ``regex`` confirms there.

Hyperscan (vectorscan) runs every rule's pattern over the text in one linear pass and reports
(pattern, end offset) events; it cannot extract capture groups. For each rule that fired, the
events become byte windows reaching back the pattern's longest possible match, and only those
windows are searched with the rule's compiled ``regex`` pattern (with a timeout), which yields
the secret's exact span. Text is scanned as UTF-8 bytes: the rules are ASCII, and hyperscan's
byte mode is what makes a few hundred patterns fit one database.

A rule may give its own ``prefilters`` instead: patterns hyperscan can run where the rule's
regex is too costly or too long-range for it (multi-line PEM blocks), or split so that each
part has a short reach back (a generic assignment whose value is bounded, and the rare one whose
value is not). The same pass also reports *markers*: patterns the caller only needs to know are
present (a data URI, the hex form of a keyword), so that no extra pass over the text is needed.

Without hyperscan installed the engine falls back to a keyword prefilter plus whole-text regex
searches: correct, but two orders of magnitude slower.
"""

from __future__ import annotations

import hashlib
import re
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import regex

from detectors.secrets.ruleset import Rule

try:
    import hyperscan

    from detectors.build_cache import cached_values, compiled_database
except ImportError:  # pragma: no cover - exercised only where the wheel is unavailable
    hyperscan = None
    cached_values = None

# Longest span a confirming regex is allowed to look back over when a pattern is unbounded;
# long enough for the longest token formats (GitLab routable, PyPI, 1Password).
MAX_LOOKBEHIND = 2048
# Per-window regex time limit, against input crafted to make a pattern backtrack for ever. The
# regex module measures wall time, which keeps running while the thread waits for the GIL
# (the proxy scans in worker threads), so the limit sits far above a real search's
# milliseconds; a search that reaches it fails the scan (the policy then blocks) rather than
# skipping the window, which would forward whatever secret it held.
REGEX_TIMEOUT_S = 5.0


class ScanTimeout(RuntimeError):
    """A confirming regex ran past ``REGEX_TIMEOUT_S``: this text cannot be vouched for."""
# Overlapping windows merge up to this size; a regex searches a window of this size in
# milliseconds, far from the timeout (which would hide whatever else the window holds).
MAX_MERGED_WINDOW = 64 * 1024


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


class _CompiledRule:
    """A rule with its confirming regex, compiled when a window first needs it: compiling all
    few hundred at start-up took over a second, and most never fire in a given process."""

    __slots__ = ("rule", "secret_group", "_pattern")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        named_secret = "(?P<secret>" in rule.regex or "(?<secret>" in rule.regex
        self.secret_group: int | str = rule.secret_group or ("secret" if named_secret else 0)
        self._pattern: regex.Pattern[bytes] | None = None

    @property
    def pattern(self) -> regex.Pattern[bytes]:
        # Two threads may both compile it once; either result is the same pattern.
        if self._pattern is None:
            self._pattern = regex.compile(self.rule.regex.encode())
        return self._pattern


@dataclass(frozen=True, slots=True)
class _Expression:
    """One hyperscan pattern: the rule it stands for and how far its windows reach."""

    rule_index: int
    pattern: bytes
    reach_back: int  # from a hit's end back to where the rule's match may start
    reach_ahead: int  # past a hit's end, where the rule's match may still go on


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
    return _CompiledRule(rule)


def _expressions(rules: Sequence[Rule]) -> list[_Expression]:
    sources = [(index, rule, source) for index, rule in enumerate(rules) for source in rule.prefilters or (rule.regex,)]
    shapes = _pattern_shapes([source for _, _, source in sources])
    return [
        _Expression(index, pattern, width + 1, rule.lookahead + 2)
        for (index, rule, _), (pattern, width) in zip(sources, shapes, strict=True)
    ]


def _pattern_shapes(sources: list[str]) -> list[tuple[bytes, int]]:
    """Each source's hyperscan form and longest match. Parsing a few hundred patterns for their
    width costs ~0.1-0.3 s per start, so the result is stored in the build cache under the
    sources themselves and this module's code: a changed rule or a changed parser rebuilds."""
    if cached_values is None:  # pragma: no cover - without hyperscan there is no build cache
        return [(_hyperscan_syntax(source), _max_width(source)) for source in sources]
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.encode("utf-8", "surrogatepass") + b"\0")
    derived_from = [digest.hexdigest(), hashlib.sha256(Path(__file__).read_bytes()).hexdigest()]
    return cached_values(
        "secret-expressions", derived_from,
        lambda: [(_hyperscan_syntax(source), _max_width(source)) for source in sources],
        valid=lambda shapes: isinstance(shapes, list) and len(shapes) == len(sources) and all(
            isinstance(shape, tuple) and len(shape) == 2 and isinstance(shape[0], bytes) and isinstance(shape[1], int)
            for shape in shapes
        ),
    )


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

    ``markers`` maps a name to byte patterns whose presence ``scan`` reports alongside the
    matches (case-sensitively: a pattern says ``(?i)`` where case does not matter)."""

    def __init__(self, rules: Sequence[Rule], markers: Mapping[str, Sequence[bytes]] | None = None) -> None:
        self._rules = [_compile(rule) for rule in rules]
        self._expressions = _expressions(rules)
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

    def _build_database(self) -> hyperscan.Database:
        # One database: rule expressions, then keywords (any case) and markers, each of those
        # reported once. Markers spell their own case rules: in caseless mode this hyperscan
        # build missed "\\n[^\n]{0,256}\\n" whenever the repeat ran past ~30 bytes.
        expressions = [e.pattern for e in self._expressions]
        keywords = [regex.escape(k).encode() for k in self._keywords]
        markers = [p for _, p in self._markers]
        once = hyperscan.HS_FLAG_SINGLEMATCH
        extra_flags = [once | hyperscan.HS_FLAG_CASELESS] * len(keywords) + [once] * len(markers)
        extra = keywords + markers
        try:
            return self._compile_database(expressions + extra, [0] * len(expressions) + extra_flags)
        except hyperscan.error:
            # Some pattern needs prefilter mode; finding which costs one compile per pattern.
            flags = [self._flags_for(self._rules[e.rule_index].rule, e.pattern) for e in self._expressions]
            return self._compile_database(expressions + extra, flags + extra_flags)

    @staticmethod
    def _compile_database(expressions: list[bytes], flags: list[int]) -> hyperscan.Database:
        # Compiled once per machine and rule set (about a second), loaded at later starts.
        return compiled_database(expressions, flags)

    @staticmethod
    def _flags_for(rule: Rule, expression: bytes) -> int:
        """Flags one expression compiles with: exact if possible, else prefilter mode, which
        accepts constructs hyperscan cannot run exactly and may over-report (the confirming
        regex absorbs that)."""
        for flags in (0, hyperscan.HS_FLAG_PREFILTER):
            try:
                hyperscan.Database().compile(expressions=[expression], ids=[0], elements=1, flags=[flags])
            except hyperscan.error:
                continue
            return flags
        raise ValueError(f"secret rule {rule.id!r}: pattern does not compile in hyperscan")

    def _scratch(self) -> hyperscan.Scratch:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = hyperscan.Scratch(self._database)
            self._local.scratch = scratch
        return scratch

    def scan(self, data: bytes) -> MatcherResult:
        windows, markers = self._hit_windows(data) if self._database is not None else self._keyword_hits(data)
        matches: list[RawMatch] = []
        for index, rule_windows in windows.items():
            matches.extend(self._confirm(self._rules[index], data, rule_windows))
        return MatcherResult(matches, markers)

    def _hit_windows(self, data: bytes) -> tuple[dict[int, list[list[int]]], frozenset[str]]:
        """Per fired rule, the byte windows ``[start, stop]`` its regex must search, and the
        names of the markers present.

        Hyperscan reports ends in increasing order, and a long token fires at every end it
        could have: overlapping windows merge, up to ``MAX_MERGED_WINDOW``."""
        found: dict[int, list[list[int]]] = {}
        extras_seen: set[int] = set()
        expressions = self._expressions
        first_extra = len(expressions)

        def on_match(expression_id: int, _from: int, end: int, _flags: int, _ctx: object) -> None:
            if expression_id >= first_extra:
                extras_seen.add(expression_id - first_extra)
                return
            expression = expressions[expression_id]
            low = end - expression.reach_back
            high = end + expression.reach_ahead
            windows = found.get(expression.rule_index)
            if windows is None:
                found[expression.rule_index] = [[low, high]]
                return
            last = windows[-1]
            if low <= last[1] and high - last[0] <= MAX_MERGED_WINDOW:
                if high > last[1]:
                    last[1] = high
                if low < last[0]:  # a second prefilter of the same rule may reach further back
                    last[0] = low
            else:
                windows.append([low, high])

        self._database.scan(data, match_event_handler=on_match, scratch=self._scratch())
        keywords_seen = {i for i in extras_seen if i < len(self._keywords)}
        markers = frozenset(self._markers[i - len(self._keywords)][0] for i in extras_seen - keywords_seen)
        fired = {
            index: windows
            for index, windows in found.items()
            if not self._rule_keywords[index] or self._rule_keywords[index] & keywords_seen
        }
        return fired, markers

    def _keyword_hits(self, data: bytes) -> tuple[dict[int, list[list[int]]], frozenset[str]]:
        lowered = data.lower()
        hits: dict[int, list[list[int]]] = {}
        for index, compiled in enumerate(self._rules):
            keywords = compiled.rule.keywords
            if not keywords or any(k.encode() in lowered for k in keywords):
                hits[index] = [[0, len(data)]]
        markers = frozenset(name for name, p in self._markers if regex.search(p, data))
        return hits, markers

    def _confirm(self, compiled: _CompiledRule, data: bytes, windows: list[list[int]]) -> Iterator[RawMatch]:
        size = len(data)
        seen: set[tuple[int, int]] = set()  # capped windows may overlap
        for start, stop in windows:
            start, stop = max(start, 0), min(stop, size)
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
                    if found is not None and found not in seen:
                        seen.add(found)
                        value = data[found[0] : found[1]]
                        lead = data[_name_start(data, match.start()) : found[0]]
                        yield RawMatch(compiled.rule, found[0], found[1], value, lead)
            except TimeoutError as exc:
                raise ScanTimeout(
                    f"secret rule {compiled.rule.id!r} ran past {REGEX_TIMEOUT_S:g}s on one window of this text"
                ) from exc

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
