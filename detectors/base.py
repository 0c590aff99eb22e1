"""The detector contract: text in, findings out, and a declaration of what it can find.

A detector knows nothing about HTTP, mitmproxy, providers or policy. It receives one piece of
prompt text (already decoded from JSON) and returns what it found, with character offsets into
that text so the caller can redact exactly those characters.

Like presidio's recognizers, which declare the entities they support, a detector declares its
finding kinds, the rule ids each kind may carry, the ``details`` a policy may match on, whether
it reads the file path a tool call names, and a start-up self-check. The registry
(``llm_dlp.detection``) derives everything policies may name from these declarations, so adding a
detector is one class here and one line in ``build_detectors``: nothing else switches on its name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Protocol, runtime_checkable


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


@dataclass(frozen=True, slots=True)
class FindingKind:
    """A family of findings one detector reports, as policies name it (``rules[].kind``).

    ``details``: the keys of ``Finding.details`` a policy rule may match on (``lines`` for
    ``min_lines``, ``records`` for ``min_records``, ``label``); a rule asking for a detail its kind
    never carries could never match, so the policy loader rejects it.
    """

    name: str
    details: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a detector cannot do its work here: found by ``self_check`` before the proxy starts.

    ``missing_data``: the detector works but has nothing to match against yet (no code index
    built). Only that may be waived by an operator who asks to run without it; any other problem
    would fail every request, so it always stops the start.
    """

    message: str
    missing_data: bool = False


@runtime_checkable
class Detector(Protocol):
    """A detector declares itself (class attributes and ``rule_ids``) and scans text.

    ``name``: the detector's name (``rules[].detector`` in a policy, ``detector`` in findings).
    ``kinds``: the finding kinds it reports. ``takes_path_hint``: ``scan`` accepts the file path
    a tool call names (``scan(text, *, path_hint=...)``).
    """

    name: ClassVar[str]
    kinds: ClassVar[tuple[FindingKind, ...]]
    takes_path_hint: ClassVar[bool]

    def rule_ids(self) -> Mapping[str, frozenset[str] | None]:
        """Per kind, every rule id this instance may report; ``None`` for a kind whose rule ids
        are not known in advance. A policy naming another rule id is an error."""
        ...

    def self_check(self, needed: frozenset[str]) -> list[Problem]:
        """What stops this detector from working, checked once before serving. ``needed``: the
        kinds of this detector that the loaded policies name in a rule. Must not raise."""
        ...

    def scan(self, text: str) -> list[Finding]:
        """Return findings for ``text``; must not raise on any input string."""
        ...
