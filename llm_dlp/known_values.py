"""Values this proxy has already redacted, per tenant, found again wherever they reappear.

A redacted value can be restored into the model's answer; the client then sends it back in the
next turn's history, in new surroundings where a keyword-gated rule may no longer fire. Looking
for the exact values we redacted before closes that gap: the value gets the same placeholder as
before, so the history stays byte-identical too. Kept in memory, bounded per tenant.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable

import regex

from detectors.base import Finding
from llm_dlp.verdict import Redaction

MIN_LENGTH = 8  # shorter values would match ordinary text
MAX_VALUES_PER_TENANT = 20_000


@dataclass(frozen=True, slots=True)
class _Known:
    kind: str
    rule: str


class KnownValues:
    name = "known_values"

    def __init__(self, limit: int = MAX_VALUES_PER_TENANT) -> None:
        self._limit = limit
        self._values: dict[str, OrderedDict[str, _Known]] = {}
        # tenant -> (pattern, frozen copy of its values), rebuilt only when the values change, so
        # a scan never copies the table on the request path.
        self._patterns: dict[str, tuple[regex.Pattern, dict[str, _Known]]] = {}
        self._lock = threading.Lock()

    def remember(self, tenant: str, redactions: Iterable[Redaction]) -> None:
        """Values just redacted for ``tenant``, to be found again in its later requests."""
        fresh = [r for r in redactions if len(r.value) >= MIN_LENGTH]
        if not fresh:
            return
        with self._lock:
            known = self._values.setdefault(tenant, OrderedDict())
            changed = False
            for redaction in fresh:
                if redaction.value in known:
                    known.move_to_end(redaction.value)
                else:
                    known[redaction.value] = _Known(redaction.kind, redaction.rule)
                    changed = True
            while len(known) > self._limit:
                known.popitem(last=False)
                changed = True
            if changed:
                self._patterns.pop(tenant, None)

    def scan(self, tenant: str, text: str) -> list[Finding]:
        pattern, known = self._pattern(tenant)
        if pattern is None:
            return []
        findings = []
        for match in pattern.finditer(text):
            entry = known.get(match.group())
            if entry is not None:
                findings.append(Finding(entry.kind, entry.rule, match.start(), match.end(), 1.0, self.name,
                                        {"seen_before": True}))
        return findings

    def _pattern(self, tenant: str) -> tuple[regex.Pattern | None, dict[str, _Known]]:
        with self._lock:
            known = self._values.get(tenant)
            if not known:
                return None, {}
            if tenant not in self._patterns:
                # Longest first, so a value that contains another is matched whole.
                alternatives = sorted(known, key=len, reverse=True)
                pattern = regex.compile("|".join(regex.escape(v) for v in alternatives))
                self._patterns[tenant] = (pattern, dict(known))
            return self._patterns[tenant]
