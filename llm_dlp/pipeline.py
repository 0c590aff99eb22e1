"""One request through llm-dlp: body → segments → findings → policy decision → rewritten body.

Nothing here knows about mitmproxy; the addon (``addons/dlp.py``) and ``llm-dlp replay``/``scan``
feed it plain values. Every path out of ``inspect`` returns a ``Verdict``; errors become
verdicts too (fail closed unless the tenant's policy says ``on_error: allow``).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

from detectors.base import Detector, Finding
from llm_dlp.bodies import BodyError, decode_body
from llm_dlp.keys import ValueHasher, mask_preview
from llm_dlp.policy.loader import PolicySet
from llm_dlp.policy.model import Action, Policy
from llm_dlp.providers import ParsedRequest, RequestFormatError, Segment, adapter_for
from llm_dlp.providers.base import parse_json
from llm_dlp.providers.splice import apply_replacements, replace_strings
from llm_dlp.redaction import placeholder


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The facts about an intercepted request that the pipeline and the audit log need."""

    request_id: str
    method: str
    host: str
    path: str
    provider: str
    client_address: str | None = None
    user: str | None = None
    content_encoding: str = ""
    content_type: str = ""
    body_signed: bool = False  # SigV4 signs the body hash: rewriting it breaks the request


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """A finding as decided and audited: where it was, what the policy did, never the value."""

    detector: str
    kind: str
    rule: str
    location: str
    confidence: float
    action: str
    value_hash: str
    preview: str
    count: int = 1
    policy_rule: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Verdict:
    decision: str  # allow | log | redact | block | error (monitor mode: would_redact, would_block)
    tenant: str
    status: int = 200  # the status the client gets when the proxy answers itself
    message: str = ""
    findings: list[FindingRecord] = field(default_factory=list)
    body: bytes | None = None  # the rewritten body to forward (decoded, UTF-8) when redacting
    format: str | None = None
    model: str | None = None
    body_bytes: int = 0
    scan_ms: float = 0.0
    error: str | None = None
    policy_mode: str = "enforce"
    # placeholder -> (kind, original value) for every value redacted in ``body``; the restore
    # side keeps these (encrypted) to put the values back into the model's answer.
    placeholders: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def answers_client(self) -> bool:
        """True when the proxy must answer itself instead of forwarding."""
        return self.decision in ("block", "error")


@dataclass(frozen=True, slots=True)
class _Hit:
    segment: Segment
    finding: Finding
    action: Action
    policy_rule: str | None


class Pipeline:
    def __init__(self, policies: PolicySet, detectors: Sequence[Detector], hasher: ValueHasher) -> None:
        self.policies = policies
        self.detectors = tuple(detectors)
        self.hasher = hasher

    def policy_for(self, info: RequestInfo) -> Policy:
        return self.policies.for_client(info.user, info.client_address)

    def inspect(self, info: RequestInfo, raw_body: bytes, policy: Policy | None = None) -> Verdict:
        policy = policy or self.policy_for(info)
        started = time.perf_counter()
        try:
            verdict = self._inspect(info, raw_body, policy)
        except (BodyError, RequestFormatError) as exc:
            verdict = self.failure(policy, getattr(exc, "status", 400), f"llm-dlp could not read this request: {exc}", str(exc))
        except Exception as exc:  # noqa: BLE001 — any bug must fail closed, not forward
            verdict = self.failure(policy, 500, "llm-dlp could not inspect this request (internal error)", f"{type(exc).__name__}: {exc}")
        verdict.body_bytes = len(raw_body)
        verdict.scan_ms = round((time.perf_counter() - started) * 1000, 3)
        return verdict

    def failure(self, policy: Policy, status: int, message: str, error: str) -> Verdict:
        """A request we could not inspect: blocked, unless the tenant chose to fail open."""
        if policy.fails_open:
            return Verdict("allow", policy.name, error=error, policy_mode=policy.mode)
        return Verdict("error", policy.name, status=status, message=message, error=error, policy_mode=policy.mode)

    def _inspect(self, info: RequestInfo, raw_body: bytes, policy: Policy) -> Verdict:
        if not raw_body:
            return Verdict("allow", policy.name, policy_mode=policy.mode)
        text = decode_body(raw_body, info.content_encoding, policy.max_body_bytes)
        parsed = self._parse(info, text)
        hits = [hit for segment in parsed.segments for hit in self._scan(segment, policy)]
        verdict = Verdict(
            "allow",
            policy.name,
            findings=self._records(hits),
            format=parsed.format,
            model=parsed.model,
            policy_mode=policy.mode,
        )
        worst = max((hit.action for hit in hits), default=Action.ALLOW)
        if worst == Action.REDACT and info.body_signed:
            worst = Action.BLOCK  # we may not forward it as is, and cannot rewrite it
        verdict.decision = worst.label
        if worst == Action.BLOCK:
            verdict.status = 403
            verdict.message = self._block_message(policy, verdict.findings, info.body_signed)
        elif worst == Action.REDACT:
            verdict.body = self._redact(text, parsed, hits, verdict.placeholders).encode("utf-8")
        if policy.mode == "monitor" and worst >= Action.REDACT:
            verdict.decision = f"would_{worst.label}"
            verdict.status, verdict.body = 200, None
        return verdict

    def _parse(self, info: RequestInfo, text: str) -> ParsedRequest:
        adapter = adapter_for(info.path)
        try:
            document = parse_json(text)
        except RequestFormatError:
            if adapter.format != "json" or "json" in info.content_type:
                raise
            # A non-JSON body on an AI host (form, plain text): scan it as one piece of text.
            return ParsedRequest("text", text, [Segment((), text, "body")])
        return adapter.extract(document)

    def _scan(self, segment: Segment, policy: Policy) -> list[_Hit]:
        hits = []
        for detector in self.detectors:
            for finding in detector.scan(segment.text):
                action, rule = policy.action_for(finding.kind, finding.rule, finding.confidence)
                hits.append(_Hit(segment, finding, action, rule.source if rule else None))
        return hits

    def _records(self, hits: list[_Hit]) -> list[FindingRecord]:
        grouped: Counter[tuple] = Counter()
        first: dict[tuple, _Hit] = {}
        for hit in hits:
            value = hit.finding.value(hit.segment.text)
            key = (hit.finding.detector, hit.finding.kind, hit.finding.rule, hit.segment.location, self.hasher.fingerprint(value))
            grouped[key] += 1
            first.setdefault(key, hit)
        records = []
        for key, count in grouped.items():
            hit = first[key]
            value = hit.finding.value(hit.segment.text)
            records.append(
                FindingRecord(
                    detector=hit.finding.detector or hit.finding.kind,
                    kind=hit.finding.kind,
                    rule=hit.finding.rule,
                    location=hit.segment.location,
                    confidence=round(hit.finding.confidence, 3),
                    action=hit.action.label,
                    value_hash=key[4],
                    preview=mask_preview(value),
                    count=count,
                    policy_rule=hit.policy_rule,
                    details=dict(hit.finding.details),
                )
            )
        return records

    def _redact(self, text: str, parsed: ParsedRequest, hits: list[_Hit], placeholders: dict[str, tuple[str, str]]) -> str:
        by_segment: dict[tuple, list[_Hit]] = {}
        for hit in hits:
            if hit.action == Action.REDACT:
                by_segment.setdefault(hit.segment.path, []).append(hit)
        edits = {}
        for path, segment_hits in by_segment.items():
            segment = segment_hits[0].segment
            spans = _merge_spans([(h.finding.start, h.finding.end, h.finding) for h in segment_hits])
            replacements = []
            for start, end, finding in spans:
                value = segment.text[start:end]
                token = placeholder(finding.kind, finding.rule, value, self.hasher)
                placeholders[token] = (finding.kind, value)
                replacements.append((start, end, token))
            edits[path] = apply_replacements(segment.text, replacements)
        if parsed.format == "text":
            return edits.get((), text)
        return replace_strings(text, edits)

    @staticmethod
    def _block_message(policy: Policy, findings: list[FindingRecord], signed: bool) -> str:
        blocking = [f for f in findings if f.action in ("block", "redact" if signed else "block")]
        described = "; ".join(
            f"{f.kind} '{f.rule}' at {f.location}" + (f" (x{f.count})" if f.count > 1 else "")
            for f in blocking[:10]
        )
        if len(blocking) > 10:
            described += f"; and {len(blocking) - 10} more"
        if signed:
            described += " (the request body is signed, so it cannot be redacted in transit)"
        return policy.block_message.format(policy=policy.name, findings=described)


def _merge_spans(spans: list[tuple[int, int, Finding]]) -> list[tuple[int, int, Finding]]:
    """Overlapping findings become one redaction, labelled by the most confident finding."""
    merged: list[tuple[int, int, Finding]] = []
    for start, end, finding in sorted(spans, key=lambda s: (s[0], -s[1])):
        if merged and start < merged[-1][1]:
            last_start, last_end, last = merged[-1]
            best = finding if finding.confidence > last.confidence else last
            merged[-1] = (last_start, max(last_end, end), best)
        else:
            merged.append((start, end, finding))
    return merged
