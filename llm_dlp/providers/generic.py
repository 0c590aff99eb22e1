"""Any other JSON body on an AI host (legacy completions, embeddings, Ollama, a provider's own API).

No adapter knows its fields, so the coverage walker scans every string and key and nothing is
exempt: there is no signature we know the provider verifies, and base64 media is recognised
only by its ``data:`` URL prefix.
"""

from __future__ import annotations

from typing import Any

from llm_dlp.providers import openai
from llm_dlp.providers.api import ApiFormat
from llm_dlp.providers.base import ErrorAnswer, ParsedRequest, parsed_request

FORMAT = "json"


def annotate(document: Any) -> ParsedRequest:
    return parsed_request(FORMAT, document, [])


def error_answer(status: int, message: str, method: str = "POST") -> ErrorAnswer:
    """OpenAI's error shape: the one most other APIs copy, so generic clients print it best."""
    return openai.error_answer(status, message)


API = ApiFormat(name=FORMAT, matches=lambda path: True, annotate=annotate, error=error_answer)


def extract(document: Any) -> ParsedRequest:
    return API.extract(document)


__all__ = ["API", "FORMAT", "extract"]
