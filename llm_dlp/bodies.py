"""Request bodies as text: content-decoding with a size bound, then strict UTF-8.

mitmproxy's own ``.content`` decodes without a limit (a 1 MB gzip bomb becomes gigabytes) and
raises on unknown encodings, so intercepted bodies are decoded here instead.
"""

from __future__ import annotations

import re
import zlib


class BodyError(ValueError):
    """The body cannot be turned into text; ``status`` is what the client should get."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def decode_body(raw: bytes, content_encoding: str, limit: int) -> str:
    return utf8_text(decode_content(raw, content_encoding, limit))


def decode_content(raw: bytes, content_encoding: str, limit: int) -> bytes:
    """The body's bytes with its content-encodings undone, within ``limit``. Multipart uploads
    stay bytes: each part has its own charset (``llm_dlp.uploads``)."""
    data = raw
    # Encodings are listed in the order they were applied; undo them last to first.
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",") if c.strip()]):
        data = _decode_one(data, coding, limit)
    if len(data) > limit:
        raise BodyError(f"request body is {len(data)} bytes, over this proxy's limit of {limit}", 413)
    return data


def utf8_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"request body is not valid UTF-8 (byte {exc.start})") from None


def _decode_one(data: bytes, coding: str, limit: int) -> bytes:
    if coding == "identity":
        return data
    if coding in ("gzip", "x-gzip"):
        return _zlib(data, zlib.MAX_WBITS | 16, limit, coding)
    if coding == "deflate":
        try:
            return _zlib(data, zlib.MAX_WBITS, limit, coding)
        except BodyError as exc:
            if exc.status != 400:
                raise
            return _zlib(data, -zlib.MAX_WBITS, limit, coding)  # raw deflate, as some clients send
    if coding == "br":
        return _brotli(data, limit)
    if coding == "zstd":
        return _zstd(data, limit)
    # Named only when it looks like a coding's name: the header is the client's text, and the
    # message reaches the audit log.
    named = repr(coding) if re.fullmatch(r"[a-z][a-z0-9-]{0,11}", coding) else f"of {len(coding)} characters"
    raise BodyError(f"unsupported content-encoding {named}; send identity, gzip, deflate, br or zstd", 415)


def _too_big(limit: int) -> BodyError:
    return BodyError(f"decompressed request body exceeds this proxy's limit of {limit} bytes", 413)


def _zlib(data: bytes, wbits: int, limit: int, coding: str) -> bytes:
    decoder = zlib.decompressobj(wbits)
    try:
        out = decoder.decompress(data, limit + 1)
    except zlib.error as exc:
        raise BodyError(f"corrupt {coding} body: {exc}") from None
    if len(out) > limit or decoder.unconsumed_tail:
        raise _too_big(limit)
    if not decoder.eof:
        raise BodyError(f"truncated {coding} body")
    return out


def _brotli(data: bytes, limit: int) -> bytes:
    import brotli  # a mitmproxy dependency

    decoder = brotli.Decompressor()
    try:
        out = decoder.process(data, output_buffer_limit=limit + 1)
    except brotli.error as exc:
        raise BodyError(f"corrupt br body: {exc}") from None
    if len(out) > limit or not decoder.is_finished():
        if len(out) > limit or not decoder.can_accept_more_data():
            raise _too_big(limit)
        raise BodyError("truncated br body")
    return out


def _zstd(data: bytes, limit: int) -> bytes:
    import zstandard  # a mitmproxy dependency

    try:
        reader = zstandard.ZstdDecompressor().stream_reader(data)
        out = reader.read(limit + 1)
    except zstandard.ZstdError as exc:
        raise BodyError(f"corrupt zstd body: {exc}") from None
    if len(out) > limit:
        raise _too_big(limit)
    return out
