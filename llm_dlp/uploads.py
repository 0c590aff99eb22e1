"""Bodies on AI endpoints that are not JSON: ``multipart/form-data`` uploads (OpenAI ``/v1/files``,
``/v1/uploads`` parts, audio transcriptions), URL-encoded forms and plain text.

Each part's headers and body are scanned; a body is read as text in whatever charset it is in
(UTF-16 with or without a BOM, a declared charset; see ``llm_dlp.decoding``), a PDF by its text
layer, recognised media (audio, images) is left to the policy's ``media`` setting, and bytes of
no known format are scanned as Latin-1. An edit is written
back in the part's own charset and byte-order mark; a part that cannot be rewritten (a PDF) is
withheld whole. The parser is strict on purpose: a body that another multipart parser could
split differently (a delimiter followed by anything but ``--`` or CRLF, folded or encoded
headers, no closing delimiter) is refused, so the parts scanned are the parts the provider reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import unquote_to_bytes

from llm_dlp.decoding import Codec, DecodeError, Decoded, decode_payload
from llm_dlp.providers.base import ContentUnit, JsonPath, ParsedRequest, RequestFormatError, Segment

FORMAT = "multipart"
TEXT_FORMAT = "text"
FIELDS_FORMAT = "form-urlencoded"
FORMATS = (FORMAT, TEXT_FORMAT, FIELDS_FORMAT)  # bodies ``rebuild`` writes back

_BOUNDARY = re.compile(r';\s*boundary\s*=\s*(?:"([^"]{1,200})"|([^\s;"]{1,200}))', re.IGNORECASE)
_PARAM = re.compile(r';\s*([A-Za-z*]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]*))')
_RAW_TRANSFER = frozenset({"7bit", "8bit", "binary"})


def is_form_data(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"


@dataclass(frozen=True, slots=True)
class Part:
    header: bytes  # the header block, without the blank line that ends it
    body: bytes
    header_codec: Codec
    body_codec: Codec | None  # None: binary media, never rewritten but withheld whole


@dataclass(frozen=True, slots=True)
class FormData:
    """A multipart body cut at its delimiters; ``rebuild`` puts it back together byte for byte."""

    delimiter: bytes  # b"--" + boundary
    preamble: bytes
    parts: tuple[Part, ...]
    epilogue: bytes  # after the closing delimiter's "--"


def parse(data: bytes, content_type: str) -> ParsedRequest:
    if _reads_as_json(data):
        # A server that ignores the content type would read JSON where this reads parts.
        raise RequestFormatError("a multipart/form-data body that is also a JSON document")
    form = _split(data, _boundary(content_type))
    segments: list[Segment] = []
    media: list[tuple[JsonPath, str]] = []
    fields: dict[str, str] = {}
    parts = []
    for index, part in enumerate(form.parts):
        path: JsonPath = ("parts", index)
        headers = _headers(part.header)
        disposition = headers.get("content-disposition", "")
        is_file = "filename" in _params(disposition)
        # The headers are a path of their own: withholding the part's body leaves them in place.
        segments.append(Segment(("headers", index), part.header.decode(part.header_codec.charset), "form header",
                                codec=part.header_codec))
        decoded = decode_payload(part.body, headers.get("content-type"), Codec("text", transfer="none"))
        if isinstance(decoded, Decoded):
            what = "uploaded file" if is_file else "form field"
            unit = ContentUnit(path, what)
            segments.append(Segment(path, decoded.text, "document" if is_file else "user", codec=decoded.codec, unit=unit))
            if (escaped := _escaped_strings(decoded.text)) is not None:
                # A JSON or JSONL file (a batch of requests) is read by a JSON parser: its
                # escaped strings are scanned as that parser reads them; a value found only
                # there cannot be edited in place, so the file is withheld.
                segments.append(Segment(path + ("json",), escaped, "document", codec=_JSON_STRINGS, unit=unit))
            part = Part(part.header, part.body, part.header_codec, decoded.codec)
            name = _params(disposition).get("name")
            if name and not is_file:
                fields[name] = decoded.text
        else:
            media.append((path, decoded.media_type))
        parts.append(part)
    form = FormData(form.delimiter, form.preamble, tuple(parts), form.epilogue)
    # Text outside the parts is ignored by parsers, but it is sent: scanned, and kept as sent.
    for name, raw in (("preamble", form.preamble), ("epilogue", form.epilogue)):
        if raw.strip():
            segments.append(Segment((name,), raw.decode("latin-1"), "body", codec=Codec("text", charset="latin-1", transfer="none")))
    return ParsedRequest(FORMAT, form, segments, model=fields.get("model"), stream=fields.get("stream") == "true",
                         unscanned_media=tuple(media))


def rebuild(parsed: ParsedRequest, edits: Mapping[JsonPath, str], withheld: Mapping[JsonPath, Any]) -> bytes:
    """The body of a request in one of ``FORMATS`` with each edited text written back in its own
    encoding and each withheld unit replaced by its notice."""
    if parsed.format == FORMAT:
        return _rebuild_form(parsed.document, edits, withheld)
    codecs = {segment.path: segment.codec for segment in parsed.segments if segment.codec is not None}
    if parsed.format == FIELDS_FORMAT:
        pairs = [list(pair) for pair in parsed.document]
        for (_, index, side), text in edits.items():
            pairs[index][side] = codecs[("fields", index, side)].encode(text)
        return "&".join("=".join(pair) for pair in pairs).encode("latin-1")
    return codecs[()].encode_bytes(edits[()]) if () in edits else parsed.document


def _rebuild_form(form: FormData, edits: Mapping[JsonPath, str], withheld: Mapping[JsonPath, Any]) -> bytes:
    """Edited texts re-encoded in their part's charset and withheld parts replaced by their
    notice. Raises ``DecodeError`` if an edit would put a delimiter inside a part."""
    out = [form.preamble if ("preamble",) not in edits else edits[("preamble",)].encode("latin-1")]
    for index, part in enumerate(form.parts):
        path: JsonPath = ("parts", index)
        header = part.header
        if ("headers", index) in edits:
            header = part.header_codec.encode_bytes(edits[("headers", index)])
        body = part.body
        if path in withheld:
            body = _notice_bytes(str(withheld[path]), part.body_codec)
        elif path in edits and part.body_codec is not None:
            body = part.body_codec.encode_bytes(edits[path])
        if b"\r\n" + form.delimiter in b"\r\n" + header + b"\r\n\r\n" + body + b"\r\n":
            raise DecodeError("a rewritten part would contain the multipart boundary")
        out.append(form.delimiter + b"\r\n" + header + b"\r\n\r\n" + body + b"\r\n")
    epilogue = form.epilogue if ("epilogue",) not in edits else edits[("epilogue",)].encode("latin-1")
    return out[0] + b"".join(out[1:]) + form.delimiter + b"--" + epilogue


def text_body(data: bytes, content_type: str) -> ParsedRequest:
    """A body that is neither JSON nor multipart: form fields each decoded from their percent
    escapes, or one text in its own charset, or binary media."""
    if content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded":
        return _fields(data)
    decoded = decode_payload(data, content_type, Codec("text", transfer="none"))
    if isinstance(decoded, Decoded):
        return ParsedRequest(TEXT_FORMAT, data, [Segment((), decoded.text, "body", codec=decoded.codec)])
    return ParsedRequest(TEXT_FORMAT, data, [], unscanned_media=(((), decoded.media_type),))


def _fields(data: bytes) -> ParsedRequest:
    """``a=1&b=2``: every name and value as the server reads it (``+`` a space, ``%xx`` a byte)."""
    pairs = tuple(tuple(piece.split("=", 1)) for piece in data.decode("latin-1").split("&"))
    segments, values = [], {}
    for index, pair in enumerate(pairs):
        for side, raw in enumerate(pair):
            found = unquote_to_bytes(raw.replace("+", " "))
            charset = "utf-8" if _is_utf8(found) else "latin-1"
            text = found.decode(charset)
            segments.append(Segment(("fields", index, side), text, "user", codec=Codec("form", charset=charset, transfer="form")))
            if side == 1:
                values.setdefault(pair[0], text)
    return ParsedRequest(FIELDS_FORMAT, pairs, segments, model=values.get("model"))


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_JSON_STRINGS = Codec("json-strings", reencodable=False)
# The longest valid start of a JSON string literal from a quote. Its alternatives begin with
# different characters, so a match never backtracks, and where it stops is where the literal
# closes or breaks: the scan goes on from there, each character read once.
_LITERAL_START = re.compile(r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*')


def _escaped_strings(text: str) -> str | None:
    """The JSON string literals in ``text`` that hide characters behind ``\\u`` or ``\\/``
    escapes, as a JSON parser reads them (one per line); None when there are none."""
    if "\\u" not in text and "\\/" not in text:
        return None
    found, cursor = [], 0
    while (quote := text.find('"', cursor)) >= 0:
        end = _LITERAL_START.match(text, quote).end()
        if end < len(text) and text[end] == '"':
            literal = text[quote : end + 1]
            if "\\u" in literal or "\\/" in literal:
                # A lone surrogate escape becomes "?": detectors and hashes need encodable text.
                found.append(json.loads(literal).encode("utf-8", "replace").decode("utf-8"))
        cursor = end + 1
    return "\n".join(found) or None


def _reads_as_json(data: bytes) -> bool:
    if data.lstrip()[:1] not in (b"{", b"["):
        return False
    try:  # strict=False: as a lenient parser would, raw line breaks allowed inside strings
        json.loads(data, strict=False)
    except (ValueError, RecursionError):
        return False
    return True


def _notice_bytes(notice: str, codec: Codec | None) -> bytes:
    if codec is not None and codec.reencodable:
        try:
            return codec.encode_bytes(notice)
        except DecodeError:
            return codec.bom + notice.encode(codec.charset, errors="replace")
    return notice.encode("utf-8")  # a PDF or media part becomes a short text file saying why


def _boundary(content_type: str) -> bytes:
    match = _BOUNDARY.search(content_type)
    if not match:
        raise RequestFormatError("multipart/form-data without a boundary")
    boundary = match.group(1) or match.group(2)
    if not boundary.isascii():
        raise RequestFormatError("multipart boundary is not ASCII")
    return boundary.encode("ascii")


def _split(data: bytes, boundary: bytes) -> FormData:
    delimiter = b"--" + boundary
    if data.startswith(delimiter):
        preamble, cursor = b"", 0
    else:
        found = data.find(b"\r\n" + delimiter)
        if found < 0:
            raise RequestFormatError("multipart body without its boundary")
        preamble, cursor = data[: found + 2], found + 2  # the CRLF before the delimiter belongs to it
    parts = []
    while True:
        cursor += len(delimiter)
        after = data[cursor : cursor + 2]
        if after == b"--":
            return FormData(delimiter, preamble, tuple(parts), data[cursor + 2 :])
        if after != b"\r\n":
            raise RequestFormatError("multipart delimiter followed by something other than CRLF or --")
        start = cursor + 2
        end = data.find(b"\r\n" + delimiter, start)
        if end < 0:
            raise RequestFormatError("multipart body without a closing delimiter")
        parts.append(_part(data[start:end]))
        cursor = end + 2


def _part(raw: bytes) -> Part:
    if raw.startswith(b"\r\n"):
        header, body = b"", raw[2:]
    else:
        cut = raw.find(b"\r\n\r\n")
        if cut < 0:
            raise RequestFormatError("multipart part without the blank line after its headers")
        header, body = raw[:cut], raw[cut + 4 :]
    charset = "utf-8"
    try:
        header.decode("utf-8")
    except UnicodeDecodeError:
        charset = "latin-1"
    headers = _headers(header)
    transfer = headers.get("content-transfer-encoding", "binary").strip().lower()
    if transfer not in _RAW_TRANSFER:
        raise RequestFormatError("multipart part with a content-transfer-encoding other than 7bit, 8bit or binary; send it unencoded")
    return Part(header, body, Codec("text", charset=charset, transfer="none"), None)


def _headers(header: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in header.decode("latin-1").split("\r\n") if header else ():
        if line[:1] in (" ", "\t") or ":" not in line:
            raise RequestFormatError("multipart part with a folded or malformed header line")
        name, value = line.split(":", 1)
        name = name.strip().lower()
        if name in out:
            raise RequestFormatError("multipart part repeats a header")
        out[name] = value.strip()
    return out


def _params(value: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in _PARAM.finditer(value)}
