"""Anthropic Messages API (``POST /v1/messages``, ``/v1/messages/count_tokens``)."""

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
    path_in_command,
    Segment,
    string_leaves,
    with_unit,
)
from llm_dlp.providers.coverage import Exemptions, MediaField
from llm_dlp.restore import anthropic as restore

FORMAT = "anthropic-messages"

# Signed by the provider: changing a byte invalidates the conversation. Exempt from scanning
# only in the model's own (assistant) turns and only when signed (``exemptions``).
SIGNED_BLOCKS = frozenset({"thinking", "redacted_thinking"})
# Fields that are identifiers, media or signatures rather than text a model reads as prose.
NON_TEXT_KEYS = frozenset({"type", "id", "tool_use_id", "signature", "cache_control", "media_type"})
# The API's own field names and enum words: fixed words, never worth a detector run.
VOCABULARY = frozenset({
    "model", "messages", "system", "role", "user", "assistant", "content", "text", "tool_use", "tool_result",
    "tool_use_id", "id", "input", "is_error", "image", "document", "source", "base64", "media_type", "data",
    "url", "cache_control", "ephemeral", "ttl", "5m", "1h", "max_tokens", "stream", "temperature", "tools",
    "tool_choice", "auto", "any", "metadata", "user_id", "thinking", "enabled", "disabled", "budget_tokens",
    "signature", "redacted_thinking", "stop_sequences", "top_p", "top_k", "citations", "title", "context",
    "server_tool_use", "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
    "context_management", "output_config", "effort", "edits", "disable_parallel_tool_use",
})

_ERROR_TYPES = {
    400: "invalid_request_error",
    403: "permission_error",
    413: "request_too_large",
    500: "api_error",
    502: "api_error",
    504: "timeout_error",
}


def matches(path: str) -> bool:
    route = path.split("?", 1)[0].rstrip("/")
    return route.endswith("/v1/messages") or route.endswith("/v1/messages/count_tokens")


def annotate(document: Any) -> ParsedRequest:
    if not isinstance(document, dict):
        raise RequestFormatError("an Anthropic Messages body must be a JSON object")
    messages = document.get("messages")
    if not isinstance(messages, list):
        raise RequestFormatError("an Anthropic Messages body needs a 'messages' array")
    segments: list[Segment] = []
    segments.extend(_system(document.get("system")))
    hints = _tool_use_paths(messages)
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RequestFormatError(f"messages[{index}] is not an object")
        role = str(message.get("role", "user"))
        segments.extend(_message_content(message.get("content"), ("messages", index, "content"), role, hints))
    return parsed_request(FORMAT, document, segments)


# Claude Code reads this code as "refused by the organization's data-loss-prevention policy":
# it shows "API Error: <status> <message>", never retries, and does not mistake a 403 for a
# failed login ("Failed to authenticate") or a 400 for unsupported betas (which it answers by
# re-sending the same body five more times with fewer betas). Measured with Claude Code 2.1.337.
DLP_ERROR_CODE = "dlp_request_denied"


def error_answer(status: int, message: str) -> ErrorAnswer:
    error: dict[str, Any] = {"type": _ERROR_TYPES.get(status, "api_error"), "message": message}
    if 400 <= status < 500:  # the proxy's refusal of this body; a retry would meet the same one
        error["details"] = {"error_code": DLP_ERROR_CODE}
    body = json.dumps({"type": "error", "error": error}).encode()
    return ErrorAnswer(status, body, {"content-type": "application/json"})


def _system(system: Any) -> Iterator[Segment]:
    if isinstance(system, str):
        yield Segment(("system",), system, "system")
    elif isinstance(system, list):
        for index, block in enumerate(system):
            yield from _block(block, ("system", index), "system", {})
    elif system is not None:
        raise RequestFormatError("'system' must be a string or an array of text blocks")


def _message_content(content: Any, path: JsonPath, role: str, hints: dict[str, str]) -> Iterator[Segment]:
    """A message's segments, each with the content unit withheld in its place (the system
    prompt has none: a finding there can only block)."""
    if isinstance(content, list):
        for index, block in enumerate(content):
            yield from with_unit(_block(block, path + (index,), role, hints), _unit(block, path + (index,)))
    else:
        yield from with_unit(_content(content, path, role, hints), ContentUnit(path, "message"))


def _unit(block: Any, path: JsonPath) -> ContentUnit | None:
    """What replaces a content block when it is withheld, keeping the conversation valid: a
    tool_result keeps its tool_use_id and is_error, a tool_use its id and name."""
    if isinstance(block, str):
        return ContentUnit(path, "message part")
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "tool_result":
        return ContentUnit(path + ("content",), "tool result")
    if kind in ("tool_use", "server_tool_use"):
        return ContentUnit(path + ("input",), "tool call arguments", field="withheld")
    if kind == "text":
        return ContentUnit(path + ("text",), "message part")
    if kind in ("document", "image"):
        keep = (("type", "text"),) + ((("cache_control", block["cache_control"]),) if "cache_control" in block else ())
        return ContentUnit(path, kind, field="text", keep=keep)
    return None  # newer block types may pair with others (server tool results): not ours to reshape


def _content(content: Any, path: JsonPath, role: str, hints: dict[str, str]) -> Iterator[Segment]:
    if isinstance(content, str):
        yield Segment(path, content, role)
    elif isinstance(content, list):
        for index, block in enumerate(content):
            yield from _block(block, path + (index,), role, hints)
    elif content is not None:
        raise RequestFormatError(f"{'.'.join(map(str, path))} must be a string or an array of blocks")


def _block(block: Any, path: JsonPath, role: str, hints: dict[str, str]) -> Iterator[Segment]:
    if isinstance(block, str):
        yield Segment(path, block, role)
        return
    if not isinstance(block, dict):
        raise RequestFormatError(f"content block at {path} is not an object")
    kind = block.get("type")
    if kind in SIGNED_BLOCKS:
        return  # not prose the adapter reshapes: the coverage walker scans it unless it is exempt
    if kind == "text":
        if isinstance(block.get("text"), str):
            yield Segment(path + ("text",), block["text"], role)
    elif kind == "image":
        yield from _media_source(block.get("source"), path + ("source",), role)
    elif kind == "document":
        yield from _document(block, path, role)
    elif kind == "tool_use" or kind == "server_tool_use":
        hint = _path_in(block.get("input"))
        for leaf_path, text in string_leaves(block.get("input"), path + ("input",)):
            yield Segment(leaf_path, text, "tool_use", hint)
    elif kind == "tool_result":
        hint = hints.get(str(block.get("tool_use_id")))
        yield from (
            Segment(s.path, s.text, "tool_result", hint)
            for s in _content(block.get("content"), path + ("content",), "tool_result", hints)
        )
    else:
        # Unknown or newer block types (search results, server tool results...): scan every
        # string in them rather than let unseen text through.
        for leaf_path, text in string_leaves(block, path, skip_keys=NON_TEXT_KEYS):
            yield Segment(leaf_path, text, role)


def _document(block: dict, path: JsonPath, role: str) -> Iterator[Segment]:
    for key in ("title", "context"):
        if isinstance(block.get(key), str):
            yield Segment(path + (key,), block[key], "document")
    source = block.get("source")
    if not isinstance(source, dict):
        return
    if source.get("type") == "text" and isinstance(source.get("data"), str):
        yield Segment(path + ("source", "data"), source["data"], "document")
    elif source.get("type") == "content":
        yield from _content(source.get("content"), path + ("source", "content"), "document", {})
    else:
        yield from _media_source(source, path + ("source",), "document")


def _media_source(source: Any, path: JsonPath, role: str) -> Iterator[Segment]:
    # Base64 images and PDFs are not text we can scan or rewrite; URLs are (they can carry tokens).
    if isinstance(source, dict) and isinstance(source.get("url"), str):
        yield Segment(path + ("url",), source["url"], role)


def _tool_use_paths(messages: list) -> dict[str, str]:
    """tool_use id -> file path named in its input, so a tool_result knows what file it holds."""
    hints: dict[str, str] = {}
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                found = _path_in(block.get("input"))
                if found:
                    hints[str(block.get("id"))] = found
    return hints


def _path_in(tool_input: Any) -> str | None:
    if isinstance(tool_input, dict):
        for key in ("file_path", "path", "filename", "notebook_path"):
            if isinstance(tool_input.get(key), str):
                return tool_input[key]
        return path_in_command(tool_input.get("command"))  # Bash: `cat -n src/app.py`
    return None


def exemptions(document: Any) -> Exemptions:
    """Thinking blocks pass unscanned only where the provider verifies them: in the model's own
    (assistant) turns, a ``thinking`` block with its ``signature`` and a ``redacted_thinking``
    block (the provider's encrypted data). Anywhere else they are scanned like any text."""
    exempt: Exemptions = {}
    messages = document.get("messages") if isinstance(document, dict) else None
    for index, message in enumerate(messages if isinstance(messages, list) else []):
        if not isinstance(message, dict) or message.get("role") != "assistant" or not isinstance(message.get("content"), list):
            continue
        for position, block in enumerate(message["content"]):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "thinking" and isinstance(block.get("signature"), str) and block["signature"]:
                exempt[("messages", index, "content", position)] = "thinking (signed)"
            elif block.get("type") == "redacted_thinking" and isinstance(block.get("data"), str):
                exempt[("messages", index, "content", position)] = "redacted_thinking (encrypted)"
    return exempt


def media(document: Any) -> list[MediaField]:
    """Base64 sources of image and document blocks, wherever blocks may sit (a tool result too)."""
    found: list[MediaField] = []
    messages = document.get("messages") if isinstance(document, dict) else None
    for index, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, dict) else None
        found.extend(_media_in(content, ("messages", index, "content")))
    return found


def _media_in(blocks: Any, path: JsonPath) -> Iterator[MediaField]:
    for position, block in enumerate(blocks if isinstance(blocks, list) else []):
        if not isinstance(block, dict):
            continue
        source = block.get("source")
        if block.get("type") in ("image", "document") and isinstance(source, dict) and source.get("type") == "base64":
            media_type = source.get("media_type")
            yield MediaField(path + (position, "source", "data"), media_type if isinstance(media_type, str) else None,
                             str(block["type"]), _unit(block, path + (position,)))
        elif block.get("type") == "tool_result":
            yield from _media_in(block.get("content"), path + (position, "content"))


def looks_like(document: Any) -> bool:
    if not isinstance(document, dict) or not isinstance(document.get("messages"), list):
        return False
    blocks = [
        block.get("type")
        for message in document["messages"] if isinstance(message, dict) and isinstance(message.get("content"), list)
        for block in message["content"] if isinstance(block, dict)
    ]
    if any(kind in ("tool_use", "tool_result", "thinking", "document") for kind in blocks):
        return True
    if any(isinstance(m, dict) and m.get("role") in ("system", "developer", "tool") for m in document["messages"]):
        return False
    return "system" in document or "max_tokens" in document


API = ApiFormat(
    name=FORMAT,
    matches=matches,
    annotate=annotate,
    error=lambda status, message, method: error_answer(status, message),
    exempt=exemptions,
    media=media,
    rewriter=restore.rewriter,
    vocabulary=VOCABULARY,
    home_of=("anthropic",),
    looks_like=looks_like,
    example_path="/v1/messages",
)


def extract(document: Any) -> ParsedRequest:
    return API.extract(document)
