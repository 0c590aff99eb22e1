"""Put the original values back into the model's answers, where the tenant's policy allows.

``session.Restorer`` turns a forwarded request into a ``text.RestoreTable``; the request's
``ApiFormat`` (carried on the ``RestoreSession``) gives the body rewriter for its answer, built
from each API's module here (``anthropic.rewriter``, ...) and the stream machinery in ``stream``.
"""

from llm_dlp.restore.session import Restorer, RestoreSession
from llm_dlp.restore.stream import rewriter_for
from llm_dlp.restore.text import RestoreTable, TextRestorer

__all__ = ["RestoreSession", "RestoreTable", "Restorer", "TextRestorer", "rewriter_for"]
