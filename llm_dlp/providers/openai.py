"""OpenAI Chat Completions (``POST .../chat/completions``) and the providers that copy it."""

from __future__ import annotations

import json
from typing import Any, Iterator

from llm_dlp.providers.api import ApiFormat
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
from llm_dlp.providers.coverage import MediaField
from llm_dlp.restore import openai as restore

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


def annotate(document: Any) -> ParsedRequest:
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


def _media_unit(message: dict, path: JsonPath) -> ContentUnit | None:
    """The unit a file part's decoded text is withheld with, as ``_message_content`` gives it."""
    role = message.get("role")
    if role in _INSTRUCTION_ROLES:
        return None
    if role == "tool":
        return ContentUnit(path[:-1], "tool result")
    return _part_unit(message["content"][path[-1]], path)


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
    elif kind in ("image_url", "input_audio", "file"):
        return  # URLs, file names and file ids are scanned by the coverage walker; media decoded there
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


VOCABULARY = frozenset({
    "model", "messages", "role", "system", "developer", "user", "assistant", "tool", "function", "content",
    "text", "image_url", "url", "detail", "auto", "low", "high", "input_audio", "data", "format", "wav", "mp3",
    "file", "file_data", "file_id", "filename", "tool_calls", "id", "type", "arguments", "name", "tool_call_id",
    "refusal", "stream", "stream_options", "include_usage", "temperature", "max_tokens", "max_completion_tokens",
    "tools", "tool_choice", "none", "required", "parallel_tool_calls", "response_format", "json_object",
    "json_schema", "schema", "strict", "prediction", "metadata", "store", "reasoning_effort", "minimal",
    "medium", "seed", "stop", "top_p", "n", "logprobs", "top_logprobs", "presence_penalty", "frequency_penalty",
    "logit_bias", "service_tier", "modalities", "audio", "voice", "function_call", "prompt_cache_key",
    "safety_identifier", "reasoning_content", "verbosity", "web_search_options",
})


def media(document: Any) -> list[MediaField]:
    """Base64 audio (``input_audio.data``) and files (``file.file_data``, a data URL or bare
    base64) in user message parts; ``image_url`` data URLs are found by their ``data:`` prefix."""
    found: list[MediaField] = []
    messages = document.get("messages") if isinstance(document, dict) else None
    for index, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, dict) else None
        for position, part in enumerate(content if isinstance(content, list) else []):
            here = ("messages", index, "content", position)
            if not isinstance(part, dict):
                continue
            audio, file = part.get("input_audio"), part.get("file")
            if isinstance(audio, dict) and isinstance(audio.get("data"), str):
                found.append(MediaField(here + ("input_audio", "data"), f"audio/{audio.get('format', 'wav')}", "audio"))
            if isinstance(file, dict) and isinstance(file.get("file_data"), str):
                found.append(MediaField(here + ("file", "file_data"), None, "file", _media_unit(message, here)))
    return found


def looks_like(document: Any) -> bool:
    return isinstance(document, dict) and isinstance(document.get("messages"), list)


API = ApiFormat(
    name=FORMAT,
    matches=matches,
    annotate=annotate,
    error=lambda status, message, method: error_answer(status, message),
    media=media,
    rewriter=restore.rewriter,
    vocabulary=VOCABULARY,
    looks_like=looks_like,
    example_path="/v1/chat/completions",
)


def extract(document: Any) -> ParsedRequest:
    return API.extract(document)
