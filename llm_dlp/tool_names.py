"""The request's own tool names are tool names, not people, places or organisations.

A coding agent declares its tools in every request and talks about them in its system prompt
and tool descriptions: ``Edit``, ``Link``, ``Shell``, ``read_file``, ``spawn_agent``. The
personal-data detector reads text only and cannot know which words the request declares as
tools, so a name finding whose value is a declared tool's name, or one part of it split at case
and underscore boundaries (``WebFetch`` → ``Web``, ``Fetch``; ``read_file`` → ``read``,
``file``), is dropped here, after detection and before the policy sees it.

The names are read from the request document as each API declares them:

* Anthropic Messages: ``tools[].name``;
* OpenAI Chat Completions: ``tools[].function.name`` (and the older ``functions[].name``);
* OpenAI Responses: ``tools[].name``, namespaces' ``tools[].tools[].name``, and tools an input
  item adds (``input[].tools``, Codex's ``additional_tools``);
* Gemini: ``tools[].functionDeclarations[].name`` (or ``function_declarations``), also inside
  a Code Assist envelope (``request``);
* Bedrock Converse: ``toolConfig.tools[].toolSpec.name``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from detectors.base import Finding


class _Scanned(Protocol):
    """A segment as the pipeline scans it (``llm_dlp.providers.Segment``): its text is enough."""

    @property
    def text(self) -> str: ...


# Entity types a tool's name can be mistaken for.
NAME_ENTITIES = frozenset({"PERSON", "LOCATION", "ORGANIZATION"})
# Parts shorter than this ("a", "ls", "mcp"'s pieces) are left alone: too easily a piece of
# anything.
MIN_PART = 3
# Nested tool lists (namespaces of namespaces) are followed this deep at most.
MAX_DEPTH = 4

_SEPARATORS = re.compile(r"[\s_\-.:/]+")
# Boundaries inside a CamelCase word: "WebFetch" → "Web" "Fetch", "MCPServer" → "MCP" "Server".
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def without_tool_names(
    document: Any, segments: Sequence[_Scanned], findings: Sequence[list[Finding]]
) -> list[list[Finding]]:
    """``findings`` (one list per segment) less the name findings that are a declared tool's
    name or a part of one."""
    words = tool_words(document)
    if not words:
        return list(findings)
    return [
        [f for f in found if not (f.kind == "pii" and f.rule in NAME_ENTITIES and _is_tool_word(f.value(segment.text), words))]
        for segment, found in zip(segments, findings)
    ]


def tool_words(document: Any) -> frozenset[str]:
    """The declared tools' names and their parts, lower-cased, separators removed."""
    words: set[str] = set()
    for name in declared_tool_names(document):
        words.add(_squashed(name))
        for piece in _SEPARATORS.split(name):
            for part in _CAMEL.findall(piece):
                if len(part) >= MIN_PART:
                    words.add(part.lower())
    words.discard("")
    return frozenset(words)


def declared_tool_names(document: Any) -> list[str]:
    """Every tool name the request declares, in any of the formats above."""
    if not isinstance(document, dict):
        return []
    names: list[str] = []
    bodies = [document]
    if isinstance(document.get("request"), dict):  # Gemini Code Assist envelope
        bodies.append(document["request"])
    for body in bodies:
        names += _names_in_tools(body.get("tools"), 0)
        names += _names_in_tools(body.get("functions"), 0)
        config = body.get("toolConfig")
        if isinstance(config, dict):
            names += _names_in_tools(config.get("tools"), 0)
        items = body.get("input")
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    names += _names_in_tools(item.get("tools"), 0)
    return names


def _names_in_tools(tools: Any, depth: int) -> list[str]:
    if not isinstance(tools, list) or depth > MAX_DEPTH:
        return []
    return [name for tool in tools if isinstance(tool, dict) for name in _names_of(tool, depth)]


def _names_of(tool: dict[str, Any], depth: int) -> Iterator[str]:
    if isinstance(tool.get("name"), str):
        yield tool["name"]
    for key in ("function", "toolSpec"):
        inner = tool.get(key)
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            yield inner["name"]
    for key in ("functionDeclarations", "function_declarations"):
        declarations = tool.get(key)
        if isinstance(declarations, list):
            yield from (d["name"] for d in declarations if isinstance(d, dict) and isinstance(d.get("name"), str))
    # A namespace of tools (OpenAI Responses).
    yield from _names_in_tools(tool.get("tools"), depth + 1)


def _is_tool_word(value: str, words: frozenset[str]) -> bool:
    return _squashed(value) in words


def _squashed(value: str) -> str:
    """Lower case without separators: "Web Fetch", "web_fetch" and "WebFetch" read the same."""
    return _SEPARATORS.sub("", value).lower()
