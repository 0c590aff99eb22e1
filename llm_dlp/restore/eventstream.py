"""AWS event-stream frames (Bedrock's streamed answers): cut out of a byte stream, rebuilt.

A frame is ``total_len u32 | headers_len u32 | prelude_crc u32 | headers | payload |
message_crc u32``, big-endian, each CRC a CRC-32 of the bytes before it. A frame the restorer
leaves alone goes out as the exact bytes that came in; a rewritten one keeps its header bytes
and gets new lengths and CRCs. Frames are checked on the way in: a broken one ends restoring
(the rest passes through untouched) rather than being "repaired" into something the client
would trust.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

_PRELUDE = struct.Struct(">III")
_CRC = struct.Struct(">I")
OVERHEAD = _PRELUDE.size + _CRC.size
MAX_FRAME = 16 * 1024 * 1024  # the format's own limit
_STRING = 7  # header value type: u16 length + UTF-8
# Bytes a header value of each fixed-size type takes (types 0 and 1 are booleans with no value).
_FIXED = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}


class FrameError(ValueError):
    """Bytes that are not a well-formed event-stream frame."""


@dataclass(frozen=True, slots=True)
class Frame:
    raw: bytes
    headers: bytes  # the header block, byte for byte
    payload: bytes

    def header(self, name: str) -> str | None:
        """A string header's value (``:event-type``, ``:message-type``...)."""
        return string_headers(self.headers).get(name)

    def json(self) -> Any:
        try:
            return json.loads(self.payload)
        except ValueError:
            return None

    def with_payload(self, payload: bytes) -> bytes:
        return encode_frame(self.headers, payload)


def encode_frame(headers: bytes, payload: bytes) -> bytes:
    total = OVERHEAD + len(headers) + len(payload)
    prelude = struct.pack(">II", total, len(headers))
    body = prelude + _CRC.pack(zlib.crc32(prelude)) + headers + payload
    return body + _CRC.pack(zlib.crc32(body))


def encode_headers(values: dict[str, str]) -> bytes:
    """A header block of string headers, in the given order."""
    out = bytearray()
    for name, value in values.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += bytes([len(raw_name)]) + raw_name + bytes([_STRING]) + struct.pack(">H", len(raw_value)) + raw_value
    return bytes(out)


def string_headers(block: bytes) -> dict[str, str]:
    values: dict[str, str] = {}
    i = 0
    while i < len(block):
        length = block[i]
        name = block[i + 1 : i + 1 + length].decode("utf-8", "replace")
        kind = block[i + 1 + length]
        i += 2 + length
        if kind in (6, _STRING):  # byte array or string: u16 length
            (size,) = struct.unpack_from(">H", block, i)
            if kind == _STRING:
                values[name] = block[i + 2 : i + 2 + size].decode("utf-8", "replace")
            i += 2 + size
        elif kind in _FIXED:
            i += _FIXED[kind]
        else:
            raise FrameError(f"unknown header value type {kind}")
    return values


class FrameReader:
    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[Frame]:
        self._buffer += chunk
        frames = []
        while len(self._buffer) >= _PRELUDE.size:
            total, headers_length, prelude_crc = _PRELUDE.unpack_from(self._buffer)
            if zlib.crc32(self._buffer[:8]) != prelude_crc:
                raise FrameError("prelude CRC mismatch")
            if not OVERHEAD + headers_length <= total <= MAX_FRAME:
                raise FrameError(f"frame length {total} out of range")
            if len(self._buffer) < total:
                break
            raw = bytes(self._buffer[:total])
            del self._buffer[:total]
            (message_crc,) = _CRC.unpack_from(raw, total - _CRC.size)
            if zlib.crc32(raw[: total - _CRC.size]) != message_crc:
                raise FrameError("message CRC mismatch")
            start = _PRELUDE.size
            frames.append(Frame(raw, raw[start : start + headers_length], raw[start + headers_length : total - _CRC.size]))
        return frames

    def finish(self) -> list[Frame]:
        return []  # an incomplete frame at the end stays unread and passes through as it came

    @property
    def unread(self) -> bytes:
        return bytes(self._buffer)
