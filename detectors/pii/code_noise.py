"""Drop matches that are artefacts of source code rather than personal data.

Developers paste code all day; a detector that flags every hash fragment, version string and
timestamp is switched off within a week. Each rule names the shape of noise it removes.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult

# Entities whose match can be cut out of a longer identifier, hash or number.
_NUMERIC = {"PHONE_NUMBER", "IP_ADDRESS", "US_SSN", "US_ITIN", "US_PASSPORT", "CREDIT_CARD", "DATE_TIME"}
_IDENTIFIER_CHAR = re.compile(r"[A-Za-z0-9_]")
_ESCAPE_BEFORE = re.compile(r"\\[nrt]$")
# ``v1.2.3.4``, ``pkg==10.2.0.1``, ``"lodash@4.17.21"``, ``version: 2.0.1.3``
_VERSION_BEFORE = re.compile(r"(?:\bv|\bversion\s*[:=]?\s*|\bver\.?\s*|[=<>~!]=\s*|[<>^~]\s*|@)[\"']?$", re.IGNORECASE)
_NON_PERSONAL_IPS = re.compile(r"^(?:0\.0\.0\.0|127\.\d+\.\d+\.\d+|255\.\d+\.\d+\.\d+|\d+\.\d+\.\d+\.0|::1?)$")
# Unix time in seconds or milliseconds, 2001 to 2033: a timestamp, not a phone number.
_EPOCH = re.compile(r"^1\d{9}(?:\d{3})?$")


def drop_code_noise(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    return [result for result in results if not _is_code_noise(text, result)]


def _is_code_noise(text: str, result: RecognizerResult) -> bool:
    value = text[result.start : result.end]
    entity = result.entity_type
    if entity in _NUMERIC and (_glued(text, result.start, result.end) or _inside_decimal(text, result.start, result.end)):
        return True
    if entity in {"IP_ADDRESS", "PHONE_NUMBER"} and _VERSION_BEFORE.search(text[max(0, result.start - 12) : result.start]):
        return True
    if entity == "IP_ADDRESS" and _NON_PERSONAL_IPS.match(value):
        return True
    if entity == "PHONE_NUMBER" and _EPOCH.match(value):
        return True
    return False


def _glued(text: str, start: int, end: int) -> bool:
    """Part of a longer ASCII identifier, hash or number (CJK neighbours are fine). The
    escape before a value in a string literal (``"Tel:\\n555-0199"``) is not glue."""
    before = text[start - 1] if start > 0 and not _ESCAPE_BEFORE.match(text, max(0, start - 2), start) else " "
    after = text[end] if end < len(text) else " "
    return bool(_IDENTIFIER_CHAR.match(before) or _IDENTIFIER_CHAR.match(after))


def _inside_decimal(text: str, start: int, end: int) -> bool:
    """Digits after a decimal point or before one (``3.14159265358979``)."""
    before = text[max(0, start - 2) : start]
    after = text[end : end + 2]
    return (len(before) == 2 and before[1] == "." and before[0].isdigit()) or (
        len(after) == 2 and after[0] == "." and after[1].isdigit()
    )
