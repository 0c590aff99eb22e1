"""Restore placeholders in OpenAI Chat Completions answers: JSON bodies and SSE streams.

``content`` is restored as text, ``tool_calls[].function.arguments`` (a JSON document in a
string, streamed in fragments) as tool arguments. In a stream each choice's content and each
of its tool calls has its own restorer; what they held back goes out with the chunk that
finishes the choice, or in a chunk of its own just before it, or before ``[DONE]``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from llm_dlp.providers.splice import replace_strings
from llm_dlp.restore.sse import SseEvent, cannot_hold_placeholder, make_event
from llm_dlp.restore.text import TEXT, TOOL_ARGUMENTS, RestoreTable, TextRestorer, as_is, edit, json_escaped


def restore_completion(body: str, table: RestoreTable) -> str:
    """A non-streamed ``chat.completion`` with its content and tool-call arguments restored."""
    document = json.loads(body)
    edits: dict[tuple, str] = {}
    choices = document.get("choices") if isinstance(document, dict) else None
    for k, choice in enumerate(choices if isinstance(choices, list) else []):
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            edit(edits, ("choices", k, "message", "content"), content, table.restore(content, TEXT))
        for j, call in enumerate(message.get("tool_calls") or []):
            arguments = (call.get("function") or {}).get("arguments") if isinstance(call, dict) else None
            if isinstance(arguments, str):
                path = ("choices", k, "message", "tool_calls", j, "function", "arguments")
                edit(edits, path, arguments, table.restore(arguments, TOOL_ARGUMENTS, json_escaped))
    return replace_strings(body, edits) if edits else body


class ChatStream:
    """The event handler for one ``stream: true`` answer."""

    def __init__(self, table: RestoreTable) -> None:
        self.table = table
        # ("content", choice) or ("tool", choice, call index) -> restorer
        self.parts: dict[tuple, TextRestorer] = {}
        self.envelope: dict[str, Any] = {"object": "chat.completion.chunk"}

    def on_event(self, event: SseEvent) -> bytes:
        if self._unfinished_delta(event.raw):
            return event.raw  # the common case, decided without parsing the JSON
        if event.data is not None and event.data.strip() == "[DONE]":
            return self.finish(event.newline) + event.raw
        document = event.json()
        if not isinstance(document, dict) or not isinstance(document.get("choices"), list):
            return event.raw
        self.envelope = {key: document[key] for key in ("id", "object", "created", "model", "system_fingerprint") if key in document}
        edits: dict[tuple, str] = {}
        before = b""
        for k, choice in enumerate(document["choices"]):
            if not isinstance(choice, dict):
                continue
            number = choice.get("index", k)
            finishing = choice.get("finish_reason") is not None
            seen = self._restore_delta(choice.get("delta"), ("choices", k, "delta"), number, finishing, edits)
            if finishing:
                # Held-back text of parts this chunk did not carry: a chunk of its own, first.
                before += self._flush(number, exclude=seen, newline=event.newline)
        out = event.with_data(replace_strings(event.data, edits)) if edits else event.raw
        return before + out

    def finish(self, newline: str = "\n") -> bytes:
        numbers = sorted({key[1] for key in self.parts}, key=str)
        return b"".join(self._flush(number, exclude=set(), newline=newline) for number in numbers)

    def _unfinished_delta(self, raw: bytes) -> bool:
        """No placeholder can be in it or be completed by it, and it finishes no choice."""
        return (
            cannot_hold_placeholder(raw)
            and raw.count(b'"finish_reason"') == len(_NO_FINISH.findall(raw)) == 1
            and not any(restorer.pending for restorer in self.parts.values())
        )

    def _restore_delta(self, delta: Any, path: tuple, number: Any, finishing: bool, edits: dict) -> set[tuple]:
        seen: set[tuple] = set()
        if not isinstance(delta, dict):
            return seen
        content = delta.get("content")
        if isinstance(content, str):
            key = ("content", number)
            seen.add(key)
            self._feed(key, TEXT, content, path + ("content",), finishing, edits)
        calls = delta.get("tool_calls")
        for j, call in enumerate(calls if isinstance(calls, list) else []):
            arguments = (call.get("function") or {}).get("arguments") if isinstance(call, dict) else None
            if isinstance(arguments, str):
                key = ("tool", number, call.get("index", j))
                seen.add(key)
                self._feed(key, TOOL_ARGUMENTS, arguments, path + ("tool_calls", j, "function", "arguments"), finishing, edits)
        return seen

    def _feed(self, key: tuple, place: str, fragment: str, path: tuple, finishing: bool, edits: dict) -> None:
        restorer = self.parts.get(key)
        if restorer is None:
            escape = json_escaped if place == TOOL_ARGUMENTS else as_is
            restorer = self.parts[key] = TextRestorer(self.table, place, escape)
        restored = restorer.feed(fragment)
        if finishing:
            restored += restorer.flush()
            del self.parts[key]
        edit(edits, path, fragment, restored)

    def _flush(self, number: Any, exclude: set[tuple], newline: str) -> bytes:
        out = b""
        for key in [key for key in self.parts if key[1] == number and key not in exclude]:
            rest = self.parts.pop(key).flush()
            if not rest:
                continue
            if key[0] == "content":
                delta: dict[str, Any] = {"content": rest}
            else:
                delta = {"tool_calls": [{"index": key[2], "function": {"arguments": rest}}]}
            payload = self.envelope | {"choices": [{"index": number, "delta": delta, "finish_reason": None}]}
            out += make_event(None, payload, newline)
        return out


_NO_FINISH = re.compile(rb'"finish_reason":\s*null')
