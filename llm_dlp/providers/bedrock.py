"""Amazon Bedrock runtime: InvokeModel and Converse, whole and streamed.

Request bodies are scanned like any JSON body (``generic.py``: every string but signed and
opaque fields); the format names say which answer shape comes back, for ``restore/bedrock.py``.
Requests signed with SigV4 cannot be rewritten at all (the pipeline blocks instead); those with
a Bedrock API key (``Authorization: Bearer``) can.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Callable
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


def adapter_parts(path: str) -> tuple[str, Callable[[Any], ParsedRequest]] | None:
    """The request format and extractor for ``path``, or None when it is no Bedrock runtime
    call; the model and streaming are in the path, not the body."""
    match = _PATH.match(path)
    if match is None:
        return None
    format_name, model = _ACTIONS[match["action"]], unquote(match["model"])

    def extract(document: Any) -> ParsedRequest:
        scanned = generic.extract(document)
        return replace(scanned, format=format_name, model=model, stream=format_name.endswith("-stream"))

    return format_name, extract
