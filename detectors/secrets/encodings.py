"""Secrets hidden one encoding deep: base64 blobs, percent-encoding, hex.

Kubernetes Secret manifests, ``Authorization: Basic`` headers, data URLs and query strings
carry credentials encoded. Each function here finds candidate segments, decodes them, and
returns the decoded bytes with a way to map a decoded span back onto the original bytes, so a
finding inside a blob still redacts the right characters.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Iterator

# Segment finding runs over every scanned byte, so it works on a translated copy of the text:
# one class of interesting bytes becomes "A", everything else a space. The first run of 24 "A"s
# is then a substring search (C speed, no regex attempt at every position) and the run ends at
# the next space.
_BASE64_CLASS = bytes(
    0x41 if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "+/") else 0x20 for b in range(256)
)
_HEX_CLASS = bytes(0x41 if chr(b) in "0123456789abcdefABCDEF" else 0x20 for b in range(256))
# What ends a URL-encoded value: whitespace, quotes, angle brackets.
_URL_CLASS = bytes(0x20 if chr(b) in " \t\r\n\f\v\"'<>" else 0x41 for b in range(256))
_PERCENT_ESCAPE = re.compile(rb"%[0-9A-Fa-f]{2}")
_PRINTABLE = bytes(range(32, 127)) + b"\t\n\r"


@dataclass(frozen=True, slots=True)
class Decoded:
    """Bytes decoded from ``data[start:end]``; ``origin`` maps decoded offsets back."""

    encoding: str
    start: int
    end: int
    data: bytes
    # origin[i] = offset in the original bytes where decoded byte i came from (len = data+1).
    origin: tuple[int, ...] | None = None

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        if self.origin is not None:
            return self.origin[start], self.origin[end]
        # base64: every 3 decoded bytes come from 4 encoded characters.
        return self.start + 4 * (start // 3), min(self.end, self.start + -(-end // 3) * 4)


def _mostly_text(raw: bytes) -> bool:
    return len(raw) >= 8 and len(raw.translate(None, _PRINTABLE)) <= 0.05 * len(raw)


def _runs(classes: bytes, minimum: int) -> Iterator[tuple[int, int]]:
    """Spans of the runs of at least ``minimum`` "A"s in a translated text."""
    needle = b"A" * minimum
    start = classes.find(needle)
    while start != -1:
        end = classes.find(b" ", start + minimum)
        if end == -1:
            end = len(classes)
        yield start, end
        start = classes.find(needle, end)


def base64_segments(data: bytes) -> Iterator[Decoded]:
    # Code is full of long identifiers; drop letter-only runs before any per-run work.
    for start, end in _runs(data.translate(_BASE64_CLASS), 24):
        if data[start:end].isalpha():
            continue
        run_end = end
        while end < len(data) and end - run_end < 2 and data[end] == 0x3D:  # "=" padding
            end += 1
        blob = data[start:end]
        if len(blob.rstrip(b"=")) % 4 == 1 or blob.isdigit():
            continue
        try:
            raw = base64.b64decode(blob + b"=" * (-len(blob) % 4))
        except (binascii.Error, ValueError):
            continue
        if _mostly_text(raw):
            yield Decoded("base64", start, end, raw)


def percent_segments(data: bytes) -> Iterator[Decoded]:
    """Values (runs up to whitespace, a quote or an angle bracket) holding two or more
    percent-escapes, decoded; ``+`` reads as a space as in form encoding."""
    escapes = [m.start() for m in _PERCENT_ESCAPE.finditer(data)]
    if len(escapes) < 2:
        return
    classes = data.translate(_URL_CLASS)
    index = 0
    while index < len(escapes):
        start = classes.rfind(b" ", 0, escapes[index]) + 1
        end = classes.find(b" ", escapes[index])
        end = len(data) if end == -1 else end
        inside = index
        while inside < len(escapes) and escapes[inside] < end:
            inside += 1
        if inside - index >= 2:
            yield _percent_decoded(data, start, end)
        index = inside


def _percent_decoded(data: bytes, start: int, end: int) -> Decoded:
    decoded, origin = bytearray(), []
    i = start
    while i < end:
        origin.append(i)
        if data[i] == 0x25 and _PERCENT_ESCAPE.match(data, i, end):
            decoded.append(int(data[i + 1 : i + 3], 16))
            i += 3
        else:
            decoded.append(0x20 if data[i] == 0x2B else data[i])
            i += 1
    origin.append(end)
    return Decoded("url", start, end, bytes(decoded), tuple(origin))


def hex_segments(data: bytes) -> Iterator[Decoded]:
    for start, end in _runs(data.translate(_HEX_CLASS), 32):
        end -= (end - start) % 2
        raw = bytes.fromhex(data[start:end].decode("ascii"))
        if _mostly_text(raw):
            origin = tuple(start + 2 * i for i in range(len(raw) + 1))
            yield Decoded("hex", start, end, raw, origin)
