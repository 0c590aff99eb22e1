"""Provider adapters find every prompt text; splicing rewrites only those strings."""

from __future__ import annotations

import gzip
import json
import zlib

import brotli
import pytest
import zstandard

from llm_dlp.bodies import BodyError, decode_body
from llm_dlp.providers import RequestFormatError, adapter_for
from llm_dlp.providers.base import INNER_JSON
from llm_dlp.splice import replace_strings


def segments(path: str, body: dict) -> dict[str, str]:
    parsed = adapter_for(path).extract(json.loads(json.dumps(body)))
    return {segment.location: segment.text for segment in parsed.segments}


def test_anthropic_adapter_reaches_every_text_a_model_sees():
    body = {
        "model": "claude", "max_tokens": 5,
        "system": [{"type": "text", "text": "SYS", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "U1"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "SECRET THOUGHT", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "A1"},
                {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "x.py", "opts": {"q": "Q"}}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": [
                    {"type": "text", "text": "TR"},
                    {"type": "search_result", "source": "s", "title": "T", "content": [{"type": "text", "text": "SR"}]}]},
                {"type": "tool_result", "tool_use_id": "t1", "content": "TR2"},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "DOC"}, "title": "DT"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            ]},
        ],
    }
    found = segments("/v1/messages?beta=true", body)
    assert found == {
        "$.model": "claude",
        "$.system[0].text": "SYS",
        "$.messages[0].content": "U1",
        "$.messages[1].content[2].text": "A1",
        "$.messages[1].content[3].id": "t1",
        "$.messages[1].content[3].name": "Read",
        "$.messages[1].content[3].input.file_path<key>": "file_path",
        "$.messages[1].content[3].input.file_path": "x.py",
        "$.messages[1].content[3].input.opts<key>": "opts",
        "$.messages[1].content[3].input.opts.q<key>": "q",
        "$.messages[1].content[3].input.opts.q": "Q",
        "$.messages[2].content[0].tool_use_id": "t1",
        "$.messages[2].content[0].content[0].text": "TR",
        "$.messages[2].content[0].content[1].type": "search_result",
        "$.messages[2].content[0].content[1].source": "s",
        "$.messages[2].content[0].content[1].title": "T",
        "$.messages[2].content[0].content[1].content[0].text": "SR",
        "$.messages[2].content[1].tool_use_id": "t1",
        "$.messages[2].content[1].content": "TR2",
        "$.messages[2].content[2].source.data": "DOC",
        "$.messages[2].content[2].title": "DT",
    }
    # The signed thinking of the model's own turn is exempt; the image is media no scanner reads.
    parsed = adapter_for("/v1/messages").extract(body)
    assert parsed.exempt == ("thinking (signed)", "redacted_thinking (encrypted)")
    assert parsed.unscanned_media == ((("messages", 2, "content", 3, "source", "data"), "image/png"),)


def test_tool_results_know_the_file_their_tool_call_read():
    body = {"messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t9", "name": "Read", "input": {"file_path": "src/app.go"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t9", "content": "package main"}]},
    ]}
    parsed = adapter_for("/v1/messages").extract(body)
    assert [s.path_hint for s in parsed.segments if s.role == "tool_result"] == ["src/app.go"]


def test_openai_adapter_reaches_content_parts_tool_arguments_and_tool_messages():
    body = {"model": "gpt", "messages": [
        {"role": "developer", "content": "DEV"},
        {"role": "user", "content": [{"type": "text", "text": "P1"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "write", "arguments": '{"path": "a.py", "body": "B"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "OUT"},
    ]}
    found = segments("/v1/chat/completions", body)
    assert found.items() >= {
        "$.messages[0].content": "DEV",
        "$.messages[1].content[0].text": "P1",
        "$.messages[2].tool_calls[0].function.arguments<json>.path": "a.py",
        "$.messages[2].tool_calls[0].function.arguments<json>.body": "B",
        "$.messages[3].content": "OUT",
    }.items()
    # Beside the prompt: the model, the call's id and name, and the arguments' keys; not the data URL.
    assert {"$.model": "gpt", "$.messages[2].tool_calls[0].id": "c1", "$.messages[2].tool_calls[0].function.name": "write",
            "$.messages[2].tool_calls[0].function.arguments<json>.body<key>": "body"}.items() <= found.items()
    assert "data:" not in "".join(found.values())


def test_other_endpoints_scan_every_string_and_key():
    body = {"contents": [{"role": "user", "parts": [{"text": "G1"}, {"thoughtSignature": "sig"},
                                                    {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]}]}
    found = segments("/v1/unknown/endpoint", body)
    # No format knows this body, so nothing in it is exempt: not even what looks like a signature.
    assert {"$.contents[0].role": "user", "$.contents[0].parts[0].text": "G1", "$.contents[0].parts[1].thoughtSignature": "sig",
            "$.contents[0].parts[2].inlineData.data": "AAAA", "$.contents<key>": "contents"}.items() <= found.items()


@pytest.mark.parametrize("body", [[], {"messages": "hi"}, {"messages": [1]}, {"messages": [{"content": 5}]}])
def test_anthropic_bodies_of_the_wrong_shape_are_refused(body):
    with pytest.raises(RequestFormatError):
        adapter_for("/v1/messages").extract(body)


def test_splice_changes_only_the_chosen_literals():
    doc = '{ "a" : [1, 2.50e0, {"b":"x\\u00e9y", "n": null}], "c":"keep",\n "t": "{\\"k\\": \\"v\\", \\"z\\": 1}"}'
    out = replace_strings(doc, {("a", 2, "b"): "NEW é", ("t", INNER_JSON, "k"): "zz"})
    assert out == '{ "a" : [1, 2.50e0, {"b":"NEW \\u00e9", "n": null}], "c":"keep",\n "t": "{\\"k\\": \\"zz\\", \\"z\\": 1}"}'
    assert json.loads(out)["a"][2]["b"] == "NEW é"


def test_splice_refuses_paths_that_do_not_exist():
    with pytest.raises(RequestFormatError):
        replace_strings('{"a": "b"}', {("missing",): "x"})


@pytest.mark.parametrize("encoding, encode", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("br", brotli.compress),
    ("zstd", lambda data: zstandard.ZstdCompressor().compress(data)),
    ("identity", lambda data: data),
])
def test_bodies_decode_within_the_limit_and_bombs_are_stopped(encoding, encode):
    text = '{"x": "' + "a" * 100_000 + '"}'
    assert decode_body(encode(text.encode()), encoding, 200_000) == text
    with pytest.raises(BodyError) as caught:
        decode_body(encode(text.encode()), encoding, 50_000)
    assert caught.value.status == 413


def test_unknown_encoding_and_bad_utf8_are_clear_errors():
    with pytest.raises(BodyError, match="unsupported content-encoding 'snappy'"):
        decode_body(b"x", "snappy", 100)
    with pytest.raises(BodyError, match="not valid UTF-8"):
        decode_body(b'{"a": "\xc3"}', "", 100)
    with pytest.raises(BodyError, match="truncated gzip"):
        decode_body(gzip.compress(b"hello world" * 10)[:-12], "gzip", 1000)
