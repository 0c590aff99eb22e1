"""Put the original values back into the model's answers, where the tenant's policy allows.

``session.Restorer`` turns a forwarded request into a ``text.RestoreTable``; ``stream.rewriter_for``
gives the body rewriter for its answer (SSE or JSON, Anthropic Messages or OpenAI Chat
Completions).
"""

from llm_dlp.restore.session import Restorer, RestoreSession
from llm_dlp.restore.stream import rewriter_for
from llm_dlp.restore.text import RestoreTable, TextRestorer

__all__ = ["RestoreSession", "RestoreTable", "Restorer", "TextRestorer", "rewriter_for"]
