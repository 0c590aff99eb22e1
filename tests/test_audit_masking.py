"""The audit never holds a value: locations, paths and models as the audit writes them."""

from __future__ import annotations

import json

import pytest

from llm_dlp.audit.chain import load_or_create_chain_key
from llm_dlp.audit.events import ResponseEvent, RestoreEvent
from llm_dlp.audit.locations import FIELD_NAMES, audited_location, key_mark
from llm_dlp.audit.log import AuditLog
from llm_dlp.audit.target import RequestTargetMask, audited_host, audited_model, audited_path, looks_like_model
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.providers.base import INNER_JSON
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import REPO

HASHER = ValueHasher(b"m" * 32)


def test_a_location_keeps_api_fields_indexes_and_the_inner_json_marker():
    path = ("messages", 3, "content", 0, "input", "file_path")
    assert audited_location(path, HASHER) == "$.messages[3].content[0].input.file_path"
    assert audited_location(("tools", 0, "function", "arguments", INNER_JSON, "command"), HASHER) \
        == "$.tools[0].function.arguments<json>.command"
    assert audited_location(("-A",), HASHER) == '$["-A"]'  # a tool's own option name, quoted as JSON would


def test_a_key_the_client_made_up_is_a_keyed_hash():
    key = make.aws_access_key_id()
    location = audited_location(("metadata", key), HASHER)
    assert key not in location and location == f"$.metadata[#{key_mark(key, HASHER)}]"
    # The same key marks the same under one proxy key, differently under another: no guess can be checked.
    assert audited_location(("metadata", key), HASHER) == location
    assert audited_location(("metadata", key), ValueHasher(b"n" * 32)) != location
    nested = audited_location(("tools", 0, "input_schema", "properties", key, "description"), HASHER)
    assert key not in nested and nested.endswith("description") and "[#" in nested


def test_the_vocabulary_is_words_not_values():
    # Every name is a field or argument word: short, no digit runs of a key.
    assert all(len(name) <= 40 and not any(c.isspace() for c in name) for name in FIELD_NAMES)
    assert "model" in FIELD_NAMES and "file_path" in FIELD_NAMES and "command" in FIELD_NAMES


@pytest.mark.parametrize("path, expected", [
    ("/v1/messages", "/v1/messages"),
    ("/v1/messages?beta=true", "/v1/messages?beta=…"),
    ("/anthropic/v1/messages/count_tokens", "/anthropic/v1/messages/count_tokens"),
    ("/api/coding/paas/v4/chat/completions", "/api/coding/paas/v4/chat/completions"),
    ("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=…"),
    ("/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream",
     "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream"),
    ("/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
     "/openai/deployments/gpt-4o-mini/chat/completions?api-version=…"),
    ("/backend-api/codex/responses", "/backend-api/codex/responses"),
])
def test_a_known_route_is_written_as_it_is_and_query_values_never(path, expected):
    assert audited_path(path, HASHER) == expected


def test_a_value_in_the_path_or_query_is_masked():
    key, token = make.aws_access_key_id(), make.github_pat()
    written = audited_path(f"/v1/{key}/messages?key={token}&{token}=1", HASHER)
    assert key not in written and token not in written
    assert written.startswith(f"/v1/#{key_mark(key, HASHER)}/messages?key=…&#")
    gemini = audited_path(f"/v1beta/models/{key}:generateContent", HASHER)
    assert key not in gemini and gemini.endswith(":generateContent")


@pytest.mark.parametrize("model", [
    "claude-sonnet-4-20250514", "gpt-4o-mini", "gemini-2.5-pro", "o3", "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "meta-llama/Llama-3.1-8B-Instruct", "llama3.1:8b", "accounts/fireworks/models/llama-v3p1-70b-instruct",
    "claude-test", "qwen2.5-coder-32b-instruct", "mistral-large-latest", "deepseek-r1",
])
def test_model_ids_are_written_as_they_are(model):
    assert looks_like_model(model)
    assert audited_model(model, HASHER, found=False) == model


@pytest.mark.parametrize("value", [
    make.aws_access_key_id(), make.github_pat(), make.anthropic_api_key(), make.openai_api_key(),
    "123e4567-e89b-12d3-a456-426614174000", "my password is hunter2", "x" * 120,
])
def test_anything_else_in_the_model_field_is_masked(value):
    written = audited_model(value, HASHER, found=False)
    assert value not in written and f"#{key_mark(value, HASHER)}" in written


def test_a_model_a_detector_found_something_in_is_masked_whatever_its_shape():
    assert audited_model("gpt-4o-mini", HASHER, found=True) == f"…(11 chars) #{key_mark('gpt-4o-mini', HASHER)}"


def test_the_audit_log_masks_path_and_model_of_every_event(tmp_path):
    key = make.aws_access_key_id()
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, key=load_or_create_chain_key(tmp_path / "certs"), hasher=HASHER)
    pipeline = Pipeline(load_policy_dir(REPO / "policies"), [], HASHER)
    info = RequestInfo("r1", "POST", "api.anthropic.com", f"/v1/messages?x={key}", "anthropic")
    body = json.dumps({"model": key, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}).encode()
    audit.record(info, pipeline.inspect(info, body).verdict)
    audit.record_event(ResponseEvent("r1", "default", None, "api.anthropic.com", f"/{key}", 500))
    audit.record_event(RestoreEvent("r1", "default", "api.anthropic.com", f"/v1/messages?{key}", {"secret": 1}, {}))
    audit.close()
    text = path.read_text()
    assert key not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["path"] for line in lines] == [
        "/v1/messages?x=…", f"/#{key_mark(key, HASHER)}", f"/v1/messages?#{key_mark(key, HASHER)}"]
    assert lines[0]["model"] == f"AKIA…(20 chars) #{key_mark(key, HASHER)}"


def test_a_finding_in_the_model_field_masks_the_model(tmp_path):
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, key=load_or_create_chain_key(tmp_path / "certs"), hasher=HASHER)
    finding = {"kind": "secret", "rule": "r", "location": "$.model", "action": "redact", "value_hash": "h", "preview": "p"}
    audit.write("dlp.decision", path="/v1/messages", model="gpt-4o-mini", findings=[finding])
    audit.write("dlp.decision", path="/v1/messages", model="gpt-4o-mini", findings=[{**finding, "location": "$.system"}])
    audit.close()
    models = [json.loads(line)["model"] for line in path.read_text().splitlines()]
    assert models[0].startswith("…(11 chars) #") and models[1] == "gpt-4o-mini"


@pytest.mark.parametrize("host", [
    "api.anthropic.com", "generativelanguage.googleapis.com", "bedrock-runtime.us-east-1.amazonaws.com",
    "my-resource.openai.azure.com", "localhost", "127.0.0.1", "[::1]", "api.anthropic.com.", "dashscope-intl.aliyuncs.com",
    "open.bigmodel.cn", "ark.ap-southeast.bytepluses.com",
])
def test_ai_hosts_are_written_as_they_are(host):
    assert audited_host(host, HASHER) == host


def test_a_host_that_could_carry_a_value_is_a_mark():
    key = make.aws_access_key_id()
    for host in (f"{key}.example.com", f"{key.lower()}.example.com", f"x.{make.github_pat()}.io", "a b"):
        assert audited_host(host, HASHER) == f"#{key_mark(host, HASHER)}"


def test_markers_are_written_as_markers_and_only_the_known_ones():
    assert audited_location(("\x00target", 2), HASHER) == "target[2]"
    assert audited_location(("\x00header", 5), HASHER) == "header[5]"
    assert audited_location(("metadata", "\x00key"), HASHER) == "$.metadata<key>"
    # A client's key that starts with a NUL is still the client's key.
    key = "\x00" + make.aws_access_key_id()
    assert audited_location(("metadata", key), HASHER) == f"$.metadata[#{key_mark(key, HASHER)}]"


def test_a_finding_in_the_route_masks_a_model_named_there(tmp_path):
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, key=load_or_create_chain_key(tmp_path / "certs"), hasher=HASHER)
    finding = {"kind": "secret", "rule": "r", "location": "target[0]", "action": "block", "value_hash": "h", "preview": "p"}
    route = "/model/anthropic.claude-3-haiku/converse"
    audit.write("dlp.decision", path=route, model="anthropic.claude-3-haiku", findings=[finding])
    audit.write("dlp.decision", path=route, model="anthropic.claude-3-haiku", findings=[])
    audit.close()
    masked, plain = [json.loads(line) for line in path.read_text().splitlines()]
    assert masked["path"] == f"/model/#{key_mark('anthropic.claude-3-haiku', HASHER)}/converse"
    assert masked["model"].startswith("anth…(24 chars) #")
    assert (plain["path"], plain["model"]) == (route, "anthropic.claude-3-haiku")


def test_a_file_name_that_holds_a_found_value_is_a_mark():
    from detectors.code import CodeDetector
    from detectors.secrets import SecretDetector

    key = make.aws_access_key_id()
    code = "\n".join(f"def handler_{i}(event, context):\n    return process(event['body'], retries={i})\n" for i in range(12))
    pipeline = Pipeline(load_policy_dir(REPO / "policies"), [SecretDetector(), CodeDetector()], HASHER)

    def read_of(file_path: str) -> bytes:
        return json.dumps({"model": "claude-test", "max_tokens": 5, "messages": [
            {"role": "user", "content": "look"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": file_path}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": code}]}]}).encode()

    info = RequestInfo("r1", "POST", "api.anthropic.com", "/v1/messages", "anthropic")
    plain = pipeline.inspect(info, read_of("/srv/app/handlers.py")).verdict
    assert {f.details.get("file") for f in plain.findings if f.kind == "code"} == {"/srv/app/handlers.py"}
    planted = pipeline.inspect(info, read_of(f"/srv/{key}/handlers.py")).verdict
    files = {f.details.get("file") for f in planted.findings if f.kind == "code"}
    assert files == {f"#{key_mark(f'/srv/{key}/handlers.py', HASHER)}"}
    assert key not in repr(planted) and any(f.kind == "secret" for f in planted.findings)


def test_the_mask_remembers_a_target_but_never_lets_a_finding_in_the_route_reuse_a_clean_answer():
    mask = RequestTargetMask(HASHER)
    key = make.aws_access_key_id()
    cases = [
        ({"host": "api.openai.com", "path": f"/v1/models/gpt-4o?key={key}", "model": "gpt-4o", "findings": []}, False),
        ({"host": "api.openai.com", "path": f"/v1/models/gpt-4o?key={key}", "model": "gpt-4o",
          "findings": [{"location": "target[0]"}]}, True),
    ]
    for _ in range(2):  # the second round is answered from memory: the same as the first
        for fields, found in cases:
            masked = mask(None, "info", dict(fields))
            assert masked["host"] == audited_host(fields["host"], HASHER)
            assert masked["path"] == audited_path(fields["path"], HASHER, found)
            assert masked["model"] == audited_model(fields["model"], HASHER, found)
            assert key not in json.dumps(masked)
    assert mask(None, "info", {"model": "gpt-4o", "findings": [{"location": "target[0]"}]})["model"] != "gpt-4o"
    for n in range(RequestTargetMask.REMEMBERED * 2):  # made-up paths do not grow it without end
        mask(None, "info", {"path": f"/v1/x{n}"})
    assert len(mask._masked) <= RequestTargetMask.REMEMBERED
