"""Bodies on AI endpoints that are not JSON, through the pipeline with the real secret detector
and the bundled default policy: multipart uploads part by part in each part's own charset, PDFs
by their text, binary media per the policy's ``media`` setting, token-id prompts refused."""

from __future__ import annotations

import base64
import codecs
import dataclasses
import json
import random

import pytest

from detectors.secrets import SecretDetector
from llm_dlp import uploads
from llm_dlp.decoding import decode_base64_payload
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline, RequestInfo, Scan
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.providers.base import ContentUnit, ParsedRequest, RequestFormatError, Segment
from llm_dlp.testing import secrets_factory
from llm_dlp.testing.proxyrun import REPO
from tests.test_decoding import office_file, text_pdf

BOUNDARY = b"----llmdlpBoundary7MA4YWxk"
FORM = "multipart/form-data; boundary=" + BOUNDARY.decode()


def form(*parts: tuple[str, bytes, str | None, str | None]) -> bytes:
    """(field name, body, filename, content type) -> a multipart/form-data body as SDKs send it."""
    out = b""
    for name, body, filename, content_type in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += b"--" + BOUNDARY + b"\r\nContent-Disposition: " + disposition.encode()
        out += (b"\r\nContent-Type: " + content_type.encode() if content_type else b"") + b"\r\n\r\n" + body + b"\r\n"
    return out + b"--" + BOUNDARY + b"--\r\n"


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    directory = tmp_path_factory.mktemp("policies")
    (directory / "default.yaml").write_text((REPO / "policies" / "default.yaml").read_text())
    (directory / "strict.yaml").write_text("extends: default\nmedia: block\nmembers:\n  users: [strict]\n")
    (directory / "tokens.yaml").write_text("extends: default\ntoken_ids: allow\nmembers:\n  users: [tokens]\n")
    return load_policy_dir(directory)


@pytest.fixture(scope="module")
def pipeline(policies) -> Pipeline:
    return Pipeline(policies, [SecretDetector()], ValueHasher(b"k" * 32))


def upload(pipeline: Pipeline, body: bytes, user: str | None = None, path: str = "/v1/files"):
    info = RequestInfo("t", "POST", "api.openai.com", path, "openai", user=user, content_type=FORM)
    return pipeline.inspect(info, body)


@pytest.mark.parametrize("charset,bom", [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-le", b""), ("utf-16-be", b""),
                                         ("utf-8", b""), ("utf-32-le", codecs.BOM_UTF32_LE)])
def test_a_text_file_upload_is_redacted_in_its_own_charset(pipeline, charset, bom):
    token = secrets_factory.github_pat()
    text = f"# settings\nGITHUB_TOKEN={token}\nregion = eu\n"
    body = form(("purpose", b"user_data", None, None), ("file", bom + text.encode(charset), "settings.txt", "text/plain"))
    inspection = upload(pipeline, body)
    assert inspection.verdict.decision == "redact", inspection.verdict
    sent = inspection.body
    assert token.encode(charset) not in sent and token.encode() not in sent
    part = sent.split(b"\r\n\r\n")[2].split(b"\r\n--" + BOUNDARY)[0]
    assert part.startswith(bom)
    assert part[len(bom):].decode(charset) == text.replace(token, next(iter(inspection.redactions)))
    # Everything but the redacted value is forwarded as it came.
    assert sent.split(b"settings.txt")[0] == body.split(b"settings.txt")[0]
    assert [f.location for f in inspection.verdict.findings] == ["$.parts[1]"]


def test_an_upload_without_findings_is_forwarded_unchanged(pipeline):
    inspection = upload(pipeline, form(("purpose", b"assistants", None, None), ("file", "hello".encode("utf-16"), "a.txt", None)))
    assert inspection.verdict.decision in ("allow", "log") and inspection.body is None


def test_a_secret_in_a_part_header_is_redacted_there(pipeline):
    token = secrets_factory.github_pat()
    inspection = upload(pipeline, form(("file", b"plain words", f"{token}.txt", "text/plain")))
    assert inspection.verdict.decision == "redact" and token.encode() not in inspection.body
    # In the part's headers, not its body ("headers" is the proxy's word: the audit may hash it).
    [finding] = inspection.verdict.findings
    assert finding.location != "$.parts[0]" and finding.location.endswith("[0]")


def test_a_pdf_upload_is_read_and_withheld_whole_since_it_cannot_be_rewritten(pipeline):
    token = secrets_factory.github_pat()
    pdf = text_pdf(["Release checklist", f"token {token}"])
    inspection = upload(pipeline, form(("purpose", b"user_data", None, None), ("file", pdf, "checklist.pdf", "application/pdf")))
    assert inspection.verdict.decision == "withhold", inspection.verdict
    assert token.encode() not in inspection.body and b"%PDF" not in inspection.body
    assert b"[llm-dlp withheld this uploaded file under policy 'default'" in inspection.body
    assert inspection.body.startswith(form(("purpose", b"user_data", None, None)).rsplit(b"--" + BOUNDARY + b"--", 1)[0])


def test_binary_media_passes_with_an_audit_count_or_is_blocked_by_policy(pipeline):
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + random.Random(3).randbytes(3000)
    body = form(("file", wav, "speech.wav", "audio/wav"), ("model", b"whisper-1", None, None))
    allowed = upload(pipeline, body, path="/v1/audio/transcriptions")
    assert allowed.verdict.decision in ("allow", "log") and allowed.body is None
    assert allowed.verdict.unscanned == {"media": {"audio/wav": 1}, "media_policy": "allow"}
    blocked = upload(pipeline, body, user="strict", path="/v1/audio/transcriptions")
    assert blocked.verdict.decision == "block" and blocked.verdict.status == 403
    assert "1 media item(s) (audio/wav)" in blocked.verdict.message and "media: block" in blocked.verdict.message


@pytest.mark.parametrize("broken", [
    b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n",  # no closing delimiter
    b"--" + BOUNDARY + b"X\r\n\r\nx\r\n--" + BOUNDARY + b"--",  # a longer boundary: another parser's part
    b"--" + BOUNDARY + b"\r\nContent-Transfer-Encoding: base64\r\n\r\neA==\r\n--" + BOUNDARY + b"--",
    b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n\r\nx\r\n--" + BOUNDARY + b"--",
    b"no boundary at all",
    # JSON that is also a multipart body: a server ignoring the content type reads the JSON.
    b'{"prompt": "\\u0067hp_x", "pad": "--' + BOUNDARY + b'\r\n\r\nx\r\n--' + BOUNDARY + b'--"}',
])
def test_a_body_other_parsers_could_split_differently_is_refused(broken):
    with pytest.raises(RequestFormatError):
        uploads.parse(broken, FORM)


def test_a_multipart_body_is_rebuilt_byte_for_byte():
    body = b"preamble\r\n" + form(("a", b"1", None, None), ("b", "ü".encode("utf-16"), "b.txt", "text/plain")) + b"epilogue"
    parsed = uploads.parse(body, FORM)
    assert uploads.rebuild(parsed, {}, {}) == body


def test_token_id_prompts_are_refused_with_a_400_unless_allowed(pipeline, policies):
    parsed = ParsedRequest("openai-chat", {"prompt": [15496, 995]}, [], token_id_paths=(("prompt",),))
    info = RequestInfo("t", "POST", "api.openai.com", "/v1/completions", "openai", content_type="application/json")
    refused = pipeline.decide(info, Scan("", parsed, ()), policies.get("default")).verdict
    assert refused.decision == "block" and refused.status == 400 and "token ids" in refused.message
    assert refused.unscanned == {"token_ids": 1, "token_ids_policy": "refuse"}
    allowed = pipeline.decide(info, Scan("", parsed, ()), policies.get("tokens")).verdict
    assert allowed.decision in ("allow", "log") and allowed.unscanned == {"token_ids": 1, "token_ids_policy": "allow"}
    monitor = dataclasses.replace(policies.get("default"), mode="monitor")
    assert pipeline.decide(info, Scan("", parsed, ()), monitor).verdict.decision == "would_block"


def test_a_utf16_plain_text_body_is_read_in_its_charset(pipeline):
    token = secrets_factory.github_pat()
    raw = f"token {token}".encode("utf-16-le")  # valid UTF-8 too: NULs between the letters
    info = RequestInfo("t", "POST", "api.openai.com", "/v1/other", "openai", content_type="text/plain")
    inspection = pipeline.inspect(info, raw)
    assert inspection.verdict.decision == "redact" and token.encode("utf-16-le") not in inspection.body
    assert inspection.body.decode("utf-16-le").startswith("token [[secret:github-pat:")


class DocumentPipeline(Pipeline):
    """Reads the one Anthropic document block of these tests the way the format adapters do:
    its base64 source decoded with its codec, withheld as a text block."""

    def _parse(self, info, data):
        document = json.loads(data)
        path = ("messages", 0, "content", 0)
        source = document["messages"][0]["content"][0]["source"]
        decoded = decode_base64_payload(source["data"], source["media_type"])
        unit = ContentUnit(path, "document", field="text", keep=(("type", "text"),))
        return data.decode(), ParsedRequest("anthropic-messages", document, [
            Segment(path + ("source", "data"), decoded.text, "document", unit=unit, codec=decoded.codec)])


def document_request(data: bytes, media_type: str) -> bytes:
    block = {"type": "document", "source": {"type": "base64", "media_type": media_type,
                                            "data": base64.b64encode(data).decode()}}
    return json.dumps({"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": [block]}]}).encode()


def test_a_value_in_a_base64_document_is_redacted_inside_the_base64(policies):
    token = secrets_factory.github_pat()
    text = f"Runbook\nexport GITHUB_TOKEN={token}\n"
    pipeline = DocumentPipeline(policies, [SecretDetector()], ValueHasher(b"k" * 32))
    info = RequestInfo("t", "POST", "api.anthropic.com", "/v1/messages", "anthropic", content_type="application/json")
    inspection = pipeline.inspect(info, document_request(codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "text/plain"))
    assert inspection.verdict.decision == "redact"
    data = json.loads(inspection.body)["messages"][0]["content"][0]["source"]["data"]
    sent = base64.b64decode(data)
    assert sent.startswith(codecs.BOM_UTF16_LE) and not any(token.encode(c) in sent for c in ("utf-8", "utf-16-le"))
    assert sent[2:].decode("utf-16-le") == text.replace(token, next(iter(inspection.redactions)))


def test_a_value_to_redact_in_a_pdf_document_withholds_the_document(policies):
    token = secrets_factory.github_pat()
    pipeline = DocumentPipeline(policies, [SecretDetector()], ValueHasher(b"k" * 32))
    info = RequestInfo("t", "POST", "api.anthropic.com", "/v1/messages", "anthropic", content_type="application/json")
    inspection = pipeline.inspect(info, document_request(text_pdf([f"token {token}"]), "application/pdf"))
    assert inspection.verdict.decision == "withhold"
    block = json.loads(inspection.body)["messages"][0]["content"][0]
    assert block["type"] == "text" and block["text"].startswith("[llm-dlp withheld this document")
    assert "cannot be rewritten" in inspection.verdict.findings[0].policy_rule


def test_a_url_encoded_form_is_read_field_by_field_and_rewritten_in_its_escapes(pipeline):
    token = secrets_factory.github_pat()
    escaped = "".join(f"%{b:02X}" for b in token.encode())  # every character escaped: no match on the raw text
    raw = f"model=gpt-test&prompt=deploy+with+{escaped}&note=caf%C3%A9".encode()
    info = RequestInfo("t", "POST", "api.openai.com", "/v1/other", "openai", content_type="application/x-www-form-urlencoded")
    inspection = pipeline.inspect(info, raw)
    assert inspection.verdict.decision == "redact" and inspection.verdict.model == "gpt-test"
    model, prompt, note = inspection.body.decode().split("&")
    assert model == "model=gpt-test" and note == "note=caf%C3%A9"
    assert prompt.startswith("prompt=deploy+with+%5B%5Bsecret%3Agithub-pat%3A") and token not in inspection.body.decode()


def test_a_word_file_upload_is_read_and_withheld_whole_since_it_cannot_be_rewritten(pipeline):
    token = secrets_factory.github_pat()
    docx = office_file({"word/document.xml": f"<w:document><w:body><w:p><w:r><w:t>deploy {token}</w:t></w:r></w:p></w:body></w:document>"})
    inspection = upload(pipeline, form(("purpose", b"assistants", None, None), ("file", docx, "runbook.docx", None)))
    assert inspection.verdict.decision == "withhold" and b"PK\x03\x04" not in inspection.body
    assert b"[llm-dlp withheld this uploaded file under policy 'default'" in inspection.body


def test_a_batch_file_hiding_a_value_behind_json_escapes_is_withheld(pipeline):
    token = secrets_factory.github_pat()
    hidden = "".join(f"\\u{ord(c):04x}" for c in token)  # what a JSON parser reads as the token itself
    line = '{"custom_id": "1", "method": "POST", "url": "/v1/chat/completions", "body": {"messages": [{"role": "user", "content": "deploy %s"}]}}'
    batch = (line % hidden + "\n" + line % "hello" + "\n").encode()
    inspection = upload(pipeline, form(("purpose", b"batch", None, None), ("file", batch, "batch.jsonl", "application/jsonl")))
    assert inspection.verdict.decision == "withhold" and hidden.encode() not in inspection.body
    # Without escapes the same value is redacted in place and the batch goes on.
    plain = upload(pipeline, form(("purpose", b"batch", None, None), ("file", (line % token + "\n").encode(), "batch.jsonl", None)))
    assert plain.verdict.decision == "redact" and b'"custom_id": "1"' in plain.body and token.encode() not in plain.body


def test_raw_upload_bytes_are_read_as_what_they_are_not_refused_as_invalid_utf8(pipeline):
    token = secrets_factory.github_pat()
    info = RequestInfo("t", "POST", "generativelanguage.googleapis.com", "/upload/v1beta/files", "gemini",
                       content_type="application/pdf")
    blocked = pipeline.inspect(info, text_pdf([f"token {token}"]))
    assert blocked.verdict.decision == "block" and "cannot be withheld" in blocked.verdict.message
    png = b"\x89PNG\r\n\x1a\n" + random.Random(4).randbytes(2000)
    image = pipeline.inspect(dataclasses.replace(info, content_type="image/png"), png)
    assert image.verdict.decision in ("allow", "log") and image.verdict.unscanned["media"] == {"image/png": 1}
