"""What the audit records: one frozen value per kind of event, and the one place its fields are named.

Callers (the addons, ``purge``) build an event and hand it to ``AuditLog.record_event``; only
``fields()`` here decides what a line holds, so ``llm-dlp audit`` (``records.py``) reads the
same names everywhere. No event holds a matched value: findings carry a keyed hash and a
masked preview, and a failed login names its user only when that user exists (a password typed
into the user field must not land in the log).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from llm_dlp.audit.chain import PURGE_EVENT

DECISION = "dlp.decision"  # a request was decided: forwarded, rewritten or answered by the proxy
RESTORE = "dlp.restore"  # after an answer: placeholders put back, and left in place by policy, per kind
RESPONSE = "dlp.response"  # a forwarded request's answer from upstream: status and time, or the error
AUTH_FAILURE = "dlp.auth_failure"  # a client the proxy refused at proxy authentication
PURGE = PURGE_EVENT  # rotated files deleted by ``audit purge`` (verify reads it: chain.py)

# On a decision line: findings of the request that an earlier line of the conversation holds.
ALREADY_RECORDED = "findings_already_recorded"

# A proprietary-code finding names every other place its code is known from; a few are enough
# to follow up, and the total says how many there were.
MAX_COPIES = 3


class AuditEvent(Protocol):
    name: ClassVar[str]

    def fields(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class AuditedFinding:
    """One finding as a line shows it: where, what the policy did, and the value's keyed hash."""

    kind: str
    rule: str
    location: str
    action: str
    value_hash: str
    preview: str
    count: int = 1
    detector: str = ""
    confidence: float = 1.0
    policy_rule: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        # Defaults are left out: a coding agent's request can carry dozens of findings.
        return {
            "kind": self.kind,
            "rule": self.rule,
            "location": self.location,
            "action": self.action,
            "value_hash": self.value_hash,
            "preview": self.preview,
            **({"count": self.count} if self.count != 1 else {}),
            **({"detector": self.detector} if self.detector and self.detector != self.kind else {}),
            "confidence": self.confidence,
            **({"policy_rule": self.policy_rule} if self.policy_rule else {}),
            **({"details": _short_details(self.details)} if self.details else {}),
        }


def _short_details(details: Mapping[str, Any]) -> dict[str, Any]:
    copies = details.get("copies")
    if isinstance(copies, list) and len(copies) > MAX_COPIES:
        return {**details, "copies": copies[:MAX_COPIES]}
    return dict(details)


@dataclass(frozen=True, slots=True)
class DecisionEvent:
    """A request decided: who sent it where, what was found in it, and what the proxy did.

    Built from the pipeline's verdict by ``records.decision_event``; the audit chain keeps only
    the findings this conversation has not shown before (``recorded.RecordedFindings``).
    """

    name: ClassVar[str] = DECISION

    request_id: str
    tenant: str
    user: str | None
    client: str | None
    method: str
    host: str
    path: str
    provider: str
    format: str | None
    model: str | None
    decision: str
    mode: str
    status: int | None  # only when the proxy answered the client itself
    reason: str | None
    error: str | None
    findings: tuple[AuditedFinding, ...]
    body_bytes: int
    scan_ms: float
    groups: tuple[str, ...] = ()
    reroute: str | None = None
    region: str | None = None  # where the request went (mainland, international, self-hosted, ...)
    route: Mapping[str, Any] | None = None  # where a reroute or residency rule sent it, and why
    shadow: Mapping[str, Any] | None = None
    coverage: Mapping[str, Any] | None = None  # text and body bytes, exempt field names (records._coverage)
    unscanned: Mapping[str, Any] | None = None  # media and token-id prompts no detector read (counts, types)

    def fields(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "tenant": self.tenant,
            "user": self.user,
            "client": self.client,
            "method": self.method,
            "host": self.host,
            "path": self.path,
            "provider": self.provider,
            "region": self.region,
            "format": self.format,
            "model": self.model,
            "decision": self.decision,
            "mode": self.mode,
            "status": self.status,
            "reason": self.reason,
            "error": self.error,
            "findings": [f.fields() for f in self.findings],
            "body_bytes": self.body_bytes,
            "scan_ms": self.scan_ms,
            **({"coverage": dict(self.coverage)} if self.coverage is not None else {}),
            # Present only when they apply, so the common line stays short.
            **({"groups": list(self.groups)} if self.groups else {}),
            **({"reroute": self.reroute} if self.reroute else {}),
            **({"route": dict(self.route)} if self.route else {}),
            **({"shadow": dict(self.shadow)} if self.shadow else {}),
            **({"unscanned": dict(self.unscanned)} if self.unscanned else {}),
        }


@dataclass(frozen=True, slots=True)
class RestoreEvent:
    """After an answer: how many placeholders were restored, and kept out by policy, per kind.

    ``kept_out`` was called ``withheld`` in lines written before the withhold action existed;
    nothing reads it back, and such lines stay valid in the chain."""

    name: ClassVar[str] = RESTORE

    request_id: str | None
    tenant: str
    host: str
    path: str
    restored: Mapping[str, int]
    kept_out: Mapping[str, int]  # placeholders the restore: policy left in place (not the withhold action)

    def fields(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "tenant": self.tenant,
            "host": self.host,
            "path": self.path,
            "restored": dict(self.restored),
            "kept_out": dict(self.kept_out),
        }


@dataclass(frozen=True, slots=True)
class ResponseEvent:
    """What upstream did with a forwarded request: its status, or the error that stopped it.

    Every forwarded request gets one, after its decision line and joined to it by ``request_id``
    (the decision is written before the request leaves, so it cannot wait for the answer). The
    line is short: who, where, status and time; the request's findings are on its decision line."""

    name: ClassVar[str] = RESPONSE

    request_id: str | None
    tenant: str | None
    user: str | None
    host: str
    path: str
    status: int | None  # None when no answer came (connection refused, reset, timed out)
    error: str | None = None  # the proxy's account of a failed upstream exchange
    ms: float | None = None  # request sent to answer complete, as the proxy saw it

    def fields(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "tenant": self.tenant,
            "user": self.user,
            "host": self.host,
            "path": self.path,
            "status": self.status,
            **({"error": self.error} if self.error is not None else {}),
            "ms": self.ms,
        }


def answer_failed(fields: Mapping[str, Any]) -> bool:
    """An upstream exchange that went wrong: an error, no answer at all, or a status of 400 or more."""
    status = fields.get("status")
    return fields.get("error") is not None or status is None or status >= 400


@dataclass(frozen=True, slots=True)
class AuthFailureEvent:
    """A client refused at proxy authentication (407): from where, and why."""

    name: ClassVar[str] = AUTH_FAILURE

    client: str | None
    reason: str  # "no credentials", "malformed credentials", "unknown user", "wrong password"
    user: str | None = None  # only a user the users file knows
    host: str | None = None  # where the client wanted to go

    def fields(self) -> dict[str, Any]:
        return {"client": self.client, "user": self.user, "host": self.host, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class PurgeEvent:
    """Rotated files deleted for retention, and the last line they held (where the log now begins)."""

    name: ClassVar[str] = PURGE

    before: str
    files: tuple[str, ...]
    lines: int
    anchor_seq: int
    anchor_mac: str
    by: str

    def fields(self) -> dict[str, Any]:
        return {"before": self.before, "files": list(self.files), "lines": self.lines,
                "anchor_seq": self.anchor_seq, "anchor_mac": self.anchor_mac, "by": self.by}
