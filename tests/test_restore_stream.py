"""Placeholders come back as the original values in streamed answers, however the bytes arrive.

The acceptance property: for an answer containing placeholders, every split of the upstream
byte stream into two chunks (at every byte offset) and random splits into many chunks give the
client byte-identical output, and that output carries the original values wherever the policy
allows them, never touching thinking blocks.
"""

from __future__ import annotations

import json
import random

import pytest

from llm_dlp.keys import ValueHasher
from llm_dlp.redaction import placeholder
from llm_dlp.restore.sse import SseReader
from llm_dlp.restore.stream import JsonRestorer, SseRestorer, rewriter_for
from llm_dlp.restore import anthropic, openai
from llm_dlp.restore.text import RestoreTable, json_escaped
from llm_dlp.vault import VaultEntry

HASHER = ValueHasher(b"k" * 32)
SECRET = "AKIAZ3MHALF7EXAMPLE1"
EMAIL = "zoë.müller@example.org"  # multi-byte UTF-8, and pii: restored in text only below
TRICKY = 'pa"ss\\word/é'  # needs JSON escaping inside tool arguments
S_TOKEN = placeholder("secret", "aws-access-token", SECRET, HASHER)
E_TOKEN = placeholder("pii", "EMAIL_ADDRESS", EMAIL, HASHER)
T_TOKEN = placeholder("secret", "generic-password", TRICKY, HASHER)
UNKNOWN = "[[secret:aws-access-token:0123456789]]"  # a placeholder nobody redacted: stays


def allows(kind: str, place: str) -> bool:
    return kind == "secret" or (kind == "pii" and place == "text")


TABLE = RestoreTable(
    {S_TOKEN: VaultEntry("secret", SECRET), E_TOKEN: VaultEntry("pii", EMAIL), T_TOKEN: VaultEntry("secret", TRICKY)},
    allows,
)

PROMPT = f"Key {S_TOKEN} — mail {E_TOKEN}, [[not one]] [[x {UNKNOWN} done… 日本 {T_TOKEN}!"
RESTORED = f"Key {SECRET} — mail {EMAIL}, [[not one]] [[x {UNKNOWN} done… 日本 {TRICKY}!"
TOOL_INPUT = {"file_path": "/srv/.env", "content": f"AWS={S_TOKEN}\nMAIL={E_TOKEN}\nPW={T_TOKEN}\n"}
TOOL_RESTORED = {"file_path": "/srv/.env", "content": f"AWS={SECRET}\nMAIL={E_TOKEN}\nPW={TRICKY}\n"}
# The default: every kind restored in tool arguments (personal data still not in text).
TOOLS_TABLE = RestoreTable(TABLE.entries, lambda kind, place: allows(kind, place) or place == "tool_arguments")
TOOL_ALL_RESTORED = {"file_path": "/srv/.env", "content": f"AWS={SECRET}\nMAIL={EMAIL}\nPW={TRICKY}\n"}


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def sse(events: list[tuple[str | None, object]], newline: str = "\n") -> bytes:
    out = ""
    for name, data in events:
        payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        out += (f"event: {name}{newline}" if name else "") + f"data: {payload}{newline}{newline}"
    return out.encode("utf-8")


def anthropic_stream(newline: str = "\n") -> bytes:
    def delta(index, body):
        return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": body}

    events = [
        ("message_start", {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                                                                "content": [], "model": "m", "usage": {"input_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        *[delta(0, {"type": "thinking_delta", "thinking": p}) for p in pieces(PROMPT, 90)],
        delta(0, {"type": "signature_delta", "signature": "EqQBCkYIBxgCKkA"}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        *[delta(1, {"type": "text_delta", "text": p}) for p in pieces(PROMPT, 13)],
        ("ping", {"type": "ping"}),
        delta(1, {"type": "text_delta", "text": " tail [[secret:aws"}),  # held back, then flushed at stop
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ("content_block_start", {"type": "content_block_start", "index": 2,
                                 "content_block": {"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {}}}),
        *[delta(2, {"type": "input_json_delta", "partial_json": p}) for p in pieces(json.dumps(TOOL_INPUT), 17)],
        ("content_block_stop", {"type": "content_block_stop", "index": 2}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return sse(events, newline)


def openai_stream(newline: str = "\n") -> bytes:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}

    def chunk(delta, finish=None, index=0):
        return None, base | {"choices": [{"index": index, "delta": delta, "finish_reason": finish}]}

    arguments = json.dumps(TOOL_INPUT)
    events = [
        chunk({"role": "assistant", "content": ""}),
        *[chunk({"content": p}) for p in pieces(PROMPT, 13)],
        chunk({"content": " end [[pii:EMAIL"}),
        chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "Write", "arguments": ""}}]}),
        *[chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in pieces(arguments, 17)],
        chunk({}, "tool_calls"),
        (None, base | {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}),
        (None, "[DONE]"),
    ]
    return sse(events, newline)


def run(rewriter, chunks: list[bytes]) -> bytes:
    out = []
    for chunk in [*chunks, b""]:
        produced = rewriter(chunk)
        assert all(produced), "an empty chunk would end a chunked HTTP/1.1 body early"
        out += produced
    return b"".join(out)


def events_of(body: bytes) -> list[dict | str]:
    reader = SseReader()
    return [e.json() if e.json() is not None else e.data for e in reader.feed(body) + reader.finish() if e.data]


STREAMS = {
    "anthropic": (anthropic_stream, lambda: SseRestorer(anthropic.MessageStream(TABLE))),
    "anthropic-crlf": (lambda: anthropic_stream("\r\n"), lambda: SseRestorer(anthropic.MessageStream(TABLE))),
    "openai": (openai_stream, lambda: SseRestorer(openai.ChatStream(TABLE))),
    "openai-cr": (lambda: openai_stream("\r"), lambda: SseRestorer(openai.ChatStream(TABLE))),
}


@pytest.mark.slow  # exhaustive: every cut of the stream
@pytest.mark.parametrize("name", STREAMS)
def test_every_two_way_split_gives_identical_output(name):
    make_body, make_rewriter = STREAMS[name]
    body = make_body()
    whole = run(make_rewriter(), [body])
    for cut in range(1, len(body)):
        assert run(make_rewriter(), [body[:cut], body[cut:]]) == whole, f"split at byte {cut}"


@pytest.mark.parametrize("name", STREAMS)
def test_random_many_way_splits_give_identical_output(name):
    make_body, make_rewriter = STREAMS[name]
    body = make_body()
    whole = run(make_rewriter(), [body])
    rng = random.Random(7)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(body)), rng.randint(2, 60)))
        chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)])]
        assert run(make_rewriter(), chunks) == whole
    assert run(make_rewriter(), [body[i : i + 1] for i in range(len(body))]) == whole  # byte by byte


def test_anthropic_stream_restores_text_and_tool_input_but_not_thinking():
    out = events_of(run(SseRestorer(anthropic.MessageStream(TOOLS_TABLE)), [anthropic_stream()]))
    deltas = [e for e in out if isinstance(e, dict) and e["type"] == "content_block_delta"]
    thinking = "".join(d["delta"]["thinking"] for d in deltas if d["delta"]["type"] == "thinking_delta")
    text = "".join(d["delta"]["text"] for d in deltas if d["delta"]["type"] == "text_delta")
    tool = "".join(d["delta"]["partial_json"] for d in deltas if d["delta"]["type"] == "input_json_delta")
    assert thinking == PROMPT  # signed: byte for byte what the model produced
    assert text == RESTORED + " tail [[secret:aws"
    assert json.loads(tool) == TOOL_ALL_RESTORED
    signature = [d for d in deltas if d["delta"]["type"] == "signature_delta"]
    assert signature[0]["delta"]["signature"] == "EqQBCkYIBxgCKkA"
    # The held-back tail goes out as its own delta, before the block's stop event.
    types = [(e["type"], e.get("index")) for e in out if isinstance(e, dict)]
    stop = types.index(("content_block_stop", 1))
    assert out[stop - 1]["delta"]["text"].endswith("[[secret:aws")


def test_openai_stream_restores_content_and_tool_arguments():
    # TABLE's policy would hold the tool call back (see test_restore_held_back.py)
    out = events_of(run(SseRestorer(openai.ChatStream(TOOLS_TABLE)), [openai_stream()]))
    assert out[-1] == "[DONE]"
    chunks = [e for e in out if isinstance(e, dict)]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    arguments = "".join(
        call["function"].get("arguments", "")
        for c in chunks if c["choices"] for call in c["choices"][0]["delta"].get("tool_calls", [])
    )
    assert content == RESTORED + " end [[pii:EMAIL"
    assert json.loads(arguments) == TOOL_ALL_RESTORED
    finish = [i for i, c in enumerate(chunks) if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finish) == 1 and all(c["id"] == "chatcmpl-1" for c in chunks)


def anthropic_held_back(out: list) -> None:
    """The tool call whose input carries a pii placeholder (not restored in tool arguments by
    TABLE's policy) reaches the client as a text block saying so, and the turn ends."""
    blocks = [e for e in out if isinstance(e, dict) and e.get("index") == 2]
    assert blocks[0]["content_block"] == {"type": "text", "text": ""}
    notice = "".join(e["delta"]["text"] for e in blocks if e["type"] == "content_block_delta")
    assert notice.startswith("[llm-dlp held back this Write tool call: its arguments carry placeholders for pii values")
    assert E_TOKEN not in notice and EMAIL not in notice and SECRET not in notice
    assert not any(e["delta"]["type"] == "input_json_delta" for e in out if isinstance(e, dict) and "delta" in e and e["type"] == "content_block_delta")
    [delta] = [e for e in out if isinstance(e, dict) and e["type"] == "message_delta"]
    assert delta["delta"]["stop_reason"] == "end_turn"


def test_anthropic_stream_holds_back_a_tool_call_the_policy_will_not_restore():
    out = events_of(run(SseRestorer(anthropic.MessageStream(TABLE)), [anthropic_stream()]))
    anthropic_held_back(out)
    text = "".join(e["delta"]["text"] for e in out if isinstance(e, dict) and e.get("index") == 1 and e["type"] == "content_block_delta")
    assert text == RESTORED + " tail [[secret:aws"


def test_anthropic_json_answer_holds_back_a_tool_call_the_policy_will_not_restore():
    message = {"id": "m", "type": "message", "role": "assistant", "stop_reason": "tool_use", "content": [
        {"type": "text", "text": PROMPT}, {"type": "tool_use", "id": "t", "name": "Write", "input": TOOL_INPUT}]}
    out = json.loads(run(rewriter_for("anthropic-messages", "application/json", TABLE), [json.dumps(message).encode()]))
    assert out["content"][0]["text"] == RESTORED and out["stop_reason"] == "end_turn"
    assert out["content"][1]["type"] == "text" and out["content"][1]["text"].startswith("[llm-dlp held back this Write tool call")


def test_text_without_placeholders_passes_byte_for_byte_and_at_once():
    body = anthropic_stream().replace(b"[", b"(")
    rewriter = SseRestorer(anthropic.MessageStream(TOOLS_TABLE))
    reader = SseReader()
    for event in reader.feed(body):
        assert rewriter(event.raw) == [event.raw]  # nothing held back: time to first token unchanged


def test_only_a_possible_placeholder_is_held_back():
    stream = SseRestorer(openai.ChatStream(TABLE))

    def content(text: str) -> list[str]:
        event = b'data: {"choices":[{"index":0,"delta":{"content":' + json.dumps(text).encode() + b"}}]}\n\n"
        return [e["choices"][0]["delta"]["content"] for e in events_of(b"".join(stream(event)))]

    assert content("Key [x] [[") == ["Key [x] "]
    assert content("secret:aws-access-token:") == [""]  # still a placeholder prefix: wait
    assert content(S_TOKEN.split(":")[-1] + " and [[ bye") == [SECRET + " and [[ bye"]
    assert content("[[pii:EMAIL_ADDRESS:0123456789]] [a") == ["[[pii:EMAIL_ADDRESS:0123456789]] [a"]


def test_a_bug_passes_the_rest_through_unrestored(monkeypatch):
    handler = anthropic.MessageStream(TABLE)
    monkeypatch.setattr(handler, "on_event", lambda event: 1 / 0)
    body = anthropic_stream()
    assert run(SseRestorer(handler), [body[:100], body[100:]]) == body


def test_a_bug_is_logged_by_type_and_place_never_with_the_answers_text(monkeypatch, caplog):
    # An exception's message may quote what it was reading (here the answer's event); the log
    # names the exception's type and where it was raised, with no traceback and no message.
    quoted = "customer jane.roe@example.com said"

    def failing(event):
        raise ValueError(f"cannot read {quoted} {event.data}")

    handler = anthropic.MessageStream(TABLE)
    monkeypatch.setattr(handler, "on_event", failing)
    body = anthropic_stream()
    with caplog.at_level("DEBUG", logger="llm_dlp"):
        assert run(SseRestorer(handler), [body]) == body
        json_restorer = JsonRestorer(lambda text, table: failing(type("E", (), {"data": text})), TABLE)
        answer = b'{"content": "[[secret:x]] ' + quoted.encode() + b'"}'
        assert run(json_restorer, [answer]) == answer
    records = [r for r in caplog.records if "could not restore" in r.getMessage()]
    assert len(records) == 2
    for record in records:
        assert record.exc_info is None and "ValueError in failing" in record.getMessage()
    assert quoted not in caplog.text and "Traceback" not in caplog.text


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_json_answers_are_restored(content_type):
    message = {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
        "content": [
            {"type": "thinking", "thinking": PROMPT, "signature": "sig"},
            {"type": "redacted_thinking", "data": S_TOKEN},
            {"type": "text", "text": PROMPT},
            {"type": "tool_use", "id": "t", "name": "Write", "input": TOOL_INPUT},
        ],
    }
    body = json.dumps(message).encode()
    for cut in range(0, len(body), 17):
        out = json.loads(run(rewriter_for("anthropic-messages", content_type, TOOLS_TABLE), [body[:cut], body[cut:]]))
        assert out["content"][0] == message["content"][0] and out["content"][1] == message["content"][1]
        assert out["content"][2]["text"] == RESTORED
        assert out["content"][3]["input"] == TOOL_ALL_RESTORED
    completion = {"id": "c", "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": PROMPT,
        "tool_calls": [{"id": "call", "type": "function", "function": {"name": "Write", "arguments": json.dumps(TOOL_INPUT)}}]}}]}
    out = json.loads(run(rewriter_for("openai-chat", content_type, TOOLS_TABLE), [json.dumps(completion).encode()]))
    assert out["choices"][0]["message"]["content"] == RESTORED
    assert json.loads(out["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]) == TOOL_ALL_RESTORED


def test_json_answer_without_placeholders_is_unchanged_and_oversized_passes_through():
    body = b'{"content": [{"type": "text", "text": "hi"}],   "x": 1.50}'
    assert run(rewriter_for("anthropic-messages", "application/json", TABLE), [body[:5], body[5:]]) == body
    big = json.dumps({"content": [{"type": "text", "text": S_TOKEN * 10}]}).encode()
    assert run(JsonRestorer(anthropic.restore_message, TABLE, limit=50), [big[:40], big[40:]]) == big


def test_restoring_what_policy_forbids_is_left_alone():
    table = RestoreTable(TABLE.entries, lambda kind, place: False)
    # Nothing to restore, but the tool call must still be held back: the answer is rewritten.
    assert rewriter_for("openai-chat", "text/event-stream", table) is not None
    assert rewriter_for("openai-chat", "text/event-stream", RestoreTable({}, allows)) is None  # plain pass-through
    body = openai_stream()
    out = events_of(run(SseRestorer(openai.ChatStream(table)), [body]))
    content = "".join(e["choices"][0]["delta"].get("content") or "" for e in out[:-2])
    assert content.startswith(PROMPT + " end [[pii:EMAIL\n\n[llm-dlp held back this Write tool call")


def test_a_json_escaped_bracket_still_reaches_the_restorer():
    """The pass-through shortcut skips events without "[" only if it is not hidden in an escape."""
    escaped = json.dumps(S_TOKEN).replace("[", "\\u005b")
    body = sse([
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ]) + b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":' \
        + escaped.encode() + b"}}\n\n"
    assert b"[" not in body.split(b"\n\n")[1]
    out = events_of(run(SseRestorer(anthropic.MessageStream(TABLE)), [body]))
    assert out[1]["delta"]["text"] == SECRET


def test_the_table_counts_what_it_put_back_and_what_policy_kept_out():
    table = RestoreTable(dict(TABLE.entries), allows)
    assert table.restore(PROMPT, "text") == RESTORED
    restored = table.restore(json.dumps(TOOL_INPUT), "tool_arguments", json_escaped)
    assert json.loads(restored) == TOOL_RESTORED
    # text: secret, e-mail, password; tool arguments: secret and password back, the e-mail kept out
    assert table.restored == {"secret": 4, "pii": 1}
    assert table.kept_out == {"pii": 1}
