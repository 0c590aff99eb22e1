"""The real proxy, real SDK clients, a real TLS stand-in provider: what arrives upstream."""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import subprocess

import anthropic
import openai
import pytest

from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.standin import REPLY, StandInProvider


def anthropic_client(proxy, provider) -> anthropic.Anthropic:
    # Configured as a user would: the proxy's URL and trust in the proxy's CA, nothing else.
    http_client = anthropic.DefaultHttpxClient(proxy=proxy.url, verify=proxy.ssl_context())
    return anthropic.Anthropic(api_key="sk-ant-test-key", base_url=provider.base_url, max_retries=0,
                               http_client=http_client)


def openai_client(proxy, provider) -> openai.OpenAI:
    http_client = openai.DefaultHttpxClient(proxy=proxy.url, verify=proxy.ssl_context())
    return openai.OpenAI(api_key="test-key", base_url=f"{provider.base_url}/v1", max_retries=0,
                         http_client=http_client)


def audit_for(proxy, path_part: str) -> list[dict]:
    return [line for line in proxy.decisions() if path_part in (line.get("path") or "")]


def tool_turn(user_text: str, tool_output: str) -> list[dict]:
    return [
        {"role": "user", "content": user_text},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "/srv/app/.env"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": tool_output}]}]},
    ]


def test_anthropic_sdk_secrets_are_redacted_upstream(proxy, provider, received):
    key_id, github = make.aws_access_key_id(), make.github_pat()
    client = anthropic_client(proxy, provider)
    reply = client.messages.create(
        model="claude-test", max_tokens=100,
        system="You are a coding agent.",
        messages=tool_turn(f"Deploy with AWS key {key_id} please", f"GITHUB_TOKEN={github}\nDEBUG=true\n"),
    )
    assert reply.content[0].text == REPLY
    assert len(received) == 1
    upstream = received[0].text
    assert key_id not in upstream and github not in upstream
    body = received[0].json()
    assert body["messages"][0]["content"].startswith("Deploy with AWS key [[secret:")
    tool_text = body["messages"][2]["content"][0]["content"][0]["text"]
    assert tool_text.startswith("GITHUB_TOKEN=[[secret:") and tool_text.endswith("\nDEBUG=true\n")
    assert body["system"] == "You are a coding agent."
    assert body["messages"][1]["content"][0]["input"] == {"file_path": "/srv/app/.env"}


def test_anthropic_sdk_streaming_through_the_proxy(proxy, provider, received):
    key_id = make.aws_access_key_id()
    client = anthropic_client(proxy, provider)
    with client.messages.stream(
        model="claude-test", max_tokens=100, messages=[{"role": "user", "content": f"my key is {key_id}"}]
    ) as stream:
        text = "".join(stream.text_stream)
    assert text.strip() == REPLY
    assert key_id not in received[0].text and "[[secret:" in received[0].text


def test_openai_sdk_secrets_are_redacted_upstream(proxy, provider, received):
    secret_key, db_url_password = make.anthropic_api_key(), make.database_url()
    db_url, password = db_url_password
    client = openai_client(proxy, provider)
    completion = client.chat.completions.create(
        model="gpt-test",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": f"Why does {secret_key} fail?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function",
             "function": {"name": "read_file", "arguments": json.dumps({"path": "config.py"})}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": f"DATABASE_URL = '{db_url}'"},
        ],
    )
    assert completion.choices[0].message.content == REPLY
    upstream = received[0].text
    assert secret_key not in upstream and password not in upstream
    body = received[0].json()
    assert body["messages"][0]["content"] == "You are helpful."
    assert "[[secret:" in body["messages"][1]["content"] and "[[secret:" in body["messages"][3]["content"]


def test_openai_sdk_streaming_through_the_proxy(proxy, provider, received):
    client = openai_client(proxy, provider)
    github = make.github_pat()
    stream = client.chat.completions.create(
        model="gpt-test", stream=True, messages=[{"role": "user", "content": f"token {github}"}]
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text.strip() == REPLY
    assert github not in received[0].text


def test_private_key_is_blocked_with_the_providers_error(proxy, provider, received):
    """The default withholds a private key; in the system prompt that is impossible, so it blocks."""
    pem = make.private_key_pem()
    client = anthropic_client(proxy, provider)
    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        client.messages.create(model="claude-test", max_tokens=10, system=f"Deploy key:\n{pem}",
                               messages=[{"role": "user", "content": "Why won't this key load?"}])
    assert received == []
    message = caught.value.body["error"]["message"] if isinstance(caught.value.body, dict) else str(caught.value)
    assert "private-key" in message and "$.system" in message and "cannot be withheld there" in message
    body_line = pem.splitlines()[1]
    assert body_line not in str(caught.value)
    assert caught.value.response.headers["x-should-retry"] == "false"

    with pytest.raises(openai.PermissionDeniedError) as caught_openai:
        openai_client(proxy, provider).chat.completions.create(
            model="gpt-test", messages=[{"role": "system", "content": pem}, {"role": "user", "content": "hi"}])
    assert "private-key" in str(caught_openai.value)
    assert received == []


def test_thinking_blocks_and_unscanned_bytes_are_untouched(proxy, provider, received):
    key_id = make.aws_access_key_id()
    thinking = {"type": "thinking", "thinking": f"The user pasted {key_id}", "signature": "EqQBCgIYAhIM"}
    # Odd but valid formatting, escapes and numbers must survive byte for byte.
    raw = (
        '{"model": "claude-test",  "max_tokens": 1.0e2, "temperature": 0.50,\n'
        ' "messages": [{"role": "user", "content": "caf\\u00e9 key ' + key_id + '"},\n'
        ' {"role": "assistant", "content": [' + json.dumps(thinking) + ', {"type": "text", "text": "ok"}]},\n'
        ' {"role": "user", "content": "next"}]}'
    )
    with proxy.client() as client:
        response = client.post(f"{provider.base_url}/v1/messages", content=raw,
                               headers={"content-type": "application/json"})
    assert response.status_code == 200
    upstream = received[0].text
    assert upstream.startswith('{"model": "claude-test",  "max_tokens": 1.0e2, "temperature": 0.50,\n')
    assert json.dumps(thinking) in upstream  # the signed block is byte-identical
    assert '"caf\\u00e9 key [[secret:' in upstream  # the client's escaping style is kept
    assert upstream.endswith(', {"type": "text", "text": "ok"}]},\n {"role": "user", "content": "next"}]}')


def test_gzip_request_is_redacted_and_stays_gzip(proxy, provider, received):
    key_id = make.aws_access_key_id()
    body = json.dumps({"model": "gpt-test", "messages": [{"role": "user", "content": f"key {key_id}"}]}).encode()
    with proxy.client() as client:
        response = client.post(f"{provider.base_url}/v1/chat/completions", content=gzip.compress(body),
                               headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert response.status_code == 200
    assert received[0].headers.get("content-encoding") == "gzip"
    assert key_id not in received[0].text and "[[secret:" in received[0].text


@pytest.mark.parametrize(
    ("body", "headers", "status", "words"),
    [
        (b'{"model": "claude-test", "messages": [', {}, 400, "malformed JSON"),
        (b'{"model": "x", "messages": [{"role": "user", "content": "\xff\xfe"}]}', {}, 400, "UTF-8"),
        (b"\x00\x01compressed?", {"content-encoding": "snappy"}, 415, "content-encoding"),
        (b'{"model": "x", "messages": {"role": "user"}}', {}, 400, "'messages' array"),
        (b"[" * 5000 + b"]" * 5000, {}, 400, "nested"),
    ],
    ids=["malformed-json", "invalid-utf8", "unknown-encoding", "wrong-shape", "deep-nesting"],
)
def test_unreadable_bodies_fail_closed(proxy, provider, received, body, headers, status, words):
    with proxy.client() as client:
        response = client.post(f"{provider.base_url}/v1/messages", content=body,
                               headers={"content-type": "application/json", **headers})
    assert response.status_code == status
    error = response.json()
    assert error["type"] == "error" and words in error["error"]["message"]
    assert response.headers["x-should-retry"] == "false"
    assert received == []
    assert audit_for(proxy, "/v1/messages")[-1]["decision"] == "error"


def test_every_intercepted_request_is_audited_without_values(proxy, provider, received):
    planted = [make.aws_access_key_id(), make.github_pat(), make.anthropic_api_key()]
    before = len(proxy.decisions())
    client = anthropic_client(proxy, provider)
    for value in planted:
        client.messages.create(model="claude-test", max_tokens=5, messages=[{"role": "user", "content": value}])
    with proxy.client() as http:
        http.get(f"{provider.base_url}/v1/models")
    lines = proxy.decisions()[before:]
    assert len(lines) == len(planted) + 1
    text = proxy.audit_path.read_text()
    for value in planted:
        assert value not in text and value[8:24] not in text
    first = lines[0]
    assert first["decision"] == "redact" and first["tenant"] == "default" and first["model"] == "claude-test"
    finding = first["findings"][0]
    assert finding["kind"] == "secret" and finding["location"] == "$.messages[0].content"
    assert finding["value_hash"].startswith("hmac-sha256:") and finding["preview"].startswith(planted[0][:4])
    assert lines[-1]["method"] == "GET" and lines[-1]["decision"] == "allow"


def test_other_hosts_are_tunnelled_not_intercepted(proxy, test_ca, tmp_path):
    origin = StandInProvider(test_ca, "origin")
    try:
        # curl trusts only the origin's CA: it succeeds only if it sees the origin's own certificate.
        # (A bare address with no SNI names no host: the default policy refuses it, see
        # tests/test_connection_binding.py.)
        result = subprocess.run(
            ["curl", "-sS", "-x", proxy.url, "--cacert", str(test_ca.cert_path),
             f"https://localhost:{origin.port}/hello"],
            capture_output=True, text=True, timeout=30,
        )
        assert result.returncode == 0, result.stderr
        assert "hello from the stand-in" in result.stdout
        assert _peer_cert_via_proxy(proxy.port, origin.port) == origin.cert_path.read_text()
    finally:
        origin.close()


def _peer_cert_via_proxy(proxy_port: int, target_port: int) -> str:
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=10) as sock:
        sock.sendall(f"CONNECT 127.0.0.1:{target_port} HTTP/1.1\r\nHost: 127.0.0.1:{target_port}\r\n\r\n".encode())
        assert b" 200 " in sock.recv(4096)
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with context.wrap_socket(sock, server_hostname="localhost") as tls:
            return ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True))
