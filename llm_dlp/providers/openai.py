"""OpenAI Chat Completions (``POST .../chat/completions``) and the providers that copy it."""

from __future__ import annotations

import json
from typing import Any, Iterator

from llm_dlp.providers.base import (
    ErrorAnswer,
    ContentUnit,
    JsonPath,
    ParsedRequest,
    RequestFormatError,
    parsed_request,
    Segment,
    json_string_leaves,
    path_in_command,
    string_leaves,
    tool_arguments_unit,
    with_unit,
)

# Instructions to the model: a finding there cannot be withheld, only blocked.
_INSTRUCTION_ROLES = frozenset({"system", "developer"})

FORMAT = "openai-chat"

_ERROR_TYPES = {
    400: "invalid_request_error",
    403: "permission_error",
    413: "request_too_large",
    500: "server_error",
    504: "timeout",
}


def matches(path: str) -> bool:
    return path.split("?", 1)[0].rstrip("/").endswith("/chat/completions")


def extract(document: Any) -> ParsedRequest:
    if not isinstance(document, dict):
        raise RequestFormatError("a Chat Completions body must be a JSON object")
    messages = document.get("messages")
    if not isinstance(messages, list):
        raise RequestFormatError("a Chat Completions body needs a 'messages' array")
    hints = _tool_call_paths(messages)
    segments: list[Segment] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RequestFormatError(f"messages[{index}] is not an object")
        segments.extend(_message(message, ("messages", index), hints))
    return parsed_request(FORMAT, document, segments)


def error_answer(status: int, message: str, code: str | None = None) -> ErrorAnswer:
    """OpenAI's error object. The SDKs raise it by status (403: PermissionDeniedError) and do
    not retry a 4xx other than 408, 409 and 429."""
    payload = {
        "error": {
            "message": message,
            "type": _ERROR_TYPES.get(status, "server_error"),
            "param": None,
            "code": code or ("llm_dlp_blocked" if status == 403 else "llm_dlp_error"),
        }
    }
    return ErrorAnswer(status, json.dumps(payload).encode(), {"content-type": "application/json"})


def _message(message: dict, path: JsonPath, hints: dict[str, str]) -> Iterator[Segment]:
    role = str(message.get("role", "user"))
    if role == "tool":
        role_label, hint = "tool", hints.get(str(message.get("tool_call_id")))
    else:
        role_label, hint = role, None
    yield from _message_content(message.get("content"), path + ("content",), role, role_label, hint)
    if isinstance(message.get("refusal"), str):
        yield Segment(path + ("refusal",), message["refusal"], role, unit=ContentUnit(path + ("refusal",), "message part"))
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            arguments = function["arguments"]
            call_path = path + ("tool_calls", index, "function", "arguments")
            yield from json_string_leaves(arguments, call_path, "tool_call", path_in_args(arguments), tool_arguments_unit(call_path))
    legacy = message.get("function_call")
    if isinstance(legacy, dict) and isinstance(legacy.get("arguments"), str):
        legacy_path = path + ("function_call", "arguments")
        yield from json_string_leaves(legacy["arguments"], legacy_path, "tool_call", unit=tool_arguments_unit(legacy_path))


def _message_content(content: Any, path: JsonPath, role: str, label: str, hint: str | None) -> Iterator[Segment]:
    """A message's segments with the unit withheld in their place: a tool message's whole
    content (it keeps its tool_call_id), else each content part; none for instructions."""
    if role in _INSTRUCTION_ROLES:
        yield from _content(content, path, label, hint)
    elif role == "tool" or not isinstance(content, list):
        yield from with_unit(_content(content, path, label, hint), ContentUnit(path, "tool result" if role == "tool" else "message"))
    else:
        for index, part in enumerate(content):
            yield from with_unit(_part(part, path + (index,), label, hint), _part_unit(part, path + (index,)))


def _part_unit(part: Any, path: JsonPath) -> ContentUnit:
    if isinstance(part, dict) and part.get("type") == "text":
        return ContentUnit(path + ("text",), "message part")
    if isinstance(part, dict):
        return ContentUnit(path, str(part.get("type", "message part")), field="text", keep=(("type", "text"),))
    return ContentUnit(path, "message part")


def _content(content: Any, path: JsonPath, role: str, hint: str | None) -> Iterator[Segment]:
    if isinstance(content, str):
        yield Segment(path, content, role, hint)
    elif isinstance(content, list):
        for index, part in enumerate(content):
            yield from _part(part, path + (index,), role, hint)
    elif content is not None:
        raise RequestFormatError(f"message content at {path} must be a string or an array of parts")


def _part(part: Any, path: JsonPath, role: str, hint: str | None) -> Iterator[Segment]:
    if isinstance(part, str):
        yield Segment(path, part, role, hint)
        return
    if not isinstance(part, dict):
        raise RequestFormatError(f"content part at {path} is not an object")
    kind = part.get("type")
    if kind == "text" and isinstance(part.get("text"), str):
        yield Segment(path + ("text",), part["text"], role, hint)
    elif kind == "image_url":
        url = (part.get("image_url") or {}).get("url")
        if isinstance(url, str) and not url.startswith("data:"):
            yield Segment(path + ("image_url", "url"), url, role)
    elif kind in ("input_audio", "file"):
        file_part = part.get("file") or {}
        if isinstance(file_part.get("filename"), str):
            yield Segment(path + ("file", "filename"), file_part["filename"], role)
    else:
        for leaf_path, text in string_leaves(part, path, skip_keys=frozenset({"type"})):
            yield Segment(leaf_path, text, role, hint)


def _tool_call_paths(messages: list) -> dict[str, str]:
    hints: dict[str, str] = {}
    for message in messages:
        for call in (message.get("tool_calls") or []) if isinstance(message, dict) else []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                found = path_in_args(function["arguments"])
                if found:
                    hints[str(call.get("id"))] = found
    return hints


def path_in_args(arguments: str) -> str | None:
    try:
        parsed = json.loads(arguments)
    except (json.JSONDecodeError, RecursionError):
        return None
    if isinstance(parsed, dict):
        for key in ("file_path", "path", "filename"):
            if isinstance(parsed.get(key), str):
                return parsed[key]
        return path_in_command(parsed.get("command"))
    return None
