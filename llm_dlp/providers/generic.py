"""Any other JSON body on an AI host (Responses API, Gemini, Bedrock, legacy completions...).

Every string value is scanned, so no prompt text passes unseen even where we have no dedicated
adapter yet. Fields that are signatures or opaque provider state are left out: rewriting them
would break the request and they carry no user text.
"""

from __future__ import annotations

from typing import Any

from llm_dlp.providers.base import ParsedRequest, Segment, parsed_request, string_leaves

FORMAT = "json"

OPAQUE_KEYS = frozenset(
    {
        "signature",
        "thoughtSignature",
        "thought_signature",
        "encrypted_content",
        "redacted_thinking",
        "thinking",  # signed reasoning blocks are never touched
        "inlineData",  # base64 media
        "image_url",
        "b64_json",
    }
)


def extract(document: Any) -> ParsedRequest:
    segments = [
        Segment(path, text, "json")
        for path, text in string_leaves(document, (), skip_keys=OPAQUE_KEYS)
    ]
    return parsed_request(FORMAT, document, segments)
