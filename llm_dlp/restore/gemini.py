"""Restore placeholders in Gemini answers: JSON bodies (one response or a streamed array) and
``alt=sse`` streams, on the public API and Code Assist (``{"response": {...}}``).

Text parts are restored as text, ``functionCall.args`` as tool arguments; thought parts pass
untouched. In a stream each candidate's text arrives in fragments with its own restorer; what it
held back is sent as one more event just before the event that finishes the candidate.

A function call carrying a placeholder the policy does not put back into tool arguments never
reaches the client: its part becomes a text part saying so. Gemini sends each function call
whole in one part, so a stream needs to hold nothing for this.
"""

from __future__ import annotations

import json
from typing import Any

from llm_dlp.jsondoc import string_leaves
from llm_dlp.splice import replace_strings
from llm_dlp.restore.sse import SseEvent, cannot_hold_placeholder, make_event
from llm_dlp.restore.stream import Rewriter, sse_or_json
from llm_dlp.restore.text import TEXT, RestoreTable, TextRestorer, edit, held_back_notice


def restore_body(body: str, table: RestoreTable) -> str:
    document = json.loads(body)
    edits: dict[tuple, str] = {}
    replaced: dict[tuple, Any] = {}
    responses = document if isinstance(document, list) else [document]
    for i, response in enumerate(responses):
        base = (i,) if isinstance(document, list) else ()
        response, base = _unwrap(response, base)
        for path, part in _parts(response, base):
            _restore_part_whole(part, path, table, edits, replaced)
    return replace_strings(body, edits, replaced) if edits or replaced else body


def _unwrap(response: Any, base: tuple) -> tuple[Any, tuple]:
    if isinstance(response, dict) and isinstance(response.get("response"), dict):
        return response["response"], base + ("response",)
    return response, base


def _parts(response: Any, base: tuple):
    candidates = response.get("candidates") if isinstance(response, dict) else None
    for c, candidate in enumerate(candidates if isinstance(candidates, list) else []):
        content = candidate.get("content") if isinstance(candidate, dict) else None
        parts = content.get("parts") if isinstance(content, dict) else None
        for p, part in enumerate(parts if isinstance(parts, list) else []):
            if isinstance(part, dict) and part.get("thought") is not True:
                yield base + ("candidates", c, "content", "parts", p), part


def _restore_part_whole(part: dict, path: tuple, table: RestoreTable, edits: dict, replaced: dict) -> None:
    if isinstance(part.get("text"), str):
        edit(edits, path + ("text",), part["text"], table.restore(part["text"], TEXT))
    call = part.get("functionCall")
    if isinstance(call, dict):
        _restore_call(call, path, table, edits, replaced)


def _restore_call(call: dict, path: tuple, table: RestoreTable, edits: dict, replaced: dict) -> None:
    kinds = table.restore_tool_call(list(string_leaves(call.get("args"), path + ("functionCall", "args"))), edits)
    if kinds:
        replaced[path] = {"text": held_back_notice(str(call.get("name", "")), kinds)}


class GeminiStream:
    """The event handler for one ``alt=sse`` answer."""

    def __init__(self, table: RestoreTable) -> None:
        self.table = table
        self.texts: dict[Any, TextRestorer] = {}
        self.wrapped = False

    def on_event(self, event: SseEvent) -> bytes:
        if cannot_hold_placeholder(event.raw) and not any(r.pending for r in self.texts.values()) \
                and b"finishReason" not in event.raw:
            return event.raw
        document = event.json()
        response, base = _unwrap(document, ())
        self.wrapped = self.wrapped or bool(base)
        candidates = response.get("candidates") if isinstance(response, dict) else None
        if not isinstance(candidates, list):
            return event.raw
        edits: dict[tuple, str] = {}
        replaced: dict[tuple, Any] = {}
        before = b""
        for c, candidate in enumerate(candidates):
            if not isinstance(candidate, dict):
                continue
            number = candidate.get("index", c)
            parts = (candidate.get("content") or {}).get("parts") if isinstance(candidate.get("content"), dict) else None
            for p, part in enumerate(parts if isinstance(parts, list) else []):
                if not isinstance(part, dict) or part.get("thought") is True:
                    continue
                path = base + ("candidates", c, "content", "parts", p)
                if isinstance(part.get("text"), str):
                    restorer = self.texts.setdefault(number, TextRestorer(self.table, TEXT))
                    edit(edits, path + ("text",), part["text"], restorer.feed(part["text"]))
                if isinstance(part.get("functionCall"), dict):
                    _restore_call(part["functionCall"], path, self.table, edits, replaced)
            if candidate.get("finishReason"):
                before += self._flush(number, event.newline)
        out = event.with_data(replace_strings(event.data, edits, replaced)) if edits or replaced else event.raw
        return before + out

    def finish(self, newline: str = "\n") -> bytes:
        return b"".join(self._flush(number, newline) for number in list(self.texts))

    def _flush(self, number: Any, newline: str) -> bytes:
        restorer = self.texts.pop(number, None)
        rest = restorer.flush() if restorer else ""
        if not rest:
            return b""
        payload: dict[str, Any] = {"candidates": [{"content": {"role": "model", "parts": [{"text": rest}]}, "index": number}]}
        return make_event(None, {"response": payload} if self.wrapped else payload, newline)


def rewriter(content_type: str, table: RestoreTable) -> Rewriter | None:
    return sse_or_json(content_type, lambda: GeminiStream(table), restore_body, table)
