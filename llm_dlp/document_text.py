"""The text of binary documents a request carries (PDF, and Word, Excel and PowerPoint files),
read under bounds a hostile file cannot escape. Neither can be written back: a value to redact
in one withholds it (``Codec.reencodable`` is false).

A model reads a PDF's text layer, so that is what is scanned. pypdf is pure Python and some
malformed files make it slow, so the work is capped by bytes, pages, extracted characters and a
time budget checked between pages; a file over any cap, or one pypdf cannot parse, raises
``DecodeError`` (the request is refused unless the tenant's policy fails open) rather than
being scanned in part. A PDF whose pages carry no text at all (scanned images) is ``None``:
media the scanner cannot read, handled by the policy's ``media`` setting.
"""

from __future__ import annotations

import html
import io
import logging
import re
import time
import zipfile
import zlib

from llm_dlp.decoding import DecodeError

MAX_PDF_BYTES = 32 * 1024 * 1024
MAX_PAGES = 500
MAX_TEXT_CHARS = 8 * 1024 * 1024
TIME_BUDGET_SECONDS = 10.0

# pypdf logs warnings and errors about a malformed file, sometimes quoting bytes of it: a document
# must never reach the proxy log, and what failed is reported by the DecodeError instead.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)


def pdf_text(raw: bytes, *, max_pages: int = MAX_PAGES, budget_seconds: float = TIME_BUDGET_SECONDS) -> str | None:
    """All pages' text, pages separated by a form feed; None when no page has any text."""
    if len(raw) > MAX_PDF_BYTES:
        raise DecodeError(f"PDF of {len(raw)} bytes is over the {MAX_PDF_BYTES} bytes llm-dlp reads")
    try:
        import pypdf
    except ImportError:
        raise DecodeError("PDF text cannot be read: pypdf is not installed") from None
    deadline = time.monotonic() + budget_seconds
    try:
        reader = pypdf.PdfReader(io.BytesIO(raw), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DecodeError("the PDF is encrypted with a password, so its text cannot be read")
        count = len(reader.pages)
        if count > max_pages:
            raise DecodeError(f"PDF of {count} pages is over the {max_pages} pages llm-dlp reads")
        pages: list[str] = []
        size = 0
        for page in reader.pages:
            if time.monotonic() > deadline:
                raise DecodeError(f"reading the PDF's text took over {budget_seconds:g} s")
            text = page.extract_text() or ""
            size += len(text)
            if size > MAX_TEXT_CHARS:
                raise DecodeError(f"the PDF holds over {MAX_TEXT_CHARS} characters of text")
            pages.append(text)
    except DecodeError:
        raise
    except Exception as exc:  # noqa: BLE001 — pypdf raises many types on malformed input
        raise DecodeError(f"the PDF cannot be read ({type(exc).__name__})") from None
    text = "\f".join(pages)
    return text if text.strip() else None


# Office Open XML (.docx, .xlsx, .pptx) is a zip of XML parts. Their text, and the targets of
# their relationships (hyperlinks), are what a provider extracting the file would show a model.
MAX_OFFICE_XML_BYTES = 64 * 1024 * 1024  # all parts read together, uncompressed
MAX_OFFICE_MEMBERS = 5000
_OFFICE_PARTS = re.compile(r"(?:word|xl|ppt)/.+\.(?:xml|rels)|docProps/(?:core|app|custom)\.xml")
_LINE_ENDS = re.compile(r"</(?:w:p|a:p|si|row|w:tr)>|<(?:w:br|w:cr|a:br)\b[^>]*>")
_CELL_ENDS = re.compile(r"</(?:c|w:tc)>|<w:tab\b[^>]*>")
_TAG = re.compile(r"<[^>]*>")
_TARGET = re.compile(r'\bTarget="([^"]*)"')


def office_text(raw: bytes) -> str | None:
    """The text of an Office Open XML file, or None when ``raw`` is some other zip (or no zip)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        return None
    if not any(m.filename == "[Content_Types].xml" for m in members):
        return None
    if len(members) > MAX_OFFICE_MEMBERS:
        raise DecodeError(f"an Office file of over {MAX_OFFICE_MEMBERS} parts")
    budget, texts = MAX_OFFICE_XML_BYTES, []
    try:
        for member in members:
            if not _OFFICE_PARTS.fullmatch(member.filename):
                continue
            with archive.open(member) as part:
                data = part.read(budget + 1)  # the declared size may lie: the read is bounded
            budget -= len(data)
            if budget < 0:
                raise DecodeError(f"an Office file holding over {MAX_OFFICE_XML_BYTES} bytes of XML")
            xml = data.decode("utf-8", "replace")
            if member.filename.endswith(".rels"):
                texts.append("\n".join(html.unescape(t) for t in _TARGET.findall(xml)))
            else:
                texts.append(html.unescape(_TAG.sub("", _CELL_ENDS.sub("\t", _LINE_ENDS.sub("\n", xml)))))
    except DecodeError:
        raise
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, zlib.error, EOFError, ValueError) as exc:
        raise DecodeError(f"the Office file cannot be read ({type(exc).__name__})") from None
    text = "\n".join(t.strip() for t in texts if t.strip())
    return text or None
