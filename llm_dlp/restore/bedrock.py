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
"""

from __future__ import annotations

import base64
import json
from typing import Any

from llm_dlp.providers.base import string_leaves
from llm_dlp.providers.splice import replace_strings
from llm_dlp.restore import anthropic
from llm_dlp.restore.eventstream import Frame, encode_frame, encode_headers
from llm_dlp.restore.sse import SseReader, parse_event
from llm_dlp.restore.text import TEXT, TOOL_ARGUMENTS, RestoreTable, TextRestorer, as_is, edit, json_escaped


def restore_invoke(body: str, table: RestoreTable) -> str:
    document = json.loads(body)
    if isinstance(document, dict) and document.get("type") == "message":
        return anthropic.restore_message(body, table)
    edits: dict[tuple, str] = {}
    for path, text in string_leaves(document, ()):
        edit(edits, path, text, table.restore(text, TEXT))
    return replace_strings(body, edits) if edits else body


def restore_converse(body: str, table: RestoreTable) -> str:
    document = json.loads(body)
    edits: dict[tuple, str] = {}
    for path, block in _converse_blocks(document):
        if isinstance(block.get("text"), str):
            edit(edits, path + ("text",), block["text"], table.restore(block["text"], TEXT))
        tool = block.get("toolUse")
        if isinstance(tool, dict):
            for leaf, text in string_leaves(tool.get("input"), path + ("toolUse", "input")):
                edit(edits, leaf, text, table.restore(text, TOOL_ARGUMENTS))
    return replace_strings(body, edits) if edits else body


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

    def on_frame(self, frame: Frame) -> bytes:
        kind = frame.header(":event-type")
        if kind == "contentBlockDelta":
            return self._delta(frame)
        if kind == "contentBlockStop":
            payload = frame.json()
            index = payload.get("contentBlockIndex") if isinstance(payload, dict) else None
            return self._flush(index) + frame.raw
        if kind in ("messageStop", "metadata") or frame.header(":message-type") == "exception":
            return self.finish() + frame.raw
        return frame.raw

    def finish(self) -> bytes:
        return b"".join(self._flush(index) for index in list(self.blocks))

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
        delta = {"text": rest} if field == "text" else {field: {"input": rest}}
        headers = encode_headers({":event-type": "contentBlockDelta", ":content-type": "application/json",
                                  ":message-type": "event"})
        payload = json.dumps({"contentBlockIndex": index, "delta": delta}, ensure_ascii=False, separators=(",", ":"))
        return encode_frame(headers, payload.encode("utf-8"))


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None
