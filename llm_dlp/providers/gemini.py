"""Google Gemini ``generateContent`` / ``streamGenerateContent`` / ``countTokens``, on the public
API and on Code Assist (Gemini CLI with a Google login), which wraps the body in ``request``.

Prompt text: ``systemInstruction`` and every ``contents[].parts[]`` text, function-call
arguments, function responses and executable code. Thought parts (with their signatures) and
inline media are never read or rewritten.
"""

from __future__ import annotations

from typing import Any, Iterator

from llm_dlp.providers.base import (
    ContentUnit,
    JsonPath,
    ParsedRequest,
    RequestFormatError,
    Segment,
    parsed_request,
    string_leaves,
)

FORMAT = "gemini"
_METHODS = (":generateContent", ":streamGenerateContent", ":countTokens")


def matches(path: str) -> bool:
    return path.split("?", 1)[0].endswith(_METHODS)


def extract(document: Any) -> ParsedRequest:
    if not isinstance(document, dict):
        raise RequestFormatError("a Gemini body must be a JSON object")
    # Code Assist wraps the public API's body: {"model", "project", "request": {...}}.
    wrapped = isinstance(document.get("request"), dict)
    body, base = (document["request"], ("request",)) if wrapped else (document, ())
    contents = body.get("contents")
    if contents is not None and not isinstance(contents, list):
        raise RequestFormatError("'contents' must be an array")
    segments: list[Segment] = []
    system = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(system, dict):
        key = "systemInstruction" if "systemInstruction" in body else "system_instruction"
        segments.extend(_parts(system.get("parts"), base + (key, "parts"), "system"))
    elif isinstance(system, str):
        segments.append(Segment(base + ("systemInstruction",), system, "system"))
    for index, content in enumerate(contents or []):
        if not isinstance(content, dict):
            raise RequestFormatError(f"contents[{index}] is not an object")
        role = "assistant" if content.get("role") == "model" else str(content.get("role", "user"))
        segments.extend(_parts(content.get("parts"), base + ("contents", index, "parts"), role, withholdable=True))
    parsed = parsed_request(FORMAT, document, segments)
    if parsed.model is None and isinstance(body.get("model"), str):
        parsed.model = body["model"]
    return parsed


# A part's field -> the field inside it a withheld notice replaces (name and id stay, so a
# function response still answers its call).
_UNIT_FIELDS = {"functionCall": "args", "function_call": "args",
                "functionResponse": "response", "function_response": "response"}


def _parts(parts: Any, path: JsonPath, role: str, withholdable: bool = False) -> Iterator[Segment]:
    if parts is None:
        return
    if not isinstance(parts, list):
        raise RequestFormatError(f"parts at {path} must be an array")
    for index, part in enumerate(parts):
        if not isinstance(part, dict) or part.get("thought") is True:
            continue
        here = path + (index,)
        if isinstance(part.get("text"), str):
            unit = ContentUnit(here + ("text",), "message part") if withholdable else None
            yield Segment(here + ("text",), part["text"], role, unit=unit)
        for key, label in (("functionCall", "tool_call"), ("function_call", "tool_call"),
                           ("functionResponse", "tool_result"), ("function_response", "tool_result"),
                           ("executableCode", role), ("codeExecutionResult", "tool_result")):
            if isinstance(part.get(key), dict):
                unit = _unit(here + (key,), key) if withholdable else None
                for leaf_path, text in string_leaves(part[key], here + (key,), skip_keys=frozenset({"id"})):
                    yield Segment(leaf_path, text, label, unit=unit)


def _unit(path: JsonPath, key: str) -> ContentUnit | None:
    inner = _UNIT_FIELDS.get(key)
    if inner is None:
        return None  # executable code and its result: blocked rather than reshaped
    what = "tool result" if inner == "response" else "tool call arguments"
    return ContentUnit(path + (inner,), what, field="withheld")
