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

# Segment finding runs over every scanned byte, so it uses the stdlib engine on a translated
# copy of the text: one class of interesting bytes becomes "A", everything else a space, and a
# run of "A"s is found several times faster than a run of a character class.
_BASE64_CLASS = bytes(
    0x41 if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "+/") else 0x20 for b in range(256)
)
_HEX_CLASS = bytes(0x41 if chr(b) in "0123456789abcdefABCDEF" else 0x20 for b in range(256))
_RUN_OF_24 = re.compile(rb"A{24,}")
_RUN_OF_32 = re.compile(rb"A{32,}")
# Runs that contain at least two percent-escapes (a lone %20 hides nothing).
_PERCENT_PAIR = re.compile(rb"%[0-9A-Fa-f]{2}")
_PERCENT = re.compile(rb"[^\s%\"'<>]*%[0-9A-Fa-f]{2}(?:[^\s\"'<>]*?%[0-9A-Fa-f]{2})+[^\s\"'<>]*")
_HEX_DIGITS = b"0123456789abcdefABCDEF"
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


def base64_segments(data: bytes) -> Iterator[Decoded]:
    # Code is full of long identifiers; drop letter-only runs before any per-run work.
    runs = [m.span() for m in _RUN_OF_24.finditer(data.translate(_BASE64_CLASS))]
    for start, end in [(s, e) for s, e in runs if not data[s:e].isalpha()]:
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
    if b"%" not in data or _PERCENT_PAIR.search(data) is None:
        return
    for match in _PERCENT.finditer(data):
        decoded, origin = bytearray(), []
        segment, base, i = match.group(), match.start(), 0
        while i < len(segment):
            is_escape = (
                segment[i] == 0x25
                and i + 2 < len(segment) + 0
                and segment[i + 1] in _HEX_DIGITS
                and segment[i + 2] in _HEX_DIGITS
            )
            origin.append(base + i)
            if is_escape:
                decoded.append(int(segment[i + 1 : i + 3], 16))
                i += 3
            else:
                decoded.append(0x20 if segment[i] == 0x2B else segment[i])
                i += 1
        origin.append(base + len(segment))
        yield Decoded("url", match.start(), match.end(), bytes(decoded), tuple(origin))


def hex_segments(data: bytes) -> Iterator[Decoded]:
    for match in _RUN_OF_32.finditer(data.translate(_HEX_CLASS)):
        start, end = match.start(), match.end() - (match.end() - match.start()) % 2
        raw = bytes.fromhex(data[start:end].decode("ascii"))
        if _mostly_text(raw):
            origin = tuple(start + 2 * i for i in range(len(raw) + 1))
            yield Decoded("hex", start, end, raw, origin)
