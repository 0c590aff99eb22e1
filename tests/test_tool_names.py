"""The request's own tool names are no people or places: read per API format, dropped in the pipeline."""

from __future__ import annotations

import json

import pytest

from detectors.base import Finding
from detectors.pii import PiiDetector
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.providers import Segment
from llm_dlp.testing.proxyrun import REPO
from llm_dlp.tool_names import declared_tool_names, tool_words, without_tool_names

ANTHROPIC = {"model": "m", "max_tokens": 5, "tools": [{"name": "Florence", "input_schema": {}}],
             "messages": [{"role": "user", "content": "hi"}]}
OPENAI_CHAT = {"model": "m", "tools": [{"type": "function", "function": {"name": "ask_winston"}}],
               "functions": [{"name": "legacy_fn"}], "messages": []}
RESPONSES = {
    "model": "m",
    "tools": [{"type": "function", "name": "top_level"},
              {"type": "namespace", "name": "clock", "tools": [{"type": "function", "name": "sleep"}]}],
    "input": [{"type": "additional_tools", "role": "developer",
               "tools": [{"type": "namespace", "name": "collaboration",
                          "tools": [{"type": "function", "name": "spawn_agent"}]}]}],
}
GEMINI = {"contents": [], "tools": [{"functionDeclarations": [{"name": "read_file"}, {"name": "WebFetch"}]},
                                    {"function_declarations": [{"name": "google_search"}]}]}
CODE_ASSIST = {"model": "m", "request": {"contents": [], "tools": [{"functionDeclarations": [{"name": "run_shell_command"}]}]}}
BEDROCK = {"messages": [], "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather"}}]}}


@pytest.mark.parametrize(
    "document, names",
    [
        (ANTHROPIC, ["Florence"]),
        (OPENAI_CHAT, ["ask_winston", "legacy_fn"]),
        (RESPONSES, ["top_level", "clock", "sleep", "collaboration", "spawn_agent"]),
        (GEMINI, ["read_file", "WebFetch", "google_search"]),
        (CODE_ASSIST, ["run_shell_command"]),
        (BEDROCK, ["get_weather"]),
        ({"messages": [{"role": "user", "content": "no tools"}]}, []),
        (["not", "an", "object"], []),
        ({"tools": "not a list", "input": [1, None, {"tools": {"name": "x"}}]}, []),
    ],
)
def test_declared_tool_names_are_read_as_each_api_declares_them(document, names):
    assert sorted(declared_tool_names(document)) == sorted(names)


def test_names_split_at_case_and_underscore_boundaries():
    words = tool_words({"tools": [{"name": "WebFetch"}, {"name": "ask_winston"}, {"name": "MCPServer"}, {"name": "ls"}]})
    assert {"webfetch", "web", "fetch", "askwinston", "ask", "winston", "mcpserver", "mcp", "server"} <= words
    assert "ls" in words  # a whole name, however short
    assert "a" not in words


def test_only_name_entities_that_are_tool_words_are_dropped():
    text = "Use Florence, then Ask Winston. Mail florence@example.com; Paris is far."
    segment = Segment(("messages", 0, "content"), text, "user")

    def at(rule: str, value: str, kind: str = "pii") -> Finding:
        start = text.index(value)
        return Finding(kind, rule, start, start + len(value), 0.6)

    findings = [at("PERSON", "Florence"), at("PERSON", "Winston"), at("LOCATION", "Paris"),
                at("EMAIL_ADDRESS", "florence@example.com"), at("PERSON", "Ask Winston"),
                at("ORGANIZATION", "Florence", kind="code")]
    document = {"tools": [{"name": "Florence"}, {"function": {"name": "ask_winston"}}]}
    [kept] = without_tool_names(document, [segment], [findings])
    assert [(f.rule, f.value(text)) for f in kept] == [
        ("LOCATION", "Paris"), ("EMAIL_ADDRESS", "florence@example.com"), ("ORGANIZATION", "Florence")]


INFO = RequestInfo("r", "POST", "api.example", "/v1/messages", "anthropic")


def test_the_pipeline_drops_a_finding_that_is_a_declared_tool_name():
    """The detector reads text only: 'Florence' is a person to it. Declared as the request's
    tool, it is no finding of the request; undeclared, it still is."""
    pipeline = Pipeline(load_policy_dir(REPO / "policies"), [PiiDetector()], ValueHasher(b"k" * 32))
    text = "Call Florence when the user asks for a translation."

    def body(tools: list[dict]) -> bytes:
        return json.dumps({"model": "m", "max_tokens": 5, "tools": tools,
                           "messages": [{"role": "user", "content": text}]}).encode()

    undeclared = pipeline.scan(INFO, body([{"name": "translate", "input_schema": {}}]), 1 << 20)
    assert [(h.finding.rule, h.value) for h in undeclared.hits] == [("PERSON", "Florence")]
    declared = pipeline.scan(INFO, body([{"name": "Florence", "description": "Translates text.", "input_schema": {}}]), 1 << 20)
    assert declared.hits == ()
