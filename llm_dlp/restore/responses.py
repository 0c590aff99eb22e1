"""Restore placeholders in OpenAI Responses API answers: JSON bodies and SSE streams.

Output text is restored as text, function-call arguments as tool arguments. A stream sends
each text twice: in ``*.delta`` fragments, then whole in the ``*.done``, ``content_part.done``,
``output_item.done`` and ``response.completed`` events. Fragments go through a restorer per
(item, part) that holds back only a possible placeholder prefix, flushed as one more delta just
before that part's ``done`` event; whole texts are restored in place.

A function call carrying a placeholder the policy does not put back into tool arguments never
reaches the client: it becomes an assistant message saying so. Where that can happen, a stream
holds each function-call item's events until its ``output_item.done``, then sends them restored,
or a message item in their place.
"""

from __future__ import annotations

import json
from typing import Any

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
    replaced: dict[tuple, Any] = {}
    _restore_output(document, (), table, edits, replaced)
    return replace_strings(body, edits, replaced) if edits or replaced else body


def _restore_output(response: Any, path: tuple, table: RestoreTable, edits: dict, replaced: dict) -> None:
    output = response.get("output") if isinstance(response, dict) else None
    for i, item in enumerate(output if isinstance(output, list) else []):
        _restore_item(item, path + ("output", i), table, edits, replaced)


def _restore_item(item: Any, path: tuple, table: RestoreTable, edits: dict, replaced: dict) -> None:
    if not isinstance(item, dict):
        return
    if item.get("type") == "message":
        content = item.get("content")
        for j, part in enumerate(content if isinstance(content, list) else []):
            _restore_part(part, path + ("content", j), table, edits)
    elif item.get("type") == "function_call" and isinstance(item.get("arguments"), str):
        kinds = table.held_back(item["arguments"])
        if kinds:
            replaced[path] = _notice_item(item, kinds)
            return
        edit(edits, path + ("arguments",), item["arguments"],
             table.restore(item["arguments"], TOOL_ARGUMENTS, json_escaped))


def _notice_item(call: dict, kinds: list[str]) -> dict:
    """The assistant message that stands in for a held-back function call."""
    return {"id": str(call.get("id", "")), "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": held_back_notice(str(call.get("name", "")), kinds),
                         "annotations": []}]}


def _restore_part(part: Any, path: tuple, table: RestoreTable, edits: dict) -> None:
    if isinstance(part, dict) and part.get("type") == "output_text" and isinstance(part.get("text"), str):
        edit(edits, path + ("text",), part["text"], table.restore(part["text"], TEXT))


class ResponseStream:
    """The event handler for one ``stream: true`` Responses answer."""

    def __init__(self, table: RestoreTable) -> None:
        self.table = table
        self.parts: dict[tuple, TextRestorer] = {}
        # Where the policy keeps some values out of tool arguments: output index -> the events
        # of a function-call item, held until its output_item.done.
        self.hold_tool_calls = table.keeps_from_tool_calls
        self.held: dict[Any, list[tuple[SseEvent, dict]]] = {}

    def on_event(self, event: SseEvent) -> bytes:
        if cannot_hold_placeholder(event.raw) and not self.parts and not (
                self.hold_tool_calls and b"function_call" in event.raw):
            return event.raw  # no placeholder in it, nothing held back: the common case
        document = event.json()
        if not isinstance(document, dict):
            return event.raw
        if self.hold_tool_calls and (document.get("output_index") in self.held or _starts_function_call(document)):
            return self._hold(event, document)
        return self._restore_event(event, document)

    def _hold(self, event: SseEvent, document: dict) -> bytes:
        index = document.get("output_index")
        self.held.setdefault(index, []).append((event, document))
        if document.get("type") != "response.output_item.done":
            return b""
        events = self.held.pop(index)
        item = document.get("item") if isinstance(document.get("item"), dict) else {}
        arguments = item.get("arguments")
        if not isinstance(arguments, str):
            arguments = "".join(d["delta"] for _, d in events
                                if d.get("type") == "response.function_call_arguments.delta" and isinstance(d.get("delta"), str))
        kinds = self.table.held_back(arguments)
        if not kinds:
            return b"".join(self._restore_event(e, d) for e, d in events)
        notice = _notice_item(item, kinds)
        first = events[0][1]
        added = {"type": "response.output_item.added", "output_index": index, "item": notice | {"status": "in_progress"}}
        done = {"type": "response.output_item.done", "output_index": index, "item": notice}
        for payload, source in ((added, first), (done, document)):
            if "sequence_number" in source:
                payload["sequence_number"] = source["sequence_number"]
        return (make_event("response.output_item.added", added, events[0][0].newline)
                + make_event("response.output_item.done", done, event.newline))

    def _restore_event(self, event: SseEvent, document: dict) -> bytes:
        kind = document.get("type")
        replaced: dict[tuple, Any] = {}
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
            _restore_item(document.get("item"), ("item",), self.table, edits, replaced)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            before = self.finish(event.newline)
            _restore_output(document.get("response"), ("response",), self.table, edits, replaced)
        out = event.with_data(replace_strings(event.data, edits, replaced)) if edits or replaced else event.raw
        return before + out

    def finish(self, newline: str = "\n") -> bytes:
        # A function call whose item never finished is not sent: the stream broke off mid-call.
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


def _starts_function_call(document: dict) -> bool:
    item = document.get("item")
    return (document.get("type") == "response.output_item.added"
            and isinstance(item, dict) and item.get("type") == "function_call")


def rewriter(content_type: str, table: RestoreTable) -> Rewriter | None:
    return sse_or_json(content_type, lambda: ResponseStream(table), restore_response, table)
