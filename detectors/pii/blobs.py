"""Encoded data is no prose: no name, place or number read inside base64, PEM or hex blobs.

A private key, a certificate, an image in a data URL or a hash is a long run of letters and
digits without a space. Cut at its ``+`` and ``/``, a run of random base64 yields capitalised
syllables that the word lists know ("Joe94O3", "+Ina89", "Ry9Avl"), and about one PEM key in
ten gave a person or a place. Such a run is told from words, identifiers and codes by how
often it switches between capitals, small letters and digits: random base64 switches at about
two characters in three, a slug, a path, a CamelCase identifier, an IBAN or an identity
number far less often. Hex (a hash, a key) is told by being all hex digits, a UUID by its shape.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from detectors.pii.light_imports import RecognizerResult

# Runs of base64 (standard and URL-safe) and hex characters; a PEM body's lines are one run.
_RUN = re.compile(r"[A-Za-z0-9+/=_-]{20,}(?:\r?\n[A-Za-z0-9+/=_-]+)*")
# Character-class switches per character from which a run with a digit is base64. Random
# base64 switches at about 0.65; "Hello-World-2024-from-Anna-Smith" at 0.25, a CamelCase
# identifier ("MaxRetriesPerRequest2") below 0.4.
_MIN_SWITCH_RATE = 0.4
# Hex of a hash or a key (32 digits and more, one case): it switches less, and is all hex digits.
_HEX = re.compile(r"[0-9a-f]{32,}|[0-9A-F]{32,}")
# A UUID (a request id, a trace id): its groups of digits read as phone numbers or dates
# ("30945609-afbe-…"), yet it is an identifier, and so is any run holding one.
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_DIGIT = re.compile(r"[0-9]")
_SEGMENT = re.compile(r"[A-Z]+|[a-z]+|[0-9]+")


def blob_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each encoded blob in ``text``, in order; one linear pass."""
    return [(m.start(), m.end()) for m in _RUN.finditer(text) if _is_encoded(m.group())]


def mask_blobs(text: str) -> str:
    """``text`` with each encoded blob replaced by one ``_``: what a line says around its data.
    A blob's characters can spell an operator ("0xF", "==" of padding) and make a sentence
    read as code; as a word, the blob still lets ``data = <blob>`` read as an assignment. A
    blob that opens with ``0x`` is a hex literal, which is code: it stays one (``0x0``)."""
    if len(text) < 20:
        return text
    return _RUN.sub(_masked, text)


def _masked(match: re.Match[str]) -> str:
    run = match.group()
    if not _is_encoded(run):
        return run
    return "0x0" if run[:2] in ("0x", "0X") else "_"


def without_blob_findings(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """The results that are not wholly inside an encoded blob."""
    if not results:
        return results
    spans = blob_spans(text)
    if not spans:
        return results
    starts = [start for start, _ in spans]

    def inside(result: RecognizerResult) -> bool:
        index = bisect_right(starts, result.start) - 1
        return index >= 0 and result.end <= spans[index][1]

    return [result for result in results if not inside(result)]


def _is_encoded(run: str) -> bool:
    if _DIGIT.search(run) is None:
        return False
    if _HEX.fullmatch(run) or _UUID.search(run):
        return True
    # Segments of one class ("Joe", "94", "O", "3"); a separator also ends one, which counts
    # a switch more in "ab/cd": separators are rare in words and common enough in base64.
    segments = len(_SEGMENT.findall(run))
    characters = len(run) - run.count("\n") - run.count("\r")
    return segments - 1 >= characters * _MIN_SWITCH_RATE
