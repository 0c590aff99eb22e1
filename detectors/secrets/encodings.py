"""Secrets hidden one encoding deep: base64 blobs, percent-encoding, hex, escaped strings.

Kubernetes Secret manifests, ``Authorization: Basic`` headers, data URLs and query strings
carry credentials encoded; Jupyter notebooks and JSON documents quoted inside strings carry
them with every ``"`` escaped, where no rule sees where a value ends. Each function here finds candidate segments, decodes them, and
returns the decoded bytes with a way to map a decoded span back onto the original bytes, so a
finding inside a blob still redacts the right characters.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

# Segment finding runs over every scanned byte, so it works on a translated copy of the text:
# one class of interesting bytes becomes "A", everything else a space. The first run of 24 "A"s
# is then a substring search (C speed, no regex attempt at every position) and the run ends at
# the next space.
_BASE64_CLASS = bytes(
    0x41 if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "+/") else 0x20 for b in range(256)
)
# Hex dumps: digits, and what may stand between bytes (see ``hex_segments``).
_HEX_DUMP_CLASS = bytes(0x41 if chr(b) in "0123456789abcdefABCDEF \\x:,\r\n" else 0x20 for b in range(256))
# A run of at least 16 bytes in one of the forms ``hex_segments`` reads. A separator is optional
# and may change within a run ("4157 535f" groups two bytes; "xxd -p" wraps lines).
_HEX_RUN = re.compile(rb"(?:(?:\\x|0x)?[0-9A-Fa-f]{2}(?:[ :]|, ?|\r?\n)?){16,}")
# Sixteen bytes of printable ASCII (or tab, newline, return) in one of those forms: what a hex
# dump of text holds and a hash almost never does ((6/16)^16 per place), so the decoder is not
# run for every git SHA or checksum.
HEX_TEXT = rb"(?:(?:\\x|0x)?(?:[2-7][0-9A-Fa-f]|0[9aAdD])(?:[ :]|, ?|\r?\n)?){16}"
# A line of a dump with an offset column: xxd ("00000010: 443d 414b ...  D=AKIA...") or
# hexdump -C and od ("00000010  44 3d 41 4b ...  |D=AKIA...|"). A value read from such a dump
# runs on from line to line, so consecutive lines are decoded as one run.
DUMP_LINE = rb"[0-9A-Fa-f]{4,16}:?[ \t]{1,3}(?:(?:[0-9A-Fa-f]{2}){1,4}[ ]{1,2}){8}"
_DUMP_LINE = re.compile(rb"^[ \t]*[0-9A-Fa-f]{4,16}:?[ \t]{1,3}((?:(?:[0-9A-Fa-f]{2}){1,8}[ ]{1,2})*(?:[0-9A-Fa-f]{2}){1,8})", re.M)
_DUMP_LINE_BYTES = 16  # what xxd and hexdump -C put on a line; more is the text column read as hex
_PAIR = re.compile(rb"[0-9A-Fa-f]{2}")
_HEX_BYTE = re.compile(rb"(?:\\x|0x)?([0-9A-Fa-f]{2})")
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_SEPARATORS = b" :,\r\n"
# What ends a URL-encoded value: whitespace, quotes, angle brackets.
_URL_CLASS = bytes(0x20 if chr(b) in " \t\r\n\f\v\"'<>" else 0x41 for b in range(256))
_PERCENT_ESCAPE = re.compile(rb"%[0-9A-Fa-f]{2}")
# JSON's two-character escapes (``\uXXXX`` is left as it is).
_STRING_ESCAPE = re.compile(rb'\\(["\\/bfnrt])')
_ESCAPED_QUOTE = re.compile(rb'\\"')
_ESCAPED_QUOTE_OR_NEWLINE = re.compile(rb'\\["n]')
_UNESCAPED = {b'"': b'"', b"\\": b"\\", b"/": b"/", b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t"}
_PRINTABLE = bytes(range(32, 127)) + b"\t\n\r"


@dataclass(frozen=True, slots=True)
class Decoded:
    """Bytes decoded from ``original[start:end]``, and how to map a decoded span back."""

    encoding: str  # "base64", "url", "hex" or "string"
    start: int
    end: int
    data: bytes
    # url and string: decoded offsets of the bytes that came from an escape ("%XX", "\\n");
    # hex: where each decoded byte's two digits start.
    escapes: tuple[int, ...] = ()
    hex_prefix: int = 0  # hex: 2 where each byte is written "\\x41" or "0x41"
    # hex from a dump with a text column: where each byte's line ends, so that a finding also
    # covers the text column, which shows the value in clear.
    hex_ends: tuple[int, ...] = ()

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        if self.encoding == "base64":  # every 3 decoded bytes come from 4 encoded characters
            return self.start + 4 * (start // 3), min(self.end, self.start + -(-end // 3) * 4)
        if self.encoding == "hex":
            last = self.hex_ends[end - 1] if self.hex_ends else self.escapes[end - 1] + 2
            return self.start + self.escapes[start] - self.hex_prefix, self.start + last
        # Each escape before an offset widens it by the escape's extra characters.
        extra = 2 if self.encoding == "url" else 1
        return (
            self.start + start + extra * bisect.bisect_left(self.escapes, start),
            self.start + end + extra * bisect.bisect_left(self.escapes, end),
        )


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
    escape = _PERCENT_ESCAPE.search(data)
    classes = data.translate(_URL_CLASS) if escape else b""
    while escape is not None:
        start = classes.rfind(b" ", 0, escape.start()) + 1
        end = classes.find(b" ", escape.end())
        end = len(data) if end == -1 else end
        if _PERCENT_ESCAPE.search(data, escape.end(), end):
            yield _percent_decoded(data, start, end)
        escape = _PERCENT_ESCAPE.search(data, end)


def _percent_decoded(data: bytes, start: int, end: int) -> Decoded:
    segment = data[start:end]
    # An escape at segment offset p, the j-th one, decodes to output offset p - 2j.
    escapes = tuple(m.start() - 2 * j for j, m in enumerate(_PERCENT_ESCAPE.finditer(segment)))
    # "+" is a space in form encoding; "%2B" stays "+" because it is replaced before unquoting.
    decoded = urllib.parse.unquote_to_bytes(segment.replace(b"+", b" "))
    return Decoded("url", start, end, decoded, escapes)


def escaped_string_segments(data: bytes, newlines: bool = False) -> Iterator[Decoded]:
    """Runs of lines holding an escaped quote (``\\"``), or with ``newlines`` also an escaped
    newline, with JSON's escapes undone: a notebook cell's ``"api_key = \\"...\\"\\n"`` becomes
    the line of code it stands for, a YAML file sent as one JSON string its lines again."""
    needle = _ESCAPED_QUOTE_OR_NEWLINE if newlines else _ESCAPED_QUOTE
    found = needle.search(data)
    while found is not None:
        start = data.rfind(b"\n", 0, found.start()) + 1
        end = _line_end(data, found.start())
        found = needle.search(data, end)
        while found is not None and data.rfind(b"\n", end, found.start()) == end:  # the very next line
            end = _line_end(data, found.start())
            found = needle.search(data, end)
        segment = data[start:end]
        # The j-th escape at segment offset p decodes to output offset p - j.
        escapes = tuple(m.start() - j for j, m in enumerate(_STRING_ESCAPE.finditer(segment)))
        decoded = _STRING_ESCAPE.sub(lambda m: _UNESCAPED[m.group(1)], segment)
        yield Decoded("string", start, end, decoded, escapes)


def _line_end(data: bytes, offset: int) -> int:
    end = data.find(b"\n", offset)
    return len(data) if end == -1 else end


def hex_segments(data: bytes, dump_lines: bool = True) -> Iterator[Decoded]:
    """Hex dumps of at least 16 bytes that decode to text: contiguous (``.hex()``, ``xxd -p``
    with its wrapped lines), bytes or two-byte groups separated by a space or a colon
    (``bytes.hex(" ")``, ``xxd``'s groups, openssl), ``\\x41`` escapes and ``0x41,`` arrays.
    And dumps with an offset column and a text column (``xxd``, ``hexdump -C``, ``od``), whose
    text column shows the value cut into lines: consecutive lines are read as one run. Hashes and
    UUIDs are hex too; their bytes are not text, so they are dropped before any rule sees them.
    ``dump_lines``: look for dumps with columns (the caller knows whether ``DUMP_LINE`` occurs)."""
    dumps = list(_dump_line_segments(data)) if dump_lines else []
    yield from dumps
    # Runs of dump characters first (C speed); the regex only inside those, and only where the
    # run is not bare digits. Bytes are decoded and judged before any per-byte offsets are
    # worked out: a megabyte of "aaaa" or of hashes is dropped at C speed.
    for region_start, region_end in _runs(data.translate(_HEX_DUMP_CLASS), 32):
        region = data[region_start:region_end]
        bare = region.strip(_SEPARATORS)
        if not bare.translate(None, _HEX_DIGITS):  # ".hex()" output: no separators, no prefixes
            if len(bare) >= 32:
                start = region_start + region.index(bare[:1])
                bare = bare[: len(bare) - len(bare) % 2]
                raw = bytes.fromhex(bare.decode("ascii"))
                if _mostly_text(raw):
                    yield Decoded("hex", start, start + len(bare), raw, tuple(range(0, len(bare), 2)))
            continue
        for run in _HEX_RUN.finditer(data, region_start, region_end):
            start, end = run.span()
            if dumps and any(d.start <= start < d.end for d in dumps):
                continue  # one line of a dump read whole above
            raw = bytes.fromhex(b"".join(_HEX_BYTE.findall(data, start, end)).decode("ascii"))
            if _mostly_text(raw):
                digits = list(_HEX_BYTE.finditer(data, start, end))
                offsets = tuple(m.start(1) - start for m in digits)
                yield Decoded("hex", start, digits[-1].end(), raw, offsets, digits[0].start(1) - start)


def _dump_line_segments(data: bytes) -> Iterator[Decoded]:
    lines: list[re.Match[bytes]] = []
    for line in _DUMP_LINE.finditer(data):
        if lines and line.start() != _line_end(data, lines[-1].end()) + 1:
            yield from _dump_decoded(data, lines)
            lines = []
        lines.append(line)
    if lines:
        yield from _dump_decoded(data, lines)


def _dump_decoded(data: bytes, lines: list[re.Match[bytes]]) -> Iterator[Decoded]:
    if len(lines) < 2:
        return  # one line is a run like any other
    starts: list[int] = []
    ends: list[int] = []
    for line in lines:
        line_end = _line_end(data, line.end())
        for pair in list(_PAIR.finditer(data, *line.span(1)))[:_DUMP_LINE_BYTES]:
            starts.append(pair.start())
            ends.append(line_end)
    raw = bytes.fromhex(b"".join(data[p : p + 2] for p in starts).decode("ascii"))
    if _mostly_text(raw):
        first = starts[0]
        yield Decoded("hex", first, ends[-1], raw, tuple(p - first for p in starts), 0, tuple(e - first for e in ends))
