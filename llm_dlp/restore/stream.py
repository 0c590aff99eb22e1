"""Response-body rewriters for mitmproxy's ``flow.response.stream``: bytes in, bytes out.

mitmproxy calls the rewriter with every chunk from upstream and once more with ``b""`` at the
end. It returns a list, empty while holding back: an empty ``bytes`` would go out to an HTTP/1.1
client as a zero-length chunk, which ends a chunked body early. A bug here must not break the
answer: the rewriter logs it and passes the rest through unrestored (placeholders, never values).
"""

from __future__ import annotations

import logging
from typing import Callable, Protocol

from llm_dlp.restore import anthropic, gemini, openai, responses
from llm_dlp.restore.sse import SseEvent, SseReader
from llm_dlp.restore.text import RestoreTable

log = logging.getLogger("llm_dlp")

MAX_JSON_BODY = 64 * 1024 * 1024  # a non-streamed answer larger than this passes unrestored


class EventHandler(Protocol):
    def on_event(self, event: SseEvent) -> bytes: ...

    def finish(self, newline: str = "\n") -> bytes: ...


class SseRestorer:
    def __init__(self, handler: EventHandler) -> None:
        self.handler = handler
        self.reader = SseReader()
        self.broken = False

    def __call__(self, chunk: bytes) -> list[bytes]:
        if self.broken:
            return [chunk] if chunk else []
        events: list[SseEvent] = []
        try:
            events = self.reader.feed(chunk) if chunk else self.reader.finish()
            out = b"".join(self.handler.on_event(event) for event in events)
            if not chunk:
                out += self.handler.finish()
        except Exception:  # noqa: BLE001 — see the module docstring
            log.exception("llm-dlp could not restore placeholders in a streamed answer; passing it on as is")
            self.broken = True
            out = b"".join(event.raw for event in events) + self.reader.unread
        return [out] if out else []


class JsonRestorer:
    """A non-streamed answer: restorable only once complete, so it is collected, then rewritten."""

    def __init__(self, restore: Callable[[str, RestoreTable], str], table: RestoreTable, limit: int = MAX_JSON_BODY) -> None:
        self.restore = restore
        self.table = table
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.passing = False

    def __call__(self, chunk: bytes) -> list[bytes]:
        if self.passing:
            return [chunk] if chunk else []
        if chunk:
            self.parts.append(chunk)
            self.size += len(chunk)
            if self.size <= self.limit:
                return []
            log.warning("llm-dlp: answer over %d bytes passes on without restoring placeholders", self.limit)
            self.passing = True
        body = b"".join(self.parts)
        self.parts = []
        if self.passing or b"[[" not in body:
            return [body] if body else []
        try:
            return [self.restore(body.decode("utf-8"), self.table).encode("utf-8")]
        except Exception:  # noqa: BLE001 — an unreadable answer goes to the client as it came
            log.exception("llm-dlp could not restore placeholders in an answer; passing it on as is")
            return [body]


Rewriter = Callable[[bytes], list[bytes]]


def rewriter_for(request_format: str | None, content_type: str, table: RestoreTable) -> Rewriter | None:
    """The body rewriter for an answer to a request of ``request_format``; None when we have none."""
    if not table.restores_anything:
        return None
    streamed = "text/event-stream" in content_type
    if not streamed and "json" not in content_type:
        return None
    if request_format == "anthropic-messages":
        return SseRestorer(anthropic.MessageStream(table)) if streamed else JsonRestorer(anthropic.restore_message, table)
    if request_format == "openai-chat":
        return SseRestorer(openai.ChatStream(table)) if streamed else JsonRestorer(openai.restore_completion, table)
    if request_format == "gemini":
        return SseRestorer(gemini.GeminiStream(table)) if streamed else JsonRestorer(gemini.restore_body, table)
    if request_format == "openai-responses":
        return SseRestorer(responses.ResponseStream(table)) if streamed else JsonRestorer(responses.restore_response, table)
    return None
