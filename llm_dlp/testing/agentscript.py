"""A scripted model for coding-agent CLIs: read (or write) one file with the client's own tool,
then answer.

The stand-in provider consults an :class:`AgentScript` for requests that offer tools. The first
such request is answered with a call to whichever file-reading tool the request's own tool list
offers (Claude Code's ``Read``, Gemini CLI's ``read_file``, Codex's shell tools), with arguments
built from that tool's declared schema; once the conversation carries a tool result, the script
answers with plain text. So the real CLIs run a full tool round trip against the stand-in, and
the bodies they send carry their real system prompt, tool list and a tool result. With ``write``
the first answer instead calls the client's file-writing tool with the user's prompt as the
file's content, so whatever the model was sent (a placeholder, say) reaches the client's disk.

Also :class:`Failure`: a canned error answer, to try how each client shows an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Tools that read a file, most direct first: a CLI offering several reads with the first.
# ``exec`` is Codex's "code mode": one freeform tool taking JavaScript that calls the others.
READ_TOOLS = ("Read", "read_file", "exec_command", "shell_command", "shell", "exec")
# Tools that write a whole file: Claude Code's ``Write``, Gemini CLI's ``write_file``.
WRITE_TOOLS = ("Write", "write_file")


@dataclass(frozen=True, slots=True)
class AgentScript:
    path: str  # the file the model asks the client to read (with ``write``: to write)
    answer: str = "I read the file: it holds a short note about the build."
    write: bool = False  # write the user's prompt, as the model received it, to ``path``


@dataclass(frozen=True, slots=True)
class Failure:
    """Every model request is answered with this status, headers and body (SSE if ``stream``)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = (("content-type", "application/json"),)


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] | str  # str: the input of a freeform (custom) tool


def next_step(api: str, request: dict, script: AgentScript) -> ToolCall | str | None:
    """The scripted model's move for this request, or None when the script does not apply
    (no tools offered: a title or summary side request)."""
    schema = _json_answer_schema(api, request)
    if schema is not None:
        return json.dumps(example_of(schema))
    tools = offered_tools(api, request)
    if not tools:
        return None
    if has_tool_result(api, request):
        return script.answer
    if script.write:
        name = next((n for n in WRITE_TOOLS if n in tools), None)
        return None if name is None else ToolCall(name, _write_arguments(tools[name], script.path,
                                                                         user_prompt(api, request)))
    for name in READ_TOOLS:
        if name in tools:
            return ToolCall(name, _read_arguments(tools[name], script.path))
    return None


def offered_tools(api: str, request: dict) -> dict[str, dict]:
    """Tool name -> its JSON schema of parameters, as this API declares them."""
    tools = request.get("tools") or []
    if api == "gemini":
        return {d["name"]: d.get("parameters") or d.get("parametersJsonSchema") or {}
                for t in tools for d in t.get("functionDeclarations", [])}
    if api == "chat":
        return {t["function"]["name"]: t["function"].get("parameters") or {}
                for t in tools if t.get("type") == "function"}
    if api == "responses":
        # Codex declares its tools in an ``additional_tools`` input item, grouped in namespaces.
        items = request.get("input") if isinstance(request.get("input"), list) else []
        declared = [*tools, *(t for i in items if isinstance(i, dict) and i.get("type") == "additional_tools"
                              for t in i.get("tools", []))]
        flat = [n for t in declared for n in (t.get("tools", []) if t.get("type") == "namespace" else [t])]
        return {t["name"]: t.get("parameters") or {"freeform": True} for t in flat
                if t.get("type") in ("function", "custom")}
    return {t["name"]: t.get("input_schema") or {} for t in tools if "name" in t}


def has_tool_result(api: str, request: dict) -> bool:
    if api == "gemini":
        return any("functionResponse" in part for content in request.get("contents", [])
                   for part in content.get("parts", []) if isinstance(part, dict))
    if api == "chat":
        return any(m.get("role") == "tool" for m in request.get("messages", []))
    if api == "responses":
        items = request.get("input")
        return isinstance(items, list) and any(
            isinstance(i, dict) and i.get("type") in ("function_call_output", "custom_tool_call_output") for i in items)
    return any(isinstance(block, dict) and block.get("type") == "tool_result"
               for m in request.get("messages", []) if isinstance(m.get("content"), list) for block in m["content"])


def _read_arguments(schema: dict, path: str) -> dict[str, Any] | str:
    """Arguments for a file read, by the tool's own schema: a path parameter gets the path, a
    command parameter a ``cat`` of it (an argv list where the schema asks for an array)."""
    if schema.get("freeform"):
        return f'const r = await tools.exec_command({{cmd: {json.dumps("cat " + path)}}});\ntext(r.output);\n'
    properties = schema.get("properties") or {}
    required = schema.get("required") or list(properties)
    name = required[0] if required else "file_path"
    kind = str((properties.get(name) or {}).get("type", "string")).lower()
    if "path" in name:
        return {name: path}
    return {name: ["cat", path] if kind == "array" else f"cat {path}"}


def _write_arguments(schema: dict, path: str, text: str) -> dict[str, Any]:
    """Arguments for a whole-file write, by the tool's own schema: the path parameter gets the
    path, every other required parameter the text."""
    properties = schema.get("properties") or {}
    names = schema.get("required") or list(properties) or ["file_path", "content"]
    return {name: path if "path" in name else text for name in names}


def user_prompt(api: str, request: dict) -> str:
    """The text the user typed: the last text part of the first user message, past the context
    a client prepends as parts of its own (Claude Code's ``<system-reminder>`` blocks)."""
    if api not in ("anthropic", "chat"):
        return ""
    first = next((m for m in request.get("messages", []) if m.get("role") == "user"), {})
    content = first.get("content", "")
    if isinstance(content, str):
        return content
    texts = [part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"]
    typed = [text for text in texts if not text.lstrip().startswith("<system-reminder>")]
    return (typed or texts or [""])[-1]


def _json_answer_schema(api: str, request: dict) -> dict | None:
    """The schema a side request wants its answer in (Gemini CLI's model router asks for JSON)."""
    config = request.get("generationConfig") or {} if api == "gemini" else {}
    if config.get("responseMimeType") != "application/json":
        return None
    return config.get("responseJsonSchema") or config.get("responseSchema") or {}


def example_of(schema: dict) -> Any:
    """The smallest value of the schema's type: what a model answering in JSON mode sends."""
    kind = str(schema.get("type", "object")).lower()
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: example_of(properties[name]) for name in schema.get("required") or properties}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return False
    return schema["enum"][0] if schema.get("enum") else "ok"
