"""The withhold action: per API format, the content unit holding a finding becomes a notice the
model can read, the structure stays valid, every other byte is forwarded as it came, and the
same unit becomes the same bytes on every turn.

The detector here is a stand-in that reports fixed markers (what it found is not under test;
the proxy tests run the real detectors); the policy is the bundled default.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types

import pytest

from detectors.base import Finding
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.splice import replace_strings
from llm_dlp.testing.proxyrun import REPO

TABLE = "name,email\n" + "\n".join(f"Cust{i},cust{i}@example.com" for i in range(30))
KEY = "-----BEGIN PRIVATE KEY-----MIIEvQIBADANBgkqhkiG9w0BAQEFAASC-----END PRIVATE KEY-----"

CODE = "\n".join(f"    price_{i} = base * rate_{i}" for i in range(74))


class MarkerDetector:
    """Reports the customer table as 30 PII records, a private key, and single e-mail addresses."""

    name = "marker"
    takes_path_hint = False

    def scan(self, text: str) -> list[Finding]:
        found = []
        start = text.find(TABLE)
        if start >= 0:
            found.append(Finding("pii", "PII_RECORDS", start, start + len(TABLE), 1.0, "pii", {"records": 30}))
        for match in re.finditer(re.escape(KEY), text):
            found.append(Finding("secret", "private-key", match.start(), match.end(), 1.0, "secrets"))
        start = text.find(CODE)
        if start >= 0:  # as the proprietary-code detector reports a grep excerpt of an indexed file
            found.append(Finding("proprietary_code", "acme-core", start, start + len(CODE), 1.0, "proprietary",
                                 {"lines": 74, "file": "src/pricing/engine.py", "file_lines": [4, 77]}))
        for match in re.finditer(r"[a-z0-9]+@example\.(?:com|org)", text):
            found.append(Finding("pii", "EMAIL_ADDRESS", match.start(), match.end(), 0.9, "pii"))
        return found


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    directory = tmp_path_factory.mktemp("policies")
    default = (REPO / "policies" / "default.yaml").read_text()
    (directory / "default.yaml").write_text(default.replace("# contact: security@example.com", "contact: security@example.com"))
    (directory / "trial.yaml").write_text("extends: default\nmode: monitor\nmembers:\n  users: [trial]\n")
    return load_policy_dir(directory)


@pytest.fixture
def pipeline(policies) -> Pipeline:
    return Pipeline(policies, [MarkerDetector()], ValueHasher(b"k" * 32))


def inspect(pipeline: Pipeline, path: str, body: dict | str, user: str | None = None) -> types.SimpleNamespace:
    raw = (body if isinstance(body, str) else json.dumps(body)).encode()
    info = RequestInfo("t", "POST", "api.example.com", path, "custom", user=user, content_type="application/json")
    inspection = pipeline.inspect(info, raw)
    # The verdict's facts with the forwarded body and its placeholders beside them.
    facts = {f.name: getattr(inspection.verdict, f.name) for f in dataclasses.fields(inspection.verdict)}
    return types.SimpleNamespace(**facts, body=inspection.body, placeholders=dict(inspection.redactions))


def anthropic_turn(content) -> dict:
    return {"model": "claude", "max_tokens": 10, "system": "You are a coding agent.", "messages": [
        {"role": "user", "content": "Summarise data/customers.csv for bob@example.org"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Read",
                                           "input": {"file_path": "data/customers.csv"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "is_error": False,
                                      "content": content, "cache_control": {"type": "ephemeral"}}]},
    ]}


NOTICE = ("[llm-dlp withheld this tool result under policy 'default': 30 records of personal data "
          "(pii PII_RECORDS) from data/customers.csv. It is not available to the assistant; ask security@example.com.]")


@pytest.mark.parametrize("content", [TABLE, [{"type": "text", "text": TABLE}]])
def test_anthropic_tool_result_becomes_the_notice_and_keeps_its_pairing(pipeline, content):
    verdict = inspect(pipeline, "/v1/messages", anthropic_turn(content))
    assert verdict.decision == "withhold" and verdict.status == 200
    sent = json.loads(verdict.body)
    result = sent["messages"][2]["content"][0]
    assert result == {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": False,
                      "content": NOTICE, "cache_control": {"type": "ephemeral"}}
    assert "cust1@" not in verdict.body.decode()
    # The rest goes on, redacted as the policy says: the e-mail in the user's prompt.
    assert "bob@example.org" not in sent["messages"][0]["content"] and "[[pii:EMAIL_ADDRESS:" in sent["messages"][0]["content"]
    assert {f.action for f in verdict.findings if f.rule == "PII_RECORDS"} == {"withhold"}
    # The e-mail addresses inside the withheld table are not redacted too (nothing of them is sent),
    # and the audit records them as withheld, not as redacted.
    assert len(verdict.placeholders) == 1
    inside = [f for f in verdict.findings if f.rule == "EMAIL_ADDRESS" and f.location != "$.messages[0].content"]
    assert inside and {f.action for f in inside} == {"withhold"}
    assert {f.action for f in verdict.findings if f.location == "$.messages[0].content"} == {"redact"}


def test_every_byte_outside_the_unit_is_forwarded_as_it_came(pipeline):
    raw = json.dumps(anthropic_turn(TABLE), indent=1, ensure_ascii=True).replace("Summarise data/customers.csv for bob@example.org", "Summarise data/customers.csv")
    verdict = inspect(pipeline, "/v1/messages", raw)
    before, after = raw.split(json.dumps(TABLE))
    assert verdict.body.decode() == before + json.dumps(NOTICE) + after


def test_the_same_unit_is_withheld_to_the_same_bytes_on_every_turn(pipeline):
    turn3 = anthropic_turn(TABLE)
    turn4 = json.loads(json.dumps(turn3))
    turn4["messages"] += [{"role": "assistant", "content": [{"type": "text", "text": "Done."}]},
                          {"role": "user", "content": "thanks"}]
    first, second = (inspect(pipeline, "/v1/messages", t).body.decode() for t in (turn3, turn4))
    assert second.startswith(first[: first.rindex("]")])


def test_a_document_and_a_text_part_are_replaced_by_text_blocks(pipeline):
    body = {"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": TABLE},
         "title": "customers", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": f"and my key {KEY}"},
        {"type": "text", "text": "what do you make of it?"},
    ]}]}
    sent = json.loads(inspect(pipeline, "/v1/messages", body).body)
    document, key_part, question = sent["messages"][0]["content"]
    assert document["type"] == "text" and document["cache_control"] == {"type": "ephemeral"}
    assert document["text"].startswith("[llm-dlp withheld this document under policy 'default': 30 records")
    assert key_part == {"type": "text", "text": key_part["text"]} and "a secret (secret private-key)" in key_part["text"]
    assert question == {"type": "text", "text": "what do you make of it?"}


def test_a_finding_in_the_system_prompt_blocks_and_says_why(pipeline):
    body = {"model": "claude", "max_tokens": 10, "system": f"deploy key: {KEY}", "messages": [{"role": "user", "content": "hi"}]}
    verdict = inspect(pipeline, "/v1/messages", body)
    assert verdict.decision == "block" and verdict.status == 403
    assert "cannot be withheld there, so blocked" in verdict.message and KEY not in verdict.message
    [finding] = verdict.findings
    assert finding.action == "block" and finding.policy_rule.endswith("cannot be withheld there, so blocked")


def test_monitor_mode_says_would_withhold_and_forwards_unchanged(pipeline):
    verdict = inspect(pipeline, "/v1/messages", anthropic_turn(TABLE), user="trial")
    assert verdict.decision == "would_withhold" and verdict.body is None and verdict.tenant == "trial"


def test_openai_tool_message_and_tool_call_arguments(pipeline):
    body = {"model": "gpt", "messages": [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "write", "arguments": json.dumps({"path": "keys/id", "content": KEY})}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": TABLE},
        {"role": "user", "content": [{"type": "text", "text": KEY}, {"type": "text", "text": "ok?"}]},
    ]}
    sent = json.loads(inspect(pipeline, "/v1/chat/completions", body).body)
    _, call, tool, user = sent["messages"]
    arguments = json.loads(call["tool_calls"][0]["function"]["arguments"])
    assert list(arguments) == ["withheld"] and "tool call arguments" in arguments["withheld"]
    assert call["tool_calls"][0]["id"] == "call_1" and call["tool_calls"][0]["function"]["name"] == "write"
    assert tool["tool_call_id"] == "call_1" and tool["content"].startswith("[llm-dlp withheld this tool result")
    assert "from keys/id" in tool["content"]  # the file the call it answers named
    assert user["content"][0]["text"].startswith("[llm-dlp withheld this message part") and user["content"][1]["text"] == "ok?"


def test_responses_function_call_output_and_input_part(pipeline):
    body = {"model": "gpt", "instructions": "be brief", "input": [
        {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": json.dumps({"cmd": "cat data/customers.csv"})},
        {"type": "function_call_output", "call_id": "c1", "output": TABLE},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": KEY}]},
    ]}
    sent = json.loads(inspect(pipeline, "/v1/responses", body).body)
    call, output, message = sent["input"]
    assert call == body["input"][0]
    assert output["call_id"] == "c1" and output["type"] == "function_call_output"
    assert output["output"].startswith("[llm-dlp withheld this tool result under policy 'default': 30 records")
    assert message["content"][0]["type"] == "input_text" and "private-key" in message["content"][0]["text"]


def test_gemini_function_response_keeps_its_name(pipeline):
    body = {"contents": [
        {"role": "user", "parts": [{"text": "read the customers"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "read_file", "args": {"path": "data/customers.csv"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "read_file", "response": {"output": TABLE}}}]},
    ]}
    sent = json.loads(inspect(pipeline, "/v1beta/models/gemini-pro:generateContent", body).body)
    response = sent["contents"][2]["parts"][0]["functionResponse"]
    assert response["name"] == "read_file" and list(response["response"]) == ["withheld"]
    assert "30 records of personal data" in response["response"]["withheld"]
    assert sent["contents"][:2] == body["contents"][:2]


def test_a_body_with_no_units_blocks(pipeline):
    verdict = inspect(pipeline, "/v1/some-other-api", {"data": TABLE})
    assert verdict.decision == "block" and "cannot be withheld" in verdict.message


def test_splice_replaces_a_whole_value_and_nothing_else():
    document = '{"a": [1, {"b": "x"}],  "c" : {"d": [true, null]}, "e": "\\u00e9"}'
    out = replace_strings(document, {("e",): "y"}, {("a", 1): {"t": "n"}, ("c",): "gone"})
    assert out == '{"a": [1, {"t":"n"}],  "c" : "gone", "e": "y"}'


def test_the_notice_never_holds_a_value(pipeline):
    verdict = inspect(pipeline, "/v1/messages", anthropic_turn(f"{TABLE}\n{KEY}"))
    notice = json.loads(verdict.body)["messages"][2]["content"][0]["content"]
    assert "30 records of personal data (pii PII_RECORDS)" in notice and "a secret (secret private-key)" in notice
    assert "cust1" not in notice and "Cust" not in notice and "PRIVATE KEY-" not in notice and "MIIE" not in notice
    assert all(dataclasses.asdict(f)["preview"] != KEY for f in verdict.findings)


def test_the_notice_for_proprietary_code_names_the_file_and_its_lines(pipeline):
    verdict = inspect(pipeline, "/v1/messages", anthropic_turn(CODE))
    assert verdict.decision == "withhold"
    notice = json.loads(verdict.body)["messages"][2]["content"][0]["content"]
    assert notice == ("[llm-dlp withheld this tool result under policy 'default': 74 lines of proprietary code "
                      "(index acme-core) from src/pricing/engine.py lines 4\u201377. "
                      "It is not available to the assistant; ask security@example.com.]")
    assert "price_" not in verdict.body.decode()
