"""Restore placeholders in Amazon Bedrock answers: InvokeModel and Converse, whole or streamed.

InvokeModel answers in the model family's own format: for Anthropic models that is the Messages
format (restored as in ``anthropic.py``: text as text, tool input as tool arguments, thinking
untouched); other families' answers are plain JSON whose strings are all answer text.
``invoke-with-response-stream`` wraps each Anthropic stream event, base64-encoded, in an event-
stream ``chunk`` frame; the events go through ``anthropic.MessageStream`` and come out re-wrapped.
Other families' streams pass through unrestored.

Converse answers ``output.message.content[]`` blocks: ``text``, ``toolUse.input`` (tool
arguments) and ``reasoningContent`` (signed: untouched). ConverseStream sends ``contentBlockDelta``
frames per block index; what a block held back is sent as one more delta before its
``contentBlockStop``.

A Converse tool call carrying a placeholder the policy does not put back into tool arguments
never reaches the client: its ``toolUse`` block becomes a text block saying so, and where no
other tool call is left the turn ends (``stopReason`` ``end_turn``). Where that can happen, a
stream holds each ``toolUse`` block's frames from its ``contentBlockStart`` to its
``contentBlockStop``, then sends them restored or a text delta with the notice instead.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from llm_dlp.jsondoc import string_leaves
from llm_dlp.splice import replace_strings
from llm_dlp.restore import anthropic
from llm_dlp.restore.eventstream import Frame, encode_frame, encode_headers
from llm_dlp.restore.sse import SseReader, parse_event
from llm_dlp.restore.stream import EventStreamRestorer, JsonRestorer, Rewriter
from llm_dlp.restore.text import (
    TEXT,
    TOOL_ARGUMENTS,
    RestoreTable,
    TextRestorer,
    as_is,
    edit,
    held_back_notice,
    json_escaped,
)


def restore_invoke(body: str, table: RestoreTable) -> str:
    document = json.loads(body)
    if isinstance(document, dict) and document.get("type") == "message":
        return anthropic.restore_message(body, table)
    edits: dict[tuple, str] = {}
    for path, text in string_leaves(document, ()):
        edit(edits, path, text, table.restore(text, TEXT))
    return replace_strings(body, edits) if edits else body


def restore_converse(body: str, table: RestoreTable) -> str:
    """A Converse answer with its text and tool inputs restored; a tool call that would carry
    an unrestorable placeholder becomes a text block saying so."""
    document = json.loads(body)
    edits: dict[tuple, str] = {}
    replaced: dict[tuple, Any] = {}
    calls = 0
    for path, block in _converse_blocks(document):
        if isinstance(block.get("text"), str):
            edit(edits, path + ("text",), block["text"], table.restore(block["text"], TEXT))
        tool = block.get("toolUse")
        if not isinstance(tool, dict):
            continue
        kinds = table.restore_tool_call(list(string_leaves(tool.get("input"), path + ("toolUse", "input"))), edits)
        if kinds:
            replaced[path] = {"text": held_back_notice(str(tool.get("name", "")), kinds)}
            continue
        calls += 1
    if replaced and not calls and document.get("stopReason") == "tool_use":
        edits[("stopReason",)] = "end_turn"  # no tool call is left for the client to run
    return replace_strings(body, edits, replaced) if edits or replaced else body


def _converse_blocks(document: Any):
    output = document.get("output") if isinstance(document, dict) else None
    message = output.get("message") if isinstance(output, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    for i, block in enumerate(content if isinstance(content, list) else []):
        if isinstance(block, dict):
            yield ("output", "message", "content", i), block


class InvokeStream:
    """``invoke-with-response-stream``: Anthropic events inside base64 ``chunk`` frames."""

    def __init__(self, table: RestoreTable) -> None:
        self.messages = anthropic.MessageStream(table)
        self.headers: bytes | None = None  # a chunk frame's header block, for frames we add

    def on_frame(self, frame: Frame) -> bytes:
        payload = frame.json() if frame.header(":event-type") == "chunk" else None
        if not isinstance(payload, dict) or not isinstance(payload.get("bytes"), str):
            return frame.raw
        inner = base64.b64decode(payload["bytes"])
        document = _json_or_none(inner)
        if not isinstance(document, dict) or not isinstance(document.get("type"), str):
            return frame.raw  # another model family's stream: not restored
        self.headers = frame.headers
        event = parse_event(f"event: {document['type']}\ndata: ".encode() + inner + b"\n\n")
        out = self.messages.on_event(event)
        if out == event.raw:
            return frame.raw
        return self._frames(out, payload, frame.headers)

    def finish(self) -> bytes:
        out = self.messages.finish()
        return self._frames(out, {}, self.headers) if out and self.headers else b""

    @staticmethod
    def _frames(sse: bytes, payload: dict, headers: bytes) -> bytes:
        """The events the Anthropic restorer wrote, each as a chunk frame; the last one is the
        frame that came in and keeps its other payload fields (the ``p`` padding)."""
        events = SseReader().feed(sse)
        frames = []
        for n, event in enumerate(events):
            fields = payload if n == len(events) - 1 else {}
            encoded = base64.b64encode((event.data or "").encode("utf-8")).decode("ascii")
            frames.append(encode_frame(headers, json.dumps({**fields, "bytes": encoded}, separators=(",", ":")).encode()))
        return b"".join(frames)


# ConverseStream delta field -> (where its fragment sits in the frame's payload, place, escape)
_CONVERSE_DELTAS = {
    "text": (("delta", "text"), TEXT, as_is),
    "toolUse": (("delta", "toolUse", "input"), TOOL_ARGUMENTS, json_escaped),
}


class ConverseStream:
    """``converse-stream``: ``contentBlockDelta`` frames carrying text or tool-input fragments."""

    def __init__(self, table: RestoreTable) -> None:
        self.table = table
        self.blocks: dict[Any, tuple[str, TextRestorer]] = {}
        # Where the policy keeps some values out of tool arguments, each toolUse block is held
        # until it ends (index -> its frames), then sent restored or replaced by a notice.
        self.hold_tool_calls = table.keeps_from_tool_calls
        self.held: dict[Any, list[tuple[Frame, dict]]] = {}
        self.calls_sent = 0
        self.calls_held_back = 0

    def on_frame(self, frame: Frame) -> bytes:
        kind = frame.header(":event-type")
        if kind in ("contentBlockStart", "contentBlockDelta", "contentBlockStop") and self.hold_tool_calls:
            payload = frame.json()
            if isinstance(payload, dict) and (payload.get("contentBlockIndex") in self.held or _starts_tool_use(payload)):
                return self._hold(frame, kind, payload)
        if kind == "contentBlockDelta":
            return self._delta(frame)
        if kind == "contentBlockStop":
            return self._stop(frame)
        if kind == "messageStop" and self.calls_held_back and not self.calls_sent:
            return self.finish() + _no_tool_use(frame)
        if kind in ("messageStop", "metadata") or frame.header(":message-type") == "exception":
            return self.finish() + frame.raw
        return frame.raw

    def finish(self) -> bytes:
        return b"".join(self._flush(index) for index in list(self.blocks))

    def _hold(self, frame: Frame, kind: str | None, payload: dict) -> bytes:
        index = payload.get("contentBlockIndex")
        self.held.setdefault(index, []).append((frame, payload))
        if kind != "contentBlockStop":
            return b""
        frames = self.held.pop(index)
        tool = frames[0][1].get("start", {}).get("toolUse") or {}
        arguments = "".join(_tool_input(p) for _, p in frames[1:-1])
        kinds = self.table.held_back(arguments)
        if not kinds:
            self.calls_sent += 1
            return frames[0][0].raw + b"".join(self._delta(f) for f, _ in frames[1:-1]) + self._stop(frame)
        self.calls_held_back += 1
        return _delta_frame(index, {"text": held_back_notice(str(tool.get("name", "")), kinds)}) + frame.raw

    def _stop(self, frame: Frame) -> bytes:
        payload = frame.json()
        index = payload.get("contentBlockIndex") if isinstance(payload, dict) else None
        return self._flush(index) + frame.raw

    def _delta(self, frame: Frame) -> bytes:
        payload = frame.json()
        delta = payload.get("delta") if isinstance(payload, dict) else None
        if not isinstance(delta, dict):
            return frame.raw
        index = payload.get("contentBlockIndex")
        for field, (path, place, escape) in _CONVERSE_DELTAS.items():
            value = delta.get(field)
            fragment = value.get("input") if field == "toolUse" and isinstance(value, dict) else value
            if not isinstance(fragment, str):
                continue
            restorer = self.blocks.setdefault(index, (field, TextRestorer(self.table, place, escape)))[1]
            restored = restorer.feed(fragment)
            if restored == fragment:
                return frame.raw
            return frame.with_payload(replace_strings(frame.payload.decode("utf-8"), {path: restored}).encode("utf-8"))
        return frame.raw  # reasoningContent and anything new: untouched

    def _flush(self, index: Any) -> bytes:
        block = self.blocks.pop(index, None)
        rest = block[1].flush() if block else ""
        if not rest:
            return b""
        field = block[0]
        return _delta_frame(index, {"text": rest} if field == "text" else {field: {"input": rest}})


def _starts_tool_use(payload: dict) -> bool:
    start = payload.get("start")
    return isinstance(start, dict) and isinstance(start.get("toolUse"), dict)


def _tool_input(payload: dict) -> str:
    delta = payload.get("delta")
    tool = delta.get("toolUse") if isinstance(delta, dict) else None
    fragment = tool.get("input") if isinstance(tool, dict) else None
    return fragment if isinstance(fragment, str) else ""


def _delta_frame(index: Any, delta: dict) -> bytes:
    """A ``contentBlockDelta`` frame the proxy adds (a held-back tail, a held-back call's notice)."""
    headers = encode_headers({":event-type": "contentBlockDelta", ":content-type": "application/json",
                              ":message-type": "event"})
    payload = json.dumps({"contentBlockIndex": index, "delta": delta}, ensure_ascii=False, separators=(",", ":"))
    return encode_frame(headers, payload.encode("utf-8"))


def _no_tool_use(frame: Frame) -> bytes:
    """The ``messageStop`` of an answer whose every tool call was held back: the client has no
    tool to run, so the turn ends."""
    payload = frame.json()
    if not isinstance(payload, dict) or payload.get("stopReason") != "tool_use":
        return frame.raw
    return frame.with_payload(replace_strings(frame.payload.decode("utf-8"), {("stopReason",): "end_turn"}).encode("utf-8"))


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def invoke_rewriter(content_type: str, table: RestoreTable) -> Rewriter | None:
    return JsonRestorer(restore_invoke, table) if "json" in content_type and "event-stream" not in content_type else None


def converse_rewriter(content_type: str, table: RestoreTable) -> Rewriter | None:
    return JsonRestorer(restore_converse, table) if "json" in content_type and "event-stream" not in content_type else None


def invoke_stream_rewriter(content_type: str, table: RestoreTable) -> Rewriter | None:
    return EventStreamRestorer(InvokeStream(table)) if "vnd.amazon.eventstream" in content_type else None


def converse_stream_rewriter(content_type: str, table: RestoreTable) -> Rewriter | None:
    return EventStreamRestorer(ConverseStream(table)) if "vnd.amazon.eventstream" in content_type else None
