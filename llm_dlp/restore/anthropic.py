"""Restore placeholders in Anthropic Messages answers: JSON bodies and SSE streams.

Text blocks are restored as text, ``tool_use`` input as tool arguments; ``thinking``,
``redacted_thinking`` and their signature deltas are signed by the provider and pass untouched.
In a stream each content block has its own restorer (blocks interleave by ``index``), and what
a block held back is sent as one more delta just before its ``content_block_stop``.
"""

from __future__ import annotations

import json
from typing import Any

from llm_dlp.providers.base import string_leaves
from llm_dlp.providers.splice import replace_strings
from llm_dlp.restore.sse import SseEvent, cannot_hold_placeholder, make_event
from llm_dlp.restore.text import TEXT, TOOL_ARGUMENTS, RestoreTable, TextRestorer, as_is, edit, json_escaped

# content block type -> (its delta type, the delta's string field, place, escape)
_BLOCKS = {
    "text": ("text_delta", "text", TEXT, as_is),
    "tool_use": ("input_json_delta", "partial_json", TOOL_ARGUMENTS, json_escaped),
}


def restore_message(body: str, table: RestoreTable) -> str:
    """A non-streamed ``message`` with its text and tool inputs restored."""
    document = json.loads(body)
    edits: dict[tuple, str] = {}
    content = document.get("content") if isinstance(document, dict) else None
    for i, block in enumerate(content if isinstance(content, list) else []):
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            edit(edits, ("content", i, "text"), block["text"], table.restore(block["text"], TEXT))
        elif block.get("type") == "tool_use":
            for path, text in string_leaves(block.get("input"), ("content", i, "input")):
                edit(edits, path, text, table.restore(text, TOOL_ARGUMENTS))
    return replace_strings(body, edits) if edits else body


class MessageStream:
    """The event handler for one ``stream: true`` answer."""

    def __init__(self, table: RestoreTable) -> None:
        self.table = table
        self.blocks: dict[Any, tuple[str, str, TextRestorer]] = {}

    def on_event(self, event: SseEvent) -> bytes:
        if b'"content_block_delta"' in event.raw and cannot_hold_placeholder(event.raw) and not self._holding():
            return event.raw  # the common case, decided without parsing the JSON
        document = event.json()
        kind = document.get("type") if isinstance(document, dict) else None
        if kind == "content_block_start":
            self._start(document)
            return event.raw
        if kind == "content_block_delta":
            return self._delta(event, document)
        if kind == "content_block_stop":
            return self._flush(document.get("index"), event.newline) + event.raw
        if kind in ("message_delta", "message_stop", "error"):
            return self.finish(event.newline) + event.raw
        return event.raw

    def finish(self, newline: str = "\n") -> bytes:
        return b"".join(self._flush(index, newline) for index in list(self.blocks))

    def _holding(self) -> bool:
        return any(restorer.pending for _, _, restorer in self.blocks.values())

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
