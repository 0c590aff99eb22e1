"""Amazon Bedrock runtime: InvokeModel and Converse, whole and streamed: four formats, one per
answer shape (``restore/bedrock.py``).

Every string and key of the body is scanned (no adapter annotates roles here); exempt are only
the model's own signed reasoning in assistant turns (Converse ``reasoningContent`` with its
signature or redacted content; an Anthropic model's thinking blocks through InvokeModel).
Requests signed with SigV4 cannot be rewritten at all (the pipeline blocks instead); those with
a Bedrock API key (``Authorization: Bearer``) can.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable
from urllib.parse import unquote

from llm_dlp.providers import anthropic
from llm_dlp.providers.api import ApiFormat
from llm_dlp.providers.base import ErrorAnswer, ParsedRequest, parsed_request
from llm_dlp.providers.coverage import Exemptions, MediaField
from llm_dlp.restore import bedrock as restore

INVOKE, INVOKE_STREAM = "bedrock-invoke", "bedrock-invoke-stream"
CONVERSE, CONVERSE_STREAM = "bedrock-converse", "bedrock-converse-stream"
# The model id may be an ARN, percent-encoded (``arn%3Aaws%3Abedrock...``), so no "/" inside.
_PATH = re.compile(r"^/model/(?P<model>[^/?]+)/(?P<action>invoke|invoke-with-response-stream|converse|converse-stream)(?:\?|$)")
_ACTIONS = {INVOKE: "invoke", INVOKE_STREAM: "invoke-with-response-stream",
            CONVERSE: "converse", CONVERSE_STREAM: "converse-stream"}


def error_answer(status: int, message: str, method: str = "POST") -> ErrorAnswer:
    body = json.dumps({"message": message}).encode()
    return ErrorAnswer(status, body, {"content-type": "application/json", "x-amzn-errortype": "AccessDeniedException"})


def _model(path: str) -> str | None:
    match = _PATH.match(path)
    return unquote(match["model"]) if match else None


def converse_exemptions(document: Any) -> Exemptions:
    """Converse reasoning in assistant turns: ``reasoningText`` with its ``signature``, and
    ``redactedContent`` (encrypted by the provider)."""
    exempt: Exemptions = {}
    messages = document.get("messages") if isinstance(document, dict) else None
    for index, message in enumerate(messages if isinstance(messages, list) else []):
        if not isinstance(message, dict) or message.get("role") != "assistant" or not isinstance(message.get("content"), list):
            continue
        for position, block in enumerate(message["content"]):
            reasoning = block.get("reasoningContent") if isinstance(block, dict) else None
            if not isinstance(reasoning, dict):
                continue
            here = ("messages", index, "content", position, "reasoningContent")
            text = reasoning.get("reasoningText")
            if isinstance(text, dict) and isinstance(text.get("signature"), str) and text["signature"]:
                exempt[here + ("reasoningText",)] = "reasoningText (signed)"
            if "redactedContent" in reasoning:
                exempt[here + ("redactedContent",)] = "redactedContent (encrypted)"
    return exempt


def converse_media(document: Any) -> list[MediaField]:
    """Image and document blocks' ``source.bytes`` (base64 in the JSON body)."""
    found: list[MediaField] = []
    messages = document.get("messages") if isinstance(document, dict) else None
    for index, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, dict) else None
        for position, block in enumerate(content if isinstance(content, list) else []):
            for kind in ("image", "document", "video"):
                item = block.get(kind) if isinstance(block, dict) else None
                source = item.get("source") if isinstance(item, dict) else None
                if isinstance(source, dict) and isinstance(source.get("bytes"), str):
                    media_type = "application/pdf" if item.get("format") == "pdf" else None
                    found.append(MediaField(("messages", index, "content", position, kind, "source", "bytes"), media_type, kind))
    return found


def _format(name: str, exempt: Callable[[Any], Exemptions], media: Callable[[Any], list[MediaField]],
            rewriter: Callable) -> ApiFormat:
    action = _ACTIONS[name]

    def annotate(document: Any) -> ParsedRequest:
        parsed = parsed_request(name, document, [])
        parsed.stream = name.endswith("-stream")  # the model and streaming are in the path, not the body
        return parsed

    def matches(path: str) -> bool:
        match = _PATH.match(path)
        return match is not None and match["action"] == action

    return ApiFormat(name=name, matches=matches, annotate=annotate, error=error_answer, exempt=exempt, media=media,
                     rewriter=rewriter, home_of=("bedrock",), path_model=_model,
                     example_path=f"/model/anthropic.claude-sonnet-4-5-v1%3A0/{action}")


INVOKE_API = _format(INVOKE, anthropic.exemptions, anthropic.media, restore.invoke_rewriter)
INVOKE_STREAM_API = _format(INVOKE_STREAM, anthropic.exemptions, anthropic.media, restore.invoke_stream_rewriter)
CONVERSE_API = _format(CONVERSE, converse_exemptions, converse_media, restore.converse_rewriter)
CONVERSE_STREAM_API = _format(CONVERSE_STREAM, converse_exemptions, converse_media, restore.converse_stream_rewriter)
FORMATS = (INVOKE_API, INVOKE_STREAM_API, CONVERSE_API, CONVERSE_STREAM_API)
