"""The one policy engine: which action each finding gets, and what that makes of the request.

The proxy, ``llm-dlp replay``, ``policy explain`` and ``llm-dlp scan`` all decide here, so none
of them can disagree with another about exceptions or request-level thresholds (``min_count``).
The engine sees findings with their values and keyed hashes; it never sees HTTP or bodies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Protocol, Sequence, TypeVar

from detectors.base import Finding
from llm_dlp.policy.model import Action, Policy


class Hit(Protocol):
    """A finding as the engine needs it: what was found, its value and the value's keyed hash."""

    @property
    def finding(self) -> Finding: ...

    @property
    def value(self) -> str: ...

    @property
    def value_hash(self) -> str: ...

    @property
    def path_hint(self) -> str | None: ...  # the file a tool call read or wrote, if any


H = TypeVar("H", bound=Hit)


@dataclass(frozen=True, slots=True)
class FoundValue:
    """A ``Hit`` for callers that scan plain text (``llm-dlp scan``): the finding with its value."""

    finding: Finding
    value: str = field(repr=False)
    value_hash: str
    path_hint: str | None = None


@dataclass(frozen=True, slots=True)
class Decided(Generic[H]):
    hit: H
    action: Action
    reason: str | None  # the policy rule ("file:line"), an exception, or None for the default

    @property
    def exempt(self) -> bool:
        """Allowed by the policy's exceptions (not by a rule that allows)."""
        return self.reason is not None and self.reason.startswith("exceptions.")


def decide(policy: Policy, hits: Sequence[H]) -> list[Decided[H]]:
    """Give every finding an action: exceptions first, then the first rule that holds.

    A rule with ``min_count`` applies only when at least that many of the request's findings
    match it; otherwise those findings fall through to later rules, then to the default action.
    """
    decided: list[Decided[H]] = []
    pending: list[H] = []
    for hit in hits:
        exempt = policy.exceptions.reason(hit.finding.rule, hit.value, hit.value_hash, hit.path_hint)
        if exempt:
            decided.append(Decided(hit, Action.ALLOW, exempt))
        else:
            pending.append(hit)
    for rule in policy.rules:
        matching = [h for h in pending if rule.matches(h.finding.kind, h.finding.rule, h.finding.confidence, h.finding.details)]
        if matching and len(matching) >= rule.min_count:
            decided.extend(Decided(h, rule.action, rule.source) for h in matching)
            taken = {id(h) for h in matching}
            pending = [h for h in pending if id(h) not in taken]
    decided.extend(Decided(h, policy.default_action, None) for h in pending)
    return decided


def request_action(decided: Sequence[Decided], body_signed: bool = False) -> Action:
    """The request's action: the most severe any finding got.

    A signed body (AWS SigV4 signs its hash) cannot be rewritten in transit, so what would be
    redacted is blocked instead: forwarding it as is would leak the value.
    """
    worst = max((d.action for d in decided), default=Action.ALLOW)
    if worst in (Action.REDACT, Action.WITHHOLD) and body_signed:  # a signed body cannot be rewritten
        return Action.BLOCK
    return worst


def decision_label(policy: Policy, action: Action) -> str:
    """What the audit and the reports call the decision: monitor mode only says what it would do."""
    if policy.mode == "monitor" and action >= Action.REDACT:
        return f"would_{action.label}"
    return action.label
