"""Restore placeholders in OpenAI Responses API answers: JSON bodies and SSE streams.

Output text is restored as text, function-call arguments as tool arguments. A stream sends
each text twice: in ``*.delta`` fragments, then whole in the ``*.done``, ``content_part.done``,
``output_item.done`` and ``response.completed`` events. Fragments go through a restorer per
(item, part) that holds back only a possible placeholder prefix, flushed as one more delta just
before that part's ``done`` event; whole texts are restored in place.
"""

from __future__ import annotations

import json
from typing import Any

from llm_dlp.providers.splice import replace_strings
from llm_dlp.restore.sse import SseEvent, cannot_hold_placeholder, make_event
from llm_dlp.restore.text import TEXT, TOOL_ARGUMENTS, RestoreTable, TextRestorer, as_is, edit, json_escaped

# delta event -> (its done event, the delta's field, the done event's field, place, escape)
_STREAMS = {
    "response.output_text.delta": ("response.output_text.done", "delta", "text", TEXT, as_is),
    "response.function_call_arguments.delta": (
        "response.function_call_arguments.done", "delta", "arguments", TOOL_ARGUMENTS, json_escaped),
}
_DONE = {done: (delta, field, place, escape) for delta, (done, _, field, place, escape) in _STREAMS.items()}


def restore_response(body: str, table: RestoreTable) -> str:
    """A non-streamed ``response`` object with its output restored."""
    document = json.loads(body)
    edits: dict[tuple, str] = {}
    _restore_output(document, (), table, edits)
    return replace_strings(body, edits) if edits else body


def _restore_output(response: Any, path: tuple, table: RestoreTable, edits: dict) -> None:
    output = response.get("output") if isinstance(response, dict) else None
    for i, item in enumerate(output if isinstance(output, list) else []):
        _restore_item(item, path + ("output", i), table, edits)


def _restore_item(item: Any, path: tuple, table: RestoreTable, edits: dict) -> None:
    if not isinstance(item, dict):
        return
    if item.get("type") == "message":
        content = item.get("content")
        for j, part in enumerate(content if isinstance(content, list) else []):
            _restore_part(part, path + ("content", j), table, edits)
    elif item.get("type") == "function_call" and isinstance(item.get("arguments"), str):
        edit(edits, path + ("arguments",), item["arguments"],
             table.restore(item["arguments"], TOOL_ARGUMENTS, json_escaped))


def _restore_part(part: Any, path: tuple, table: RestoreTable, edits: dict) -> None:
    if isinstance(part, dict) and part.get("type") == "output_text" and isinstance(part.get("text"), str):
        edit(edits, path + ("text",), part["text"], table.restore(part["text"], TEXT))


class ResponseStream:
    """The event handler for one ``stream: true`` Responses answer."""

    def __init__(self, table: RestoreTable) -> None:
        self.table = table
        self.parts: dict[tuple, TextRestorer] = {}

    def on_event(self, event: SseEvent) -> bytes:
        if cannot_hold_placeholder(event.raw) and not self.parts:
            return event.raw  # no placeholder in it, nothing held back: the common case
        document = event.json()
        kind = document.get("type") if isinstance(document, dict) else None
        edits: dict[tuple, str] = {}
        before = b""
        if kind in _STREAMS:
            _, field, _, place, escape = _STREAMS[kind]
            fragment = document.get(field)
            if isinstance(fragment, str):
                key = (kind, document.get("item_id"), document.get("output_index"), document.get("content_index"))
                restorer = self.parts.get(key)
                if restorer is None:
                    restorer = self.parts[key] = TextRestorer(self.table, place, escape)
                edit(edits, (field,), fragment, restorer.feed(fragment))
        elif kind in _DONE:
            delta_kind, field, place, escape = _DONE[kind]
            key = (delta_kind, document.get("item_id"), document.get("output_index"), document.get("content_index"))
            before = self._flush(key, document, event.newline)
            if isinstance(document.get(field), str):
                edit(edits, (field,), document[field], self.table.restore(document[field], place, escape))
        elif kind == "response.content_part.done":
            _restore_part(document.get("part"), ("part",), self.table, edits)
        elif kind == "response.output_item.done":
            _restore_item(document.get("item"), ("item",), self.table, edits)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            before = self.finish(event.newline)
            _restore_output(document.get("response"), ("response",), self.table, edits)
        out = event.with_data(replace_strings(event.data, edits)) if edits else event.raw
        return before + out

    def finish(self, newline: str = "\n") -> bytes:
        return b"".join(self._flush(key, {}, newline) for key in list(self.parts))

    def _flush(self, key: tuple, done: dict, newline: str) -> bytes:
        restorer = self.parts.pop(key, None)
        rest = restorer.flush() if restorer else ""
        if not rest:
            return b""
        delta_kind, item_id, output_index, content_index = key
        payload: dict[str, Any] = {"type": delta_kind, "item_id": item_id, "output_index": output_index}
        if content_index is not None:
            payload["content_index"] = content_index
        payload["delta"] = rest
        if "sequence_number" in done:
            payload["sequence_number"] = done["sequence_number"]
        return make_event(delta_kind, payload, newline)
