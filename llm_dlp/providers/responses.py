"""OpenAI Responses API (``POST .../responses``): Codex CLI, the Agents SDK, newer OpenAI clients.

Prompt text lives in ``instructions`` and ``input`` (a string, or items: messages with
``input_text``/``output_text`` parts, ``function_call`` arguments — JSON in a string —,
``function_call_output``, custom and shell tool calls...). The ``encrypted_content`` of
``reasoning`` and ``compaction`` items is the provider's encrypted state: it is never scanned or
rewritten; the rest of those items (a reasoning summary) is scanned like any text.
"""

from __future__ import annotations

from typing import Any, Iterator

from llm_dlp.providers.api import ApiFormat
from llm_dlp.providers.base import (
    ErrorAnswer,
    ContentUnit,
    JsonPath,
    ParsedRequest,
    RequestFormatError,
    Segment,
    json_string_leaves,
    parsed_request,
    path_in_command,
    string_leaves,
    tool_arguments_unit,
)
from llm_dlp.providers import openai
from llm_dlp.providers.coverage import Exemptions, MediaField
from llm_dlp.providers.openai import path_in_args
from llm_dlp.restore import responses as restore

FORMAT = "openai-responses"

OPAQUE_ITEMS = frozenset({"reasoning", "compaction"})
_STRING_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output", "local_shell_call_output"})
NON_TEXT_KEYS = frozenset({"type", "id", "call_id", "status", "role", "encrypted_content", "signature"})


def matches(path: str) -> bool:
    return path.split("?", 1)[0].rstrip("/").endswith("/responses")


# The proxy's refusals of a request body: a policy block, a body too large, unreadable or in an
# unknown encoding.
REFUSALS = frozenset({400, 403, 413, 415})


def error_answer(status: int, message: str, method: str = "POST") -> ErrorAnswer:
    """A refusal the Codex CLI shows and does not retry: a 400 whose code is ``invalid_prompt``.
    Codex retries every other 4xx but 429 five times ("Reconnecting... 5/5", one audit line per
    attempt) whatever ``x-should-retry`` says, and shows a 400 without that code as raw JSON.
    The SDKs raise BadRequestError for it and do not retry. Measured with Codex 0.171.0.

    A GET here is Codex opening its WebSocket transport, which the proxy refuses: 426 makes it
    fall back to HTTPS at once, where a 403 costs five reconnects first and a 400 ends the turn.
    """
    if method.upper() == "GET":
        return openai.error_answer(426 if 400 <= status < 500 else status, message)
    if status in REFUSALS:
        return openai.error_answer(400, message, code="invalid_prompt")
    return openai.error_answer(status, message)


def annotate(document: Any) -> ParsedRequest:
    if not isinstance(document, dict):
        raise RequestFormatError("a Responses body must be a JSON object")
    segments: list[Segment] = []
    if isinstance(document.get("instructions"), str):
        segments.append(Segment(("instructions",), document["instructions"], "system"))
    items = document.get("input")
    if isinstance(items, str):
        segments.append(Segment(("input",), items, "user", unit=ContentUnit(("input",), "message")))
    elif isinstance(items, list):
        hints = _call_paths(items)
        for index, item in enumerate(items):
            segments.extend(_item(item, ("input", index), hints))
    elif items is not None:
        raise RequestFormatError("'input' must be a string or an array of items")
    return parsed_request(FORMAT, document, segments)


def _item(item: Any, path: JsonPath, hints: dict[str, str]) -> Iterator[Segment]:
    if not isinstance(item, dict):
        raise RequestFormatError(f"input item at {path} is not an object")
    kind = item.get("type", "message")
    if kind in OPAQUE_ITEMS:
        return  # the walker scans their summaries; their encrypted_content is exempt
    if kind == "message":
        role = str(item.get("role", "user"))
        content = item.get("content")
        # Instructions cannot be withheld (only blocked); a user's or assistant's part can.
        instructions = role in ("system", "developer")
        if isinstance(content, str):
            unit = None if instructions else ContentUnit(path + ("content",), "message")
            yield Segment(path + ("content",), content, role, unit=unit)
        elif isinstance(content, list):
            for index, part in enumerate(content):
                here = path + ("content", index)
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    unit = None if instructions else ContentUnit(here + ("text",), "message part")
                    yield Segment(here + ("text",), part["text"], role, unit=unit)
                elif isinstance(part, dict) and isinstance(part.get("filename"), str):
                    text_type = "output_text" if role == "assistant" else "input_text"
                    unit = None if instructions else ContentUnit(here, "file", field="text", keep=(("type", text_type),))
                    yield Segment(here + ("filename",), part["filename"], role, unit=unit)
    elif kind == "function_call" and isinstance(item.get("arguments"), str):
        arguments = item["arguments"]
        unit = tool_arguments_unit(path + ("arguments",))
        yield from json_string_leaves(arguments, path + ("arguments",), "tool_call", path_in_args(arguments), unit)
    elif kind.endswith("_output"):
        hint = hints.get(str(item.get("call_id")))
        # The output becomes the notice where a string output is valid; call_id and type stay,
        # so the call it answers still pairs. Other outputs (a computer call's screenshot) block.
        unit = ContentUnit(path + ("output",), "tool result") if kind in _STRING_OUTPUTS else None
        for leaf_path, text in string_leaves(item.get("output"), path + ("output",), skip_keys=NON_TEXT_KEYS):
            yield Segment(leaf_path, text, "tool_result", hint, unit)
    else:
        # custom_tool_call input, shell and apply_patch calls, MCP items...: every string in them.
        for leaf_path, text in string_leaves(item, path, skip_keys=NON_TEXT_KEYS):
            yield Segment(leaf_path, text, "tool_call")


def _call_paths(items: list) -> dict[str, str]:
    hints: dict[str, str] = {}
    for item in items:
        found = None
        if isinstance(item, dict) and item.get("type") == "function_call" and isinstance(item.get("arguments"), str):
            found = path_in_args(item["arguments"])
        elif isinstance(item, dict) and item.get("type") == "local_shell_call" and isinstance(item.get("action"), dict):
            found = path_in_command(item["action"].get("command"))  # Codex: `sed -n '1,200p' src/app.py`
        if found:
            hints[str(item.get("call_id"))] = found
    return hints


VOCABULARY = frozenset({
    "model", "input", "instructions", "message", "role", "user", "assistant", "system", "developer", "content",
    "input_text", "output_text", "input_image", "input_file", "image_url", "file_id", "file_data", "filename",
    "detail", "auto", "low", "high", "text", "type", "id", "call_id", "status", "completed", "in_progress",
    "incomplete", "function_call", "function_call_output", "arguments", "name", "output", "reasoning",
    "summary", "summary_text", "encrypted_content", "effort", "tools", "tool_choice", "parallel_tool_calls",
    "store", "stream", "include", "reasoning.encrypted_content", "prompt_cache_key", "previous_response_id",
    "custom_tool_call", "custom_tool_call_output", "local_shell_call", "local_shell_call_output", "action",
    "exec", "command", "prompt", "variables", "version", "metadata", "temperature", "top_p", "max_output_tokens",
    "truncation", "disabled", "service_tier", "verbosity", "format", "compaction", "annotations", "logprobs",
    "client_metadata", "minimal", "medium", "none", "required", "web_search", "freeform", "grammar", "lark",
    "syntax", "definition",
})


def exemptions(document: Any) -> Exemptions:
    """The provider's encrypted reasoning state (``encrypted_content`` of reasoning and compaction
    items: the model's own output, which the provider decrypts and checks)."""
    exempt: Exemptions = {}
    items = document.get("input") if isinstance(document, dict) else None
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict) and item.get("type") in OPAQUE_ITEMS and isinstance(item.get("encrypted_content"), str):
            exempt[("input", index, "encrypted_content")] = f"{item['type']}.encrypted_content"
    return exempt


def media(document: Any) -> list[MediaField]:
    """``input_file.file_data`` (base64, or a data URL) in message parts."""
    found: list[MediaField] = []
    items = document.get("input") if isinstance(document, dict) else None
    for index, item in enumerate(items if isinstance(items, list) else []):
        content = item.get("content") if isinstance(item, dict) else None
        for position, part in enumerate(content if isinstance(content, list) else []):
            if isinstance(part, dict) and part.get("type") == "input_file" and isinstance(part.get("file_data"), str):
                here = ("input", index, "content", position)
                # as ``_item`` withholds a file part; instructions can only be blocked
                unit = None if item.get("role") in ("system", "developer") else ContentUnit(here, "file", field="text", keep=(("type", "input_text"),))
                found.append(MediaField(here + ("file_data",), None, "file", unit))
    return found


def looks_like(document: Any) -> bool:
    return isinstance(document, dict) and ("input" in document or "instructions" in document) and "messages" not in document


API = ApiFormat(
    name=FORMAT,
    matches=matches,
    annotate=annotate,
    error=error_answer,
    exempt=exemptions,
    media=media,
    rewriter=restore.rewriter,
    vocabulary=VOCABULARY,
    looks_like=looks_like,
    example_path="/v1/responses",
)


def extract(document: Any) -> ParsedRequest:
    return API.extract(document)
