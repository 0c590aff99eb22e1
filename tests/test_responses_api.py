"""OpenAI Responses API (Codex CLI's format): scanned, redacted and restored like the others."""

from __future__ import annotations

import json
import random

import openai
import pytest

from llm_dlp.providers import adapter_for
from llm_dlp.restore.responses import ResponseStream, restore_response
from llm_dlp.restore.stream import SseRestorer
from llm_dlp.restore.text import RestoreTable
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.standin import _response_object, _responses_events
from llm_dlp.vault import VaultEntry


def test_the_adapter_reaches_every_text_but_encrypted_reasoning():
    body = {"model": "gpt-5-codex", "instructions": "INS", "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "U1"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "R"}], "encrypted_content": "E"},
        {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": '{"path": "app.py", "cmd": "C"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "OUT"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "A1"}]},
        {"role": "user", "content": "U2"},
    ]}
    parsed = adapter_for("/backend-api/codex/responses").extract(body)
    found = {s.location: s.text for s in parsed.segments}
    assert found.items() >= {
        "$.instructions": "INS",
        "$.input[0].content[0].text": "U1",
        "$.input[2].arguments<json>.path": "app.py",
        "$.input[2].arguments<json>.cmd": "C",
        "$.input[3].output": "OUT",
        "$.input[4].content[0].text": "A1",
        "$.input[5].content": "U2",
    }.items()
    # The reasoning summary and ids are scanned too; only the encrypted state is exempt.
    assert found["$.input[1].summary[0].text"] == "R" and found["$.input[1].id"] == "rs_1"
    assert "E" not in found.values() and parsed.exempt == ("reasoning.encrypted_content",)
    assert [s.path_hint for s in parsed.segments if s.role == "tool_result"] == ["app.py"]
    assert parsed.format == "openai-responses" and parsed.model == "gpt-5-codex"


SECRET = "sk-live-" + "Q" * 30
TOKEN = "[[secret:stripe-access-token:0123456789]]"
TABLE = RestoreTable({TOKEN: VaultEntry("secret", SECRET)}, lambda kind, place: True)


def _stream_bytes(text: str, tool: str | None) -> bytes:
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in _responses_events("m", text, tool))


def _restore_in_pieces(raw: bytes, cuts: list[int]) -> bytes:
    restorer = SseRestorer(ResponseStream(TABLE))
    out, last = [], 0
    for cut in cuts + [len(raw)]:
        out += restorer(raw[last:cut])
        last = cut
    out += restorer(b"")
    return b"".join(out)


@pytest.mark.slow  # exhaustive: every cut of the stream
def test_streamed_text_and_arguments_restore_identically_however_the_stream_is_cut():
    for text, tool in [(f"use {TOKEN} now [[ not one", None),
                       ("x", json.dumps({"content": f"KEY={TOKEN}"}))]:
        raw = _stream_bytes(text, tool)
        whole = _restore_in_pieces(raw, [])
        assert TOKEN.encode() not in whole and SECRET.encode() in whole
        for cut in range(1, len(raw)):
            assert _restore_in_pieces(raw, [cut]) == whole
        rng = random.Random(7)
        for _ in range(100):
            cuts = sorted(rng.sample(range(1, len(raw)), rng.randint(2, 40)))
            assert _restore_in_pieces(raw, cuts) == whole
        events = [json.loads(line[6:]) for line in whole.decode().splitlines() if line.startswith("data: ")]
        deltas = "".join(e["delta"] for e in events if e["type"].endswith(".delta"))
        expected = text.replace(TOKEN, SECRET) if tool is None else json.dumps({"content": f"KEY={SECRET}"})
        assert deltas == expected
        assert events[-1]["response"]["output"][0] == json.loads(
            json.dumps(_response_object("m", expected, None if tool is None else expected)["output"][0]))


def test_a_json_response_is_restored_in_place():
    body = json.dumps(_response_object("m", f"here: {TOKEN}", None))
    restored = json.loads(restore_response(body, TABLE))
    assert restored["output"][0]["content"][0]["text"] == f"here: {SECRET}"


def client(proxy, provider) -> openai.OpenAI:
    return openai.OpenAI(api_key="k", base_url=f"{provider.base_url}/v1", max_retries=0,
                         http_client=openai.DefaultHttpxClient(proxy=proxy.url, verify=proxy.ssl_context()))


def test_through_the_proxy_the_provider_never_sees_the_key_and_the_client_gets_it_back(proxy, provider, received):
    key = make.github_pat()
    api = client(proxy, provider)
    answer = api.responses.create(model="echo", input=[{"role": "user", "content": f"token {key} please"}])
    assert answer.output_text == f"token {key} please"
    assert key not in received[-1].text and "[[secret:github-pat:" in received[-1].text

    stream = api.responses.create(model="echo", input=f"token {key} again", stream=True)
    events = list(stream)
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == f"token {key} again"
    assert events[-1].response.output_text == f"token {key} again"
    assert key not in received[-1].text

    tool = api.responses.create(model="echo-tool", input=[{"role": "user", "content": f"write {key}"}], stream=True)
    arguments = "".join(e.delta for e in tool if e.type == "response.function_call_arguments.delta")
    assert json.loads(arguments)["content"] == f"write {key}"
