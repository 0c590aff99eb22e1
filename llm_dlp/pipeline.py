"""One request through llm-dlp: body → segments → findings → policy decision → rewritten body.

Nothing here knows about mitmproxy; the addon (``addons/dlp.py``) and ``llm-dlp replay``/``scan``
feed it plain values. Every path out of ``inspect`` returns a ``Verdict``; errors become
verdicts too (fail closed unless the tenant's policy says ``on_error: allow``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from detectors.base import Detector, Finding
from llm_dlp.bodies import BodyError, decode_body
from llm_dlp.keys import ValueHasher, mask_preview
from llm_dlp.known_values import KnownValues
from llm_dlp.policy.loader import PolicySet
from llm_dlp.policy.model import Action, Policy
from llm_dlp.providers import ParsedRequest, RequestFormatError, Segment, adapter_for
from llm_dlp.providers.base import parse_json
from llm_dlp.providers.splice import apply_replacements, replace_strings
from llm_dlp.redaction import PLACEHOLDER, placeholder
from llm_dlp.scan_workers import SegmentScanner


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
    groups: tuple[str, ...] = ()
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
    reroute: str | None = None  # scheme://host[:port] the request goes to instead
    shadow: dict[str, Any] | None = None  # the candidate policy's decision, where it differs

    @property
    def answers_client(self) -> bool:
        """True when the proxy must answer itself instead of forwarding."""
        return self.decision in ("block", "error")


@dataclass(frozen=True, slots=True)
class _Hit:
    segment: Segment
    finding: Finding
    value_hash: str


@dataclass(frozen=True, slots=True)
class _Decided:
    hit: _Hit
    action: Action
    reason: str | None  # the policy rule ("file:line"), an exception, or None for the default


@dataclass(slots=True)
class Scan:
    """What the detectors found in one request: independent of any policy."""

    text: str
    parsed: ParsedRequest
    hits: list[_Hit]


class Pipeline:
    def __init__(
        self,
        policies: PolicySet,
        detectors: Sequence[Detector],
        hasher: ValueHasher,
        shadow: PolicySet | None = None,
        scanner: SegmentScanner | None = None,
    ) -> None:
        self.policies = policies  # replaced whole on hot reload; read once per request
        self.detectors = tuple(detectors)
        # Uncached and in this process unless the caller (the proxy) brings a cache and workers.
        self.scanner = scanner or SegmentScanner(self.detectors)
        self.hasher = hasher
        self.shadow = shadow
        self.known = KnownValues()

    def policy_for(self, info: RequestInfo) -> Policy:
        return self.policies.for_client(info.user, info.client_address, info.groups)

    def inspect(self, info: RequestInfo, raw_body: bytes, policy: Policy | None = None) -> Verdict:
        policy = policy or self.policy_for(info)
        started = time.perf_counter()
        scan: Scan | None = None
        try:
            refusal = policy.destinations.refusal(info.provider, info.host)
            if refusal:
                verdict = self._refuse_destination(policy, refusal)
            else:
                scan = self.scan(info, raw_body, policy.max_body_bytes, policy.name)
                verdict = self.decide(info, scan, policy)
                self.known.remember(policy.name, {
                    value: (kind, _rule_of(token)) for token, (kind, value) in verdict.placeholders.items()})
        except (BodyError, RequestFormatError) as exc:
            verdict = self.failure(policy, getattr(exc, "status", 400), f"llm-dlp could not read this request: {exc}", str(exc))
        except Exception as exc:  # noqa: BLE001 — any bug must fail closed, not forward
            verdict = self.failure(policy, 500, "llm-dlp could not inspect this request (internal error)", f"{type(exc).__name__}: {exc}")
        if self.shadow is not None:
            verdict.shadow = self._shadow(info, raw_body, scan, verdict)
        verdict.body_bytes = len(raw_body)
        verdict.scan_ms = round((time.perf_counter() - started) * 1000, 3)
        return verdict

    def failure(self, policy: Policy, status: int, message: str, error: str) -> Verdict:
        """A request we could not inspect: blocked, unless the tenant chose to fail open."""
        if policy.fails_open:
            return Verdict("allow", policy.name, error=error, policy_mode=policy.mode)
        return Verdict("error", policy.name, status=status, message=message, error=error, policy_mode=policy.mode)

    def scan(self, info: RequestInfo, raw_body: bytes, limit: int, tenant: str | None = None) -> Scan:
        if not raw_body:
            return Scan("", ParsedRequest("empty", None, []), [])
        text = decode_body(raw_body, info.content_encoding, limit)
        parsed = self._parse(info, text)
        hits = []
        for segment, found in zip(parsed.segments, self.scanner.find(parsed.segments)):
            if tenant is not None:
                found += _uncovered(self.known.scan(tenant, segment.text), found)
            for finding in found:
                value = finding.value(segment.text)
                hits.append(_Hit(segment, finding, self.hasher.fingerprint(value)))
        return Scan(text, parsed, hits)

    def decide(self, info: RequestInfo, scan: Scan, policy: Policy) -> Verdict:
        decided = _apply_rules(policy, scan.hits)
        verdict = Verdict(
            "allow",
            policy.name,
            findings=self._records(decided),
            format=scan.parsed.format if scan.parsed.format != "empty" else None,
            model=scan.parsed.model,
            policy_mode=policy.mode,
        )
        worst = max((d.action for d in decided), default=Action.ALLOW)
        if worst == Action.REDACT and info.body_signed:
            worst = Action.BLOCK  # we may not forward it as is, and cannot rewrite it
        verdict.decision = worst.label
        if worst == Action.BLOCK:
            verdict.status = 403
            verdict.message = self._block_message(policy, verdict.findings, info.body_signed)
        elif worst == Action.REDACT:
            verdict.body = self._redact(scan, decided, verdict.placeholders).encode("utf-8")
        if policy.mode == "monitor" and worst >= Action.REDACT:
            verdict.decision = f"would_{worst.label}"
            verdict.status, verdict.body = 200, None
            verdict.placeholders = {}
        if not verdict.answers_client:
            verdict.reroute = policy.destinations.reroute_target(info.provider, info.host)
        return verdict

    def _refuse_destination(self, policy: Policy, refusal: str) -> Verdict:
        message = policy.render_block_message(refusal)
        if policy.mode == "monitor":
            return Verdict("would_block", policy.name, message=message, policy_mode=policy.mode)
        return Verdict("block", policy.name, status=403, message=message, policy_mode=policy.mode)

    def _shadow(self, info: RequestInfo, raw_body: bytes, scan: Scan | None, active: Verdict) -> dict[str, Any] | None:
        """What the candidate policy would have done, recorded only where it differs."""
        assert self.shadow is not None
        candidate = self.shadow.for_client(info.user, info.client_address, info.groups)
        try:
            refusal = candidate.destinations.refusal(info.provider, info.host)
            if refusal:
                outcome = self._refuse_destination(candidate, refusal)
            else:
                outcome = self.decide(info, scan or self.scan(info, raw_body, candidate.max_body_bytes, candidate.name), candidate)
        except (BodyError, RequestFormatError) as exc:
            outcome = self.failure(candidate, 400, str(exc), str(exc))
        except Exception as exc:  # noqa: BLE001 — the shadow must never affect the real decision
            outcome = self.failure(candidate, 500, "internal error", f"{type(exc).__name__}: {exc}")
        actions = lambda v: sorted((f.kind, f.rule, f.location, f.action) for f in v.findings)  # noqa: E731
        if outcome.decision == active.decision and actions(outcome) == actions(active):
            return None
        return {
            "tenant": candidate.name,
            "decision": outcome.decision,
            "findings": [{"kind": f.kind, "rule": f.rule, "location": f.location, "action": f.action}
                         for f in outcome.findings],
        }

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

    def _records(self, decided: list[_Decided]) -> list[FindingRecord]:
        grouped: dict[tuple, list[_Decided]] = {}
        for item in decided:
            finding = item.hit.finding
            key = (finding.detector, finding.kind, finding.rule, item.hit.segment.location, item.hit.value_hash, item.action)
            grouped.setdefault(key, []).append(item)
        records = []
        for items in grouped.values():
            item = items[0]
            finding = item.hit.finding
            records.append(
                FindingRecord(
                    detector=finding.detector or finding.kind,
                    kind=finding.kind,
                    rule=finding.rule,
                    location=item.hit.segment.location,
                    confidence=round(finding.confidence, 3),
                    action=item.action.label,
                    value_hash=item.hit.value_hash,
                    preview=mask_preview(finding.value(item.hit.segment.text)),
                    count=len(items),
                    policy_rule=item.reason,
                    details=dict(finding.details),
                )
            )
        return records

    def _redact(self, scan: Scan, decided: list[_Decided], placeholders: dict[str, tuple[str, str]]) -> str:
        by_segment: dict[tuple, list[_Decided]] = {}
        for item in decided:
            if item.action == Action.REDACT:
                by_segment.setdefault(item.hit.segment.path, []).append(item)
        edits = {}
        for path, items in by_segment.items():
            segment = items[0].hit.segment
            spans = _merge_spans([(i.hit.finding.start, i.hit.finding.end, i.hit.finding) for i in items])
            replacements = []
            for start, end, finding in spans:
                value = segment.text[start:end]
                token = placeholder(finding.kind, finding.rule, value, self.hasher)
                placeholders[token] = (finding.kind, value)
                replacements.append((start, end, token))
            edits[path] = apply_replacements(segment.text, replacements)
        if scan.parsed.format == "text":
            return edits.get((), scan.text)
        return replace_strings(scan.text, edits)

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
        return policy.render_block_message(described)


def _uncovered(extra: list[Finding], found: list[Finding]) -> list[Finding]:
    """Findings of ``extra`` whose span no detector finding already covers."""
    return [e for e in extra if not any(f.start <= e.start and e.end <= f.end for f in found)]


def _rule_of(token: str) -> str:
    match = PLACEHOLDER.fullmatch(token)
    return match.group("rule") if match else "value"


def _apply_rules(policy: Policy, hits: list[_Hit]) -> list[_Decided]:
    """Give every finding an action: exceptions first, then the first rule that holds."""
    decided: list[_Decided] = []
    pending: list[_Hit] = []
    for hit in hits:
        value = hit.finding.value(hit.segment.text)
        exempt = policy.exceptions.reason(hit.finding.rule, value, hit.value_hash, hit.segment.path_hint)
        if exempt:
            decided.append(_Decided(hit, Action.ALLOW, exempt))
        else:
            pending.append(hit)
    for rule in policy.rules:
        matching = [h for h in pending if rule.matches(h.finding.kind, h.finding.rule, h.finding.confidence, h.finding.details)]
        if matching and len(matching) >= rule.min_count:
            decided.extend(_Decided(h, rule.action, rule.source) for h in matching)
            taken = {id(h) for h in matching}
            pending = [h for h in pending if id(h) not in taken]
    decided.extend(_Decided(h, policy.default_action, None) for h in pending)
    return decided


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
