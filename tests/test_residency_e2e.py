"""Domestic providers through the real proxy: prefixed Anthropic-compatible endpoints, residency
rules by region and by kind, and a reroute with model mapping and the company's key."""

from __future__ import annotations

import json

import httpx
import pytest

from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import copy_policies, start_proxy
from llm_dlp.testing.standin import StandInProvider

PREFIXES = ("/anthropic", "/apps/anthropic", "/api/anthropic")
REDACT_SECRETS = """
rules:
  - kind: secret
    action: redact
"""
CLIENT_KEY = "sk-client-own-key-for-anthropic"


def messages(text: str, model: str = "echo", stream: bool = False) -> str:
    return json.dumps({"model": model, "max_tokens": 50, "stream": stream,
                       "messages": [{"role": "user", "content": text}]})


def post(proxy, url: str, body: str) -> httpx.Response:
    with proxy.client() as client:
        return client.post(url, content=body, headers={
            "content-type": "application/json", "x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"})


def streamed_text(response: httpx.Response) -> str:
    """The text and tool-argument deltas of an Anthropic event stream, joined."""
    out = []
    for line in response.text.splitlines():
        if line.startswith("data: "):
            delta = json.loads(line[6:]).get("delta", {})
            out.append(delta.get("text", "") + delta.get("partial_json", ""))
    return "".join(out)


def last_decision(proxy) -> dict:
    return [line for line in proxy.audit_lines() if "decision" in line][-1]


@pytest.fixture(scope="module")
def prefixed(test_ca):
    servers = {prefix: StandInProvider(test_ca, f"prefixed{i}", prefix=prefix) for i, prefix in enumerate(PREFIXES)}
    yield servers
    for server in servers.values():
        server.close()


@pytest.fixture(scope="module")
def prefixed_proxy(tmp_path_factory, prefixed, test_ca):
    tmp = tmp_path_factory.mktemp("prefixed")
    running = start_proxy(tmp / "run", intercept=[f"localhost:{s.port}=qwen" for s in prefixed.values()],
                          upstream_ca=test_ca.cert_path, policy_dir=copy_policies(tmp / "policies", default=REDACT_SECRETS))
    yield running
    running.stop()


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_messages_under_a_provider_prefix_is_scanned_redacted_and_restored(prefixed_proxy, prefixed, prefix, stream):
    server = prefixed[prefix]
    server.clear()
    key_id = make.aws_access_key_id()
    response = post(prefixed_proxy, f"{server.base_url}{prefix}/v1/messages", messages(f"deploy with {key_id}", stream=stream))
    assert response.status_code == 200
    arrived = server.received[-1]
    assert arrived.path == f"{prefix}/v1/messages"
    assert key_id not in arrived.text and "[[secret:" in arrived.text  # scanned and redacted
    answer = streamed_text(response) if stream else response.json()["content"][-1]["text"]
    assert key_id in answer  # restored on the way back
    line = last_decision(prefixed_proxy)
    assert (line["format"], line["provider"], line["region"], line["decision"]) == (
        "anthropic-messages", "qwen", "mainland", "redact")


@pytest.fixture(scope="module")
def abroad(test_ca):
    server = StandInProvider(test_ca, "abroad")
    yield server
    server.close()


@pytest.fixture(scope="module")
def domestic(test_ca):
    server = StandInProvider(test_ca, "domestic", prefix="/apps/anthropic")
    yield server
    server.close()


@pytest.fixture(scope="module")
def mainland_only(tmp_path_factory, abroad, domestic, test_ca):
    """Only mainland and self-hosted destinations; secrets only to self-hosted ones."""
    tmp = tmp_path_factory.mktemp("mainland")
    policy = """
destinations:
  allow: {region: [mainland, self-hosted]}
  kinds:
    secret: {region: [self-hosted]}
rules:
  - kind: secret
    action: log
"""
    running = start_proxy(tmp / "run", intercept=[f"localhost:{abroad.port}=anthropic", f"localhost:{domestic.port}=qwen"],
                          upstream_ca=test_ca.cert_path, policy_dir=copy_policies(tmp / "policies", default=policy))
    yield running
    running.stop()


def test_a_request_to_an_international_host_is_blocked_in_the_providers_error_shape(mainland_only, abroad):
    abroad.clear()
    response = post(mainland_only, f"{abroad.base_url}/v1/messages", messages("hello", model="claude-sonnet-4-5"))
    assert response.status_code == 403
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "permission_error"
    assert "international" in error["error"]["message"] and "mainland" in error["error"]["message"]
    assert abroad.received == []
    line = last_decision(mainland_only)
    assert (line["decision"], line["provider"], line["region"]) == ("block", "anthropic", "international")


def test_a_request_carrying_a_kind_goes_only_where_its_rule_allows(mainland_only, domestic):
    domestic.clear()
    assert post(mainland_only, f"{domestic.base_url}/apps/anthropic/v1/messages", messages("hello")).status_code == 200
    key_id = make.aws_access_key_id()
    response = post(mainland_only, f"{domestic.base_url}/apps/anthropic/v1/messages", messages(f"key {key_id}"))
    assert response.status_code == 403
    assert "secret may go only to self-hosted" in response.json()["error"]["message"]
    assert len(domestic.received) == 1  # only the request without the secret arrived
    line = last_decision(mainland_only)
    assert line["decision"] == "block" and line["region"] == "mainland"
    assert line["findings"][0]["action"] == "block"
    assert line["findings"][0]["policy_rule"].startswith("destinations.kinds.secret (default.yaml:")
    assert key_id not in json.dumps(line)


@pytest.fixture(scope="module")
def rerouting(tmp_path_factory, abroad, domestic, test_ca):
    """Claude Code pointed at Anthropic is sent to the domestic endpoint with the company's key."""
    tmp = tmp_path_factory.mktemp("reroute")
    key_file = tmp / "dashscope.key"
    key_file.write_text("sk-company-key-for-dashscope\n")
    policy = f"""
destinations:
  allow: {{region: [mainland, self-hosted]}}
  reroute:
    anthropic:
      to: https://localhost:{domestic.port}/apps/anthropic
      region: mainland
      models: {{"claude-sonnet-*": echo-tool, "claude-haiku-*": echo}}
      credential: {{file: {key_file}}}
rules:
  - kind: secret
    action: redact
"""
    running = start_proxy(tmp / "run", intercept=[f"localhost:{abroad.port}=anthropic"], upstream_ca=test_ca.cert_path,
                          policy_dir=copy_policies(tmp / "policies", default=policy))
    yield running
    running.stop()


@pytest.mark.parametrize("stream", [False, True])
def test_reroute_maps_the_model_replaces_the_key_and_restores_tool_arguments(rerouting, abroad, domestic, stream):
    abroad.clear()
    domestic.clear()
    key_id = make.aws_access_key_id()
    body = messages(f"write {key_id} to the config", model="claude-sonnet-4-5-20250929", stream=stream)
    response = post(rerouting, f"{abroad.base_url}/v1/messages?beta=true", body)
    assert response.status_code == 200
    assert abroad.received == []
    arrived = domestic.received[-1]
    assert arrived.path == "/apps/anthropic/v1/messages?beta=true"
    assert arrived.json()["model"] == "echo-tool"
    # Only the model string changed besides the redaction: the rest of the body kept its bytes.
    assert arrived.text.replace('"echo-tool"', '"claude-sonnet-4-5-20250929"').startswith('{"model": "claude-sonnet-4-5-20250929", "max_tokens": 50')
    assert arrived.headers.get("x-api-key") == "sk-company-key-for-dashscope"
    assert CLIENT_KEY not in json.dumps(arrived.headers)
    assert key_id not in arrived.text
    if stream:
        arguments = streamed_text(response)
    else:
        arguments = json.dumps(response.json()["content"][-1]["input"])
    assert key_id in arguments  # the agent's edit carries the real value
    line = last_decision(rerouting)
    assert line["route"]["model"] == "echo-tool" and line["route"]["region"] == "mainland"
    assert line["reroute"] == f"https://localhost:{domestic.port}/apps/anthropic"
    assert line["region"] == "mainland" and "sk-company" not in json.dumps(line)


def test_a_reroute_whose_key_is_missing_is_refused_not_sent_on(tmp_path, abroad, domestic, test_ca):
    policy = f"""
destinations:
  reroute:
    anthropic:
      to: https://localhost:{domestic.port}/apps/anthropic
      credential: {{env: LLM_DLP_TEST_UNSET_KEY_VARIABLE}}
"""
    running = start_proxy(tmp_path / "run", intercept=[f"localhost:{abroad.port}=anthropic"], upstream_ca=test_ca.cert_path,
                          policy_dir=copy_policies(tmp_path / "policies", default=policy))
    try:
        abroad.clear()
        domestic.clear()
        response = post(running, f"{abroad.base_url}/v1/messages", messages("hello"))
        assert response.status_code == 502
        assert "LLM_DLP_TEST_UNSET_KEY_VARIABLE" in response.json()["error"]["message"]
        assert abroad.received == [] and domestic.received == []
    finally:
        running.stop()
