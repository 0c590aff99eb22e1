"""Through the real proxy: documents inside the JSON of each API (Anthropic base64 documents,
OpenAI file data URLs, Gemini inline data) are decoded and scanned; token-id prompts refused."""

from __future__ import annotations

import base64
import codecs
import json
import random

import anthropic
import pytest

from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import REPO, copy_policies, start_proxy
from tests.test_decoding import text_pdf
from tests.test_proxy_documents import in_clear, nowhere_but_placeholders
from tests.test_proxy_e2e import anthropic_client, audit_for


def post(proxy, provider, path: str, body: dict, headers: dict | None = None):
    with proxy.client() as client:
        return client.post(f"{provider.base_url}{path}", content=json.dumps(body),
                           headers={"content-type": "application/json", **(headers or {})})


def test_an_anthropic_base64_text_document_is_redacted_inside_its_base64(proxy, provider, received):
    token = make.github_pat()
    text = f"Runbook\nexport GITHUB_TOKEN={token}\n"
    data = base64.b64encode(codecs.BOM_UTF16_LE + text.encode("utf-16-le")).decode()
    client = anthropic_client(proxy, provider)
    client.messages.create(model="claude-test", max_tokens=50, messages=[{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "text/plain", "data": data}},
        {"type": "text", "text": "Summarise the runbook."}]}])
    assert len(received) == 1
    source = received[0].json()["messages"][0]["content"][0]["source"]
    sent = base64.b64decode(source["data"])
    assert sent.startswith(codecs.BOM_UTF16_LE) and not in_clear(token, sent) and not in_clear(token, received[0].body)
    assert sent[2:].decode("utf-16-le").startswith("Runbook\nexport GITHUB_TOKEN=[[secret:github-pat:")
    assert audit_for(proxy, "/v1/messages")[-1]["decision"] == "redact"
    nowhere_but_placeholders(proxy, token)


def test_an_anthropic_pdf_document_with_a_secret_is_withheld(proxy, provider, received):
    # No title, no context: the block's only text is the one read from its PDF, and the
    # document is still the unit withheld (the rest goes, the session goes on).
    token = make.github_pat()
    data = base64.b64encode(text_pdf(["Release checklist", f"deploy token {token}"])).decode()
    client = anthropic_client(proxy, provider)
    answer = client.messages.create(model="claude-test", max_tokens=50, messages=[{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data}},
        {"type": "text", "text": "Check the release checklist."}]}])
    assert answer.content  # the provider's answer came back: nothing was blocked
    line = audit_for(proxy, "/v1/messages")[-1]
    assert len(received) == 1 and line["decision"] == "withhold"
    content = received[0].json()["messages"][0]["content"]
    assert data not in received[0].text and not in_clear(token, received[0].body)
    assert content[0]["type"] == "text" and content[0]["text"].startswith("[llm-dlp withheld this")
    assert content[1] == {"type": "text", "text": "Check the release checklist."}
    # Text read from a PDF cannot be rewritten, so the finding's action became a withhold.
    assert "from a PDF or Office file cannot be rewritten" in json.dumps(line["findings"])
    nowhere_but_placeholders(proxy, token)


@pytest.mark.parametrize("api", ["openai", "responses", "gemini"])
def test_a_pdf_with_a_secret_is_withheld_in_every_api_that_takes_one(proxy, provider, received, api):
    token = make.github_pat()
    data = base64.b64encode(text_pdf(["Release checklist", f"deploy token {token}"])).decode()
    url = "data:application/pdf;base64," + data
    path, body, headers = {
        "openai": ("/v1/chat/completions", {"model": "gpt-test", "messages": [{"role": "user", "content": [
            {"type": "file", "file": {"file_data": url}}, {"type": "text", "text": "Check it."}]}]},
            {"authorization": "Bearer test-key"}),
        "responses": ("/v1/responses", {"model": "gpt-test", "input": [{"role": "user", "content": [
            {"type": "input_file", "file_data": url}, {"type": "input_text", "text": "Check it."}]}]},
            {"authorization": "Bearer test-key"}),
        "gemini": ("/v1beta/models/gemini-test:generateContent", {"contents": [{"role": "user", "parts": [
            {"inlineData": {"mimeType": "application/pdf", "data": data}}, {"text": "Check it."}]}]},
            {"x-goog-api-key": "test-key"}),
    }[api]
    response = post(proxy, provider, path, body, headers)
    assert response.status_code == 200, response.text
    assert len(received) == 1 and data not in received[0].text and not in_clear(token, received[0].body)
    assert "[llm-dlp withheld this" in received[0].text and "Check it." in received[0].text
    line = proxy.decisions()[-1]
    assert line["decision"] == "withhold"
    nowhere_but_placeholders(proxy, token)


def test_a_text_block_that_is_a_data_url_is_redacted_inside_it(proxy, provider, received):
    # The model may read the base64 of a text data URL as the text it encodes: it is decoded,
    # scanned and the redaction written back in base64.
    token = make.github_pat()
    url = "data:text/plain;base64," + base64.b64encode(f"ci secrets\nGITHUB_TOKEN={token}\n".encode()).decode()
    client = anthropic_client(proxy, provider)
    client.messages.create(model="claude-test", max_tokens=50, messages=[{"role": "user", "content": [
        {"type": "text", "text": url}, {"type": "text", "text": "Decode that and use it."}]}])
    assert len(received) == 1
    sent_url = received[0].json()["messages"][0]["content"][0]["text"]
    assert sent_url.startswith("data:text/plain;base64,")
    sent = base64.b64decode(sent_url.split(",", 1)[1]).decode()
    assert sent.startswith("ci secrets\nGITHUB_TOKEN=[[secret:github-pat:") and not in_clear(token, received[0].body)
    assert audit_for(proxy, "/v1/messages")[-1]["decision"] == "redact"
    nowhere_but_placeholders(proxy, token)


def test_an_openai_file_data_url_is_redacted_inside_the_data_url(proxy, provider, received):
    token = make.github_pat()
    url = "data:text/plain;base64," + base64.b64encode(f"notes\nGITHUB_TOKEN={token}\n".encode()).decode()
    response = post(proxy, provider, "/v1/chat/completions", {"model": "gpt-test", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in the file?"},
        {"type": "file", "file": {"filename": "notes.txt", "file_data": url}}]}]},
        {"authorization": "Bearer test-key"})
    assert response.status_code == 200, response.text
    sent_url = received[0].json()["messages"][0]["content"][1]["file"]["file_data"]
    assert sent_url.startswith("data:text/plain;base64,")
    sent = base64.b64decode(sent_url.split(",", 1)[1]).decode()
    assert sent.startswith("notes\nGITHUB_TOKEN=[[secret:github-pat:") and not in_clear(token, received[0].body)
    nowhere_but_placeholders(proxy, token)


def test_a_gemini_inline_text_part_is_redacted_inside_its_base64(proxy, provider, received):
    token = make.github_pat()
    data = base64.b64encode(f"config\ntoken: {token}\n".encode()).decode()
    response = post(proxy, provider, "/v1beta/models/gemini-test:generateContent", {"contents": [{"role": "user", "parts": [
        {"text": "Read this file."}, {"inlineData": {"mimeType": "text/plain", "data": data}}]}]},
        {"x-goog-api-key": "test-key"})
    assert response.status_code == 200, response.text
    sent = base64.b64decode(received[0].json()["contents"][0]["parts"][1]["inlineData"]["data"]).decode()
    assert sent.startswith("config\ntoken: [[secret:github-pat:") and not in_clear(token, received[0].body)
    nowhere_but_placeholders(proxy, token)


def test_a_prompt_of_token_ids_is_refused_with_the_providers_400(proxy, provider, received):
    response = post(proxy, provider, "/v1/completions", {"model": "gpt-test", "prompt": [[40, 1093, 2512], [17250]]},
                    {"authorization": "Bearer test-key"})
    assert response.status_code == 400 and "token ids" in response.json()["error"]["message"]
    assert received == []
    line = audit_for(proxy, "/v1/completions")[-1]
    assert line["decision"] == "block" and line["unscanned"]["token_ids"] >= 1


def test_a_policy_that_blocks_media_refuses_a_screenshot_in_the_providers_shape(tmp_path, provider, received, test_ca):
    text = (REPO / "policies" / "default.yaml").read_text().replace("media: allow", "media: block")
    running = start_proxy(tmp_path / "run", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                          policy_dir=copy_policies(tmp_path / "policies", default=text))
    try:
        png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + random.Random(7).randbytes(3000)).decode()
        client = anthropic_client(running, provider)
        with pytest.raises(anthropic.PermissionDeniedError) as refused:
            client.messages.create(model="claude-test", max_tokens=50, messages=[{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
                {"type": "text", "text": "What does this screenshot show?"}]}])
        assert "1 media item(s) (image/png) that llm-dlp cannot scan (policy media: block)" in str(refused.value)
        assert received == []
        line = audit_for(running, "/v1/messages")[-1]
        assert line["decision"] == "block" and line["unscanned"] == {"media": {"image/png": 1}, "media_policy": "block"}
    finally:
        running.stop()


def test_a_screenshot_passes_under_the_default_and_its_audit_line_counts_it(proxy, provider, received):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + random.Random(8).randbytes(3000)).decode()
    client = anthropic_client(proxy, provider)
    client.messages.create(model="claude-test", max_tokens=50, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
        {"type": "text", "text": "What do these screenshots show?"}]}])
    assert len(received) == 1 and received[0].json()["messages"][0]["content"][0]["source"]["data"] == png
    line = audit_for(proxy, "/v1/messages")[-1]
    assert line["unscanned"] == {"media": {"image/png": 2}, "media_policy": "allow"}
