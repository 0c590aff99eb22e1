"""Content a model reads but the JSON does not spell out: base64 payloads, data URLs, text files
in UTF-16/32, PDFs. Each is turned into text the detectors can scan, with the ``Codec`` that puts
an edited text back in the same wire form (or says it cannot, as for a PDF).

Binary media a text scanner cannot read (images, audio, video, archives, PDFs without text) is
reported as ``Unscanned`` with a media type this module chose from the payload's own leading
bytes: the client's declared type is never carried into the audit, where it could hold any value.
Bytes of no known media format are scanned as Latin-1 text rather than passed unseen.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass

__all__ = [
    "Codec",
    "DecodeError",
    "Decoded",
    "Unscanned",
    "decode_base64_payload",
    "decode_data_url",
    "decode_payload",
    "decode_text_bytes",
]


class DecodeError(ValueError):
    """Content the API says is encoded (base64, a PDF) is not: the request cannot be scanned."""


@dataclass(frozen=True, slots=True)
class Codec:
    """How decoded text sits in the request: ``encode`` gives the JSON string value (or, for a
    multipart part, ``encode_bytes`` the part's body) carrying an edited text in the original
    form: the same charset and byte-order mark, the same base64 alphabet, the same data-URL
    header. A codec that is not ``reencodable`` (text extracted from a PDF, text read through a
    lossy decode) raises ``DecodeError``: the pipeline withholds or blocks instead of editing."""

    name: str  # "base64", "data-url", "pdf", "office", "text" (a multipart part or body), "form" (a form field)
    reencodable: bool = True
    charset: str = "utf-8"  # a Python codec name without a BOM of its own ("utf-16-le", not "utf-16")
    bom: bytes = b""
    # "base64", "base64url", "percent" (a data URL without ;base64), "form" (a URL-encoded form
    # field), "none" (raw bytes, as Latin-1 characters)
    transfer: str = "base64"
    padded: bool = True
    header: str = ""  # a data URL's "data:text/plain;base64," (with any leading whitespace)

    def encode_bytes(self, text: str) -> bytes:
        if not self.reencodable:
            raise DecodeError(f"{self.name} content cannot be rewritten")
        try:
            return self.bom + text.encode(self.charset)
        except UnicodeEncodeError as exc:
            raise DecodeError(f"the edited text does not fit the original charset {self.charset}") from exc

    def encode(self, text: str) -> str:
        raw = self.encode_bytes(text)
        if self.transfer == "percent":
            body = urllib.parse.quote_from_bytes(raw, safe="")
        elif self.transfer == "form":
            body = urllib.parse.quote_plus(raw, safe="")
        elif self.transfer == "none":
            body = raw.decode("latin-1")
        else:
            encoded = base64.urlsafe_b64encode(raw) if self.transfer == "base64url" else base64.b64encode(raw)
            body = encoded.decode("ascii") if self.padded else encoded.decode("ascii").rstrip("=")
        return self.header + body


@dataclass(frozen=True, slots=True)
class Decoded:
    """Text recovered from an encoded payload, and how to put an edited version back."""

    text: str
    codec: Codec


@dataclass(frozen=True, slots=True)
class Unscanned:
    """Binary media a text scanner cannot read. ``media_type`` comes from the payload's leading
    bytes (``image/png``, ``audio/wav``, ``application/zip``, ``application/pdf`` for a PDF with
    no text layer...), never from the client's declaration."""

    media_type: str


# The payload's own leading bytes name what it is; the audit records only these names.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"ID3", "audio/mpeg"),
    (b"\xff\xfb", "audio/mpeg"),
    (b"\xff\xf3", "audio/mpeg"),
    (b"fLaC", "audio/flac"),
    (b"OggS", "audio/ogg"),
    (b"\x1aE\xdf\xa3", "video/webm"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"%PDF-", "application/pdf"),
)


def sniff_media_type(raw: bytes) -> str:
    """What binary ``raw`` is, from its first bytes; ``application/octet-stream`` when unknown."""
    if raw[:4] == b"RIFF" and raw[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}[raw[8:12]]
    if raw[4:8] == b"ftyp":
        return "image/heic" if raw[8:12] in (b"heic", b"heix", b"mif1") else "video/mp4"
    for magic, media_type in _MAGIC:
        if raw.startswith(magic):
            return media_type
    return "application/octet-stream"


def decode_base64_payload(data: str, media_type: str | None) -> Decoded | Unscanned:
    """A field the API defines as base64: its text (a text file in any charset, a PDF's
    extracted text) or ``Unscanned`` binary media. Which it is comes from the decoded bytes
    (a "image/png" that is really UTF-8 text is scanned as text); ``media_type`` only lends a
    charset. Raises ``DecodeError`` when ``data`` is not base64.

    A data URL is read as one: APIs that define a field as base64 also take
    ``data:application/pdf;base64,...`` there (OpenAI's ``file_data``), and ``:`` is no base64
    character, so the two cannot be confused."""
    if (url := decode_data_url(data)) is not None:
        return url
    raw, transfer, padded = _unbase64(data)
    return decode_payload(raw, media_type, Codec("base64", transfer=transfer, padded=padded))


def decode_data_url(value: str) -> Decoded | Unscanned | None:
    """A ``data:`` URL's content, or None when ``value`` is not one (cheap: one prefix check).

    The header must be what clients write: a lower-case media type, at most a ``charset`` this
    proxy knows, and ``;base64``. Anything else before the first comma ("data: my key is ...,",
    a parameter of the client's own) is text the decoded payload would leave unread, so such a
    string is not taken for a data URL and is scanned whole."""
    start = len(value) - len(value.lstrip()) if value[:1].isspace() else 0
    if value[start : start + 5].lower() != "data:":
        return None
    header = _DATA_URL_HEADER.match(value, start)
    if header is None or (header["charset"] and _known_charset(header["charset"]) is None):
        return None
    payload = value[header.end() :]
    if header["base64"]:
        raw, transfer, padded = _unbase64(payload)
    else:
        raw, transfer, padded = urllib.parse.unquote_to_bytes(payload), "percent", True
    media_type = (header["type"] or "") + (f";charset={header['charset']}" if header["charset"] else "")
    return decode_payload(raw, media_type or None, Codec("data-url", transfer=transfer, padded=padded, header=value[: header.end()]))


_DATA_URL_HEADER = re.compile(
    r"(?i:data:)(?P<type>[a-z]{1,20}/[a-z0-9][a-z0-9.+-]{0,100})?"
    r"(?:(?i:;charset=)(?P<charset>[A-Za-z0-9._-]{1,40}))?(?P<base64>(?i:;base64))?,"
)


def decode_text_bytes(raw: bytes, media_type: str | None = None) -> str | None:
    """``raw`` as text when it is text (UTF-8; UTF-16/32 by BOM or by their NUL pattern; the
    charset ``media_type`` declares), else None (binary)."""
    found = text_encoding(raw, media_type)
    if found is None:
        return None
    charset, bom = found
    return raw[len(bom) :].decode(charset)


# --- how bytes become text ------------------------------------------------------------------

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM begins with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([A-Za-z0-9._:-]+)", re.IGNORECASE)
# C0 controls other than tab, newline, form feed, carriage return and escape: text files hardly
# hold them; binary formats hold them everywhere.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_SAMPLE = 4096  # characters (or bytes) looked at to judge whether decoded bytes read as text
_MOSTLY = 0.98  # share of a sample that must be plausible text


def text_encoding(raw: bytes, media_type: str | None = None) -> tuple[str, bytes] | None:
    """The charset (a Python codec name) and byte-order mark ``raw`` decodes with, or None.

    Tried in order: a BOM; the NUL pattern of BOM-less UTF-16/32; the charset ``media_type``
    declares; UTF-8; and last Latin-1 for bytes that are nearly all printable, so a text file
    with one stray byte that is not UTF-8 is still read (Latin-1 maps every byte, so it
    re-encodes exactly)."""
    for bom, charset in _BOMS:
        if raw.startswith(bom) and _reads_as_text(raw[len(bom) :], charset):
            return charset, bom
    guessed = _nul_pattern(raw)
    # The NUL pattern is strong evidence on its own: control characters sprinkled into UTF-16
    # text must not make it unreadable.
    if guessed and _reads_as_text(raw, guessed, tolerance=0.25):
        return guessed, b""
    for charset in (_declared_charset(media_type), "utf-8"):
        if charset and _reads_as_text(raw, charset):
            return charset, b""
    if len(raw.translate(None, _CONTROL_BYTES)) >= len(raw) * _MOSTLY:
        return "latin-1", b""
    return None


def _declared_charset(media_type: str | None) -> str | None:
    match = _CHARSET.search(media_type or "")
    name = _known_charset(match.group(1)) if match else None
    return name if name and _keeps_ascii(name) else None


def _known_charset(label: str) -> str | None:
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


@functools.cache
def _keeps_ascii(charset: str) -> bool:
    """Does ``charset`` read every ASCII byte as itself, whatever comes before it? A declared
    charset that does not (UTF-7, ISO-2022's shifts, Shift-JIS whose second bytes include
    letters, UTF-16 on Latin text) could turn a secret written in ASCII into other characters
    for the scanner while a reader ignoring the declaration sees it plainly; such a declaration
    is ignored (UTF-16/32 are still found by their BOM or NUL pattern)."""
    probe = bytes(range(0x09, 0x7F)) + b"\x1b$B+AGE-~{AB~}"
    try:
        if probe.decode(charset) != probe.decode("ascii"):
            return False
        return all((bytes([lead]) + b"AB").decode(charset, "replace").endswith("AB") for lead in range(0x80, 0x100))
    except (UnicodeDecodeError, LookupError):
        return False


def _nul_pattern(raw: bytes) -> str | None:
    """UTF-16/32 without a BOM: text in the Latin range leaves NULs at fixed places in each unit."""
    sample = raw[: _SAMPLE - _SAMPLE % 4]
    if len(sample) < 4 or b"\x00" not in sample:
        return None
    if len(raw) % 4 == 0:
        quads = len(sample) // 4
        for charset, zeros in (("utf-32-le", (1, 2, 3)), ("utf-32-be", (0, 1, 2))):
            if all(sample[o::4].count(0) >= quads * 0.9 for o in zeros):
                return charset
    if len(raw) % 2 == 0:
        pairs = len(sample) // 2
        odd, even = sample[1::2].count(0), sample[0::2].count(0)
        if odd >= pairs * 0.3 and even <= pairs * 0.02:
            return "utf-16-le"
        if even >= pairs * 0.3 and odd <= pairs * 0.02:
            return "utf-16-be"
    return None


def _reads_as_text(raw: bytes, charset: str, tolerance: float = 1 - _MOSTLY) -> bool:
    """``raw`` decodes strictly in ``charset`` into what looks like text: nearly no control
    characters, unassigned or private-use code points in its first characters (random bytes
    decoded as UTF-16 are about a quarter of those)."""
    try:
        text = raw.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return False
    sample = text[:_SAMPLE]
    odd = sum(1 for c in sample if unicodedata.category(c) in ("Cn", "Co", "Cs")
              or (c < "\x20" and c not in "\t\n\x0c\r\x1b"))
    return odd <= len(sample) * tolerance


# --- shared by base64 fields and data URLs --------------------------------------------------

_BASE64_SPACE = re.compile(r"\s+")


def _unbase64(data: str) -> tuple[bytes, str, bool]:
    """The bytes, the alphabet ("base64" or "base64url") and whether it was padded."""
    if "-" not in data and "_" not in data:
        try:  # the common case, a standard padded block without line breaks, at C speed
            return base64.b64decode(data, validate=True), "base64", True
        except (binascii.Error, ValueError):
            pass
    compact = _BASE64_SPACE.sub("", data)
    url_safe = "-" in compact or "_" in compact
    padded = compact.endswith("=") or len(compact) % 4 == 0
    try:
        if url_safe:
            if "+" in compact or "/" in compact:
                raise binascii.Error("mixes the standard and URL-safe alphabets")
            return base64.urlsafe_b64decode(_pad(compact)), "base64url", padded
        return base64.b64decode(_pad(compact), validate=True), "base64", padded
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(f"content declared as base64 is not valid base64 ({exc})") from None


def _pad(compact: str) -> str:
    if len(compact) % 4 == 1:
        raise binascii.Error("length is not a whole number of base64 characters")
    return compact + "=" * (-len(compact) % 4)


def decode_payload(raw: bytes, media_type: str | None, codec: Codec) -> Decoded | Unscanned:
    """``raw`` as text (``codec`` with the charset found), a PDF's text, or binary media."""
    if raw.find(b"%PDF-", 0, 1024) >= 0:  # readers accept a PDF header anywhere in its first 1 KB
        from llm_dlp.document_text import pdf_text  # pypdf is imported only when a PDF arrives

        text = pdf_text(raw)
        if text is None:
            return Unscanned("application/pdf")  # pages of images: no text layer to read
        return Decoded(text, Codec("pdf", reencodable=False))
    if raw.startswith(b"PK\x03\x04"):
        from llm_dlp.document_text import office_text

        text = office_text(raw)
        if text is not None:
            return Decoded(text, Codec("office", reencodable=False))
    found = text_encoding(raw, media_type)
    if found is None:
        media = sniff_media_type(raw)
        if media != "application/octet-stream":
            return Unscanned(media)
        # Bytes of no known media format: a model given them reads what text they hold, so
        # they are scanned byte for byte as Latin-1 (which maps every byte and back). A text
        # file peppered with control bytes to look binary is read this way, not passed unseen.
        found = "latin-1", b""
    charset, bom = found
    text = raw[len(bom) :].decode(charset)
    return Decoded(text, Codec(codec.name, True, charset, bom, codec.transfer, codec.padded, codec.header))
