"""What a decision about one request is made of, kept apart by who may see it.

``Verdict`` is everything the audit log writes and the client may be told: never a matched value,
never the prompt. What only the forwarding side may hold (the rewritten body, and each
placeholder's original value for the vault) travels beside it in ``Inspection``.

The rules for requests that could not be inspected or audited live here too, so the live proxy
and ``llm-dlp replay`` apply them identically: fail closed unless the tenant's policy fails open.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from llm_dlp.policy.model import Policy


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


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision about one request, as audited. Adjust it with ``dataclasses.replace``."""

    decision: str  # allow | log | redact | block | error (monitor mode: would_redact, would_block)
    tenant: str
    status: int = 200  # the status the client gets when the proxy answers itself
    message: str = ""
    findings: tuple[FindingRecord, ...] = ()
    format: str | None = None
    model: str | None = None
    body_bytes: int = 0
    text_bytes: int = 0  # coverage: the UTF-8 bytes of every text the detectors read
    exempt: tuple[str, ...] = ()  # coverage: names of the exempt fields present (never values)
    scan_ms: float = 0.0
    error: str | None = None
    policy_mode: str = "enforce"
    reroute: str | None = None  # scheme://host[:port][/prefix] the request goes to instead
    route: Mapping[str, Any] | None = None  # where it went and by which destinations rule (llm_dlp.routing)
    shadow: Mapping[str, Any] | None = None  # the candidate policy's decision, where it differs
    unscanned: Mapping[str, Any] | None = None  # media and token-id prompts no detector read: counts and types

    @property
    def answers_client(self) -> bool:
        """True when the proxy must answer itself instead of forwarding."""
        return self.decision in ("block", "error")


@dataclass(frozen=True, slots=True)
class Redaction:
    """One original value a placeholder stands for: for the vault and known values, never the audit."""

    kind: str
    rule: str
    value: str = field(repr=False)  # a stray log line of this object must not print the value


NO_REDACTIONS: Mapping[str, Redaction] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Inspection:
    """A verdict, and what the forwarding side needs to act on it.

    ``body`` is the rewritten body to forward (UTF-8, before content-encoding) when redacting,
    else None. ``redactions`` maps each placeholder in it to the value it replaced; it is handed
    to the restorer only (monitor mode forwards the original, so it is empty then).
    """

    verdict: Verdict
    body: bytes | None = None
    redactions: Mapping[str, Redaction] = NO_REDACTIONS


def failure(policy: Policy, status: int, message: str, error: str) -> Verdict:
    """A request we could not inspect: blocked, unless the tenant chose to fail open."""
    if policy.fails_open:
        return Verdict("allow", policy.name, error=error, policy_mode=policy.mode)
    return Verdict("error", policy.name, status=status, message=message, error=error, policy_mode=policy.mode)


def unaudited(verdict: Verdict, policy: Policy, error: str) -> Verdict:
    """The verdict to act on when its audit line could not be written.

    Nothing is let through unaudited, and the client learns why, unless the tenant's policy fails
    open.
    """
    if policy.fails_open:
        return verdict
    return Verdict("error", verdict.tenant, status=500, message="llm-dlp cannot write its audit log",
                   error=error, policy_mode=verdict.policy_mode)


def internal_error(error: str) -> Verdict:
    """A bug outside the pipeline (its tenant may be unknown): always blocked."""
    return Verdict("error", "unknown", status=500, message="llm-dlp could not inspect this request (internal error)",
                   error=error)


def exception_summary(exc: BaseException) -> str:
    """An unexpected exception as the audit and the proxy's log record it: its type and where it
    was raised, and not its message, which may quote the request (a key, a header, a piece of the
    body), unless its class declares ``quotes_request = False`` (words the proxy wrote itself)."""
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    where = " <- ".join(f"{frame.name} ({frame.filename.rsplit('/', 1)[-1]}:{frame.lineno})" for frame in reversed(frames))
    summary = f"{type(exc).__name__} in {where}" if where else type(exc).__name__
    return f"{summary}: {exc}" if getattr(exc, "quotes_request", True) is False else summary
