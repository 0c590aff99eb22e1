"""Response-body rewriters for mitmproxy's ``flow.response.stream``: bytes in, bytes out.

mitmproxy calls the rewriter with every chunk from upstream and once more with ``b""`` at the
end. It returns a list, empty while holding back: an empty ``bytes`` would go out to an HTTP/1.1
client as a zero-length chunk, which ends a chunked body early. A bug here must not break the
answer: the rewriter logs it and passes the rest through unrestored (placeholders, never values).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Protocol

from llm_dlp.restore.eventstream import Frame, FrameReader
from llm_dlp.restore.sse import SseEvent, SseReader
from llm_dlp.restore.text import RestoreTable
from llm_dlp.verdict import exception_summary

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
        except Exception as exc:  # noqa: BLE001 — see the module docstring
            # type and place only: a traceback's message may quote the answer's text
            log.error("llm-dlp could not restore placeholders in a streamed answer (%s); passing it on as is",
                      exception_summary(exc))
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
        except Exception as exc:  # noqa: BLE001 — an unreadable answer goes to the client as it came
            log.error("llm-dlp could not restore placeholders in an answer (%s); passing it on as is", exception_summary(exc))
            return [body]


Rewriter = Callable[[bytes], list[bytes]]


def sse_or_json(content_type: str, stream: Callable[[], EventHandler], restore: Callable[[str, RestoreTable], str],
                table: RestoreTable) -> Rewriter | None:
    """The rewriter for an answer that is an SSE stream or one JSON document; None for anything else."""
    if "text/event-stream" in content_type:
        return SseRestorer(stream())
    if "json" in content_type:
        return JsonRestorer(restore, table)
    return None


def rewriter_for(request_format: str | None, content_type: str, table: RestoreTable) -> Rewriter | None:
    """The body rewriter for an answer to a request of ``request_format``; None when we have none.
    Each API's own ``ApiFormat.answer_rewriter`` decides; this finds the format by its name."""
    from llm_dlp.providers import format_named  # the formats hold their restorers: imported when used

    api = format_named(request_format)
    return api.answer_rewriter(content_type, table) if api is not None else None
