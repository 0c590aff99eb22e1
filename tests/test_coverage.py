"""Coverage by default, exemption by name, one reading of the body, one format object per API."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from llm_dlp.detection import build_detectors
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.providers import FORMATS, ApiFormat, RequestFormatError, error_response, format_for, format_named
from llm_dlp.providers.base import ErrorAnswer, parse_json, parsed_request
from llm_dlp.splice import replace_strings
from llm_dlp.providers.base import OBJECT_KEY
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import REPO

KEY = "ghp_" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7c"  # a GitHub token shape the secret detector knows


def texts(path: str, body) -> dict[str, str]:
    return {s.location: s.text for s in format_for(path).extract(body).segments}


# ---------------------------------------------------------------- fields never read before

@pytest.mark.parametrize("path, body, where", [
    ("/v1/messages", {"model": "m", "messages": [], "tools": [{"name": "t", "description": KEY}]}, "$.tools[0].description"),
    ("/v1/messages", {"model": "m", "messages": [], "tools": [{"name": "t", "input_schema": {"type": "object",
     "properties": {"x": {"type": "string", "description": KEY}}}}]}, "$.tools[0].input_schema.properties.x.description"),
    ("/v1/messages", {"model": "m", "messages": [], "metadata": {"user_id": KEY}}, "$.metadata.user_id"),
    ("/v1/messages", {"model": KEY, "messages": []}, "$.model"),
    ("/v1/chat/completions", {"model": "m", "messages": [], "tools": [{"type": "function", "function": {"name": "f", "description": KEY}}]},
     "$.tools[0].function.description"),
    ("/v1/chat/completions", {"model": "m", "messages": [], "prediction": {"type": "content", "content": KEY}}, "$.prediction.content"),
    ("/v1/chat/completions", {"model": "m", "messages": [], "user": KEY}, "$.user"),
    ("/v1/responses", {"model": "m", "input": "hi", "prompt": {"id": "p", "variables": {"v": KEY}}}, "$.prompt.variables.v"),
    ("/v1/responses", {"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f", "description": KEY}]}, "$.tools[0].description"),
    ("/v1beta/models/g:generateContent", {"contents": [], "tools": [{"functionDeclarations": [{"name": "f", "description": KEY}]}]},
     "$.tools[0].functionDeclarations[0].description"),
    ("/model/m/converse", {"messages": [], "system": [{"text": KEY}]}, "$.system[0].text"),
])
def test_every_field_is_a_segment(path, body, where):
    assert texts(path, body)[where] == KEY


@pytest.mark.parametrize("path, body", [
    ("/v1/messages", {"messages": [{"role": "user", "content": "x"}], "metadata": {KEY: 1}}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "logit_bias": {KEY: 1}}),
    ("/v1/messages", {"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {KEY: "v"}}]}]}),
])
def test_every_object_key_is_a_segment(path, body):
    assert KEY in {s.text for s in format_for(path).extract(body).segments if s.path[-1] == OBJECT_KEY}


def test_keys_inside_tool_call_arguments_are_segments():
    body = {"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
            "function": {"name": "f", "arguments": json.dumps({KEY: "v"})}}]}]}
    assert texts("/v1/chat/completions", body)["$.messages[0].tool_calls[0].function.arguments<json>.ghp_" + KEY[4:] + "<key>"] == KEY


# ---------------------------------------------------------------- exemptions by name, and only where verified

def test_each_format_exempts_only_what_the_provider_verifies():
    anthropic_body = {"messages": [
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "T1", "signature": "S1"}]},
        {"role": "user", "content": [{"type": "thinking", "thinking": "T2", "signature": "S2"}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "T3"}]},
    ]}
    found = set(texts("/v1/messages", anthropic_body).values())
    assert "T1" not in found and "S1" not in found  # the model's own signed thinking
    assert {"T2", "S2", "T3"} <= found  # a thinking block in a user turn, or unsigned, is scanned
    responses_body = {"input": [{"type": "reasoning", "id": "rs", "encrypted_content": "ENC", "summary": []},
                                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x", "encrypted_content": "E2"}]}]}
    found = set(texts("/v1/responses", responses_body).values())
    assert "ENC" not in found and "E2" in found
    converse = {"messages": [{"role": "assistant", "content": [{"reasoningContent": {"reasoningText": {"text": "R1", "signature": "S"}}}]},
                             {"role": "user", "content": [{"reasoningContent": {"reasoningText": {"text": "R2", "signature": "S"}}}]}]}
    found = set(texts("/model/m/converse", converse).values())
    assert "R1" not in found and "R2" in found


def test_a_gemini_thought_on_a_user_part_is_scanned():
    body = {"contents": [{"role": "user", "parts": [{"text": KEY, "thought": True}]}]}
    assert KEY in texts("/v1beta/models/g:generateContent", body).values()


# ---------------------------------------------------------------- one reading of the body

@pytest.mark.parametrize("body", [
    '{"messages": [], "model": "a", "model": "b"}',
    '{"messages": [{"role": "user", "content": "x", "content": "y"}]}',
    '{"messages": [{"role": "user", "content": "\\ud800"}]}',
    '{"messages": [{"role": "user", "content": "a\\udc00b"}]}',
    '{"messages": [], "\\ud83d": 1}',
    '{"messages": [], "temperature": NaN}',
    '{"messages": [], "temperature": Infinity}',
    '{"messages": [], "temperature": 1e999}',
    '{"messages": [{"role": "user", "content": "\\x41"}]}',
])
def test_a_body_another_parser_could_read_differently_is_refused(body):
    with pytest.raises(RequestFormatError):
        parse_json(body)


def test_paired_surrogates_and_escaped_backslashes_are_read():
    assert parse_json('{"a": "\\ud83d\\ude00", "b": "\\\\ud800"}') == {"a": "\U0001F600", "b": "\\ud800"}


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline(load_policy_dir(REPO / "policies"), build_detectors(), ValueHasher(b"k" * 32))


def info(path: str, headers: tuple = (), provider: str = "anthropic") -> RequestInfo:
    return RequestInfo("t", "POST", "api.example", path, provider, content_type="application/json", headers=headers)


def test_duplicate_keys_are_refused_with_400_in_the_providers_shape(pipeline):
    body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "messages": []}'
    verdict = pipeline.inspect(info("/v1/messages"), body).verdict
    assert verdict.decision == "error" and verdict.status == 400 and "repeats a key" in verdict.error
    answer = error_response("anthropic", "/v1/messages", verdict.status, verdict.message)
    assert json.loads(answer.body)["type"] == "error" and answer.status == 400


# ---------------------------------------------------------------- redaction of keys, the target, headers

def test_a_secret_in_a_key_is_redacted_in_the_key(pipeline):
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], "metadata": {KEY: "x"}}).encode()
    inspection = pipeline.inspect(info("/v1/messages"), body)
    assert inspection.verdict.decision == "redact"
    out = json.loads(inspection.body)
    (renamed,) = out["metadata"]
    assert KEY not in inspection.body.decode() and renamed.startswith("[[secret:")


def test_a_key_rename_that_would_repeat_a_sibling_is_refused():
    with pytest.raises(RequestFormatError):
        replace_strings('{"a": 1, "b": 2}', {("a", OBJECT_KEY): "b"})
    assert replace_strings('{"a": 1, "b": 2}', {("a", OBJECT_KEY): "c"}) == '{"c": 1, "b": 2}'


@pytest.mark.parametrize("path, headers", [
    (f"/v1/messages?note={KEY}", ()),
    ("/v1/messages", (("x-note", KEY),)),
    (f"/v1beta/models/{KEY}:generateContent", ()),
])
def test_a_secret_in_the_target_or_a_header_blocks(pipeline, path, headers):
    verdict = pipeline.inspect(info(path, headers), json.dumps({"contents": [], "messages": []}).encode()).verdict
    assert verdict.decision == "block"
    assert all(KEY not in f.location for f in verdict.findings)
    assert {f.location.split("[")[0] for f in verdict.findings} <= {"target", "header"}


def test_the_clients_own_credentials_are_not_scanned(pipeline):
    headers = (("authorization", f"Bearer {make.anthropic_api_key()}"), ("x-api-key", make.anthropic_api_key()),
               ("user-agent", "claude-cli/2.1.337 (external, cli)"))
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    verdict = pipeline.inspect(info(f"/v1beta/models/g:generateContent?key={make.anthropic_api_key()}", headers), body).verdict
    assert verdict.decision in ("allow", "log"), verdict


def test_the_audit_verdict_records_coverage_without_values(pipeline):
    body = json.dumps({"model": "m", "messages": [
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "T", "signature": "SIG"}]},
        {"role": "user", "content": "hello"}]}).encode()
    verdict = pipeline.inspect(info("/v1/messages"), body).verdict
    assert verdict.body_bytes == len(body) and 0 < verdict.text_bytes < len(body)
    assert verdict.exempt == ("thinking (signed)",)


# ---------------------------------------------------------------- recorded agents: no new refusals

@pytest.mark.parametrize("name", ["claude-code-turn2.json", "codex-turn2.json", "gemini-cli-turn2.json"])
def test_recorded_agent_requests_with_their_headers_still_pass(pipeline, name):
    fixture = json.loads((REPO / "tests/data/agents" / name).read_text())
    headers = tuple(json.loads(fixture["headers"].replace("'", '"')).items()) if isinstance(fixture["headers"], str) else tuple(fixture["headers"].items())
    verdict = pipeline.inspect(info(fixture["path"], headers, fixture["api"]), json.dumps(fixture["body"]).encode()).verdict
    assert verdict.decision != "block" and verdict.decision != "error", verdict
    assert not [f for f in verdict.findings if f.location.startswith(("target", "header"))]


# ---------------------------------------------------------------- one format object per API

def test_a_new_api_is_one_format_object_and_no_dispatch_code():
    """A toy API registered here alone: it is found by path, reads its bodies with full coverage
    and its exemption, and answers errors in its own shape, through the same functions the proxy
    calls."""
    def annotate(document):
        return parsed_request("toy", document, [])

    def error(status, message, method):
        return ErrorAnswer(status, json.dumps({"toy_error": message}).encode(), {"content-type": "application/json"})

    toy = ApiFormat(name="toy", matches=lambda path: path.startswith("/toy/"), annotate=annotate, error=error,
                    exempt=lambda document: {("sig",): "sig"})
    formats = (toy, *FORMATS)
    api = format_for("/toy/v1/ask", formats=formats)
    assert api is toy and format_named("toy", formats) is toy
    parsed = api.extract({"ask": KEY, "sig": "opaque", "nested": {KEY: 1}})
    assert [s.text for s in parsed.segments] == ["ask", KEY, "sig", "nested", KEY] and parsed.exempt == ("sig",)
    assert json.loads(api.error_answer(403, "no").body) == {"toy_error": "no"}
    assert format_for("/v1/messages", formats=formats).name == "anthropic-messages"


def test_every_registered_format_has_a_restorer_and_an_error_shape():
    for api in FORMATS:
        assert api.error_answer(403, "x").status in (400, 403)
        assert format_named(api.name) is api


# ---------------------------------------------------------------- property: a planted secret is never forwarded

BASES = {
    "/v1/messages": lambda: {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
    "/v1/chat/completions": lambda: {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    "/v1/responses": lambda: {"model": "m", "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]},
    "/v1beta/models/g:generateContent": lambda: {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    "/model/m/converse": lambda: {"messages": [{"role": "user", "content": [{"text": "hi"}]}]},
    "/v1/completions": lambda: {"model": "m", "prompt": "hi"},
}
WORDS = ["tools", "metadata", "extra", "x", "name", "description", "args", "content", "items", "value"]


def plant(rng: random.Random, document, secret: str) -> None:
    """Put ``secret`` at a random new place in ``document``: a value or a key, at any depth."""
    node = document
    for _ in range(rng.randint(0, 4)):
        key = rng.choice(WORDS) + str(rng.randint(0, 9))
        child = rng.choice([{}, []])
        if isinstance(node, dict):
            node[key] = child
        else:
            node.append(child)
        node = child
    if isinstance(node, list):
        node.append(secret if rng.random() < 0.8 else {secret: rng.choice(["v", 1, None])})
    elif rng.random() < 0.5:
        node[rng.choice(WORDS) + "_"] = f"some text {secret} around it"
    else:
        node[secret] = rng.choice(["v", 1, [1], {"k": "v"}])


@pytest.mark.parametrize("path", list(BASES))
def test_a_secret_planted_anywhere_never_leaves_unredacted(pipeline, path):
    rng = random.Random(f"coverage-{path}")
    for _ in range(25):
        document = BASES[path]()
        secret = make.github_pat()
        plant(rng, document, secret)
        body = json.dumps(document).encode()
        inspection = pipeline.inspect(info(path, provider="custom"), body)
        verdict = inspection.verdict
        assert verdict.decision in ("redact", "block", "withhold"), (path, document, verdict)
        if inspection.body is not None:
            assert secret.encode() not in inspection.body
            parse_json(inspection.body.decode())  # still one reading: no key repeated by a rename
        assert all(secret not in f.preview for f in verdict.findings)  # locations: masked by the audit (issue 19, class 5)


def test_prose_that_starts_like_a_data_url_is_scanned_whole():
    body = {"messages": [], "metadata": {"a": f"data: my token is {KEY}, keep it", "b": "data:text/plain;base64,aGVsbG8="}}
    found = {s.location: s for s in format_for("/v1/chat/completions").extract(body).segments}
    assert found["$.metadata.a"].text.startswith("data: my token is " + KEY) and found["$.metadata.a"].codec is None
    assert found["$.metadata.b"].text == "hello" and found["$.metadata.b"].codec is not None


@pytest.mark.parametrize("body, path", [
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, "/v1/messages"),
    ({"model": "m", "messages": [{"role": "system", "content": "x"}]}, "/v1/chat/completions"),
    ({"model": "m", "input": "x"}, "/v1/responses"),
    ({"contents": [{"role": "user", "parts": [{"text": "x"}]}]}, "/v1beta/models/gemini-pro:generateContent"),
    ({"prompt": "x"}, "/json"),
])
def test_explain_guesses_the_format_from_the_format_objects(body, path):
    from llm_dlp.explain import guess_path

    assert guess_path(json.dumps(body)) == path


# ---------------------------------------------------------------- the walk memo (resent tool definitions)

def _walked(parsed) -> list[tuple]:
    return [(s.path, s.text, s.role, s.path_hint, s.unit, s.codec) for s in parsed.segments] + [
        ("media", parsed.unscanned_media, parsed.exempt)]


@pytest.mark.parametrize("path", list(BASES))
def test_a_remembered_walk_is_the_walk(path):
    """With a walk memo, cold and warm, every body gives the very segments (and media, exemptions)
    it gives without one: planted values at random places, data URLs in tool definitions."""
    from llm_dlp.providers.coverage import WalkMemo

    rng = random.Random(f"walk-memo-{path}")
    memo = WalkMemo()
    api = format_for(path)
    for round_ in range(40):
        document = BASES[path]()
        document["tools"] = [{"name": "t", "description": rng.choice(["plain", "data:text/plain;base64,aGVsbG8=",
                                                                         "data:image/png;base64,iVBORw0KGgo="])}]
        plant(rng, document, make.github_pat() if round_ % 2 else "fixed-value")
        for _ in range(2):  # the second reading meets what the first remembered
            fresh = json.loads(json.dumps(document))
            assert _walked(api.extract(fresh, path, memo)) == _walked(api.extract(json.loads(json.dumps(document)), path))
    assert len(memo) > 0


def test_an_edited_tool_definition_is_walked_again(pipeline):
    tools = [{"name": f"tool{i}", "description": f"does thing {i}", "input_schema": {"type": "object"}} for i in range(5)]
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], "tools": tools}
    anthropic = info("/v1/messages")
    assert pipeline.inspect(anthropic, json.dumps(body).encode()).verdict.decision == "allow"
    assert pipeline.inspect(anthropic, json.dumps(body).encode()).verdict.decision == "allow"  # remembered
    tools[3]["description"] = f"does thing 3 with {KEY}"
    inspection = pipeline.inspect(anthropic, json.dumps(body).encode())
    assert inspection.verdict.decision in ("redact", "block", "withhold")
    assert any(f.location.startswith("$.tools[3]") for f in inspection.verdict.findings)


def test_the_walk_memo_is_bounded():
    from llm_dlp.providers.coverage import WalkMemo

    memo = WalkMemo(max_entries=100, max_total_chars=4000)
    api = format_for("/v1/messages")
    for i in range(50):
        tools = [{"name": f"t{i}", "description": "x" * 200}]
        api.extract({"model": "m", "messages": [], "tools": tools}, "/v1/messages", memo)
    assert 0 < len(memo) <= 4000 // 200
    big = [{"name": "t", "description": "y" * 1000}]  # past a value's share (1/8) of the budget: walked, not kept
    before = len(memo)
    segments = api.extract({"model": "m", "messages": [], "tools": big}, "/v1/messages", memo).segments
    assert any(s.text == "y" * 1000 for s in segments) and len(memo) == before
