"""Content a model reads that the JSON does not spell out: base64 payloads, data URLs, text files
in UTF-16/32, PDFs. Each decodes to the text a model would read, and an edited text goes back in
exactly the original wire form (charset, byte-order mark, base64 alphabet, data-URL header)."""

from __future__ import annotations

import base64
import codecs
import io
import random
import zipfile

import pytest

from llm_dlp.decoding import (
    Codec,
    DecodeError,
    Decoded,
    Unscanned,
    decode_base64_payload,
    decode_data_url,
    decode_text_bytes,
)
from llm_dlp.document_text import pdf_text

TEXT = "deploy notes\ntoken = ghp_ExampleExampleExample000000\nÄnderung: café ✓\n"


def text_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page, offsets computed."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", None,
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in pages:
        stream = b"BT /F1 12 Tf 72 720 Td (" + text.encode("latin-1") + b") Tj ET"
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content = len(objects)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 3 0 R >> >> >>" % content)
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids) + b"] /Count %d >>" % len(kids)
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


ENCODINGS = [
    ("utf-8", b""),
    ("utf-8", codecs.BOM_UTF8),
    ("utf-16-le", codecs.BOM_UTF16_LE),
    ("utf-16-be", codecs.BOM_UTF16_BE),
    ("utf-16-le", b""),  # no BOM: found by its NUL pattern
    ("utf-16-be", b""),
    ("utf-32-le", codecs.BOM_UTF32_LE),
    ("utf-32-le", b""),
    ("utf-32-be", b""),
]


@pytest.mark.parametrize("charset,bom", ENCODINGS)
def test_text_files_decode_in_every_unicode_form_and_reencode_byte_for_byte(charset, bom):
    raw = bom + TEXT.encode(charset)
    assert decode_text_bytes(raw) == TEXT
    decoded = decode_base64_payload(base64.b64encode(raw).decode(), "text/plain")
    assert isinstance(decoded, Decoded) and decoded.text == TEXT
    assert decoded.codec.encode(decoded.text) == base64.b64encode(raw).decode()
    edited = decoded.codec.encode(TEXT.replace("ghp_ExampleExampleExample000000", "[[secret:github-pat:1]]"))
    assert base64.b64decode(edited) == bom + TEXT.replace("ghp_ExampleExampleExample000000", "[[secret:github-pat:1]]").encode(charset)


def test_a_declared_charset_is_honoured_and_one_stray_byte_does_not_make_a_text_file_binary():
    assert decode_text_bytes("naïve façade".encode("cp1252"), "text/plain; charset=windows-1252") == "naïve façade"
    # Not UTF-8 and no charset said: still text (read as Latin-1, which maps every byte back).
    raw = b"token = ghp_ExampleExampleExample000000 \xff\n"
    decoded = decode_base64_payload(base64.b64encode(raw).decode(), None)
    assert isinstance(decoded, Decoded) and "ghp_ExampleExampleExample000000" in decoded.text
    assert base64.b64decode(decoded.codec.encode(decoded.text)) == raw


@pytest.mark.parametrize("charset", ["utf-7", "iso2022_jp", "shift_jis", "utf-16", "hz"])
def test_a_declared_charset_that_would_hide_ascii_is_ignored(charset):
    # Under these a secret written in ASCII reads as other characters ("+AGE-" is "a" in UTF-7,
    # "\x81g" one Shift-JIS character): a reader ignoring the declaration still sees it plainly.
    raw = b"\x1b$B\x81+token ghp_ExampleExampleExample000000\n"
    assert "ghp_ExampleExampleExample000000" in decode_text_bytes(raw, f"text/plain; charset={charset}")


def test_a_pdf_behind_leading_junk_is_still_read_as_a_pdf():
    decoded = decode_base64_payload(base64.b64encode(b"junk\n" + text_pdf(["hidden words"])).decode(), None)
    assert isinstance(decoded, Decoded) and decoded.codec.name == "pdf" and "hidden words" in decoded.text


def test_binary_media_is_unscanned_with_a_type_from_its_bytes_never_the_clients():
    png = b"\x89PNG\r\n\x1a\n" + random.Random(1).randbytes(2000)
    result = decode_base64_payload(base64.b64encode(png).decode(), "image/ghp_ExampleExampleExample000000")
    assert result == Unscanned("image/png")
    noise = random.Random(2).randbytes(5000)
    assert decode_text_bytes(noise) is None
    # Bytes of no known format are read byte for byte, so text hidden among them is still seen.
    hidden = noise[:2000] + b"token = ghp_ExampleExampleExample000000" + noise[2000:]
    decoded = decode_base64_payload(base64.b64encode(hidden).decode(), "application/octet-stream")
    assert isinstance(decoded, Decoded) and "ghp_ExampleExampleExample000000" in decoded.text
    assert base64.b64decode(decoded.codec.encode(decoded.text)) == hidden
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + noise[:500]
    assert decode_base64_payload(base64.b64encode(wav).decode(), None) == Unscanned("audio/wav")


def test_control_bytes_sprinkled_into_text_do_not_hide_it():
    peppered = "".join(c + ("\x01" if i % 10 == 0 else "") for i, c in enumerate(TEXT))
    for charset in ("utf-8", "utf-16-le"):
        decoded = decode_base64_payload(base64.b64encode(peppered.encode(charset)).decode(), "text/plain")
        assert isinstance(decoded, Decoded) and "ExampleExample" in decoded.text.replace("\x01", "")
        assert "\x00" not in decoded.text


def test_text_declared_as_an_image_is_still_scanned_as_text():
    decoded = decode_base64_payload(base64.b64encode(TEXT.encode()).decode(), "image/png")
    assert isinstance(decoded, Decoded) and decoded.text == TEXT


@pytest.mark.parametrize("data", ["abc$def", "QUJD=RA==", "A", "QUJD+-_A"])
def test_invalid_base64_is_an_error_not_a_pass(data):
    with pytest.raises(DecodeError):
        decode_base64_payload(data, "text/plain")


def test_url_safe_unpadded_and_wrapped_base64_keep_their_form():
    raw = "Kontrolle? ~~~ >>> ghp_ExampleExampleExample000000".encode()
    url_safe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    decoded = decode_base64_payload(url_safe, "text/plain")
    assert isinstance(decoded, Decoded) and decoded.codec.encode(decoded.text) == url_safe
    wrapped = base64.encodebytes(raw * 3).decode()  # MIME style, a newline every 76 characters
    decoded = decode_base64_payload(wrapped, None)
    assert isinstance(decoded, Decoded) and decoded.text == (raw * 3).decode()


def test_data_urls_decode_and_keep_their_header():
    raw = TEXT.encode("utf-16")
    url = "data:text/plain;charset=utf-16;base64," + base64.b64encode(raw).decode()
    decoded = decode_data_url(url)
    assert isinstance(decoded, Decoded) and decoded.text == TEXT
    assert decoded.codec.encode(decoded.text) == url
    assert decoded.codec.encode("x").startswith("data:text/plain;charset=utf-16;base64,")
    plain = decode_data_url("DATA:,token%20%3D%20ghp_ExampleExampleExample000000")
    assert isinstance(plain, Decoded) and plain.text == "token = ghp_ExampleExampleExample000000"
    assert plain.codec.encode(plain.text) == "DATA:,token%20%3D%20ghp_ExampleExampleExample000000"
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    assert decode_data_url("data:image/png;base64," + base64.b64encode(png).decode()) == Unscanned("image/png")


def test_a_base64_field_holding_a_data_url_is_read_as_the_data_url():
    url = "data:text/plain;base64," + base64.b64encode(TEXT.encode()).decode()
    decoded = decode_base64_payload(url, None)
    assert isinstance(decoded, Decoded) and decoded.text == TEXT and decoded.codec.encode(decoded.text) == url


@pytest.mark.parametrize("value", ["https://example.com/a.png", "", "hello", "database: x", "dat",
                                   "data: my token is ghp_ExampleExampleExample000000, keep it",
                                   "data:text/plain;x-key=AKIAEXAMPLEEXAMPLE12;base64,aGVsbG8=",
                                   "data:AKIAEXAMPLEEXAMPLE12/x;base64,aGVsbG8=",
                                   "data:text/plain;charset=AKIAEXAMPLEEXAMPLE12;base64,aGVsbG8="])
def test_ordinary_strings_and_headers_holding_other_text_are_not_data_urls(value):
    assert decode_data_url(value) is None


def test_a_data_url_with_broken_base64_is_an_error():
    with pytest.raises(DecodeError):
        decode_data_url("data:text/plain;base64,@@@@")


def test_pdf_text_is_extracted_and_cannot_be_rewritten():
    pdf = text_pdf(["Quarterly report", "token ghp_ExampleExampleExample000000"])
    decoded = decode_base64_payload(base64.b64encode(pdf).decode(), "application/pdf")
    assert isinstance(decoded, Decoded) and decoded.codec.name == "pdf" and not decoded.codec.reencodable
    assert "Quarterly report" in decoded.text and "ghp_ExampleExampleExample000000" in decoded.text
    with pytest.raises(DecodeError):
        decoded.codec.encode("anything")


def test_a_pdf_without_text_is_media_and_a_broken_or_huge_one_is_an_error():
    assert decode_base64_payload(base64.b64encode(text_pdf([""])).decode(), None) == Unscanned("application/pdf")
    with pytest.raises(DecodeError):
        decode_base64_payload(base64.b64encode(b"%PDF-1.7\n" + b"\x00garbage" * 50).decode(), None)
    with pytest.raises(DecodeError, match="pages"):
        pdf_text(text_pdf(["a"] * 5), max_pages=4)
    with pytest.raises(DecodeError, match="took over"):
        pdf_text(text_pdf(["a"] * 3), budget_seconds=-1)


def test_a_codec_refuses_text_its_charset_cannot_carry():
    codec = Codec("base64", charset="latin-1")
    with pytest.raises(DecodeError):
        codec.encode("✓")


def office_file(parts: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_a_word_file_is_read_with_its_runs_joined_and_its_link_targets():
    docx = office_file({
        "word/document.xml": '<w:document><w:body><w:p><w:r><w:t>token gh</w:t></w:r><w:r><w:t xml:space="preserve">'
                             'p_ExampleExampleExample000000</w:t></w:r></w:p><w:p><w:r><w:t>Caf&amp;eacute; &lt;ok&gt;</w:t></w:r></w:p>'
                             '</w:body></w:document>',
        "word/_rels/document.xml.rels": '<Relationships><Relationship Id="rId1" Target="https://x.example/?k=AKIAEXAMPLE"/>'
                                        '</Relationships>',
        "word/media/image1.png": "\x89PNG not read",
    })
    decoded = decode_base64_payload(base64.b64encode(docx).decode(), None)
    assert isinstance(decoded, Decoded) and decoded.codec.name == "office" and not decoded.codec.reencodable
    assert "token ghp_ExampleExampleExample000000\nCaf&eacute; <ok>" in decoded.text
    assert "https://x.example/?k=AKIAEXAMPLE" in decoded.text and "PNG" not in decoded.text


def test_a_plain_zip_is_media_and_an_office_bomb_is_an_error():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.txt", "ghp_ExampleExampleExample000000")
    assert decode_base64_payload(base64.b64encode(buffer.getvalue()).decode(), None) == Unscanned("application/zip")
    bomb = office_file({"xl/sharedStrings.xml": "<sst>" + "0" * (65 * 1024 * 1024) + "</sst>"})
    assert len(bomb) < 200_000
    with pytest.raises(DecodeError, match="bytes of XML"):
        decode_base64_payload(base64.b64encode(bomb).decode(), None)
