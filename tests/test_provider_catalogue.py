"""The provider catalogue, format recognition by path shape, residency rules and reroute plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detectors.secrets import SecretDetector
from llm_dlp import routing
from llm_dlp.endpoints import BUILTIN_ENDPOINTS, CATALOGUE, EndpointTable, load_catalogue, parse_intercept_host
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline
from llm_dlp.policy.loader import PolicyError, load_policy, load_policy_dir
from llm_dlp.policy.model import Place
from llm_dlp.providers import adapter_for
from llm_dlp.request import RequestInfo
from llm_dlp.testing import secrets_factory as make


@pytest.mark.parametrize("path, format_name", [
    ("/v1/messages", "anthropic-messages"),
    ("/anthropic/v1/messages", "anthropic-messages"),
    ("/apps/anthropic/v1/messages?beta=true", "anthropic-messages"),
    ("/api/anthropic/v1/messages", "anthropic-messages"),
    ("/coding/v1/messages/count_tokens", "anthropic-messages"),
    ("/anthropic//v1/messages", "anthropic-messages"),  # a base URL configured with a trailing slash
    ("/api/coding/paas/v4/chat/completions", "openai-chat"),
    ("/api/coding/v3/chat/completions", "openai-chat"),
    ("/compatible-mode/v1/chat/completions/", "openai-chat"),
    ("/backend-api/codex/responses", "openai-responses"),
    ("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "gemini"),
    ("/v2/plugin/auth/state", "json"),
])
def test_the_format_comes_from_the_path_shape_whatever_the_prefix(path, format_name):
    assert adapter_for(path).format == format_name


def test_every_catalogue_host_is_intercepted_and_labelled_with_its_provider_and_region():
    table = EndpointTable.with_extra([])
    for provider in CATALOGUE:
        for host in provider.hosts:
            name = host.replace("*", "x1")
            endpoint = table.lookup(name, 443)
            assert endpoint is not None, host
            assert (endpoint.region, endpoint.opaque) == (provider.region, provider.opaque), host
        for format_name, _ in provider.formats:
            assert format_name in {"anthropic-messages", "openai-chat", "openai-responses", "gemini", "bedrock"}
    assert table.lookup("api.anthropic.com.evil.example", 443) is None
    regions = {e.host: e.region for e in BUILTIN_ENDPOINTS}
    assert regions["dashscope.aliyuncs.com"] == "mainland" and regions["dashscope-intl.aliyuncs.com"] == "international"
    assert regions["open.bigmodel.cn"] == "mainland" and regions["api.z.ai"] == "international"
    assert regions["api.minimaxi.com"] == "mainland" and regions["api.minimax.io"] == "international"


def test_a_catalogue_entry_with_an_unknown_region_fails_at_load():
    with pytest.raises(ValueError, match="region must be one of"):
        load_catalogue("- provider: x\n  region: moon\n  hosts: [a.example]\n")


def test_an_intercept_host_may_name_its_region():
    assert parse_intercept_host("llm.corp:8443=vllm@self-hosted").region == "self-hosted"
    assert parse_intercept_host("localhost:9000=deepseek").region == "mainland"
    assert parse_intercept_host("localhost:9000").region == "unknown"


def policy_file(tmp_path: Path, text: str):
    path = tmp_path / "default.yaml"
    path.write_text(text)
    return load_policy(path)


def test_destinations_by_region_provider_host_and_jurisdiction(tmp_path):
    policy = policy_file(tmp_path, """
destinations:
  allow: {region: [mainland, self-hosted, sg], host: ["*.corp.example"]}
  deny: [kimi]
""")
    allowed = policy.destinations
    assert allowed.refusal_at(Place("deepseek", "api.deepseek.com", "mainland", "cn")) is None
    assert allowed.refusal_at(Place("qwen", "dashscope-intl.aliyuncs.com", "international", "sg")) is None
    assert allowed.refusal_at(Place("custom", "llm.corp.example", "unknown")) is None
    assert "not among the allowed" in allowed.refusal_at(Place("anthropic", "api.anthropic.com", "international", "us"))
    assert "denied" in allowed.refusal_at(Place("kimi", "api.kimi.com", "mainland", "cn"))


@pytest.mark.parametrize("destinations, line, problem", [
    ("  allow: {region: [moon]}", 3, "is not a region"),
    ("  reroute:\n    anthropic: {to: 'ftp://x'}", 4, "must be scheme://host"),
    ("  reroute:\n    anthropic:\n      to: https://x.example\n      credential: {env: A, file: /b}", 6, "exactly one of env"),
    ("  kinds:\n    nonsense: {region: [mainland]}", 4, "unknown key"),
])
def test_destination_mistakes_name_the_line(tmp_path, destinations, line, problem):
    with pytest.raises(PolicyError) as caught:
        policy_file(tmp_path, "\ndestinations:\n" + destinations + "\n")
    assert caught.value.line == line and problem in caught.value.problem


@pytest.mark.parametrize("path, format_name, prefix, expected", [
    ("/v1/messages?beta=true", "anthropic-messages", "/apps/anthropic", "/apps/anthropic/v1/messages?beta=true"),
    ("/anthropic/v1/messages", "anthropic-messages", "", "/v1/messages"),
    ("/v1/chat/completions", "openai-chat", "/api/coding/paas/v4", "/api/coding/paas/v4/chat/completions"),
    ("/v1beta/models/g:generateContent", "gemini", "", "/v1beta/models/g:generateContent"),
])
def test_a_reroute_replaces_the_base_url_prefix_and_keeps_the_formats_path(path, format_name, prefix, expected):
    target = routing.parse_target(f"https://llm.example{prefix}")
    assert routing.rerouted_path(path, format_name, target) == expected


def test_the_company_key_replaces_the_clients_and_is_never_printed(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_DLP_TEST_KEY", "sk-company")
    policy = policy_file(tmp_path, """
destinations:
  reroute:
    openai:
      to: https://open.bigmodel.cn/api/coding/paas/v4
      models: {"gpt-5*": glm-4.6}
      credential: {env: LLM_DLP_TEST_KEY}
""")
    [rule] = policy.destinations.reroute
    plan = routing.forwarding(rule, "/v1/chat/completions", "openai-chat")
    assert (plan.host, plan.path) == ("open.bigmodel.cn", "/api/coding/paas/v4/chat/completions")
    assert plan.set_headers == (("authorization", "Bearer sk-company"),)
    assert "authorization" in plan.drop_headers and "x-api-key" in plan.drop_headers
    assert "sk-company" not in repr(plan)
    assert routing.mapped_model(rule, "openai-chat", "gpt-5-codex") == "glm-4.6"
    assert routing.mapped_model(rule, "gemini", "gpt-5-codex") is None  # the model is in the path there
    place = routing.destination(RequestInfo("r", "POST", "api.openai.com", "/v1/chat/completions", "openai"), rule)
    assert (place.provider, place.region) == ("zhipu", "mainland")


def test_the_model_is_swapped_without_touching_other_bytes():
    body = '{"model" :"claude-sonnet-4-5",\n "messages":[{"role":"user","content":"caf\\u00e9"}]}'
    assert routing.with_model(body, "qwen3-coder-plus") == body.replace("claude-sonnet-4-5", "qwen3-coder-plus")


@pytest.mark.parametrize("opaque, decision, status", [("deny", "error", 403), ("pass", "allow", 200)])
def test_an_opaque_assistant_is_refused_or_passed_unscanned_as_the_policy_says(tmp_path, opaque, decision, status):
    (tmp_path / "default.yaml").write_text(f"destinations:\n  opaque: {opaque}\nrules:\n  - kind: secret\n    action: block\n")
    pipeline = Pipeline(load_policy_dir(tmp_path), [SecretDetector()], ValueHasher(b"k" * 32))
    info = RequestInfo("r", "POST", "lingma-api.tongyi.aliyun.com", "/algo/api/v3/service/pro/sse/agent_chat_generation",
                       "lingma", region="mainland", opaque=True)
    body = json.dumps({"q": f"key {make.aws_access_key_id()}"}).encode()
    verdict = pipeline.inspect(info, body).verdict
    assert (verdict.decision, verdict.status, verdict.format, verdict.findings) == (decision, status, "opaque" if opaque == "pass" else None, ())
    assert ("unscanned" in verdict.message) == (opaque == "pass")
    # The same host's OpenAI-shaped path is read and scanned like any other.
    shaped = RequestInfo("r", "POST", "copilot.tencent.com", "/v2/chat/completions", "codebuddy", region="mainland", opaque=True)
    chat = json.dumps({"model": "m", "messages": [{"role": "user", "content": f"key {make.aws_access_key_id()}"}]}).encode()
    assert pipeline.inspect(shaped, chat).verdict.decision == "block"


def test_a_reroute_may_apply_only_to_requests_carrying_a_kind(tmp_path):
    (tmp_path / "default.yaml").write_text("""
destinations:
  reroute:
    anthropic:
      to: https://llm.corp.example/anthropic
      kinds: [secret]
rules:
  - kind: secret
    action: log
""")
    pipeline = Pipeline(load_policy_dir(tmp_path), [SecretDetector()], ValueHasher(b"k" * 32))
    info = RequestInfo("r", "POST", "api.anthropic.com", "/v1/messages", "anthropic", region="international")

    def send(text: str):
        body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": text}]})
        return pipeline.inspect(info, body.encode()).verdict

    plain = send("hello")
    assert plain.reroute is None and plain.route is None
    carrying = send(f"key {make.aws_access_key_id()}")
    assert carrying.reroute == "https://llm.corp.example/anthropic"
    assert carrying.route == {"region": "self-hosted", "provider": "self-hosted", "rule": "default.yaml:4"}  # the rule's own line
