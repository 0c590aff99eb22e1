"""The detector contract: text in, findings out.

A detector knows nothing about HTTP, mitmproxy, providers or policy. It receives one piece of
prompt text (already decoded from JSON) and returns what it found, with character offsets into
that text so the caller can redact exactly those characters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a detector found in one text.

    ``kind`` is the family (``secret``, ``pii``, ``code``, ``proprietary_code``); ``rule`` is the
    specific rule or entity type inside that family (``aws-access-key-id``, ``EMAIL_ADDRESS``).
    ``start``/``end`` are character offsets (Python ``str`` indices) into the scanned text.
    ``details`` carries kind-specific facts a policy may act on (``language``, ``lines``,
    ``records``, ``repository``, ``label`` ...); values must be JSON-serialisable and must never
    contain the matched text itself.
    """

    kind: str
    rule: str
    start: int
    end: int
    confidence: float
    detector: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def value(self, text: str) -> str:
        return text[self.start : self.end]


@runtime_checkable
class Detector(Protocol):
    """Anything with a name and a ``scan`` method is a detector."""

    name: str

    def scan(self, text: str) -> list[Finding]:
        """Return findings for ``text``; must not raise on any input string."""
        ...
