"""Google Gemini ``generateContent`` / ``streamGenerateContent`` / ``countTokens``, on the public
API and on Code Assist (Gemini CLI with a Google login), which wraps the body in ``request``.

Prompt text: ``systemInstruction`` and every ``contents[].parts[]`` text, function-call
arguments, function responses and executable code, and everything else the coverage walker
finds. A thought part passes unscanned only in the model's own turn and with its
``thoughtSignature`` (``exemptions``); inline media goes to decoding.
"""

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
    Segment,
    parsed_request,
    string_leaves,
)
from llm_dlp.providers.coverage import Exemptions, MediaField
from llm_dlp.restore import gemini as restore

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


def annotate(document: Any) -> ParsedRequest:
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
        if not isinstance(part, dict) or (part.get("thought") is True and role == "assistant"):
            continue  # a model's thought: exempt where signed (``exemptions``), else the walker scans it
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


VOCABULARY = frozenset({
    "contents", "role", "user", "model", "function", "parts", "text", "thought", "thoughtSignature",
    "thought_signature", "functionCall", "function_call", "functionResponse", "function_response", "name", "args",
    "response", "id", "inlineData", "inline_data", "mimeType", "mime_type", "data", "fileData", "file_data",
    "fileUri", "file_uri", "executableCode", "code", "language", "PYTHON", "codeExecutionResult", "outcome",
    "OUTCOME_OK", "output", "systemInstruction", "system_instruction", "tools", "functionDeclarations",
    "function_declarations", "parameters", "parametersJsonSchema", "generationConfig", "generation_config",
    "temperature", "topP", "topK", "maxOutputTokens", "thinkingConfig", "includeThoughts", "thinkingBudget",
    "responseMimeType", "responseSchema", "application/json", "text/plain", "toolConfig",
    "functionCallingConfig", "mode", "AUTO", "ANY", "NONE", "safetySettings", "category", "threshold",
    "request", "project", "user_prompt_id", "session_id", "cachedContent", "labels", "OBJECT", "STRING",
    "INTEGER", "NUMBER", "BOOLEAN", "ARRAY",
})


def _bodies(document: Any) -> tuple[dict, tuple]:
    """The public API's body and its path: Code Assist wraps it in ``request``."""
    if isinstance(document, dict) and isinstance(document.get("request"), dict):
        return document["request"], ("request",)
    return (document if isinstance(document, dict) else {}), ()


def exemptions(document: Any) -> Exemptions:
    """A part's ``thoughtSignature`` and a signed thought part, only in the model's own turns,
    where Gemini checks the signature; a thought part or a signature in a user turn is scanned."""
    exempt: Exemptions = {}
    body, base = _bodies(document)
    contents = body.get("contents")
    for index, content in enumerate(contents if isinstance(contents, list) else []):
        if not isinstance(content, dict) or content.get("role") != "model" or not isinstance(content.get("parts"), list):
            continue
        for position, part in enumerate(content["parts"]):
            if not isinstance(part, dict):
                continue
            here = base + ("contents", index, "parts", position)
            signature_key = next((k for k in ("thoughtSignature", "thought_signature") if isinstance(part.get(k), str)), None)
            if signature_key is None:
                continue
            if part.get("thought") is True:
                exempt[here] = "thought (signed)"
            else:
                exempt[here + (signature_key,)] = "thoughtSignature"
    return exempt


def media(document: Any) -> list[MediaField]:
    found: list[MediaField] = []
    body, base = _bodies(document)
    contents = body.get("contents")
    for index, content in enumerate(contents if isinstance(contents, list) else []):
        parts = content.get("parts") if isinstance(content, dict) else None
        for position, part in enumerate(parts if isinstance(parts, list) else []):
            for key in ("inlineData", "inline_data"):
                inline = part.get(key) if isinstance(part, dict) else None
                if isinstance(inline, dict) and isinstance(inline.get("data"), str):
                    mime = inline.get("mimeType", inline.get("mime_type"))
                    here = base + ("contents", index, "parts", position)
                    # withheld as a whole part: a text part with the notice is a valid part anywhere
                    found.append(MediaField(here + (key, "data"), mime if isinstance(mime, str) else None, "inlineData",
                                            ContentUnit(here, "document", field="text")))
    return found


def looks_like(document: Any) -> bool:
    body, _ = _bodies(document)
    return isinstance(body.get("contents"), list)


API = ApiFormat(
    name=FORMAT,
    matches=matches,
    annotate=annotate,
    error=lambda status, message, method: error_answer(status, message),
    exempt=exemptions,
    media=media,
    rewriter=restore.rewriter,
    vocabulary=VOCABULARY,
    home_of=("gemini",),
    looks_like=looks_like,
    example_path="/v1beta/models/gemini-pro:generateContent",
)


def extract(document: Any) -> ParsedRequest:
    return API.extract(document)
