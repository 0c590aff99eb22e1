"""The API formats the proxy reads: one ``ApiFormat`` per API, found here from a request's path.

The format is chosen by path, because several providers expose another's format (DeepSeek and
Moonshot serve Anthropic's ``/v1/messages``; most serve ``/chat/completions``). Adding an API is
one module building an ``ApiFormat`` and one entry in ``FORMATS``; nothing else dispatches on
formats (the pipeline, the answer restorer, ``policy explain`` and the addon all ask the object).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Iterable

from llm_dlp.providers import anthropic, bedrock, gemini, generic, openai, responses
from llm_dlp.providers.api import ApiFormat
from llm_dlp.providers.base import ErrorAnswer, ParsedRequest, RequestFormatError, Segment, format_path

__all__ = [
    "ApiFormat",
    "ErrorAnswer",
    "FORMATS",
    "ParsedRequest",
    "RequestFormatError",
    "Segment",
    "adapter_for",
    "error_response",
    "format_for",
    "format_named",
    "format_path",
]

# Tried in order; the first whose ``matches`` accepts the path wins, else ``generic.API``.
FORMATS: tuple[ApiFormat, ...] = (
    anthropic.API,
    openai.API,
    responses.API,
    gemini.API,
    *bedrock.FORMATS,
)


def format_for(path: str, provider: str = "", formats: Iterable[ApiFormat] = FORMATS) -> ApiFormat:
    """The format a request is in, from the shape of its path on any AI host.

    Only the path's tail counts, so a provider's prefix does not matter: ``/v1/messages``,
    ``/anthropic/v1/messages`` and ``/apps/anthropic/v1/messages`` are all Anthropic Messages,
    ``/api/coding/paas/v4/chat/completions`` is Chat Completions. Runs of slashes (a base URL
    configured with a trailing slash) count as one. A path no format claims is read as generic
    JSON; its errors take the shape of the provider's own API where it has one (``home_of``).
    """
    path = re.sub(r"/{2,}", "/", path.split("#", 1)[0])
    formats = tuple(formats)
    found = next((api for api in formats if api.matches(path)), None)
    home = next((api for api in formats if provider in api.home_of), None) if provider else None
    if found is None:
        return generic.API if home is None else _generic_answering_as(home)
    if home is not None and home.error is not found.error:
        # Google's and AWS's front ends answer in their own shape whatever the path speaks.
        return _answering_as(found, home)
    return found


def format_named(name: str | None, formats: Iterable[ApiFormat] = FORMATS) -> ApiFormat | None:
    """The format the audit and the restorer know by ``name`` (``"anthropic-messages"``)."""
    return next((api for api in (*formats, generic.API) if api.name == name), None)


def adapter_for(path: str) -> ApiFormat:
    """The format of ``path`` (the name older callers use): ``.format`` and ``.extract(document)``."""
    return format_for(path)


def error_response(provider: str, path: str, status: int, message: str, method: str = "POST") -> ErrorAnswer:
    """The proxy's answer to a request it does not forward, in the shape its clients show as the
    message and do not retry. ``status`` is the proxy's own (403 a policy block, 413 too large, 5xx
    its own failure); a format may answer with another where its clients need it."""
    return answer_with(format_for(path, provider), status, message, method)


def answer_with(api: ApiFormat, status: int, message: str, method: str = "POST") -> ErrorAnswer:
    answer = api.error_answer(status, message, method)
    # SDKs retry 408/409/429/5xx; a DLP decision will not change on retry.
    answer.headers["x-should-retry"] = "false"
    return answer


def _answering_as(api: ApiFormat, home: ApiFormat) -> ApiFormat:
    return replace(api, error=home.error)


def _generic_answering_as(home: ApiFormat) -> ApiFormat:
    return _answering_as(generic.API, home)
