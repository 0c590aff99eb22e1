"""What leaves beside the body: the request target (path and query string) and free-text headers.

A client can put anything in a query parameter, a path segment (Gemini and Bedrock name the
model there) or a header of its own, and the provider receives it as surely as the body, so each
is a segment. They sit outside the JSON document: their paths start with ``TARGET`` or
``HEADER`` and carry a position, never a name a client chose, so the audit's location cannot
spell a value. They cannot be rewritten in flight (the provider routes and authenticates by
them, and the client would not recognise its own request), so a finding there that the policy
would redact or withhold blocks the request instead (``rewritable``).

Not scanned, by name:

- the client's credentials for this provider (``authorization``, ``x-api-key``, ``api-key``,
  ``x-goog-api-key``, the AWS signature headers, ``cookie``, and Gemini's ``key`` query
  parameter): the provider is the party they are meant for, every request carries one, and a
  secret detector would block every request for carrying its own key. A value smuggled there
  reaches only the provider's authentication, which rejects it;
- HTTP's own framing and negotiation headers (``content-length``, ``accept-encoding``, ...),
  whose values the proxy or the HTTP stack sets or checks against a grammar.
"""

from __future__ import annotations

from typing import Iterable
from urllib.parse import unquote, unquote_plus

from llm_dlp.providers.base import HEADER, TARGET, JsonPath, Segment

CREDENTIAL_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie",
    "x-amz-security-token", "x-amz-date", "x-amz-content-sha256",
})
PROTOCOL_HEADERS = frozenset({
    "host", "content-length", "content-type", "content-encoding", "transfer-encoding", "connection",
    "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect", "accept", "accept-encoding",
    "accept-language", "accept-charset", ":authority", ":method", ":path", ":scheme",
})
CREDENTIAL_PARAMETERS = frozenset({"key", "access_token"})


def target_segments(path: str, headers: Iterable[tuple[str, str]]) -> list[Segment]:
    """The path, each query parameter (name and value) and each free-text header (name and value)."""
    route, _, query = path.partition("?")
    segments = [Segment((TARGET, 0), unquote(route), "target")]
    for index, parameter in enumerate(query.split("&") if query else [], start=1):
        name, _, value = parameter.partition("=")
        text = unquote_plus(name) if unquote_plus(name).lower() in CREDENTIAL_PARAMETERS else unquote_plus(parameter)
        segments.append(Segment((TARGET, index), text, "target"))
    for index, (name, value) in enumerate(headers):
        lowered = name.lower()
        if lowered in CREDENTIAL_HEADERS or lowered in PROTOCOL_HEADERS:
            continue
        segments.append(Segment((HEADER, index), f"{name}: {value}", "header"))
    return segments


def rewritable(path: JsonPath) -> bool:
    """Can a finding at ``path`` be redacted or withheld in place? Not outside the body."""
    return not path or path[0] not in (TARGET, HEADER)
