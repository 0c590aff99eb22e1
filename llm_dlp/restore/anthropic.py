"""Restore placeholders in Anthropic Messages answers: JSON bodies and SSE streams.

Text blocks are restored as text, ``tool_use`` input as tool arguments; ``thinking``,
``redacted_thinking`` and their signature deltas are signed by the provider and pass untouched.
In a stream each content block has its own restorer (blocks interleave by ``index``), and what
a block held back is sent as one more delta just before its ``content_block_stop``.
"""

from __future__ import annotations

import json
from typing import Any

from llm_dlp.jsondoc import string_leaves
from llm_dlp.splice import replace_strings
from llm_dlp.restore.sse import SseEvent, cannot_hold_placeholder, make_event
from llm_dlp.restore.stream import Rewriter, sse_or_json
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

# content block type -> (its delta type, the delta's string field, place, escape)
_BLOCKS = {
    "text": ("text_delta", "text", TEXT, as_is),
    "tool_use": ("input_json_delta", "partial_json", TOOL_ARGUMENTS, json_escaped),
}


def restore_message(body: str, table: RestoreTable) -> str:
    """A non-streamed ``message`` with its text and tool inputs restored; a tool call that
    would carry an unrestorable placeholder becomes a text block saying so."""
    document = json.loads(body)
    edits: dict[tuple, str] = {}
    replaced: dict[tuple, Any] = {}
    content = document.get("content") if isinstance(document, dict) else None
    calls = 0
    for i, block in enumerate(content if isinstance(content, list) else []):
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            edit(edits, ("content", i, "text"), block["text"], table.restore(block["text"], TEXT))
        elif block.get("type") == "tool_use":
            kinds = table.restore_tool_call(list(string_leaves(block.get("input"), ("content", i, "input"))), edits)
            if kinds:
                replaced[("content", i)] = {"type": "text", "text": held_back_notice(str(block.get("name", "")), kinds)}
                continue
            calls += 1
    if replaced and not calls and document.get("stop_reason") == "tool_use":
        edits[("stop_reason",)] = "end_turn"  # no tool call is left for the client to run
    return replace_strings(body, edits, replaced) if edits or replaced else body


class MessageStream:
    """The event handler for one ``stream: true`` answer."""

    def __init__(self, table: RestoreTable) -> None:
        self.table = table
        self.blocks: dict[Any, tuple[str, str, TextRestorer]] = {}
        # Where the policy keeps some values out of tool arguments, each tool_use block is held
        # until it ends (index -> its events), then sent restored or replaced by a notice.
        self.hold_tool_calls = table.keeps_from_tool_calls
        self.held: dict[Any, list[tuple[SseEvent, dict]]] = {}
        self.calls_sent = 0
        self.calls_held_back = 0

    def on_event(self, event: SseEvent) -> bytes:
        if b'"content_block_delta"' in event.raw and cannot_hold_placeholder(event.raw) and not self._holding():
            return event.raw  # the common case, decided without parsing the JSON
        document = event.json()
        kind = document.get("type") if isinstance(document, dict) else None
        if kind in ("content_block_start", "content_block_delta", "content_block_stop") and (
                document.get("index") in self.held or self._holds(document)):
            return self._hold(event, document)
        if kind == "content_block_start":
            self._start(document)
            return event.raw
        if kind == "content_block_delta":
            return self._delta(event, document)
        if kind == "content_block_stop":
            return self._flush(document.get("index"), event.newline) + event.raw
        if kind == "message_delta" and self.calls_held_back and not self.calls_sent:
            return self.finish(event.newline) + _no_tool_use(event, document)
        if kind in ("message_delta", "message_stop", "error"):
            return self.finish(event.newline) + event.raw
        return event.raw

    def _holds(self, document: dict) -> bool:
        block = document.get("content_block")
        return (self.hold_tool_calls and document.get("type") == "content_block_start"
                and isinstance(block, dict) and block.get("type") == "tool_use")

    def _hold(self, event: SseEvent, document: dict) -> bytes:
        index = document.get("index")
        self.held.setdefault(index, []).append((event, document))
        if document.get("type") != "content_block_stop":
            return b""
        events = self.held.pop(index)
        start = events[0][1].get("content_block") or {}
        arguments = "".join(d.get("delta", {}).get("partial_json", "") for _, d in events
                            if isinstance(d.get("delta"), dict) and isinstance(d["delta"].get("partial_json"), str))
        kinds = self.table.held_back(arguments)
        if not kinds:
            self.calls_sent += 1
            self._start(events[0][1])
            return events[0][0].raw + b"".join(
                self._delta(e, d) if d.get("type") == "content_block_delta" else self._flush(index, e.newline) + e.raw
                for e, d in events[1:])
        self.calls_held_back += 1
        newline = event.newline
        notice = held_back_notice(str(start.get("name", "")), kinds)
        return (make_event("content_block_start", {"type": "content_block_start", "index": index,
                                                   "content_block": {"type": "text", "text": ""}}, newline)
                + make_event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                     "delta": {"type": "text_delta", "text": notice}}, newline)
                + event.raw)

    def finish(self, newline: str = "\n") -> bytes:
        return b"".join(self._flush(index, newline) for index in list(self.blocks))

    def _holding(self) -> bool:
        return bool(self.held) or any(restorer.pending for _, _, restorer in self.blocks.values())

    def _start(self, document: dict) -> None:
        block = document.get("content_block")
        spec = _BLOCKS.get(block.get("type")) if isinstance(block, dict) else None
        if spec is not None:
            delta_type, field, place, escape = spec
            self.blocks[document.get("index")] = (delta_type, field, TextRestorer(self.table, place, escape))

    def _delta(self, event: SseEvent, document: dict) -> bytes:
        block = self.blocks.get(document.get("index"))
        delta = document.get("delta")
        if block is None or not isinstance(delta, dict) or delta.get("type") != block[0]:
            return event.raw  # thinking, signature and citation deltas among them
        _, field, restorer = block
        fragment = delta.get(field)
        if not isinstance(fragment, str):
            return event.raw
        restored = restorer.feed(fragment)
        if restored == fragment:
            return event.raw
        return event.with_data(replace_strings(event.data, {("delta", field): restored}))

    def _flush(self, index: Any, newline: str) -> bytes:
        block = self.blocks.pop(index, None)
        if block is None:
            return b""
        delta_type, field, restorer = block
        rest = restorer.flush()
        if not rest:
            return b""
        payload = {"type": "content_block_delta", "index": index, "delta": {"type": delta_type, field: rest}}
        return make_event("content_block_delta", payload, newline)


def _no_tool_use(event: SseEvent, document: dict) -> bytes:
    """The ``message_delta`` of an answer whose every tool call was held back: the client has
    no tool to run, so the turn ends."""
    delta = document.get("delta")
    if not isinstance(delta, dict) or delta.get("stop_reason") != "tool_use":
        return event.raw
    return event.with_data(replace_strings(event.data, {("delta", "stop_reason"): "end_turn"}))


def rewriter(content_type: str, table: RestoreTable) -> Rewriter | None:
    """An Anthropic Messages answer's rewriter: streamed events or one message."""
    return sse_or_json(content_type, lambda: MessageStream(table), restore_message, table)
