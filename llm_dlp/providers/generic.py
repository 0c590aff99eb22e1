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
    parsed = parsed_request(FORMAT, document, [])
    parsed.token_id_paths = tuple(token_id_paths(document))
    return parsed


def token_id_paths(document: Any) -> list[tuple[str]]:
    """Prompts given as integer token ids (legacy completions' ``prompt``, embeddings' ``input``):
    a list of integers, or a list of such lists. No text scanner reads them; the policy decides."""
    found = []
    for key in ("prompt", "input"):
        value = document.get(key) if isinstance(document, dict) else None
        if isinstance(value, list) and value and (_ints(value) or all(isinstance(v, list) and v and _ints(v) for v in value)):
            found.append((key,))
    return found


def _ints(values: list) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def error_answer(status: int, message: str, method: str = "POST") -> ErrorAnswer:
    """OpenAI's error shape: the one most other APIs copy, so generic clients print it best."""
    return openai.error_answer(status, message)


API = ApiFormat(name=FORMAT, matches=lambda path: True, annotate=annotate, error=error_answer)


def extract(document: Any) -> ParsedRequest:
    return API.extract(document)


__all__ = ["API", "FORMAT", "extract"]
