"""Bedrock answers: placeholders restored in InvokeModel and Converse, whole and as AWS event streams.

Frames the proxy rewrites are decoded by botocore's own event-stream parser (in the unit tests
and through boto3 end to end), so a wrong length or CRC fails here as it would in a client.
"""

from __future__ import annotations

import base64
import json
import random

import boto3
import pytest
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer

from llm_dlp.restore import bedrock
from llm_dlp.restore.sse import SseReader
from llm_dlp.restore.eventstream import FrameError, FrameReader, encode_frame, encode_headers
from llm_dlp.restore.stream import EventStreamRestorer, rewriter_for
from llm_dlp.testing import secrets_factory as make
from tests.test_restore_held_back import SAFE_INPUT, SAFE_RESTORED, assert_notice
from tests.test_restore_stream import (
    E_TOKEN,
    PROMPT,
    RESTORED,
    TABLE,
    TOOL_ALL_RESTORED,
    TOOL_INPUT,
    TOOLS_TABLE,
    anthropic_stream,
    pieces,
    run,
)
from tests.test_restore_proxy import assert_never_upstream, secret_prompt


def frame(event_type: str, payload: dict) -> bytes:
    headers = encode_headers({":event-type": event_type, ":content-type": "application/json", ":message-type": "event"})
    return encode_frame(headers, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def invoke_stream() -> bytes:
    """Anthropic's stream events, each base64 in a ``chunk`` frame, as InvokeModelWithResponseStream sends them."""
    events = [e.data for e in SseReader().feed(anthropic_stream())]
    return b"".join(frame("chunk", {"bytes": base64.b64encode(data.encode()).decode(), "p": "abcdefgh"}) for data in events)


def converse_stream(tool_input: dict = TOOL_INPUT) -> bytes:
    def delta(index: int, body: dict) -> bytes:
        return frame("contentBlockDelta", {"contentBlockIndex": index, "delta": body, "p": "abc"})

    return b"".join([
        frame("messageStart", {"role": "assistant"}),
        *[delta(0, {"reasoningContent": {"text": p}}) for p in pieces(PROMPT, 40)],
        frame("contentBlockStop", {"contentBlockIndex": 0}),
        *[delta(1, {"text": p}) for p in pieces(PROMPT, 13)],
        delta(1, {"text": " tail [[secret:aws"}),  # held back, then sent before the stop
        frame("contentBlockStop", {"contentBlockIndex": 1}),
        frame("contentBlockStart", {"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "t1", "name": "Write"}}}),
        *[delta(2, {"toolUse": {"input": p}}) for p in pieces(json.dumps(tool_input), 17)],
        frame("contentBlockStop", {"contentBlockIndex": 2}),
        frame("messageStop", {"stopReason": "tool_use"}),
        frame("metadata", {"usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3}}),
    ])


def botocore_frames(body: bytes) -> list[tuple[str, dict]]:
    """What a boto3 client reads: botocore's parser checks every length and CRC."""
    buffer = EventStreamBuffer()
    buffer.add_data(body)
    return [(message.headers[":event-type"], json.loads(message.payload)) for message in buffer]


STREAMS = {
    "invoke": (invoke_stream, lambda: EventStreamRestorer(bedrock.InvokeStream(TABLE))),
    # TABLE keeps personal data out of tool arguments: the tool call is held back.
    "converse": (converse_stream, lambda: EventStreamRestorer(bedrock.ConverseStream(TABLE))),
    # ... held until complete, then sent restored: it carries only a secret.
    "converse-safe": (lambda: converse_stream(SAFE_INPUT), lambda: EventStreamRestorer(bedrock.ConverseStream(TABLE))),
    # Every kind restorable in tool arguments: nothing is held, the call streams as it comes.
    "converse-all-restored": (converse_stream, lambda: EventStreamRestorer(bedrock.ConverseStream(TOOLS_TABLE))),
}


def test_frames_survive_any_split_and_bad_crcs_are_refused():
    body = converse_stream()
    whole = FrameReader().feed(body)
    for cut in range(1, len(body), 7):
        reader = FrameReader()
        assert reader.feed(body[:cut]) + reader.feed(body[cut:]) == whole
    broken = bytearray(body)
    broken[20] ^= 1  # inside the first frame's headers: its message CRC no longer matches
    with pytest.raises(FrameError):
        FrameReader().feed(bytes(broken))


@pytest.mark.slow  # exhaustive: every cut of the stream
@pytest.mark.parametrize("name", STREAMS)
def test_every_split_gives_identical_valid_frames(name):
    make_body, make_rewriter = STREAMS[name]
    body = make_body()
    whole = run(make_rewriter(), [body])
    botocore_frames(whole)
    # Every byte offset for Converse; every third for the larger Invoke stream, whose frames are
    # cut and rebuilt by the same code (the suite runs on 2 cores).
    for cut in range(1, len(body), 1 if name.startswith("converse") else 3):
        assert run(make_rewriter(), [body[:cut], body[cut:]]) == whole, f"split at byte {cut}"
    rng = random.Random(5)
    for _ in range(30):
        cuts = sorted(rng.sample(range(1, len(body)), 12))
        chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)])]
        assert run(make_rewriter(), chunks) == whole


def test_invoke_stream_restores_text_and_tool_input_but_not_thinking():
    out = botocore_frames(run(EventStreamRestorer(bedrock.InvokeStream(TOOLS_TABLE)), [invoke_stream()]))
    events = [json.loads(base64.b64decode(payload["bytes"])) for _, payload in out]
    deltas = [e for e in events if e["type"] == "content_block_delta"]
    text = "".join(e["delta"].get("text", "") for e in deltas if e["index"] == 1)
    thinking = "".join(e["delta"].get("thinking", "") for e in deltas if e["index"] == 0)
    arguments = "".join(e["delta"].get("partial_json", "") for e in deltas if e["index"] == 2)
    assert text == RESTORED + " tail [[secret:aws"
    assert thinking == PROMPT
    assert json.loads(arguments) == TOOL_ALL_RESTORED  # a Claude tool call held back is tested with anthropic's stream
    assert out[0][1]["p"] == "abcdefgh"  # a frame left alone goes out byte for byte


def converse_deltas(out: list[tuple[str, dict]], index: int, field: str) -> str:
    deltas = [payload["delta"] for kind, payload in out if kind == "contentBlockDelta" and payload["contentBlockIndex"] == index]
    if field == "text":
        return "".join(d.get("text", "") for d in deltas)
    return "".join(d[field]["text" if field == "reasoningContent" else "input"] for d in deltas if field in d)


def test_converse_stream_restores_text_and_tool_input_but_not_reasoning():
    out = botocore_frames(run(EventStreamRestorer(bedrock.ConverseStream(TOOLS_TABLE)), [converse_stream()]))
    assert converse_deltas(out, 1, "text") == RESTORED + " tail [[secret:aws"
    assert converse_deltas(out, 0, "reasoningContent") == PROMPT
    assert json.loads(converse_deltas(out, 2, "toolUse")) == TOOL_ALL_RESTORED
    # Nothing held: the tool input goes out fragment by fragment, as it came.
    assert sum(1 for kind, d in out if kind == "contentBlockDelta" and "toolUse" in d["delta"]) > 2
    # The held-back tail goes out before its block's stop, not after.
    stop = next(i for i, (kind, d) in enumerate(out) if kind == "contentBlockStop" and d["contentBlockIndex"] == 1)
    assert out[stop - 1][1]["delta"] == {"text": "[[secret:aws"}
    assert out[-2] == ("messageStop", {"stopReason": "tool_use"})


def test_converse_stream_holds_back_the_tool_call_and_ends_the_turn():
    out = botocore_frames(run(EventStreamRestorer(bedrock.ConverseStream(TABLE)), [converse_stream()]))
    assert converse_deltas(out, 1, "text") == RESTORED + " tail [[secret:aws"
    assert converse_deltas(out, 0, "reasoningContent") == PROMPT
    block = [(kind, d) for kind, d in out if d.get("contentBlockIndex") == 2]
    assert [kind for kind, _ in block] == ["contentBlockDelta", "contentBlockStop"]  # no toolUse start, no input
    assert block[0][1]["delta"].keys() == {"text"}
    assert_notice(block[0][1]["delta"]["text"])
    assert E_TOKEN.encode() not in json.dumps(out).encode()
    assert out[-2] == ("messageStop", {"stopReason": "end_turn"})  # no tool call left to run
    assert out[-1][0] == "metadata"


def test_converse_stream_sends_a_call_it_may_run_restored():
    body = converse_stream(SAFE_INPUT)
    out = botocore_frames(run(EventStreamRestorer(bedrock.ConverseStream(TABLE)), [body]))
    start = next(d for kind, d in out if kind == "contentBlockStart")
    assert start["start"]["toolUse"] == {"toolUseId": "t1", "name": "Write"}
    assert json.loads(converse_deltas(out, 2, "toolUse")) == SAFE_RESTORED
    assert out[-2] == ("messageStop", {"stopReason": "tool_use"})
    # Held until complete, then sent as the frames that came (restored), in their order.
    kinds = [kind for kind, d in out if d.get("contentBlockIndex") == 2]
    assert kinds[0] == "contentBlockStart" and kinds[-1] == "contentBlockStop" and set(kinds[1:-1]) == {"contentBlockDelta"}


def test_a_converse_stream_cut_off_inside_a_held_call_never_sends_it():
    body = converse_stream()
    cut = body.index(b"contentBlockStop", body.index(b"contentBlockStart"))  # inside the tool call's stop frame
    out = run(EventStreamRestorer(bedrock.ConverseStream(TABLE)), [body[:cut]])
    assert b"toolUse" not in out and E_TOKEN.encode() not in out  # neither its start nor any of its input
    reader = FrameReader()
    out = [(f.header(":event-type"), f.json()) for f in reader.feed(out)]
    assert converse_deltas(out, 1, "text") == RESTORED + " tail [[secret:aws"  # what came before it did go out
    assert [kind for kind, d in out if d.get("contentBlockIndex") == 2] == [] and reader.unread


def test_whole_answers_are_restored():
    converse = {"output": {"message": {"role": "assistant", "content": [
        {"reasoningContent": {"reasoningText": {"text": PROMPT, "signature": "c2ln"}}},
        {"text": PROMPT}, {"toolUse": {"toolUseId": "t", "name": "Write", "input": TOOL_INPUT}}]}},
        "stopReason": "tool_use"}
    restored = json.loads(bedrock.restore_converse(json.dumps(converse), TOOLS_TABLE))
    reasoning, text, tool = restored["output"]["message"]["content"]
    assert reasoning == converse["output"]["message"]["content"][0]
    assert tool["toolUse"]["input"] == TOOL_ALL_RESTORED and restored["stopReason"] == "tool_use"
    assert text["text"] == RESTORED
    llama = {"generation": PROMPT, "stop_reason": "stop"}
    assert json.loads(bedrock.restore_invoke(json.dumps(llama), TABLE))["generation"] == RESTORED


def test_converse_json_answer_holds_back_a_tool_call():
    def answer(*inputs: dict) -> str:
        content = [{"text": PROMPT}] + [{"toolUse": {"toolUseId": f"t{i}", "name": "Write", "input": tool_input}}
                                        for i, tool_input in enumerate(inputs)]
        return json.dumps({"output": {"message": {"role": "assistant", "content": content}}, "stopReason": "tool_use"})

    out = json.loads(run(rewriter_for(bedrock_format("converse"), "application/json", TABLE), [answer(TOOL_INPUT, SAFE_INPUT).encode()]))
    text, notice, call = out["output"]["message"]["content"]
    assert text == {"text": RESTORED} and notice.keys() == {"text"}
    assert_notice(notice["text"])
    assert call["toolUse"] == {"toolUseId": "t1", "name": "Write", "input": SAFE_RESTORED}
    assert out["stopReason"] == "tool_use"  # a call is left to run
    out = json.loads(bedrock.restore_converse(answer(TOOL_INPUT), TABLE))
    assert len(out["output"]["message"]["content"]) == 2 and out["stopReason"] == "end_turn"
    assert_notice(out["output"]["message"]["content"][1]["text"])


def bedrock_format(operation: str) -> str:
    from llm_dlp.providers import adapter_for

    return adapter_for(f"/model/anthropic.claude-sonnet-4-5-v1%3A0/{operation}").format


def test_rewriters_are_chosen_by_path_and_content_type():
    from llm_dlp.providers import adapter_for

    fmt = adapter_for("/model/anthropic.claude-sonnet-4-5-v1%3A0/converse-stream").format
    assert isinstance(rewriter_for(fmt, "application/vnd.amazon.eventstream", TABLE), EventStreamRestorer)
    fmt = adapter_for("/model/meta.llama3/invoke").format
    assert rewriter_for(fmt, "application/json", TABLE) is not None
    assert rewriter_for(adapter_for("/model/x/list").format, "application/json", TABLE) is None


# -- through the real proxy, with boto3 and a Bedrock API key (bearer auth leaves the body unsigned) --


@pytest.fixture
def bedrock_client(proxy, provider, monkeypatch):
    return boto3_through(proxy, provider, monkeypatch)


def boto3_through(proxy, provider, monkeypatch):
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-test")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    config = Config(proxies={"https": proxy.url}, retries={"max_attempts": 1}, read_timeout=30)
    return boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=provider.base_url,
                        verify=str(proxy.ca_cert), config=config)


def test_converse_through_the_proxy(bedrock_client, received):
    prompt, values = secret_prompt()
    reply = bedrock_client.converse(modelId="echo", messages=[{"role": "user", "content": [{"text": prompt}]}])
    assert_never_upstream(received, values)
    assert received[0].headers.get("Authorization", received[0].headers.get("authorization", "")).startswith("Bearer ")
    reasoning, text = reply["output"]["message"]["content"]
    assert text["text"] == prompt
    assert reasoning["reasoningContent"]["reasoningText"]["text"] == received[0].json()["messages"][0]["content"][0]["text"]


@pytest.mark.parametrize("model", ["echo", "echo-tool"])
def test_converse_stream_through_the_proxy(bedrock_client, received, model):
    prompt, values = secret_prompt()
    reply = bedrock_client.converse_stream(modelId=model, messages=[{"role": "user", "content": [{"text": prompt}]}])
    deltas = [event["contentBlockDelta"] for event in reply["stream"] if "contentBlockDelta" in event]
    assert_never_upstream(received, values)
    if model == "echo":
        assert "".join(d["delta"].get("text", "") for d in deltas if d["contentBlockIndex"] == 1) == prompt
    else:
        arguments = "".join(d["delta"]["toolUse"]["input"] for d in deltas if "toolUse" in d["delta"])
        assert json.loads(arguments)["content"] == prompt
    reasoning = "".join(d["delta"]["reasoningContent"].get("text", "") for d in deltas if d["contentBlockIndex"] == 0)
    assert reasoning == received[0].json()["messages"][0]["content"][0]["text"]  # signed: untouched


@pytest.mark.parametrize("streamed", [False, True])
def test_invoke_model_through_the_proxy(bedrock_client, received, streamed):
    prompt, values = secret_prompt()
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
                       "messages": [{"role": "user", "content": prompt}]})
    if streamed:
        reply = bedrock_client.invoke_model_with_response_stream(modelId="echo", body=body)
        events = [json.loads(event["chunk"]["bytes"]) for event in reply["body"]]
        text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    else:
        reply = bedrock_client.invoke_model(modelId="echo", body=body)
        text = json.loads(reply["body"].read())["content"][1]["text"]
    assert_never_upstream(received, values)
    assert text == prompt


def test_a_secret_in_a_tool_result_is_redacted_for_bedrock_too(bedrock_client, received):
    key_id = make.aws_access_key_id()
    messages = [
        {"role": "user", "content": [{"text": "read the env file"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "Read", "input": {"path": ".env"}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": f"AWS_ACCESS_KEY_ID={key_id}"}]}},
                                     {"text": "what is in it?"}]},
    ]
    bedrock_client.converse(modelId="echo", messages=messages)
    assert key_id not in received[0].text and "[[secret:aws-access-token:" in received[0].text


@pytest.mark.parametrize("streamed", [False, True])
def test_converse_tool_call_held_back_through_the_proxy(tmp_path, provider, test_ca, received, monkeypatch, streamed):
    """A tenant that keeps e-mail addresses out of tool arguments: boto3 gets the notice, never
    a tool call carrying the placeholder, and the turn ends."""
    from llm_dlp.testing.proxyrun import REPO, copy_policies, start_proxy

    policy = (REPO / "policies" / "default.yaml").read_text().replace("  pii: [tool_arguments]", "  pii: [text]")
    assert "pii: [text]" in policy
    running = start_proxy(tmp_path / "proxy", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                          policy_dir=copy_policies(tmp_path / "policies", default=policy))
    try:
        client = boto3_through(running, provider, monkeypatch)
        mail = "jane.doe@example.com"
        messages = [{"role": "user", "content": [{"text": f"write to {mail}"}]}]
        if streamed:
            events = list(client.converse_stream(modelId="echo-tool", messages=messages)["stream"])
            deltas = [e["contentBlockDelta"]["delta"] for e in events if "contentBlockDelta" in e]
            assert not any("toolUse" in d for d in deltas) and not any("contentBlockStart" in e for e in events)
            notice = "".join(d.get("text", "") for d in deltas)
            stop = next(e["messageStop"]["stopReason"] for e in events if "messageStop" in e)
        else:
            reply = client.converse(modelId="echo-tool", messages=messages)
            blocks = reply["output"]["message"]["content"]
            assert not any("toolUse" in b for b in blocks)
            notice, stop = "".join(b.get("text", "") for b in blocks), reply["stopReason"]
        assert "[llm-dlp held back this " in notice and "[[pii:" not in notice and mail not in notice
        assert stop == "end_turn"
        assert all(mail not in item.text for item in received)
    finally:
        running.stop()
