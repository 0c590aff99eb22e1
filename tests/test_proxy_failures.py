"""Failing closed, failing open on purpose, and the edges of interception."""

from __future__ import annotations

import json
import subprocess

import httpx

from llm_dlp.endpoints import EndpointTable, parse_intercept_host
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import REPO, copy_policies, free_port, start_proxy, wait_for_port

STRICT = """
max_body_bytes: 20000
scan_timeout_seconds: 30
rules:
  - kind: secret
    action: redact
"""

FAIL_OPEN = """
on_error: allow
rules:
  - kind: secret
    action: redact
"""

TIMEOUT = """
scan_timeout_seconds: 0.000001
rules:
  - kind: secret
    action: redact
"""


def _proxy_with(tmp_path, provider, test_ca, policy_text: str):
    policies = copy_policies(tmp_path / "policies", default=policy_text)
    return start_proxy(tmp_path / "run", intercept=[f"localhost:{provider.port}"],
                       upstream_ca=test_ca.cert_path, policy_dir=policies)


def _post(proxy, url: str, content: bytes, **headers: str) -> httpx.Response:
    with proxy.client() as client:
        return client.post(url, content=content, headers={"content-type": "application/json", **headers})


def test_bodies_over_the_limit_are_refused_by_length_and_by_decoded_size(tmp_path, provider, test_ca, received):
    running = _proxy_with(tmp_path, provider, test_ca, STRICT)
    try:
        big = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 30000}]}).encode()
        response = _post(running, f"{provider.base_url}/v1/messages", big)
        assert response.status_code == 413
        assert response.json()["error"]["type"] == "request_too_large"
        assert "limit of 20000" in response.json()["error"]["message"]
        small = json.dumps({"model": "m", "messages": [{"role": "user", "content": "fine"}]}).encode()
        assert _post(running, f"{provider.base_url}/v1/messages", small).status_code == 200
        assert len(received) == 1
        decisions = [line["decision"] for line in running.audit_lines()]
        assert decisions == ["error", "allow"]
    finally:
        running.stop()


def test_a_scan_that_times_out_is_blocked_not_forwarded(tmp_path, provider, test_ca, received):
    running = _proxy_with(tmp_path, provider, test_ca, TIMEOUT)
    try:
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": make.aws_access_key_id()}]})
        response = _post(running, f"{provider.base_url}/v1/chat/completions", body.encode())
        assert response.status_code == 504
        assert "could not finish scanning" in response.json()["error"]["message"]
        assert received == []
        assert running.audit_lines()[-1]["error"] == "scan timeout"
    finally:
        running.stop()


def test_fail_open_is_a_tenant_choice_and_is_audited(tmp_path, provider, test_ca, received):
    running = _proxy_with(tmp_path, provider, test_ca, FAIL_OPEN)
    try:
        response = _post(running, f"{provider.base_url}/v1/messages", b'{"messages": [')
        assert response.status_code == 200  # the stand-in answered: it was forwarded on purpose
        assert received[0].body == b'{"messages": ['
        line = running.audit_lines()[-1]
        assert line["decision"] == "allow" and "malformed JSON" in line["error"]
    finally:
        running.stop()


def test_signed_bodies_cannot_be_redacted_so_they_are_blocked(proxy, provider, received):
    key_id = make.aws_access_key_id()
    body = json.dumps({"messages": [{"role": "user", "content": [{"text": f"key {key_id}"}]}]}).encode()
    response = _post(proxy, f"{provider.base_url}/model/anthropic.claude/converse", body,
                     authorization="AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/bedrock/aws4_request")
    assert response.status_code == 403
    # A Bedrock call is answered in Bedrock's shape (what boto3 reads), whichever host serves it.
    assert "signed" in response.json()["message"] and response.headers["x-amzn-errortype"] == "AccessDeniedException"
    assert received == []


def test_websocket_upgrades_to_ai_hosts_are_refused(proxy, provider, received):
    with proxy.client() as client:
        response = client.get(f"{provider.base_url}/v1/responses", headers={
            "upgrade": "websocket", "connection": "upgrade", "sec-websocket-version": "13",
            "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert response.status_code == 426  # Codex falls back to HTTPS at once (tests/agents)
    assert "WebSocket" in response.json()["error"]["message"]
    assert received == []


def test_host_patterns_are_anchored():
    table = EndpointTable.with_extra([parse_intercept_host("gateway.corp.example:8443")])
    assert table.lookup("api.anthropic.com", 443).provider == "anthropic"
    assert table.lookup("bedrock-runtime.eu-west-1.amazonaws.com", 443).provider == "bedrock"
    assert table.lookup("myres.openai.azure.com", 443).provider == "azure-openai"
    assert table.lookup("gateway.corp.example", 8443).provider == "custom"
    for host, port in [("api.anthropic.com.evil.example", 443), ("evilapi.anthropic.com", 443),
                       ("gateway.corp.example", 443), ("a.b.openai.azure.com", 443), ("api.openai.com", 80)]:
        assert table.lookup(host, port) is None, host
    assert all(pattern.startswith("^") and pattern.endswith("$") for pattern in table.allow_hosts())


def test_a_broken_policy_stops_the_proxy_from_starting(tmp_path, test_ca):
    policies = copy_policies(tmp_path / "policies", default="rules:\n  - kind: secret\n    acton: block\n")
    result = subprocess.run(
        [str(REPO / ".venv/bin/llm-dlp"), "run", "--policy-dir", str(policies), "--confdir", str(tmp_path / "c"),
         "--listen-port", str(free_port())],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert f"{policies / 'default.yaml'}:3: rules[0].acton: unknown key" in result.stderr


def test_the_readme_run_command_serves_a_fresh_ca(tmp_path, provider, test_ca, received):
    """`make run` from the repository, as the README says, then curl through it with the CA."""
    port = free_port()
    args = (f"--listen-port {port} --confdir {tmp_path}/certs --audit-log {tmp_path}/audit.jsonl "
            f"--intercept-host localhost:{provider.port} --upstream-ca {test_ca.cert_path}")
    log = tmp_path / "make.log"
    process = subprocess.Popen(["make", "-s", "run", f"ARGS={args}"], cwd=REPO, stdout=open(log, "w"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, process, log, timeout=300)
        ca = tmp_path / "certs" / "mitmproxy-ca-cert.pem"
        key = tmp_path / "certs" / "mitmproxy-ca.pem"
        assert oct(key.stat().st_mode & 0o777) == "0o600"
        result = subprocess.run(
            ["curl", "-sS", "-x", f"http://127.0.0.1:{port}", "--cacert", str(ca), f"{provider.base_url}/v1/models"],
            capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert "hello from the stand-in" in result.stdout
        banner = log.read_text()
        for words in ("NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CODEX_CA_CERTIFICATE", str(ca)):
            assert words in banner
        assert "PRIVATE KEY" not in banner
    finally:
        import os, signal
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
