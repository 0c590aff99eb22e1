"""Restore placeholders in OpenAI Chat Completions answers: JSON bodies and SSE streams.

``content`` is restored as text, ``tool_calls[].function.arguments`` (a JSON document in a
string, streamed in fragments) as tool arguments. In a stream each choice's content and each
of its tool calls has its own restorer; what they held back goes out with the chunk that
finishes the choice, or in a chunk of its own just before it, or before ``[DONE]``.

A tool call carrying a placeholder the policy does not put back into tool arguments never
reaches the client: it becomes a content notice, and a choice left without a tool call finishes
with ``stop``. Where that can happen, a stream holds each choice's tool calls until the choice
finishes, then sends each kept call whole in one chunk.
"""

from __future__ import annotations

import json
import re
from typing import Any

from llm_dlp.splice import replace_strings
from llm_dlp.restore.sse import SseEvent, cannot_hold_placeholder, make_event, parse_event
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


def restore_completion(body: str, table: RestoreTable) -> str:
    """A non-streamed ``chat.completion`` with its content and tool-call arguments restored."""
    document = json.loads(body)
    edits: dict[tuple, str] = {}
    replaced: dict[tuple, Any] = {}
    choices = document.get("choices") if isinstance(document, dict) else None
    for k, choice in enumerate(choices if isinstance(choices, list) else []):
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            continue
        calls = message.get("tool_calls") if isinstance(message.get("tool_calls"), list) else []
        notices = [held_back_notice(_name(call), kinds) for call in calls if (kinds := table.held_back(_arguments(call)))]
        if notices:
            replaced[("choices", k, "message")] = _without_held_back(message, table, notices)
            if not replaced[("choices", k, "message")].get("tool_calls") and choice.get("finish_reason") == "tool_calls":
                edits[("choices", k, "finish_reason")] = "stop"  # no tool call is left for the client to run
            continue
        content = message.get("content")
        if isinstance(content, str):
            edit(edits, ("choices", k, "message", "content"), content, table.restore(content, TEXT))
        for j, call in enumerate(calls):
            arguments = (call.get("function") or {}).get("arguments") if isinstance(call, dict) else None
            if isinstance(arguments, str):
                path = ("choices", k, "message", "tool_calls", j, "function", "arguments")
                edit(edits, path, arguments, table.restore(arguments, TOOL_ARGUMENTS, json_escaped))
    return replace_strings(body, edits, replaced) if edits or replaced else body


def _without_held_back(message: dict, table: RestoreTable, notices: list[str]) -> dict:
    """The message with its held-back tool calls dropped, its kept ones and text restored, and
    a notice per dropped call appended to its content."""
    kept = []
    for call in message["tool_calls"]:
        if table.held_back(_arguments(call)):
            continue
        if isinstance(call, dict) and isinstance(call.get("function"), dict):
            restored = table.restore(_arguments(call), TOOL_ARGUMENTS, json_escaped)
            call = call | {"function": call["function"] | {"arguments": restored}}
        kept.append(call)
    content = message.get("content")
    text = table.restore(content, TEXT) if isinstance(content, str) and content else ""
    rebuilt = message | {"content": "\n\n".join([text, *notices] if text else notices)}
    if kept:
        rebuilt["tool_calls"] = kept
    else:
        rebuilt.pop("tool_calls", None)
    return rebuilt


def _arguments(call: Any) -> str:
    function = call.get("function") if isinstance(call, dict) else None
    arguments = function.get("arguments") if isinstance(function, dict) else None
    return arguments if isinstance(arguments, str) else ""


def _name(call: Any) -> str:
    function = call.get("function") if isinstance(call, dict) else None
    return str(function.get("name", "")) if isinstance(function, dict) else ""


class ChatStream:
    """The event handler for one ``stream: true`` answer."""

    def __init__(self, table: RestoreTable) -> None:
        self.table = table
        # ("content", choice) or ("tool", choice, call index) -> restorer
        self.parts: dict[tuple, TextRestorer] = {}
        self.envelope: dict[str, Any] = {"object": "chat.completion.chunk"}
        # Where the policy keeps some values out of tool arguments: (choice, call index) -> the
        # call's id, name and arguments, held until the choice finishes (see _release).
        self.hold_tool_calls = table.keeps_from_tool_calls
        self.calls: dict[tuple, dict[str, Any]] = {}
        self.with_content: set[Any] = set()  # choices that sent text: a notice starts a new paragraph

    def on_event(self, event: SseEvent) -> bytes:
        if self._unfinished_delta(event.raw):
            return event.raw  # the common case, decided without parsing the JSON
        if event.data is not None and event.data.strip() == "[DONE]":
            return self.finish(event.newline) + event.raw
        document = event.json()
        if not isinstance(document, dict) or not isinstance(document.get("choices"), list):
            return event.raw
        self.envelope = {key: document[key] for key in ("id", "object", "created", "model", "system_fingerprint") if key in document}
        if self.hold_tool_calls and self._take_tool_calls(document["choices"]):
            event = parse_event(event.with_data(json.dumps(document, ensure_ascii=False, separators=(",", ":"))))
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
                released, calls_kept = self._release(number, event.newline)
                before += released
                if not calls_kept and choice.get("finish_reason") == "tool_calls":
                    edits[("choices", k, "finish_reason")] = "stop"  # no tool call is left for the client to run
        out = event.with_data(replace_strings(event.data, edits)) if edits else event.raw
        return before + out

    def finish(self, newline: str = "\n") -> bytes:
        numbers = sorted({key[1] for key in self.parts}, key=str)
        out = b"".join(self._flush(number, exclude=set(), newline=newline) for number in numbers)
        return out + b"".join(self._release(number, newline)[0] for number in sorted({key[0] for key in self.calls}, key=str))

    def _unfinished_delta(self, raw: bytes) -> bool:
        """No placeholder can be in it or be completed by it, it finishes no choice, and it
        carries no tool call we have to hold."""
        return (
            cannot_hold_placeholder(raw)
            and raw.count(b'"finish_reason"') == len(_NO_FINISH.findall(raw)) == 1
            and not any(restorer.pending for restorer in self.parts.values())
            and not (self.hold_tool_calls and b'"tool_calls"' in raw)
        )

    def _take_tool_calls(self, choices: list) -> bool:
        """Move the tool-call fragments out of these chunk choices into ``self.calls``."""
        taken = False
        for k, choice in enumerate(choices):
            delta = choice.get("delta") if isinstance(choice, dict) else None
            calls = delta.pop("tool_calls", None) if isinstance(delta, dict) else None
            if calls is None:
                continue
            taken = True
            for j, call in enumerate(calls if isinstance(calls, list) else []):
                if not isinstance(call, dict):
                    continue
                held = self.calls.setdefault((choice.get("index", k), call.get("index", j)),
                                             {"id": None, "type": "function", "name": "", "arguments": ""})
                held["id"] = call.get("id") or held["id"]
                held["type"] = call.get("type") or held["type"]
                function = call.get("function") if isinstance(call.get("function"), dict) else {}
                held["name"] += function.get("name") or ""
                held["arguments"] += function.get("arguments") or ""
        return taken

    def _release(self, number: Any, newline: str) -> tuple[bytes, bool]:
        """The held tool calls of a finishing choice, each whole in one chunk, or a notice in its
        place; and whether any call was kept (or none was held)."""
        out, kept = b"", 0
        keys = sorted((key for key in self.calls if key[0] == number), key=lambda key: str(key[1]))
        for key in keys:
            call = self.calls.pop(key)
            kinds = self.table.held_back(call["arguments"])
            if kinds:
                notice = held_back_notice(call["name"], kinds)
                delta: dict[str, Any] = {"content": ("\n\n" if number in self.with_content else "") + notice}
                self.with_content.add(number)
            else:
                arguments = self.table.restore(call["arguments"], TOOL_ARGUMENTS, json_escaped)
                delta = {"tool_calls": [{"index": kept, "id": call["id"], "type": call["type"],
                                         "function": {"name": call["name"], "arguments": arguments}}]}
                kept += 1
            out += make_event(None, self.envelope | {"choices": [{"index": number, "delta": delta, "finish_reason": None}]}, newline)
        return out, kept > 0 or not keys

    def _restore_delta(self, delta: Any, path: tuple, number: Any, finishing: bool, edits: dict) -> set[tuple]:
        seen: set[tuple] = set()
        if not isinstance(delta, dict):
            return seen
        content = delta.get("content")
        if isinstance(content, str):
            key = ("content", number)
            seen.add(key)
            if content:
                self.with_content.add(number)
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


def rewriter(content_type: str, table: RestoreTable) -> Rewriter | None:
    return sse_or_json(content_type, lambda: ChatStream(table), restore_completion, table)
