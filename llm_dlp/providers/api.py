"""One object per API format: everything the proxy knows about a request format in one place.

An ``ApiFormat`` says which request paths speak it, how its body is read (the fields it
annotates with roles, content units and file hints, and the short list of fields it exempts
from scanning), the error shape its clients understand, and how its answers are restored. The
registry in ``llm_dlp.providers`` looks one up per request; the proxy carries it to the answer.

Adding an API is one module that builds an ``ApiFormat`` and one line in ``providers.FORMATS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from llm_dlp.providers.base import ErrorAnswer, ParsedRequest
from llm_dlp.providers.coverage import Exemptions, MediaField, WalkMemo, cover

if TYPE_CHECKING:
    from llm_dlp.restore.text import RestoreTable

# bytes in, bytes out, for mitmproxy's ``flow.response.stream`` (see ``llm_dlp.restore.stream``)
Rewriter = Callable[[bytes], list[bytes]]


def _no_rewriter(content_type: str, table: "RestoreTable") -> Rewriter | None:
    return None


def _no_exemptions(document: Any) -> Exemptions:
    return {}


def _no_media(document: Any) -> list[MediaField]:
    return []


@dataclass(frozen=True, slots=True)
class ApiFormat:
    """An API's request format, its errors and its answers.

    ``annotate`` gives the segments it understands (roles, content units, file hints); every
    other string and object key of the body is scanned anyway, except where ``exempt`` names a
    path (a provider-verified signature, encrypted reasoning, base64 media handed to decoding).
    ``vocabulary``: the API's own field names and enum words, skipped as texts because each is
    a fixed word that holds nothing a client chose.
    """

    name: str
    matches: Callable[[str], bool]
    annotate: Callable[[Any], ParsedRequest]
    error: Callable[[int, str, str], ErrorAnswer]
    exempt: Callable[[Any], Exemptions] = _no_exemptions
    media: Callable[[Any], list[MediaField]] = _no_media
    rewriter: Callable[[str, "RestoreTable"], Rewriter | None] = _no_rewriter
    vocabulary: frozenset[str] = frozenset()
    # Providers every one of whose answers has this error shape, whatever the path (Google's
    # and AWS's own front ends answer unknown paths in their shape too).
    home_of: tuple[str, ...] = ()
    # Does a body saved without its request line look like this API (``llm-dlp policy explain``)?
    looks_like: Callable[[Any], bool] | None = None
    example_path: str = "/json"
    path_model: Callable[[str], str | None] = field(default=lambda path: None)

    @property
    def format(self) -> str:  # the name the audit and older callers know it by
        return self.name

    def extract(self, document: Any, path: str = "", memo: WalkMemo | None = None) -> ParsedRequest:
        """Every text of ``document``: the annotated segments, then whatever they left out.
        ``memo``: walks of unannotated top-level values kept from earlier bodies (``coverage``)."""
        annotated = self.annotate(document)
        covered = cover(document, annotated.segments, self.exempt(document), self.media(document), self.vocabulary, memo)
        annotated.segments = covered.segments
        annotated.exempt = covered.exempt
        annotated.unscanned_media = annotated.unscanned_media + covered.unscanned_media
        model = self.path_model(path)
        if model is not None:
            annotated.model = model
        return annotated

    def error_answer(self, status: int, message: str, method: str = "POST") -> ErrorAnswer:
        return self.error(status, message, method)

    def answer_rewriter(self, content_type: str, table: "RestoreTable") -> Rewriter | None:
        """The body rewriter for an answer of ``content_type``; None when there is nothing to restore."""
        if not table.entries:  # a table that restores nothing may still have tool calls to hold back
            return None
        return self.rewriter(content_type, table)

