"""``SecretDetector``: the rules, the matcher, validation and false-positive control together."""

from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import regex

from detectors.base import Finding, FindingKind, Problem
from detectors.normalise import prepare_normalise, scan_as_read
from detectors.secrets.encodings import (
    Decoded,
    base64_segments,
    escaped_string_segments,
    DUMP_LINE,
    HEX_TEXT,
    hex_segments,
    percent_segments,
)
from detectors.secrets.engine import RawMatch, RuleMatcher
from detectors.secrets.filters import rejection_reason
from detectors.secrets.ruleset import Rule, load_rules
from detectors.secrets.validators import VALIDATORS, Verdict, shannon_entropy

# How far one layer of decoding may recurse (a base64 blob inside a decoded base64 blob).
MAX_DECODE_DEPTH = 2
_SEGMENT_SEPARATOR = b"\n\x00"
_DATA_URI = regex.compile(rb"data:[\w.+-]+/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,[A-Za-z0-9+/=\s\\]+")


@dataclass(frozen=True, slots=True)
class _Candidate:
    rule: Rule
    start: int  # byte offsets into the scanned text
    end: int
    confidence: float
    details: dict


@functools.cache
def _default_matcher() -> RuleMatcher:
    # Compiling a few hundred patterns costs about a second: once per process.
    return _matcher_for(load_rules())


def _matcher_for(rules: Sequence[Rule]) -> RuleMatcher:
    """The matcher also reports the markers that decide which decoders run, so that deciding
    costs no extra pass over the text."""
    markers = {
        "data-uri": [rb";base64,"],
        # Two escapes of printable ASCII close together: a lone %20 hides nothing.
        "percent": [rb"%[2-7][0-9A-Fa-f][^\s\"'<>]{0,256}%[2-7][0-9A-Fa-f]"],
        # Sixteen bytes of text in any hex dump form ``hex_segments`` reads.
        "hex": [HEX_TEXT],
        "hex-dump-lines": [DUMP_LINE],
        "escaped-quote": [rb'\\"'],
        # A document sent as one JSON string: escaped newlines, two close together on a line.
        "escaped-newlines": [rb"\\n[^\n]{0,256}\\n"],
    }
    return RuleMatcher(rules, markers)


class SecretDetector:
    """Finds credentials in one piece of text. Thread-safe; build once, scan many times."""

    name = "secrets"
    kinds = (FindingKind("secret"),)
    takes_path_hint = False

    def __init__(self, rules: Sequence[Rule] | None = None) -> None:
        self._matcher = _default_matcher() if rules is None else _matcher_for(rules)
        self._allowlists = {rule.id: _Allowlist.of(rule) for rule in self._matcher.rules}
        prepare_normalise()  # its tables, built here so forked workers share them

    @property
    def rules(self) -> Sequence[Rule]:
        return self._matcher.rules

    def rule_ids(self) -> Mapping[str, frozenset[str] | None]:
        return {"secret": frozenset(rule.id for rule in self.rules)}

    def self_check(self, needed: frozenset[str]) -> list[Problem]:
        """The rules compiled in the constructor; here the compiled matcher must find a secret
        in the first rule sample that has one, or every request would pass unexamined."""
        if not self.rules:
            return [Problem("no secret rules are loaded")]
        sample = next((text for rule in self.rules for text in rule.samples.positive), None)
        try:
            if sample is not None and not self.scan(sample):
                return [Problem("the compiled secret rules find nothing in their own sample")]
        except Exception as exc:  # noqa: BLE001 — reported, so the proxy does not start on it
            return [Problem(f"the secret rules fail on their own sample: {type(exc).__name__}: {exc}")]
        return []

    def scan(self, text: str) -> list[Finding]:
        """Findings in ``text`` as a reader sees it (``detectors.normalise``: invisible
        characters dropped, lookalikes folded), with spans in ``text`` itself."""
        return scan_as_read(text, self._scan_text)

    def _scan_text(self, text: str) -> list[Finding]:
        data = text.encode("utf-8", "surrogatepass")
        candidates = list(self._scan_bytes(data, depth=0))
        kept = _resolve_overlaps(candidates)
        to_char = _offset_mapper(text, data)
        return [
            Finding(
                kind="secret",
                rule=c.rule.id,
                start=to_char(c.start, start=True),
                end=to_char(c.end, start=False),
                confidence=round(c.confidence, 3),
                detector=self.name,
                details=c.details,
            )
            for c in sorted(kept, key=lambda c: (c.start, c.end))
        ]

    def _scan_bytes(self, data: bytes, depth: int) -> Iterable[_Candidate]:
        found = self._matcher.scan(data)
        images = _data_uri_spans(data) if "data-uri" in found.markers else []
        for raw in found.matches:
            if images and _inside(images, raw.start, raw.end):
                continue
            candidate = _judge(raw, self._allowlists[raw.rule.id])
            if candidate is not None:
                yield candidate
        if depth < MAX_DECODE_DEPTH:
            yield from self._scan_decoded(data, depth, images, found.markers)

    def _scan_decoded(
        self, data: bytes, depth: int, images: list[tuple[int, int]], markers: frozenset[str]
    ) -> Iterable[_Candidate]:
        segments: list[Decoded] = list(percent_segments(data)) if "percent" in markers else []
        if "escaped-quote" in markers or "escaped-newlines" in markers:
            segments.extend(escaped_string_segments(data, newlines="escaped-newlines" in markers))
        segments.extend(s for s in base64_segments(data) if not (images and _inside(images, s.start, s.end)))
        # Like base64, for every rule; runs that do not decode to text (hashes) drop out.
        if "hex" in markers or "hex-dump-lines" in markers:
            segments.extend(hex_segments(data, dump_lines="hex-dump-lines" in markers))
        if not segments:
            return
        # All decoded segments are scanned as one text: one pass instead of one per segment,
        # which is what thousands of small segments would cost. The separator ends a value
        # (newline) and then stops any name, assignment or value from running on (NUL).
        joined = _SEGMENT_SEPARATOR.join(segment.data for segment in segments)
        step = len(_SEGMENT_SEPARATOR)
        offsets = list(itertools.accumulate((len(segment.data) + step for segment in segments[:-1]), initial=0))
        for inner in self._scan_bytes(joined, depth + 1):
            index = bisect.bisect_right(offsets, inner.start) - 1
            segment, offset = segments[index], offsets[index]
            if inner.end > offset + len(segment.data):
                continue  # runs on into the next segment: nothing decoded says they belong together
            start, end = segment.original_span(inner.start - offset, inner.end - offset)
            details = dict(inner.details)
            details["encoding"] = segment.encoding if depth == 0 else f"{segment.encoding}+"
            yield _Candidate(inner.rule, start, end, inner.confidence, details)


@dataclass(frozen=True, slots=True)
class _Allowlist:
    """A rule's ``allow`` and ``ignore_names`` regexes, compiled once."""

    values: tuple[regex.Pattern[str], ...]
    names: tuple[regex.Pattern[str], ...]

    @classmethod
    def of(cls, rule: Rule) -> _Allowlist:
        return cls(tuple(map(regex.compile, rule.allow)), tuple(map(regex.compile, rule.ignore_names)))


def _judge(raw: RawMatch, allowlist: _Allowlist) -> _Candidate | None:
    """Apply the rule's entropy floor, allowlist, false-positive filters and validator."""
    rule = raw.rule
    value = raw.value.decode("utf-8", "replace")
    if rule.entropy and shannon_entropy(value) <= rule.entropy:
        return None
    if any(pattern.search(value) for pattern in allowlist.values):
        return None
    lead = raw.lead.decode("utf-8", "replace")
    if any(pattern.search(lead) for pattern in allowlist.names):
        return None
    if rejection_reason(value, rule.generic, lead) is not None:
        return None
    confidence = rule.confidence
    details: dict = {}
    if rule.validator is not None:
        check = VALIDATORS[rule.validator](value)
        details.update(check.details)
        if check.verdict is Verdict.VALID:
            confidence = min(0.99, confidence + 0.15)
            details["validated"] = True
        elif check.verdict is Verdict.INVALID:
            if rule.drop_invalid:
                return None
            confidence *= 0.5
            details["validated"] = False
    return _Candidate(rule, raw.start, raw.end, confidence, details)


def _resolve_overlaps(candidates: list[_Candidate]) -> list[_Candidate]:
    """One span, one finding: a specific rule beats a generic one, then confidence wins, and
    other rules that matched exactly the same span are listed in ``also_matched``. Distinct
    spans that merely overlap are all kept so that redaction covers their union."""
    ranked = sorted(candidates, key=lambda c: (c.rule.generic, -c.confidence, c.start - c.end))
    kept: list[_Candidate] = []
    for candidate in ranked:
        same = next((k for k in kept if (k.start, k.end) == (candidate.start, candidate.end)), None)
        if same is not None:
            if candidate.rule.id != same.rule.id:
                also = same.details.setdefault("also_matched", [])
                if candidate.rule.id not in also:
                    also.append(candidate.rule.id)
            continue
        if candidate.rule.generic and any(
            candidate.start < k.end and k.start < candidate.end for k in kept
        ):
            continue
        kept.append(candidate)
    return kept


def _data_uri_spans(data: bytes) -> list[tuple[int, int]]:
    return [m.span() for m in _DATA_URI.finditer(data)]


def _inside(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    index = bisect.bisect_right(spans, (start, float("inf"))) - 1
    return index >= 0 and spans[index][0] <= start and end <= spans[index][1]


def _offset_mapper(text: str, data: bytes):
    """Byte offset -> ``str`` offset; identity for ASCII text."""
    if len(data) == len(text):
        return lambda offset, start: offset

    def to_char(offset: int, start: bool) -> int:
        while 0 < offset < len(data) and data[offset] & 0xC0 == 0x80:
            offset += -1 if start else 1
        return len(data[:offset].decode("utf-8", "surrogatepass"))

    return to_char
