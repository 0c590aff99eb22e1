"""A tool call carrying a placeholder the policy will not put back into tool arguments never
reaches the client, in every answer format, JSON or streamed and however the stream is cut:
run as it stands it would write the placeholder into a file or a command. (Anthropic's is
tested in test_restore_stream.py with the fixtures used here.)
"""

from __future__ import annotations

import json
import random

import pytest

from llm_dlp.restore import gemini, openai, responses
from llm_dlp.restore.stream import SseRestorer, rewriter_for
from tests.test_restore_stream import (
    E_TOKEN,
    EMAIL,
    PROMPT,
    RESTORED,
    SECRET,
    TABLE,
    TOOL_ALL_RESTORED,
    TOOL_INPUT,
    TOOLS_TABLE,
    events_of,
    openai_stream,
    pieces,
    run,
    sse,
)

SAFE_INPUT = {"file_path": "/srv/key.txt", "content": TOOL_INPUT["content"].split("\n")[0]}  # the secret only
SAFE_RESTORED = {"file_path": "/srv/key.txt", "content": f"AWS={SECRET}"}
NOTICE_START = "[llm-dlp held back this Write tool call: its arguments carry placeholders for pii values"


def assert_notice(text: str) -> None:
    assert text.startswith(NOTICE_START)
    assert E_TOKEN not in text and EMAIL not in text and SECRET not in text


# -- OpenAI Chat Completions ----------------------------------------------------------------------


def chat_chunks(out: list) -> list[dict]:
    return [e for e in out if isinstance(e, dict) and e["choices"]]


def chat_arguments(chunks: list[dict]) -> dict[int, str]:
    calls: dict[int, str] = {}
    for c in chunks:
        for call in c["choices"][0]["delta"].get("tool_calls", []):
            calls[call["index"]] = calls.get(call["index"], "") + call["function"].get("arguments", "")
    return calls


def chat_two_calls_stream() -> bytes:
    """Two tool calls in one choice: one safe to run (a secret, restored), one not (pii)."""
    base = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1, "model": "m"}

    def chunk(delta, finish=None):
        return None, base | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    events = [chunk({"role": "assistant", "content": None})]
    for index, (call_id, arguments) in enumerate([("call_a", json.dumps(TOOL_INPUT)), ("call_b", json.dumps(SAFE_INPUT))]):
        events.append(chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                             "function": {"name": "Write", "arguments": ""}}]}))
        events += [chunk({"tool_calls": [{"index": index, "function": {"arguments": p}}]}) for p in pieces(arguments, 11)]
    events += [chunk({}, "tool_calls"), (None, "[DONE]")]
    return sse(events)


def test_openai_stream_holds_back_the_tool_call_and_ends_the_turn():
    out = events_of(run(SseRestorer(openai.ChatStream(TABLE)), [openai_stream()]))
    chunks = chat_chunks(out)
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert content.startswith(RESTORED + " end [[pii:EMAIL")
    notice = content.removeprefix(RESTORED + " end [[pii:EMAIL")
    assert notice.startswith("\n\n") and chat_arguments(chunks) == {}
    assert_notice(notice.lstrip())
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]] == ["stop"]
    assert out[-1] == "[DONE]"


def test_openai_stream_sends_a_safe_call_whole_and_holds_back_only_the_other():
    out = events_of(run(SseRestorer(openai.ChatStream(TABLE)), [chat_two_calls_stream()]))
    chunks = chat_chunks(out)
    calls = [call for c in chunks for call in c["choices"][0]["delta"].get("tool_calls", [])]
    assert len(calls) == 1 and calls[0]["id"] == "call_b" and calls[0]["index"] == 0
    assert json.loads(calls[0]["function"]["arguments"]) == SAFE_RESTORED
    assert_notice("".join(c["choices"][0]["delta"].get("content") or "" for c in chunks))
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]]
    assert finish == ["tool_calls"]  # a call is left to run
    # The safe call goes out before the chunk that finishes the choice.
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls" and "tool_calls" not in chunks[-1]["choices"][0]["delta"]


def test_openai_stream_with_every_kind_restorable_streams_tool_calls_as_they_come():
    out = events_of(run(SseRestorer(openai.ChatStream(TOOLS_TABLE)), [openai_stream()]))
    chunks = chat_chunks(out)
    assert json.loads(chat_arguments(chunks)[0]) == TOOL_ALL_RESTORED
    assert sum(1 for c in chunks if c["choices"][0]["delta"].get("tool_calls")) > 2  # not held: fragment by fragment


def test_openai_json_answer_holds_back_a_tool_call():
    completion = {"id": "c", "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None, "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "Write", "arguments": json.dumps(TOOL_INPUT)}},
            {"id": "b", "type": "function", "function": {"name": "Write", "arguments": json.dumps(SAFE_INPUT)}}]}}]}
    out = json.loads(run(rewriter_for("openai-chat", "application/json", TABLE), [json.dumps(completion).encode()]))
    message = out["choices"][0]["message"]
    assert [call["id"] for call in message["tool_calls"]] == ["b"] and out["choices"][0]["finish_reason"] == "tool_calls"
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == SAFE_RESTORED
    assert_notice(message["content"])
    completion["choices"][0]["message"]["tool_calls"].pop()
    out = json.loads(run(rewriter_for("openai-chat", "application/json", TABLE), [json.dumps(completion).encode()]))
    assert "tool_calls" not in out["choices"][0]["message"] and out["choices"][0]["finish_reason"] == "stop"


# -- OpenAI Responses -------------------------------------------------------------------------------


def responses_stream(arguments: dict) -> bytes:
    text, args = PROMPT, json.dumps(arguments)
    message = {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
               "content": [{"type": "output_text", "text": text, "annotations": []}]}
    call = {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "Write", "arguments": args, "status": "completed"}
    seq = iter(range(1000))

    def event(kind, **fields):
        return kind, {"type": kind, "sequence_number": next(seq), **fields}

    events = [
        event("response.created", response={"id": "resp_1", "output": []}),
        event("response.output_item.added", output_index=0, item=message | {"content": [], "status": "in_progress"}),
        *[event("response.output_text.delta", item_id="msg_1", output_index=0, content_index=0, delta=p) for p in pieces(text, 13)],
        event("response.output_text.done", item_id="msg_1", output_index=0, content_index=0, text=text),
        event("response.output_item.done", output_index=0, item=message),
        event("response.output_item.added", output_index=1, item=call | {"arguments": "", "status": "in_progress"}),
        *[event("response.function_call_arguments.delta", item_id="fc_1", output_index=1, delta=p) for p in pieces(args, 17)],
        event("response.function_call_arguments.done", item_id="fc_1", output_index=1, arguments=args),
        event("response.output_item.done", output_index=1, item=call),
        event("response.completed", response={"id": "resp_1", "status": "completed", "output": [message, call]}),
    ]
    return sse(events)


def test_responses_stream_replaces_the_function_call_by_a_message():
    out = [e for e in events_of(run(SseRestorer(responses.ResponseStream(TABLE)), [responses_stream(TOOL_INPUT)]))]
    assert not any(e["type"].startswith("response.function_call_arguments") for e in out)
    items = [e for e in out if e["type"] in ("response.output_item.added", "response.output_item.done") and e["output_index"] == 1]
    assert [e["type"] for e in items] == ["response.output_item.added", "response.output_item.done"]
    assert all(e["item"]["type"] == "message" for e in items)
    assert_notice(items[1]["item"]["content"][0]["text"])
    completed = out[-1]["response"]["output"]
    assert completed[0]["content"][0]["text"] == RESTORED and completed[1] == items[1]["item"]
    assert "".join(e["delta"] for e in out if e["type"] == "response.output_text.delta") == RESTORED


def test_responses_stream_restores_a_call_it_may_run():
    out = events_of(run(SseRestorer(responses.ResponseStream(TABLE)), [responses_stream(SAFE_INPUT)]))
    arguments = "".join(e["delta"] for e in out if e["type"] == "response.function_call_arguments.delta")
    assert json.loads(arguments) == SAFE_RESTORED
    assert json.loads(out[-1]["response"]["output"][1]["arguments"]) == SAFE_RESTORED


def test_responses_json_answer_replaces_the_function_call():
    call = {"id": "fc_1", "type": "function_call", "call_id": "c", "name": "Write", "arguments": json.dumps(TOOL_INPUT)}
    body = json.dumps({"id": "resp_1", "object": "response", "output": [call]})
    out = json.loads(responses.restore_response(body, TABLE))
    assert out["output"][0]["type"] == "message" and out["output"][0]["role"] == "assistant"
    assert_notice(out["output"][0]["content"][0]["text"])


# -- Gemini -----------------------------------------------------------------------------------------


def gemini_stream(args: dict, wrapped: bool) -> bytes:
    def event(parts, finish=None):
        candidate = {"content": {"role": "model", "parts": parts}, "index": 0} | ({"finishReason": finish} if finish else {})
        payload = {"candidates": [candidate]}
        return None, {"response": payload} if wrapped else payload

    events = [event([{"text": p}]) for p in pieces(PROMPT, 13)]
    events.append(event([{"functionCall": {"name": "Write", "args": args}}], "STOP"))
    return sse(events)


@pytest.mark.parametrize("wrapped", [False, True], ids=["api", "code-assist"])
def test_gemini_stream_replaces_the_function_call_by_a_text_part(wrapped):
    out = events_of(run(SseRestorer(gemini.GeminiStream(TABLE)), [gemini_stream(TOOL_INPUT, wrapped)]))
    parts = [part for e in out for part in (e["response"] if wrapped else e)["candidates"][0]["content"]["parts"]]
    assert not any("functionCall" in part for part in parts)
    assert "".join(part["text"] for part in parts[:-1]) == RESTORED
    assert_notice(parts[-1]["text"])


def test_gemini_keeps_a_call_it_may_run_and_holds_back_in_json_too():
    out = events_of(run(SseRestorer(gemini.GeminiStream(TABLE)), [gemini_stream(SAFE_INPUT, False)]))
    assert out[-1]["candidates"][0]["content"]["parts"][0]["functionCall"]["args"] == SAFE_RESTORED
    body = json.dumps([{"candidates": [{"content": {"role": "model", "parts": [
        {"text": PROMPT}, {"functionCall": {"name": "Write", "args": TOOL_INPUT}}]}}]}])
    parts = json.loads(gemini.restore_body(body, TABLE))[0]["candidates"][0]["content"]["parts"]
    assert parts[0]["text"] == RESTORED and "functionCall" not in parts[1]
    assert_notice(parts[1]["text"])


# -- however the stream is cut ----------------------------------------------------------------------

HELD_STREAMS = {
    "openai-two-calls": (chat_two_calls_stream, lambda: SseRestorer(openai.ChatStream(TABLE))),
    "responses": (lambda: responses_stream(TOOL_INPUT), lambda: SseRestorer(responses.ResponseStream(TABLE))),
    "responses-safe": (lambda: responses_stream(SAFE_INPUT), lambda: SseRestorer(responses.ResponseStream(TABLE))),
    "gemini": (lambda: gemini_stream(TOOL_INPUT, True), lambda: SseRestorer(gemini.GeminiStream(TABLE))),
}


@pytest.mark.parametrize("name", HELD_STREAMS)
def test_held_back_streams_give_identical_output_however_cut(name):
    make_body, make_rewriter = HELD_STREAMS[name]
    body = make_body()
    whole = run(make_rewriter(), [body])
    assert E_TOKEN.encode() not in whole or name == "responses-safe"
    rng = random.Random(11)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(body)), rng.randint(1, 40)))
        chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)])]
        assert run(make_rewriter(), chunks) == whole
    assert run(make_rewriter(), [body[i : i + 1] for i in range(len(body))]) == whole  # byte by byte
