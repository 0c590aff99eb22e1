"""Where in a request body a finding was, as the audit writes it: never a key the client made up.

A location is a JSON path (``$.messages[3].content[0].text``). Its steps are array indexes, the
marker of JSON inside a string (``<json>``) and object keys. The API's own field names say where a
value sat and carry nothing of the client's; any other key is the client's text (a metadata key,
a property of a tool's schema, a key of a tool call's arguments) and can be the value itself:
``{"metadata": {"AKIA…": 1}}`` must not become ``$.metadata["AKIA…"]`` in the log. Such a key is
written as a short keyed hash, ``$.metadata[#3fa2c1d0]``: the same key gives the same mark under
one proxy key, so lines can be compared, and nobody without the key can test a guess against it.

``FIELD_NAMES`` is the one vocabulary of keys written as they are: the request fields of the APIs
the proxy reads (Anthropic Messages, OpenAI Chat Completions and Responses, Gemini, Bedrock
Converse) and the argument names of the common coding-agent tools (Claude Code, Codex, Gemini
CLI). A name joins it only when it is a fixed word of an API or a tool, never a value.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from llm_dlp.keys import ValueHasher
from llm_dlp.providers.base import INNER_JSON

HASH_CHARS = 8  # 32 bits: enough to tell keys apart within a request, too few to stand for a value

API_FIELDS = frozenset({
    # Shared by several APIs
    "model", "messages", "role", "content", "type", "text", "name", "id", "input", "output", "metadata",
    "system", "tools", "tool_choice", "stream", "temperature", "top_p", "top_k", "max_tokens", "stop",
    "user", "source", "data", "media_type", "url", "title", "description", "parameters", "properties",
    "required", "items", "enum", "format", "default", "additionalProperties", "schema", "strict",
    "status", "signature", "citations", "context", "cache_control", "ttl", "arguments", "function",
    "file", "file_id", "file_data", "filename", "detail", "image_url", "input_audio", "refusal",
    # Anthropic Messages
    "tool_use", "tool_result", "tool_use_id", "is_error", "input_schema", "thinking", "redacted_thinking",
    "document", "image", "search_result", "server_tool_use", "web_search_tool_result", "container",
    "stop_sequences", "budget_tokens", "mcp_servers", "service_tier", "anthropic_version", "betas",
    # OpenAI Chat Completions
    "tool_calls", "tool_call_id", "function_call", "functions", "prediction", "response_format",
    "json_schema", "n", "seed", "logprobs", "top_logprobs", "logit_bias", "frequency_penalty",
    "presence_penalty", "max_completion_tokens", "reasoning_effort", "modalities", "audio",
    "store", "stream_options", "include_usage", "parallel_tool_calls", "developer", "assistant", "tool",
    # OpenAI Responses
    "instructions", "previous_response_id", "reasoning", "summary", "encrypted_content", "include",
    "prompt", "variables", "version", "call_id", "output_text", "input_text", "input_image",
    "input_file", "function_call_output", "custom_tool_call", "custom_tool_call_output",
    "local_shell_call", "local_shell_call_output", "action", "truncation", "max_output_tokens",
    "text_format", "verbosity", "effort", "prompt_cache_key", "safety_identifier", "background",
    "conversation", "item_reference",
    # Gemini
    "contents", "parts", "systemInstruction", "system_instruction", "functionCall", "functionResponse",
    "function_call", "function_response", "functionDeclarations", "function_declarations",
    "inlineData", "inline_data", "fileData", "file_data", "mimeType", "mime_type", "fileUri",
    "executableCode", "codeExecutionResult", "thought", "thoughtSignature", "thought_signature",
    "generationConfig", "generation_config", "safetySettings", "toolConfig", "cachedContent",
    "response", "args", "language", "outcome", "category", "threshold", "responseMimeType",
    "responseSchema", "candidateCount", "maxOutputTokens", "stopSequences", "thinkingConfig",
    "thinkingBudget", "includeThoughts", "googleSearch", "codeExecution", "labels",
    # Bedrock Converse / InvokeModel
    "inferenceConfig", "additionalModelRequestFields", "toolConfig", "toolSpec", "toolUse", "toolResult",
    "toolUseId", "inputSchema", "json", "guardContent", "reasoningContent", "reasoningText",
    "promptVariables", "requestMetadata", "prompt", "inputText", "textGenerationConfig",
    # The inner structure of the proxy's own notices and error shapes
    "error", "message", "code", "details",
})

TOOL_INPUT_NAMES = frozenset({
    # Claude Code
    "file_path", "path", "command", "old_string", "new_string", "replace_all", "pattern", "glob",
    "offset", "limit", "notebook_path", "new_source", "cell_id", "cell_type", "edit_mode", "edits",
    "todos", "query", "prompt", "timeout", "run_in_background", "output_mode", "include", "-A", "-B",
    "-C", "-i", "-n", "multiline", "head_limit", "subagent_type", "plan", "allowed_domains",
    "blocked_domains", "shell_id", "bash_id", "activeForm",
    # Codex
    "cmd", "workdir", "with_escalated_permissions", "justification", "patch", "explanation", "step",
    "session_id", "chars", "yield_time_ms", "max_output_tokens",
    # Gemini CLI
    "absolute_path", "dir_path", "file_paths", "paths", "old_str", "new_str", "file_text",
    "insert_line", "view_range", "expected_replacements", "respect_git_ignore", "case_sensitive",
    "ignore", "fact", "directory", "is_background",
})

FIELD_NAMES = API_FIELDS | TOOL_INPUT_NAMES


# The adapters' markers (providers/base.py): JSON inside a string, an object key itself, and the
# two places outside the body (the request target, a header). Named here so that only these,
# never a client's key that happens to start with a NUL, are written as markers.
_MARKERS = frozenset({INNER_JSON, "\x00key"})
_OUTSIDE_BODY = frozenset({"\x00target", "\x00header"})


def audited_location(path: Sequence[str | int], hasher: ValueHasher) -> str:
    """``path`` as the audit writes it: API and tool field names as they are, other keys hashed."""
    out = "$"
    if path and path[0] in _OUTSIDE_BODY:  # "target[2]", "header[5]": positions, never names
        out, path = str(path[0])[1:], path[1:]
    for step in path:
        if step in _MARKERS:
            out += f"<{str(step)[1:]}>"
        elif isinstance(step, int):
            out += f"[{step}]"
        elif step in FIELD_NAMES:
            out += f".{step}" if step.isidentifier() else f'["{step}"]'
        else:
            out += f"[#{key_mark(step, hasher)}]"
    return out


def key_mark(text: str, hasher: ValueHasher) -> str:
    """The short keyed hash that stands for a client's key (or path segment) in the log."""
    return hasher.digest(text)[:HASH_CHARS]


class RequestValues:
    """The values found anywhere in one request, as ``audited_details`` asks about them: whether a
    file name holds one. A request's findings name few distinct files, so each is asked once
    (a resent conversation has dozens of findings and dozens of values)."""

    def __init__(self, values: Collection[str]) -> None:
        # Shortest first: a value longer than the text cannot sit in it (a code finding's value
        # is a whole chunk of a file; a file name is short), so those are never compared.
        self._values = sorted((value for value in values if len(value) >= 4), key=len)
        self._lengths = [len(value) for value in self._values]
        self._answers: dict[str, bool] = {}

    def in_text(self, text: str) -> bool:
        answer = self._answers.get(text)
        if answer is None:
            fitting = self._values[: bisect.bisect_right(self._lengths, len(text))]
            answer = self._answers[text] = any(value in text for value in fitting)
        return answer


def audited_details(details: Mapping[str, Any], values: Collection[str] | RequestValues,
                    hasher: ValueHasher) -> dict[str, Any]:
    """A finding's details as the audit writes them. The file a code finding names (from the tool
    call that read it, or a grep line) is the client's text: it is kept, since it tells a reviewer
    which file left, unless a value found anywhere in the request sits in it (a token placed in a
    file name), and then it is a mark."""
    file = details.get("file")
    if isinstance(file, str):
        found = values if isinstance(values, RequestValues) else RequestValues(values)
        if found.in_text(file):
            return {**details, "file": f"#{key_mark(file, hasher)}"}
    return dict(details)
