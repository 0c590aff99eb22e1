"""The ``withhold`` action: a content unit (a tool result, a document, a message part) is replaced
by a short notice the model can read, and the rest of the request goes on.

A block re-sent with every later turn poisons an agent's session; a withheld unit does not, as
long as the same unit is withheld to the same bytes every turn. So the notice is a pure function
of the unit's withheld findings, the file it came from and the policy: no time, request id or
counter, and the conversation prefix (and the provider's prompt cache) holds from turn to turn.

Where a finding has no unit (the system prompt, an opaque JSON body, a block type we do not
reshape), it cannot be withheld and is blocked instead; ``fallback_reason`` says so.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, Iterable

from detectors.base import Finding
from llm_dlp.policy.model import Policy
from llm_dlp.providers.base import ContentUnit, JsonPath, Segment

CANNOT_WITHHOLD = "cannot be withheld there, so blocked"
INSIDE_WITHHELD = "inside a withheld unit, so not sent"
_NOTICE = re.compile(r"\[llm-dlp withheld this [^\]\n]*\]")

_NOUNS = {"secret": "secret", "pii": "personal data", "code": "code", "proprietary_code": "proprietary code"}


def possible(segment: Segment) -> bool:
    """Can a finding in ``segment`` be withheld? Only where replacing its unit removes it."""
    return segment.unit is not None and segment.unit.holds(segment.path)


def fallback_reason(reason: str | None) -> str:
    """The reason recorded for a withhold finding that is blocked instead."""
    return f"{reason or 'default_action'}; {CANNOT_WITHHOLD}"


def replacements(withheld: Iterable[tuple[Segment, Finding]], policy: Policy) -> dict[JsonPath, Any]:
    """Each unit holding a withheld finding -> the JSON value that replaces it (for
    ``splice.replace_strings``). Every segment must be ``possible``."""
    units: dict[JsonPath, ContentUnit] = {}
    findings: dict[JsonPath, list[Finding]] = defaultdict(list)
    sources: dict[JsonPath, set[str]] = defaultdict(set)
    for segment, finding in withheld:
        assert segment.unit is not None
        unit = segment.unit
        units[unit.path] = unit
        findings[unit.path].append(finding)
        origin = _origin(finding, segment.path_hint)
        if origin:
            sources[unit.path].add(origin)
    outermost = {path: unit for path, unit in units.items()
                 if not any(other != path and unit.path[: len(other)] == other for other in units)}
    return {
        path: unit.replacement(notice(unit, findings[path], _narrowest(sources[path]), policy))
        for path, unit in outermost.items()
    }


def _origin(finding: Finding, path_hint: str | None) -> str | None:
    """Where the finding was read from, as the user knows it: the file the detector saw named
    (by a grep or diff wrapper, else the tool call's path) and that file's own line numbers when
    the wrapper carries them, e.g. ``src/pricing/engine.py lines 4–77``. Metadata, never text."""
    file = finding.details.get("file")
    file = file if isinstance(file, str) and file else path_hint
    if not file:
        return None
    lines = finding.details.get("file_lines")
    if isinstance(lines, (list, tuple)) and len(lines) == 2 and all(isinstance(n, int) for n in lines):
        first, last = lines
        return f"{file} line {first}" if first == last else f"{file} lines {first}\u2013{last}"
    return file


def _narrowest(sources: set[str]) -> list[str]:
    """Sorted, leaving out a bare file name another source gives with its lines."""
    return sorted(s for s in sources if not any(o != s and o.startswith(f"{s} line") for o in sources))


def unit_paths(withheld: Iterable[Segment]) -> set[JsonPath]:
    """The paths of the units these withheld segments lie in (every segment ``possible``)."""
    return {segment.unit.path for segment in withheld if segment.unit is not None}


def inside_reason(reason: str | None) -> str:
    """The reason recorded for a finding its own rule would redact or log but that was never
    sent, because the unit holding it was withheld for another finding."""
    return f"{reason or 'default_action'}; {INSIDE_WITHHELD}"


def covered(replaced: Iterable[JsonPath], path: JsonPath) -> bool:
    """Is ``path`` inside a unit being replaced (so no other edit may touch it)?"""
    return any(path[: len(unit)] == unit for unit in replaced)


def notice(unit: ContentUnit, findings: Iterable[Finding], sources: list[str], policy: Policy) -> str:
    """What the model reads instead of the unit, e.g. ``[llm-dlp withheld this tool result under
    policy 'default': 30 records of personal data (pii PII_RECORDS) from data/customers.csv. It is
    not available to the assistant; ask security@example.com.]``. Never a value."""
    described = "; ".join(_describe(kind, rule, group) for (kind, rule), group in sorted(_by_rule(findings).items()))
    origin = f" from {', '.join(sources)}" if sources else ""
    ask = " or ".join(part for part in (policy.contact, policy.help_url) if part)
    help_part = f"; ask {ask}" if ask else ""
    return (f"[llm-dlp withheld this {unit.what} under policy '{policy.name}': {described}{origin}. "
            f"It is not available to the assistant{help_part}.]")


def _by_rule(findings: Iterable[Finding]) -> dict[tuple[str, str], list[Finding]]:
    grouped: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for finding in findings:
        grouped[(finding.kind, finding.rule)].append(finding)
    return grouped


def _describe(kind: str, rule: str, findings: list[Finding]) -> str:
    noun = _NOUNS.get(kind, kind)
    records = _total(findings, "records")
    lines = _total(findings, "lines")
    if records:
        amount = f"{records} records of {noun}"
    elif lines:
        amount = f"{lines} lines of {noun}"
    elif len(findings) == 1:
        amount = noun if kind == "pii" else f"a {noun}" if noun[0] not in "aeiou" else f"an {noun}"
    else:
        amount = f"{len(findings)} findings of {noun}"
    return f"{amount} (index {rule})" if kind == "proprietary_code" else f"{amount} ({kind} {rule})"


def _total(findings: list[Finding], key: str) -> int:
    return sum(int(v) for f in findings if isinstance(v := f.details.get(key), (int, float)) and not isinstance(v, bool))


def notices_in(body: str) -> list[str]:
    """The notices in a forwarded body, in order, each once (for ``llm-dlp policy explain``)."""
    return list(dict.fromkeys(_NOTICE.findall(body)))
