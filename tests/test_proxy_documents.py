"""Through the real proxy with the bundled default policy and the real detectors: content a model
reads that is not plain JSON text (uploaded files in any charset, binary media) is decoded and
scanned, and a planted value never reaches the stand-in provider in clear in any encoding, nor
any audit or log line."""

from __future__ import annotations

import codecs
import random

import openai

from llm_dlp.testing import secrets_factory as make
from tests.test_proxy_e2e import audit_for, openai_client

ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


def in_clear(value: str, data: bytes) -> bool:
    return any(value.encode(charset) in data for charset in ENCODINGS)


def nowhere_but_placeholders(proxy, value: str) -> None:
    """Neither the audit log nor the proxy's own log holds the value, in any encoding."""
    assert not in_clear(value, proxy.audit_path.read_bytes())
    assert not in_clear(value, proxy.log_path.read_bytes())


def test_a_utf16_text_file_uploaded_to_files_never_reaches_the_provider_in_clear(proxy, provider, received):
    token = make.github_pat()
    text = f"# deploy settings\nGITHUB_TOKEN={token}\nREGION=eu-west-1\n"
    client = openai_client(proxy, provider)
    try:
        client.files.create(file=("settings.txt", codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "text/plain"),
                            purpose="user_data")
    except openai.APIResponseValidationError:
        pass  # the stand-in's answer is not a file object; what it received is what counts
    assert len(received) == 1 and received[0].path.endswith("/v1/files")
    upstream = received[0].body
    assert not in_clear(token, upstream)
    sent_file = upstream.split(codecs.BOM_UTF16_LE, 1)[1].split(b"\r\n--", 1)[0].decode("utf-16-le")
    assert sent_file.startswith("# deploy settings\nGITHUB_TOKEN=[[secret:github-pat:")
    line = audit_for(proxy, "/v1/files")[-1]
    assert line["decision"] == "redact" and line["format"] == "multipart"
    nowhere_but_placeholders(proxy, token)


def test_an_image_upload_passes_and_its_audit_line_says_it_went_unscanned(proxy, provider, received):
    png = b"\x89PNG\r\n\x1a\n" + random.Random(5).randbytes(4000)
    with proxy.client() as client:
        response = client.post(f"{provider.base_url}/v1/files", files={"file": ("shot.png", png, "image/png")},
                               data={"purpose": "vision"}, headers={"authorization": "Bearer test-key"})
    assert response.status_code == 200
    assert len(received) == 1 and png in received[0].body
    line = audit_for(proxy, "/v1/files")[-1]
    assert line["unscanned"] == {"media": {"image/png": 1}, "media_policy": "allow"}


def test_a_multipart_body_other_parsers_could_read_differently_is_refused(proxy, provider, received):
    token = make.github_pat()
    body = (b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n"
            + f"{token}\r\n--b0undaryX\r\n".encode() + b"tail\r\n--b0undary--\r\n")
    with proxy.client() as client:
        response = client.post(f"{provider.base_url}/v1/files", content=body,
                               headers={"content-type": "multipart/form-data; boundary=b0undary"})
    assert response.status_code == 400 and "multipart" in response.text
    assert received == []
    nowhere_but_placeholders(proxy, token)
