"""What every provider adapter produces: the prompt text segments of one request body."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, replace
from typing import Any, Iterable, Iterator

from llm_dlp.decoding import Codec
from llm_dlp.jsondoc import (  # noqa: F401 — re-exported: the adapters' vocabulary
    HEADER,
    INNER_JSON,
    MAX_DEPTH,
    OBJECT_KEY,
    TARGET,
    AmbiguousBodyError,
    JsonPath,
    PathStep,
    RequestFormatError,
    parse_json,
    string_leaves,
)

@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """The proxy's own answer to a request it does not forward: status, body and headers in
    the shape the provider's clients show as the message. The status may differ from the one
    asked for where a client would otherwise retry or misread it (see each provider module)."""

    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class ContentUnit:
    """The part of a request that can be withheld whole: a tool result, a document, a message part.

    Withholding replaces the JSON value at ``path`` and keeps the provider's structure valid: the
    notice becomes the value itself (``field`` None), or the one text field of an object that also
    keeps ``keep`` (a text block's ``type``, its ``cache_control``); ``as_json_text`` when the
    value is a string holding JSON (OpenAI's tool-call ``arguments``).
    """

    path: JsonPath
    what: str  # for the notice: "tool result", "document", "message part", "tool call arguments"
    field: str | None = None
    keep: tuple[tuple[str, Any], ...] = ()
    as_json_text: bool = False

    def replacement(self, notice: str) -> Any:
        value: Any = notice if self.field is None else {**dict(self.keep), self.field: notice}
        return json.dumps(value, ensure_ascii=False) if self.as_json_text else value

    def holds(self, path: JsonPath) -> bool:
        return path[: len(self.path)] == self.path


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of text a model would see, and where it sits in the request body."""

    path: JsonPath
    text: str
    role: str  # system, user, assistant, tool_result, tool_use, document, tool, ...
    path_hint: str | None = None  # a file path the surrounding tool call names, if any
    unit: ContentUnit | None = None  # what is withheld in its place; None: only the request as a whole
    # The text was decoded from the string at ``path`` (base64, a data URL, a PDF): an edit is
    # written back as ``codec.encode(edited)``; a codec that cannot re-encode means withhold.
    codec: Codec | None = None

    @property
    def location(self) -> str:
        return format_path(self.path)


@dataclass(slots=True)
class ParsedRequest:
    """A request body parsed by an adapter."""

    format: str  # "anthropic-messages", "openai-chat", "json"
    document: Any
    segments: list[Segment]
    model: str | None = None
    stream: bool = False
    # Binary media no text scanner reads (path, media type sniffed from its bytes): the policy's
    # ``media`` setting passes or blocks it, and the audit counts it.
    unscanned_media: tuple[tuple[JsonPath, str], ...] = ()
    # Prompts given as integer token-id arrays: unscannable, refused unless ``token_ids: allow``.
    token_id_paths: tuple[JsonPath, ...] = ()
    exempt: tuple[str, ...] = ()  # names of the exempt fields present (``coverage``); never values

    @property
    def text_bytes(self) -> int:
        """The UTF-8 size of every text the detectors read: the audit's measure of coverage."""
        return sum(len(s.text.encode("utf-8", "surrogatepass")) for s in self.segments)


def parsed_request(format: str, document: Any, segments: list[Segment]) -> ParsedRequest:
    """A ``ParsedRequest`` with the model and stream flag every format spells the same way."""
    is_object = isinstance(document, dict)
    model = document.get("model") if is_object else None
    return ParsedRequest(
        format=format,
        document=document,
        segments=segments,
        model=model if isinstance(model, str) else None,
        stream=is_object and document.get("stream") is True,
    )


def format_path(path: JsonPath) -> str:
    out = "$"
    if path and path[0] in (TARGET, HEADER):  # outside the body: "target[2]", "header[5]"
        out, path = str(path[0])[1:], path[1:]
    for step in path:
        if step == INNER_JSON:
            out += "<json>"
        elif step == OBJECT_KEY:
            out += "<key>"
        elif isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if step.isidentifier() else f"[{json.dumps(step)}]"
    return out


def json_string_leaves(
    text: str, path: JsonPath, role: str, hint: str | None = None, unit: ContentUnit | None = None
) -> Iterator[Segment]:
    """Segments for a string that holds JSON (tool-call arguments): its strings and keys; the raw
    string if it holds no JSON container or one another parser could read differently."""
    try:
        inner = parse_json(text)
    except RequestFormatError:
        yield Segment(path, text, role, hint, unit)
        return
    if not isinstance(inner, (dict, list)):
        yield Segment(path, text, role, hint, unit)
        return
    for inner_path, leaf in string_leaves(inner, path + (INNER_JSON,), keys=True):
        yield Segment(inner_path, leaf, role, hint, unit)


def tool_arguments_unit(path: JsonPath) -> ContentUnit:
    """Tool-call arguments held as JSON text: withheld as ``{"withheld": notice}``, still JSON."""
    return ContentUnit(path, "tool call arguments", field="withheld", as_json_text=True)


def with_unit(segments: Iterable[Segment], unit: ContentUnit | None) -> Iterator[Segment]:
    """``segments``, each withheld as part of ``unit``: the outermost unit an adapter names wins,
    so text inside a tool result goes with the whole result."""
    for segment in segments:
        yield replace(segment, unit=unit)


# Commands that print a file (Codex reads files through its shell tool: ``sed -n '1,200p' f``).
_FILE_READERS = frozenset({"cat", "sed", "nl", "head", "tail", "less", "more", "bat", "awk"})
_COMMAND_ENDS = frozenset({"|", "||", "&&", ";", ">", ">>"})


def path_in_command(command: Any) -> str | None:
    """The file a shell command that prints one names (its last operand with a ``.`` or ``/``)."""
    if isinstance(command, list) and len(command) >= 3 and command[1] in ("-c", "-lc") and isinstance(command[2], str):
        command = command[2]
    try:
        words = shlex.split(command) if isinstance(command, str) else [w for w in command if isinstance(w, str)]
    except (ValueError, TypeError):
        return None
    if not words or words[0] not in _FILE_READERS:
        return None
    operands = []
    for word in words[1:]:
        if word in _COMMAND_ENDS:
            break
        if not word.startswith("-") and ("." in word or "/" in word) and " " not in word:
            operands.append(word)
    return operands[-1] if operands else None
