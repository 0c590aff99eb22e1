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
from llm_dlp.providers.base import ErrorAnswer, ParsedRequest, RequestFormatError, Segment, format_path

__all__ = [
    "Adapter",
    "ErrorAnswer",
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


def error_response(provider: str, path: str, status: int, message: str, method: str = "POST") -> ErrorAnswer:
    """The proxy's answer to a request it does not forward, in the shape of the API the path
    speaks (several providers serve another's format), so its clients show ``message`` and do
    not retry. ``status`` is the proxy's own (403 a policy block, 413 too large, 5xx its own
    failure); a provider module may answer with another where its clients need it."""
    if anthropic.matches(path) or provider == "anthropic":
        answer = anthropic.error_answer(status, message)
    elif provider == "gemini" or gemini.matches(path):
        answer = gemini.error_answer(status, message)
    elif provider == "bedrock":
        body = json.dumps({"message": message}).encode()
        answer = ErrorAnswer(status, body, {"content-type": "application/json", "x-amzn-errortype": "AccessDeniedException"})
    elif responses.matches(path):
        answer = responses.error_answer(status, message, method)
    else:
        answer = openai.error_answer(status, message)
    # SDKs retry 408/409/429/5xx; a DLP decision will not change on retry.
    answer.headers["x-should-retry"] = "false"
    return answer
