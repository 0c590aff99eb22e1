"""Audit lines as values: the decision event built from a verdict, and lines read back.

``decision_event`` is the only place the audit reads a ``Verdict``: what the pipeline decided
becomes a ``DecisionEvent`` (``events.py``) whose fields never include a value. The rest reads
lines back for ``query``, ``summary``, ``report`` and ``seen``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm_dlp.audit.events import ALREADY_RECORDED, DECISION, RESPONSE, AuditedFinding, DecisionEvent
from llm_dlp.audit.rotation import parse_time

if TYPE_CHECKING:  # the review commands read lines only: they need not load the detectors
    from llm_dlp.pipeline import FindingRecord, RequestInfo, Verdict


def decision_event(info: RequestInfo, verdict: Verdict) -> DecisionEvent:
    return DecisionEvent(
        request_id=info.request_id,
        tenant=verdict.tenant,
        user=info.user,
        client=info.client_address,
        method=info.method,
        host=info.host,
        path=info.path,
        provider=info.provider,
        region=(verdict.route or {}).get("region") or info.region or None,
        format=verdict.format,
        model=verdict.model,
        decision=verdict.decision,
        mode=verdict.policy_mode,
        status=verdict.status if verdict.answers_client else None,
        reason=verdict.message or None,
        error=verdict.error,
        findings=tuple(audited_finding(f) for f in verdict.findings),
        body_bytes=verdict.body_bytes,
        scan_ms=verdict.scan_ms,
        coverage=_coverage(verdict),
        groups=tuple(info.groups),
        reroute=verdict.reroute,
        route=verdict.route,
        shadow=verdict.shadow,
        unscanned=verdict.unscanned,
    )


def _coverage(verdict: Verdict) -> dict[str, Any] | None:
    """What was read of the body: text bytes scanned, body bytes, exempt field names (no values)."""
    if verdict.format is None and not verdict.text_bytes:
        return None  # never parsed (refused by its headers, unreadable, a destination refusal)
    return {"text_bytes": verdict.text_bytes, "body_bytes": verdict.body_bytes, "exempt": list(verdict.exempt)}


def audited_finding(record: FindingRecord) -> AuditedFinding:
    return AuditedFinding(
        kind=record.kind,
        rule=record.rule,
        location=record.location,
        action=record.action,
        value_hash=record.value_hash,
        preview=record.preview,
        count=record.count,
        detector=record.detector,
        confidence=record.confidence,
        policy_rule=record.policy_rule,
        details=record.details,
    )


@dataclass(frozen=True, slots=True)
class FindingEntry:
    kind: str
    rule: str
    action: str
    location: str
    value_hash: str
    preview: str
    count: int

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FindingEntry:
        return cls(
            kind=str(data.get("kind") or "?"),
            rule=str(data.get("rule") or "?"),
            action=str(data.get("action") or ""),
            location=str(data.get("location") or ""),
            value_hash=str(data.get("value_hash") or ""),
            preview=str(data.get("preview") or ""),
            count=int(data.get("count") or 1),
        )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    time: dt.datetime
    event: str
    seq: int | None
    tenant: str | None
    user: str | None
    client: str | None
    host: str | None
    path: str | None
    model: str | None
    decision: str | None
    status: int | None  # a decision: the proxy's own answer, if it answered; a response: upstream's
    reason: str | None
    findings: tuple[FindingEntry, ...]  # the findings new to this conversation (recorded.py)
    already_recorded: int  # findings of this request that an earlier line of the conversation holds
    raw: bytes  # the line as written, for JSON output that a reviewer can still verify
    provider: str | None = None
    region: str | None = None  # where the request went: mainland, international, self-hosted...
    request_id: str | None = None  # shared by a request's decision line and its response line
    error: str | None = None

    @property
    def is_decision(self) -> bool:
        return self.event == DECISION

    @property
    def is_response(self) -> bool:
        return self.event == RESPONSE

    @classmethod
    def parse(cls, raw: bytes) -> AuditEntry:
        data = json.loads(raw)
        return cls(
            time=parse_time(data["time"]),
            event=str(data.get("event") or ""),
            seq=data.get("seq"),
            tenant=data.get("tenant"),
            user=data.get("user"),
            client=data.get("client"),
            host=data.get("host"),
            path=data.get("path"),
            model=data.get("model"),
            decision=data.get("decision"),
            status=data.get("status"),
            reason=data.get("reason"),
            findings=tuple(FindingEntry.from_dict(f) for f in data.get("findings") or () if isinstance(f, dict)),
            already_recorded=int(data.get(ALREADY_RECORDED) or 0),
            raw=raw,
            provider=data.get("provider"),
            region=data.get("region"),
            request_id=data.get("request_id"),
            error=data.get("error"),
        )


@dataclass(frozen=True, slots=True)
class Unreadable:
    file: Path
    line: int
    reason: str


def read_lines(files: Iterable[Path]) -> Iterator[tuple[Path, int, bytes]]:
    for path in files:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                raw = raw.rstrip(b"\r\n")
                if raw:
                    yield path, number, raw

