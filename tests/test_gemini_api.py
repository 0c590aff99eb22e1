"""Gemini and Code Assist (Gemini CLI): scanned, redacted and restored like the others."""

from __future__ import annotations

import json
import random

import pytest

from llm_dlp.providers import adapter_for
from llm_dlp.restore.gemini import GeminiStream, restore_body
from llm_dlp.restore.stream import SseRestorer
from llm_dlp.restore.text import RestoreTable
from llm_dlp.testing import secrets_factory as make
from llm_dlp.vault import VaultEntry


def test_the_adapter_reads_everything_but_the_models_signed_thoughts():
    body = {"model": "gemini-2.5-pro", "project": "p", "request": {
        "systemInstruction": {"parts": [{"text": "SYS"}]},
        "contents": [
            {"role": "user", "parts": [{"text": "U1"}, {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]},
            {"role": "model", "parts": [{"text": "T", "thought": True, "thoughtSignature": "sig"},
                                        {"functionCall": {"name": "read_file", "args": {"path": "a.py"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "read_file", "response": {"output": "OUT"}}}]},
        ]}}
    parsed = adapter_for("/v1internal:streamGenerateContent?alt=sse").extract(body)
    found = {s.location: s.text for s in parsed.segments}
    assert found.items() >= {
        "$.request.systemInstruction.parts[0].text": "SYS",
        "$.request.contents[0].parts[0].text": "U1",
        "$.request.contents[1].parts[1].functionCall.name": "read_file",
        "$.request.contents[1].parts[1].functionCall.args.path": "a.py",
        "$.request.contents[2].parts[0].functionResponse.name": "read_file",
        "$.request.contents[2].parts[0].functionResponse.response.output": "OUT",
    }.items()
    assert found["$.model"] == "gemini-2.5-pro" and found["$.project"] == "p"
    assert "T" not in found.values() and "AAAA" not in found.values()
    assert parsed.exempt == ("thought (signed)",)
    assert parsed.format == "gemini" and parsed.model == "gemini-2.5-pro"


def test_a_thought_part_in_a_user_turn_is_scanned():
    """``thought: true`` says nothing the provider verifies outside the model's turns."""
    body = {"contents": [{"role": "user", "parts": [{"text": "HIDDEN", "thought": True, "thoughtSignature": "S"}]},
                         {"role": "model", "parts": [{"text": "UNSIGNED", "thought": True}]}]}
    found = {s.location: s.text for s in adapter_for("/v1beta/models/m:generateContent").extract(body).segments}
    assert found["$.contents[0].parts[0].text"] == "HIDDEN"
    assert found["$.contents[0].parts[0].thoughtSignature"] == "S"
    assert found["$.contents[1].parts[0].text"] == "UNSIGNED"


SECRET = "ghp_" + "Z" * 36
TOKEN = "[[secret:github-pat:0123456789]]"
TABLE = RestoreTable({TOKEN: VaultEntry("secret", SECRET)}, lambda kind, place: True)


def _sse(texts: list[str], wrapped: bool) -> bytes:
    out = b""
    for i, text in enumerate(texts):
        candidate = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
        if i == len(texts) - 1:
            candidate["finishReason"] = "STOP"
        payload = {"candidates": [candidate]}
        out += f"data: {json.dumps({'response': payload} if wrapped else payload)}\r\n\r\n".encode()
    return out


def _run(raw: bytes, cuts: list[int]) -> bytes:
    restorer = SseRestorer(GeminiStream(TABLE))
    out, last = [], 0
    for cut in cuts + [len(raw)]:
        out += restorer(raw[last:cut])
        last = cut
    return b"".join(out + restorer(b""))


@pytest.mark.slow  # exhaustive: every cut of the stream
def test_a_streamed_answer_restores_identically_however_it_is_cut():
    text = f"set it to {TOKEN} and [[ keep this"
    for wrapped in (False, True):
        raw = _sse([text[i:i + 5] for i in range(0, len(text), 5)], wrapped)
        whole = _run(raw, [])
        restored = ""
        for line in whole.decode().splitlines():
            if line.startswith("data: "):
                payload = json.loads(line[6:])
                payload = payload.get("response", payload)
                restored += "".join(p.get("text", "") for p in payload["candidates"][0]["content"]["parts"])
        assert restored == text.replace(TOKEN, SECRET)
        for cut in range(1, len(raw)):
            assert _run(raw, [cut]) == whole
        rng = random.Random(3)
        for _ in range(100):
            assert _run(raw, sorted(rng.sample(range(1, len(raw)), rng.randint(2, 30)))) == whole


def test_json_answers_and_function_call_arguments_are_restored():
    body = json.dumps([{"candidates": [{"content": {"parts": [
        {"text": f"a {TOKEN}", "thought": True}, {"text": f"b {TOKEN}"},
        {"functionCall": {"name": "w", "args": {"content": f"K={TOKEN}"}}}]}}]}])
    restored = json.loads(restore_body(body, TABLE))[0]["candidates"][0]["content"]["parts"]
    assert restored[0]["text"] == f"a {TOKEN}"  # thoughts are left alone
    assert restored[1]["text"] == f"b {SECRET}" and restored[2]["functionCall"]["args"]["content"] == f"K={SECRET}"


def test_through_the_proxy_with_gemini_and_code_assist_bodies(proxy, provider, received):
    key = make.github_pat()
    public = {"contents": [{"role": "user", "parts": [{"text": f"token {key}"}]}]}
    code_assist = {"model": "gemini-2.5-pro", "project": "p", "request": public}
    with proxy.client() as client:
        answer = client.post(f"{provider.base_url}/v1beta/models/gemini-test:generateContent", json=public).json()
        assert key not in received[-1].text and "[[secret:github-pat:" in received[-1].text
        parts = answer["candidates"][0]["content"]["parts"]
        assert parts[0]["thought"] is True and key not in parts[0]["text"]  # thoughts are not restored
        assert parts[1]["text"] == f"token {key}"

        with client.stream("POST", f"{provider.base_url}/v1internal:streamGenerateContent?alt=sse",
                           json=code_assist) as response:
            raw = b"".join(response.iter_bytes())
        assert key not in received[-1].text
        texts = []
        for line in raw.decode().splitlines():
            if line.startswith("data: "):
                for part in json.loads(line[6:])["response"]["candidates"][0]["content"]["parts"]:
                    if not part.get("thought"):
                        texts.append(part["text"])
        assert "".join(texts) == f"token {key}"
