"""Google Gemini ``generateContent`` / ``streamGenerateContent`` / ``countTokens``, on the public
API and on Code Assist (Gemini CLI with a Google login), which wraps the body in ``request``.

Prompt text: ``systemInstruction`` and every ``contents[].parts[]`` text, function-call
arguments, function responses and executable code. Thought parts (with their signatures) and
inline media are never read or rewritten.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from llm_dlp.providers.base import (
    ErrorAnswer,
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


_STATUS_NAMES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 413: "INVALID_ARGUMENT", 415: "INVALID_ARGUMENT",
                 500: "INTERNAL", 502: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def error_answer(status: int, message: str) -> ErrorAnswer:
    """Google's error object (google.rpc.Status), with an ErrorInfo naming llm-dlp. Gemini CLI
    retries only 429 and 5xx; it shows this body as "[API Error: …]" in its interface, but with
    -p in text mode prints the body on its "Error when talking to Gemini API" line and then
    "[object Object]" for any API error, which no body changes (Gemini CLI 0.61.0)."""
    error: dict[str, Any] = {"code": status, "message": message, "status": _STATUS_NAMES.get(status, "INTERNAL")}
    if 400 <= status < 500:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "DLP_REQUEST_DENIED",
                             "domain": "llm-dlp", "metadata": {}}]
    return ErrorAnswer(status, json.dumps({"error": error}).encode(), {"content-type": "application/json"})


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
    hints: dict[str, str] = {}  # call id or function name -> the file its latest call names
    for index, content in enumerate(contents or []):
        if not isinstance(content, dict):
            raise RequestFormatError(f"contents[{index}] is not an object")
        role = "assistant" if content.get("role") == "model" else str(content.get("role", "user"))
        segments.extend(_parts(content.get("parts"), base + ("contents", index, "parts"), role, hints, withholdable=True))
    parsed = parsed_request(FORMAT, document, segments)
    if parsed.model is None and isinstance(body.get("model"), str):
        parsed.model = body["model"]
    return parsed


# A part's field -> the field inside it a withheld notice replaces (name and id stay, so a
# function response still answers its call).
_UNIT_FIELDS = {"functionCall": "args", "function_call": "args",
                "functionResponse": "response", "function_response": "response"}


def _parts(parts: Any, path: JsonPath, role: str, hints: dict[str, str] | None = None,
           withholdable: bool = False) -> Iterator[Segment]:
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
                hint = _file_of(part[key], label, hints if hints is not None else {})
                unit = _unit(here + (key,), key) if withholdable else None
                for leaf_path, text in string_leaves(part[key], here + (key,), skip_keys=frozenset({"id"})):
                    yield Segment(leaf_path, text, label, hint, unit)


def _file_of(call: dict, label: str, hints: dict[str, str]) -> str | None:
    """The file a function call names (Gemini CLI's read_file, write_file, replace), remembered
    for its response, which carries the call's id or only its name."""
    if label == "tool_result":
        return hints.get(str(call.get("id"))) or hints.get(str(call.get("name")))
    if label != "tool_call" or not isinstance(call.get("args"), dict):
        return None
    found = next((call["args"][k] for k in ("file_path", "absolute_path", "path") if isinstance(call["args"].get(k), str)), None)
    for key in (call.get("id"), call.get("name")):
        if key is not None:
            if found:
                hints[str(key)] = found
            else:
                hints.pop(str(key), None)
    return found


def _unit(path: JsonPath, key: str) -> ContentUnit | None:
    inner = _UNIT_FIELDS.get(key)
    if inner is None:
        return None  # executable code and its result: blocked rather than reshaped
    what = "tool result" if inner == "response" else "tool call arguments"
    return ContentUnit(path + (inner,), what, field="withheld")
