"""Response-body rewriters for mitmproxy's ``flow.response.stream``: bytes in, bytes out.

mitmproxy calls the rewriter with every chunk from upstream and once more with ``b""`` at the
end. It returns a list, empty while holding back: an empty ``bytes`` would go out to an HTTP/1.1
client as a zero-length chunk, which ends a chunked body early. A bug here must not break the
answer: the rewriter logs it and passes the rest through unrestored (placeholders, never values).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Protocol

from llm_dlp.providers import bedrock as bedrock_paths
from llm_dlp.restore import anthropic, bedrock, gemini, openai, responses
from llm_dlp.restore.eventstream import Frame, FrameReader
from llm_dlp.restore.sse import SseEvent, SseReader
from llm_dlp.restore.text import RestoreTable

log = logging.getLogger("llm_dlp")

MAX_JSON_BODY = 64 * 1024 * 1024  # a non-streamed answer larger than this passes unrestored


class _Unit(Protocol):
    raw: bytes


class _Reader(Protocol):
    def feed(self, chunk: bytes) -> list: ...

    def finish(self) -> list: ...

    @property
    def unread(self) -> bytes: ...


class StreamRestorer:
    """A streamed answer cut into units (SSE events, event-stream frames) that a handler
    rewrites one by one; ``flush`` gives what the handler still holds at the end."""

    def __init__(self, reader: _Reader, rewrite: Callable[[Any], bytes], flush: Callable[[], bytes]) -> None:
        self.reader = reader
        self.rewrite = rewrite
        self.flush = flush
        self.broken = False

    def __call__(self, chunk: bytes) -> list[bytes]:
        if self.broken:
            return [chunk] if chunk else []
        units: list[_Unit] = []
        try:
            units = self.reader.feed(chunk) if chunk else self.reader.finish()
            out = b"".join(self.rewrite(unit) for unit in units)
            if not chunk:
                out += self.flush() + self.reader.unread
        except Exception:  # noqa: BLE001 — see the module docstring
            log.exception("llm-dlp could not restore placeholders in a streamed answer; passing it on as is")
            self.broken = True
            out = b"".join(unit.raw for unit in units) + self.reader.unread
        return [out] if out else []


class EventHandler(Protocol):
    def on_event(self, event: SseEvent) -> bytes: ...

    def finish(self, newline: str = "\n") -> bytes: ...


class SseRestorer(StreamRestorer):
    def __init__(self, handler: EventHandler) -> None:
        super().__init__(SseReader(), handler.on_event, handler.finish)


class FrameHandler(Protocol):
    def on_frame(self, frame: Frame) -> bytes: ...

    def finish(self) -> bytes: ...


class EventStreamRestorer(StreamRestorer):
    """Bedrock's ``application/vnd.amazon.eventstream`` answers."""

    def __init__(self, handler: FrameHandler) -> None:
        super().__init__(FrameReader(), handler.on_frame, handler.finish)


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
    if not table.entries:  # a table that restores nothing may still have tool calls to hold back
        return None
    if "vnd.amazon.eventstream" in content_type:
        if request_format == bedrock_paths.INVOKE_STREAM:
            return EventStreamRestorer(bedrock.InvokeStream(table))
        if request_format == bedrock_paths.CONVERSE_STREAM:
            return EventStreamRestorer(bedrock.ConverseStream(table))
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
    if request_format in (bedrock_paths.INVOKE, bedrock_paths.CONVERSE) and not streamed:
        restore = bedrock.restore_invoke if request_format == bedrock_paths.INVOKE else bedrock.restore_converse
        return JsonRestorer(restore, table)
    if request_format == "openai-responses":
        return SseRestorer(responses.ResponseStream(table)) if streamed else JsonRestorer(responses.restore_response, table)
    return None
