"""One request through llm-dlp: body → segments → findings → policy decision → rewritten body.

Nothing here knows about mitmproxy; the addon (``addons/dlp.py``) and ``llm-dlp replay``/``scan``
feed it plain values. Every path out of ``inspect`` returns an ``Inspection``: the audited
``Verdict`` and, apart from it, the rewritten body and the values its placeholders stand for.
Errors become verdicts too (fail closed unless the tenant's policy says ``on_error: allow``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Sequence

from detectors.base import Detector, Finding
from llm_dlp import withhold
from llm_dlp.audit.locations import RequestValues, audited_details, audited_location
from llm_dlp import routing
from llm_dlp import uploads
from llm_dlp.bodies import BodyError, decode_content, utf8_text
from llm_dlp.decoding import DecodeError
from llm_dlp.detection import kinds_needed
from llm_dlp.keys import ValueHasher, mask_preview
from llm_dlp.known_values import KnownValues
from llm_dlp.policy import engine
from llm_dlp.policy.loader import PolicySet
from llm_dlp.policy.model import Action, Policy
from llm_dlp.providers import ParsedRequest, RequestFormatError, Segment, format_for, generic
from llm_dlp.providers.target import rewritable, target_segments
from llm_dlp.providers.base import parse_json
from llm_dlp.providers.coverage import WalkMemo
from llm_dlp.splice import apply_replacements, replace_strings
from llm_dlp.redaction import placeholder
from llm_dlp.request import RequestInfo
from llm_dlp.verdict import FindingRecord, Inspection, Redaction, Verdict, exception_summary, failure
from llm_dlp.scan_workers import SegmentScanner
from llm_dlp.seams import windows, with_seam_findings
from llm_dlp.tool_names import without_tool_names

__all__ = ["FindingRecord", "Inspection", "Pipeline", "RequestInfo", "Scan", "Verdict"]


@dataclass(frozen=True, slots=True)
class _Hit:
    segment: Segment
    finding: Finding
    value_hash: str

    @property
    def value(self) -> str:
        return self.finding.value(self.segment.text)

    @property
    def path_hint(self) -> str | None:
        return self.segment.path_hint


_Decided = engine.Decided[_Hit]


@dataclass(frozen=True, slots=True)
class Scan:
    """What the detectors found in one request: independent of any policy."""

    text: str
    parsed: ParsedRequest
    hits: tuple[_Hit, ...]


class Pipeline:
    def __init__(
        self,
        policies: PolicySet,
        detectors: Sequence[Detector],
        hasher: ValueHasher,
        shadow: PolicySet | None = None,
        scanner: SegmentScanner | None = None,
        known: KnownValues | None = None,
    ) -> None:
        self.policies = policies  # replaced whole on hot reload; read once per request
        self.detectors = tuple(detectors)
        # Uncached and in this process unless the caller (the proxy) brings a cache and workers.
        self.scanner = scanner or SegmentScanner(self.detectors)
        self.hasher = hasher
        self.shadow = shadow
        self.known = known if known is not None else KnownValues()  # this process's memory unless the caller (the proxy) brings a store
        self.walks = WalkMemo()  # resent tool definitions are not walked again (providers.coverage)

    def policy_for(self, info: RequestInfo) -> Policy:
        return self.policies.for_client(info.user, info.client_address, info.groups)

    def inspect(self, info: RequestInfo, raw_body: bytes, policy: Policy | None = None) -> Inspection:
        policy = policy or self.policy_for(info)
        started = time.perf_counter()
        scan: Scan | None = None
        try:
            refusal = routing.refusal(info, policy)
            if refusal:
                inspection = Inspection(self._refuse_destination(policy, refusal))
            elif info.opaque and format_for(info.path).format == generic.FORMAT:
                inspection = Inspection(routing.opaque(info, policy))
            else:
                scan = self.scan(info, raw_body, policy.max_body_bytes, policy.name, self._kinds(info, policy))
                inspection = self.decide(info, scan, policy)
                self.known.remember(policy.name, inspection.redactions.values())
        except (BodyError, RequestFormatError, DecodeError) as exc:
            inspection = Inspection(failure(policy, getattr(exc, "status", 400), f"llm-dlp could not read this request: {exc}", str(exc)))
        except Exception as exc:  # noqa: BLE001 — any bug must fail closed, not forward
            inspection = Inspection(failure(policy, 500, "llm-dlp could not inspect this request (internal error)", exception_summary(exc)))
        verdict = dataclasses.replace(
            inspection.verdict,
            shadow=self._shadow(info, raw_body, scan, inspection.verdict) if self.shadow is not None else None,
            body_bytes=len(raw_body),
            scan_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        return dataclasses.replace(inspection, verdict=verdict)

    def scan(
        self, info: RequestInfo, raw_body: bytes, limit: int, tenant: str | None = None,
        kinds: frozenset[str] | None = None,
    ) -> Scan:
        """``kinds``: run only the detectors that report one of them (None: every detector)."""
        if not raw_body:  # still the request target and headers
            text, parsed = "", ParsedRequest("empty", None, target_segments(info.path, info.headers))
        else:
            text, parsed = self._parse(info, decode_content(raw_body, info.content_encoding, limit))
        hits = []
        # A value split across segments is found at their seams (windows across them) and
        # reported in each part; segments and seams go to the detectors together.
        seams = windows(parsed.segments) if self.scanner.seams_needed(kinds) else []
        found, in_seams = self.scanner.find_with_seams(parsed.segments, seams, kinds)
        found_alone = without_tool_names(parsed.document, parsed.segments, found)
        per_segment = (with_seam_findings(parsed.segments, found_alone, in_seams, self.scanner.seam_generic_rules, seams)
                       if seams else found_alone)
        known: dict[str, list[Finding]] = {}  # per distinct text: a body repeats many
        for segment, found in zip(parsed.segments, per_segment):
            if tenant is not None:
                again = known.get(segment.text)
                if again is None:
                    again = known[segment.text] = self.known.scan(tenant, segment.text)
                found += _uncovered(again, found)
            for finding in found:
                value = finding.value(segment.text)
                hits.append(_Hit(segment, finding, self.hasher.fingerprint(value)))
        return Scan(text, parsed, tuple(hits))

    def decide(self, info: RequestInfo, scan: Scan, policy: Policy) -> Inspection:
        decided = engine.decide(policy, scan.hits)
        # Text read from a PDF or an Office file cannot be written back: a value to redact there
        # withholds its unit.
        decided = [dataclasses.replace(d, action=Action.WITHHOLD, reason=f"{d.reason or 'default_action'}; {_NOT_REENCODABLE}")
                   if d.action == Action.REDACT and d.hit.segment.codec and not d.hit.segment.codec.reencodable else d
                   for d in decided]
        # A finding whose content unit cannot be withheld (a system prompt) is blocked instead.
        decided = [dataclasses.replace(d, action=Action.BLOCK, reason=withhold.fallback_reason(d.reason))
                   if d.action == Action.WITHHOLD and not withhold.possible(d.hit.segment) else d for d in decided]
        # The request target and headers cannot be rewritten in flight (providers.target).
        decided = [dataclasses.replace(d, action=Action.BLOCK, reason=f"{d.reason or 'default_action'}; outside the body, so blocked")
                   if d.action in (Action.REDACT, Action.WITHHOLD) and not rewritable(d.hit.segment.path) else d for d in decided]
        findings = self._records(_as_recorded(decided))
        action = engine.request_action(decided, info.body_signed)
        verdict = Verdict(
            engine.decision_label(policy, action),
            policy.name,
            findings=findings,
            format=scan.parsed.format if scan.parsed.format != "empty" else None,
            model=scan.parsed.model,
            policy_mode=policy.mode,
            unscanned=_unscanned(scan.parsed, policy),
            text_bytes=scan.parsed.text_bytes,
            exempt=scan.parsed.exempt,
        )
        monitor = policy.mode == "monitor"  # monitor mode says what would happen and forwards the original
        if (refused := _unscannable_refusal(scan.parsed, policy)) is not None:
            status, reason = refused
            verdict = dataclasses.replace(verdict, decision=engine.decision_label(policy, Action.BLOCK),
                                          status=200 if monitor else status, message=policy.render_block_message(reason))
            if not monitor:
                return Inspection(verdict)
        if action == Action.BLOCK:
            verdict = dataclasses.replace(
                verdict, status=200 if monitor else 403, message=self._block_message(policy, findings, info.body_signed))
            if not monitor:
                return Inspection(verdict)
        elif action in (Action.REDACT, Action.WITHHOLD) and not monitor:
            body, redactions = self._redact(scan, decided, policy)
            return routing.routed(Inspection(verdict, body, redactions), info, scan.text, policy)
        return routing.routed(Inspection(verdict), info, scan.text, policy)

    def _kinds(self, info: RequestInfo, policy: Policy) -> frozenset[str] | None:
        """The kinds to detect for this request: its policy's, and a shadow policy's, which
        decides on the same scan."""
        if self.shadow is None:
            return kinds_needed([policy])
        return kinds_needed([policy, self.shadow.for_client(info.user, info.client_address, info.groups)])

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
            refusal = routing.refusal(info, candidate)
            if refusal:
                outcome = self._refuse_destination(candidate, refusal)
            else:
                scanned = scan or self.scan(info, raw_body, candidate.max_body_bytes, candidate.name,
                                            kinds_needed([candidate]))
                outcome = self.decide(info, scanned, candidate).verdict
        except (BodyError, RequestFormatError, DecodeError) as exc:
            outcome = failure(candidate, 400, str(exc), str(exc))
        except Exception as exc:  # noqa: BLE001 — the shadow must never affect the real decision
            outcome = failure(candidate, 500, "internal error", f"{type(exc).__name__}: {exc}")
        actions = lambda v: sorted((f.kind, f.rule, f.location, f.action) for f in v.findings)  # noqa: E731
        if outcome.decision == active.decision and actions(outcome) == actions(active):
            return None
        return {
            "tenant": candidate.name,
            "decision": outcome.decision,
            # ``value_hash`` (keyed, never the value) lets the audit record each finding once per
            # conversation, as it does the active policy's (``audit.recorded``).
            "findings": [{"kind": f.kind, "rule": f.rule, "location": f.location, "action": f.action,
                          "value_hash": f.value_hash} for f in outcome.findings],
        }

    def _parse(self, info: RequestInfo, data: bytes) -> tuple[str, ParsedRequest]:
        """The body as text (Latin-1, byte for byte, where it is not JSON) and parsed."""
        api = format_for(info.path, info.provider)
        if uploads.is_form_data(info.content_type):  # parts in their own charsets: kept as bytes
            text, parsed = data.decode("latin-1"), uploads.parse(data, info.content_type)
        else:
            try:
                text = utf8_text(data)
                document = parse_json(text)
            except (BodyError, RequestFormatError):
                if api.format != "json" or "json" in info.content_type:
                    raise
                # Not JSON on an AI host (an upload's raw bytes, a form, plain text in any charset).
                text, parsed = data.decode("latin-1"), uploads.text_body(data, info.content_type)
            else:
                parsed = api.extract(document, info.path, self.walks)
        # What leaves beside the body, first, as it comes first on the wire.
        parsed.segments[:0] = target_segments(info.path, info.headers)
        return text, parsed

    def _records(self, decided: list[_Decided]) -> tuple[FindingRecord, ...]:
        values = RequestValues({item.hit.value for item in decided})  # for audited_details: none may reach the record
        grouped: dict[tuple, list[_Decided]] = {}
        for item in decided:
            finding = item.hit.finding
            key = (finding.detector, finding.kind, finding.rule, item.hit.segment.path, item.hit.value_hash, item.action)
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
                    location=audited_location(item.hit.segment.path, self.hasher),
                    confidence=round(finding.confidence, 3),
                    action=item.action.label,
                    value_hash=item.hit.value_hash,
                    preview=mask_preview(item.hit.value),
                    count=len(items),
                    policy_rule=item.reason,
                    details=audited_details(finding.details, values, self.hasher),
                )
            )
        return tuple(records)

    def _redact(self, scan: Scan, decided: list[_Decided], policy: Policy) -> tuple[bytes, dict[str, Redaction]]:
        """The body with placeholders in place of the values to redact and notices in place of the
        units to withhold, and what each placeholder stands for."""
        units = withhold.replacements([(i.hit.segment, i.hit.finding) for i in decided if i.action == Action.WITHHOLD], policy)
        redactions: dict[str, Redaction] = {}
        by_segment: dict[tuple, list[_Decided]] = {}
        for item in decided:
            if item.action == Action.REDACT and not withhold.covered(units, item.hit.segment.path):
                by_segment.setdefault(item.hit.segment.path, []).append(item)
        edits, codecs = {}, {}
        for path, items in by_segment.items():
            segment = items[0].hit.segment
            spans = _merge_spans([(i.hit.finding.start, i.hit.finding.end, i.hit.finding) for i in items])
            replacements = []
            for start, end, finding in spans:
                value = segment.text[start:end]
                token = placeholder(finding.kind, finding.rule, value, self.hasher)
                redactions[token] = Redaction(finding.kind, finding.rule, value)
                replacements.append((start, end, token))
            edits[path] = apply_replacements(segment.text, replacements)
            codecs[path] = segment.codec
        if scan.parsed.format in uploads.FORMATS:
            return uploads.rebuild(scan.parsed, edits, units), redactions
        # A decoded payload (base64, a data URL) is written back in its own encoding.
        edits = {path: codecs[path].encode(text) if codecs[path] else text for path, text in edits.items()}
        return replace_strings(scan.text, edits, units).encode("utf-8"), redactions

    @staticmethod
    def _block_message(policy: Policy, findings: Sequence[FindingRecord], signed: bool) -> str:
        blocking = [f for f in findings if f.action in ("block", *(("redact", "withhold") if signed else ()))]
        described = "; ".join(
            _described(f) + (f" (x{f.count})" if f.count > 1 else "")
            + (f" ({withhold.CANNOT_WITHHOLD})" if withhold.CANNOT_WITHHOLD in (f.policy_rule or "") else "")
            for f in blocking[:10]
        )
        if len(blocking) > 10:
            described += f"; and {len(blocking) - 10} more"
        if signed:
            described += " (the request body is signed, so it cannot be redacted in transit)"
        return policy.render_block_message(described)


def _described(finding: FindingRecord) -> str:
    """A finding as a block message names it: the file a tool call read or wrote and its lines
    when the finding knows them ("src/pricing/engine.py lines 4–77 (index acme-core)")."""
    details = finding.details
    file = details.get("file")
    if finding.kind == "proprietary_code":
        file = file or f"{details.get('repository')}/{details.get('path')}"
        first, last = details.get("file_lines") or (details.get("line_start"), details.get("line_end"))
        return f"{finding.kind} {file} lines {first}–{last} (index {finding.rule}) at {finding.location}"
    return f"{finding.kind} '{finding.rule}' at {finding.location}" + (f" in {file}" if file else "")


def _as_recorded(decided: list[_Decided]) -> list[_Decided]:
    """The actions the audit records: a finding its rule would only redact or log, inside a unit
    withheld for another finding, was never sent either, so it is recorded as withheld. (The
    notice still names only the findings that withheld the unit: its bytes must not change.)"""
    units = withhold.unit_paths(d.hit.segment for d in decided if d.action == Action.WITHHOLD)
    if not units:
        return decided
    return [dataclasses.replace(d, action=Action.WITHHOLD, reason=withhold.inside_reason(d.reason))
            if Action.LOG <= d.action < Action.WITHHOLD and withhold.covered(units, d.hit.segment.path) else d
            for d in decided]


_NOT_REENCODABLE = "text read from a PDF or Office file cannot be rewritten, so withheld"


def _unscanned(parsed: ParsedRequest, policy: Policy) -> dict[str, Any] | None:
    """For the audit: media no detector read, counted by type, and token-id prompts; never content."""
    media: dict[str, int] = {}
    for _, media_type in parsed.unscanned_media:
        media[media_type] = media.get(media_type, 0) + 1
    out: dict[str, Any] = {}
    if media:
        out.update(media=media, media_policy=policy.media)
    if parsed.token_id_paths:
        out.update(token_ids=len(parsed.token_id_paths), token_ids_policy=policy.token_ids)
    return out or None


def _unscannable_refusal(parsed: ParsedRequest, policy: Policy) -> tuple[int, str] | None:
    """(status, reason) when the request carries what cannot be scanned and the policy refuses it."""
    if parsed.token_id_paths and policy.token_ids == "refuse":
        return 400, ("the prompt is given as token ids, which llm-dlp cannot scan (policy token_ids: refuse); "
                     "send it as text")
    if parsed.unscanned_media and policy.media == "block":
        kinds = ", ".join(sorted({media_type for _, media_type in parsed.unscanned_media}))
        return 403, (f"{len(parsed.unscanned_media)} media item(s) ({kinds}) that llm-dlp cannot scan "
                     "(policy media: block)")
    return None


def _uncovered(extra: list[Finding], found: list[Finding]) -> list[Finding]:
    """Findings of ``extra`` whose span no detector finding already covers."""
    return [e for e in extra if not any(f.start <= e.start and e.end <= f.end for f in found)]




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
