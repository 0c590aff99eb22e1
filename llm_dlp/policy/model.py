"""The values a policy file turns into. Loading and validation live in ``loader.py``."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import IntEnum

KINDS = ("secret", "pii", "code", "proprietary_code")
# Where a redacted value may be put back into the model's answer: its text, or the arguments of
# tool calls (so an agent's file edits carry the real value).
RESTORE_PLACES = ("text", "tool_arguments")
DEFAULT_RESTORE: dict[str, frozenset[str]] = {
    "secret": frozenset(RESTORE_PLACES),
    "pii": frozenset(),
    "code": frozenset(RESTORE_PLACES),
    "proprietary_code": frozenset(RESTORE_PLACES),
}


class Action(IntEnum):
    """Ordered by severity: a request's decision is the most severe action any finding got."""

    ALLOW = 0
    LOG = 1
    REDACT = 2
    BLOCK = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Rule:
    """``kind`` (and optionally rule ids) at or above ``min_confidence`` gets ``action``."""

    action: Action
    kind: str = "*"
    rules: tuple[str, ...] = ()
    min_confidence: float = 0.0
    source: str = ""  # "file:line", so a decision can say which rule made it

    def matches(self, kind: str, rule: str, confidence: float) -> bool:
        return (
            (self.kind == "*" or self.kind == kind)
            and (not self.rules or rule in self.rules)
            and confidence >= self.min_confidence
        )


@dataclass(frozen=True, slots=True)
class Members:
    users: tuple[str, ...] = ()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def has_user(self, user: str | None) -> bool:
        return user is not None and user in self.users

    def has_address(self, address: str | None) -> bool:
        if not address or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)


DEFAULT_BLOCK_MESSAGE = (
    "llm-dlp blocked this request under policy '{policy}': {findings}. "
    "Remove the data and try again."
)


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    source: str
    rules: tuple[Rule, ...]
    members: Members = field(default_factory=Members)
    mode: str = "enforce"  # enforce | monitor
    on_error: str = "block"  # block | allow
    default_action: Action = Action.LOG
    max_body_bytes: int = 32 * 1024 * 1024
    scan_timeout_seconds: float = 30.0
    block_message: str = DEFAULT_BLOCK_MESSAGE
    restore: dict[str, frozenset[str]] = field(default_factory=lambda: dict(DEFAULT_RESTORE))

    def restores(self, kind: str, place: str) -> bool:
        """May a redacted value of ``kind`` be restored in ``place`` of the model's answer?"""
        return place in self.restore.get(kind, frozenset())

    def action_for(self, kind: str, rule: str, confidence: float) -> tuple[Action, Rule | None]:
        for candidate in self.rules:
            if candidate.matches(kind, rule, confidence):
                return candidate.action, candidate
        return self.default_action, None

    @property
    def fails_open(self) -> bool:
        return self.on_error == "allow"
