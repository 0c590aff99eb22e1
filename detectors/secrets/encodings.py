"""Secrets hidden one encoding deep: base64 blobs, percent-encoding, hex.

Kubernetes Secret manifests, ``Authorization: Basic`` headers, data URLs and query strings
carry credentials encoded. Each function here finds candidate segments, decodes them, and
returns the decoded bytes with a way to map a decoded span back onto the original bytes, so a
finding inside a blob still redacts the right characters.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Iterator

import regex

# Standard-alphabet base64 of at least 24 characters (18 bytes), whole segments only.
_BASE64 = regex.compile(rb"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=])")
# Runs that contain at least two percent-escapes (a lone %20 hides nothing).
_PERCENT = regex.compile(rb"[^\s%\"'<>]*%[0-9A-Fa-f]{2}(?:[^\s\"'<>]*?%[0-9A-Fa-f]{2})+[^\s\"'<>]*")
_HEX = regex.compile(rb"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){16,}(?![0-9A-Fa-f])")
_HEX_DIGITS = b"0123456789abcdefABCDEF"


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
    if len(raw) < 8:
        return False
    printable = sum(1 for b in raw if 32 <= b < 127 or b in (9, 10, 13))
    return printable >= 0.95 * len(raw)


def base64_segments(data: bytes) -> Iterator[Decoded]:
    for match in _BASE64.finditer(data):
        blob = match.group()
        if len(blob.rstrip(b"=")) % 4 == 1 or blob.isalpha() or blob.isdigit():
            continue
        try:
            raw = base64.b64decode(blob + b"=" * (-len(blob) % 4))
        except (binascii.Error, ValueError):
            continue
        if _mostly_text(raw):
            yield Decoded("base64", match.start(), match.end(), raw)


def percent_segments(data: bytes) -> Iterator[Decoded]:
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
    for match in _HEX.finditer(data):
        raw = bytes.fromhex(match.group().decode("ascii"))
        if _mostly_text(raw):
            origin = tuple(match.start() + 2 * i for i in range(len(raw) + 1))
            yield Decoded("hex", match.start(), match.end(), raw, origin)
