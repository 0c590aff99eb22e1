"""Provider adapters: turn a request body into prompt segments; shape errors like the provider.

The request format is chosen by path, because several providers expose another's format
(DeepSeek and Moonshot serve Anthropic's ``/v1/messages``; most serve ``/chat/completions``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from llm_dlp.providers import anthropic, bedrock, gemini, generic, openai, responses
from llm_dlp.providers.base import ParsedRequest, RequestFormatError, Segment, format_path

__all__ = [
    "Adapter",
    "ParsedRequest",
    "RequestFormatError",
    "Segment",
    "adapter_for",
    "error_response",
    "format_path",
]


@dataclass(frozen=True, slots=True)
class Adapter:
    format: str
    extract: Callable[[Any], ParsedRequest]


def adapter_for(path: str) -> Adapter:
    """The format a request is in, from the shape of its path on any AI host.

    Only the path's tail counts, so a provider's prefix does not matter: ``/v1/messages``,
    ``/anthropic/v1/messages`` and ``/apps/anthropic/v1/messages`` are all Anthropic Messages,
    ``/api/coding/paas/v4/chat/completions`` is Chat Completions. Runs of slashes (a base URL
    configured with a trailing slash) count as one.
    """
    path = re.sub(r"/{2,}", "/", path.split("#", 1)[0])
    if anthropic.matches(path):
        return Adapter(anthropic.FORMAT, anthropic.extract)
    if openai.matches(path):
        return Adapter(openai.FORMAT, openai.extract)
    if responses.matches(path):
        return Adapter(responses.FORMAT, responses.extract)
    if gemini.matches(path):
        return Adapter(gemini.FORMAT, gemini.extract)
    if (bedrock_adapter := bedrock.adapter_parts(path)) is not None:
        return Adapter(*bedrock_adapter)
    return Adapter(generic.FORMAT, generic.extract)


def error_response(provider: str, path: str, status: int, message: str) -> tuple[bytes, dict[str, str]]:
    """Body and headers of an error the provider's own SDK parses and shows to the user."""
    if anthropic.matches(path) or provider == "anthropic":
        body, headers = anthropic.error_body(status, message)
    elif provider == "gemini" or gemini.matches(path):
        body, headers = _google_error(status, message)
    elif provider == "bedrock":
        body = json.dumps({"message": message}).encode()
        headers = {"content-type": "application/json", "x-amzn-errortype": "AccessDeniedException"}
    else:
        body, headers = openai.error_body(status, message)
    # SDKs retry 408/409/429/5xx; a DLP decision will not change on retry.
    headers["x-should-retry"] = "false"
    return body, headers


def _google_error(status: int, message: str) -> tuple[bytes, dict[str, str]]:
    names = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 413: "INVALID_ARGUMENT", 504: "DEADLINE_EXCEEDED"}
    payload = {"error": {"code": status, "message": message, "status": names.get(status, "INTERNAL")}}
    return json.dumps(payload).encode(), {"content-type": "application/json"}
