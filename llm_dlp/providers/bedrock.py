"""Amazon Bedrock runtime: InvokeModel and Converse, whole and streamed.

Request bodies are scanned like any JSON body (``generic.py``: every string but signed and
opaque fields); the format names say which answer shape comes back, for ``restore/bedrock.py``.
Requests signed with SigV4 cannot be rewritten at all (the pipeline blocks instead); those with
a Bedrock API key (``Authorization: Bearer``) can.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from llm_dlp.providers import generic
from llm_dlp.providers.base import ParsedRequest

INVOKE, INVOKE_STREAM = "bedrock-invoke", "bedrock-invoke-stream"
CONVERSE, CONVERSE_STREAM = "bedrock-converse", "bedrock-converse-stream"
_ACTIONS = {
    "invoke": INVOKE,
    "invoke-with-response-stream": INVOKE_STREAM,
    "converse": CONVERSE,
    "converse-stream": CONVERSE_STREAM,
}
# The model id may be an ARN, percent-encoded (``arn%3Aaws%3Abedrock...``), so no "/" inside.
_PATH = re.compile(r"^/model/(?P<model>[^/?]+)/(?P<action>invoke|invoke-with-response-stream|converse|converse-stream)(?:\?|$)")


def matches(path: str) -> bool:
    return _PATH.match(path) is not None


def format_for(path: str) -> str:
    return _ACTIONS[_PATH.match(path)["action"]]


def extractor(path: str):
    """The extractor for a request to ``path``; the model and streaming are in the path, not
    the body."""
    match = _PATH.match(path)
    format_name, model = _ACTIONS[match["action"]], unquote(match["model"])

    def extract(document: Any) -> ParsedRequest:
        scanned = generic.extract(document)
        return replace(scanned, format=format_name, model=model, stream=format_name.endswith("-stream"))

    return extract
