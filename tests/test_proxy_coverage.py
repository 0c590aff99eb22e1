"""Through the real proxy: what no adapter used to read never reaches the provider in clear."""

from __future__ import annotations

import json

import pytest

from llm_dlp.testing import secrets_factory as make


def post(proxy, provider, path: str, body: dict, headers: dict | None = None):
    with proxy.client() as client:
        return client.post(f"{provider.base_url}{path}", content=json.dumps(body),
                           headers={"content-type": "application/json", "x-api-key": "sk-ant-test",
                                    "anthropic-version": "2023-06-01", **(headers or {})})


def everything_written(proxy) -> str:
    return proxy.audit_path.read_text() + (proxy.log_path.read_text() if proxy.log_path.exists() else "")


@pytest.mark.parametrize("where", ["tool description", "metadata", "json key", "model"])
def test_a_secret_outside_the_prompt_is_redacted_before_the_provider(proxy, provider, received, where):
    secret = make.github_pat()
    body = {"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    if where == "tool description":
        body["tools"] = [{"name": "t", "description": f"use with {secret}", "input_schema": {"type": "object"}}]
    elif where == "metadata":
        body["metadata"] = {"user_id": secret}
    elif where == "json key":
        body["metadata"] = {secret: "x"}
    else:
        body["model"] = secret
    response = post(proxy, provider, "/v1/messages", body)
    assert all(secret not in r.text for r in received)
    assert response.status_code in (200, 403), response.text
    assert secret not in everything_written(proxy)  # a key's location and the model field are masked too


def test_a_secret_in_the_query_string_or_a_header_is_blocked(proxy, provider, received):
    secret = make.github_pat()
    response = post(proxy, provider, f"/v1/messages?note={secret}", {"model": "m", "max_tokens": 5, "messages": []})
    assert response.status_code == 403 and not received
    assert secret not in everything_written(proxy)  # the audit's path holds no query value
    secret = make.github_pat()
    response = post(proxy, provider, "/v1/messages", {"model": "m", "max_tokens": 5, "messages": []}, {"x-note": secret})
    assert response.status_code == 403 and not received
    assert secret not in everything_written(proxy)


def test_a_thought_on_a_user_part_is_scanned(proxy, provider, received):
    secret = make.github_pat()
    body = {"contents": [{"role": "user", "parts": [{"text": f"token {secret}", "thought": True}]}]}
    post(proxy, provider, "/v1beta/models/gemini-2.5-pro:generateContent", body)
    assert received and all(secret not in r.text for r in received)


def test_duplicate_keys_are_refused_and_audited(proxy, provider, received):
    with proxy.client() as client:
        response = client.post(f"{provider.base_url}/v1/messages", headers={"content-type": "application/json"},
                               content=b'{"model": "m", "messages": [{"role": "user", "content": "a"}], "messages": []}')
    assert response.status_code == 400 and not received
    assert json.loads(response.text)["type"] == "error"
    assert any(line.get("error") and "repeats a key" in line["error"] for line in proxy.audit_lines())


def test_the_audit_line_records_coverage_and_exempt_field_names(proxy, provider, received):
    body = {"model": "claude-test", "max_tokens": 5, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "private musing", "signature": "c2lnbmVk"},
                                          {"type": "text", "text": "hello"}]},
        {"role": "user", "content": "go on"}]}
    assert post(proxy, provider, "/v1/messages", body).status_code == 200
    assert "private musing" in received[0].text  # signed thinking goes upstream untouched
    line = [line for line in proxy.audit_lines() if line.get("coverage")][-1]
    assert line["coverage"]["exempt"] == ["thinking (signed)"]
    assert 0 < line["coverage"]["text_bytes"] < line["coverage"]["body_bytes"] == len(json.dumps(body))
    assert "private musing" not in json.dumps(line) and "c2lnbmVk" not in json.dumps(line)
