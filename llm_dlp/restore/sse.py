"""Server-sent events cut out of a byte stream, and rewritten with the fewest changed bytes.

Network chunks split events anywhere, including inside a multi-byte character; an event is
only decoded once its terminating blank line has arrived. An event the restorer leaves alone
goes out as the exact bytes that came in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# A line ending followed by an empty line. Atomic groups keep "\r\n" one line ending, never
# "\r" plus an empty line "\n".
_EVENT_END = re.compile(rb"(?>\r\n|\r|\n)(?>\r\n|\r|\n)")
_LINE = re.compile(r"([^\r\n]*)(\r\n|\r|\n|$)")


@dataclass(slots=True)
class SseEvent:
    raw: bytes
    name: str | None
    data: str | None  # the data lines joined by "\n", or None without any
    newline: str

    def json(self) -> Any:
        if self.data is None:
            return None
        try:
            return json.loads(self.data)
        except ValueError:
            return None

    def with_data(self, data: str) -> bytes:
        """This event with its data replaced; every other line kept byte for byte."""
        lines, written = [], False
        for content, ending in _LINE.findall(self.raw.decode("utf-8")):
            if not content and not ending:
                continue
            if content.startswith("data:"):
                if not written:
                    space = " " if content.startswith("data: ") else ""
                    lines += [f"data:{space}{part}{ending or self.newline}" for part in data.split("\n")]
                    written = True
                continue
            lines.append(content + ending)
        return "".join(lines).encode("utf-8")


def cannot_hold_placeholder(raw: bytes) -> bool:
    """No "[" in the event, not even JSON-escaped: it can neither hold nor start a placeholder."""
    return b"[" not in raw and b"\\u005" not in raw


def make_event(name: str | None, payload: dict, newline: str = "\n") -> bytes:
    """A new event, for text a restorer held back and must send before the block ends."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    head = f"event: {name}{newline}" if name else ""
    return f"{head}data: {data}{newline}{newline}".encode("utf-8")


class SseReader:
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._searched = 0  # bytes already known to hold no event end

    def feed(self, chunk: bytes) -> list[SseEvent]:
        self._buffer += chunk
        events = []
        while True:
            match = _EVENT_END.search(self._buffer, max(0, self._searched - 3))
            # A final "\r" may be the first half of "\r\n": wait to see the next byte.
            if match is None or (match.end() == len(self._buffer) and self._buffer[-1:] == b"\r"):
                self._searched = len(self._buffer)
                return events
            raw = bytes(self._buffer[: match.end()])
            del self._buffer[: match.end()]
            self._searched = 0
            events.append(parse_event(raw))

    def finish(self) -> list[SseEvent]:
        """What is left at the end of the stream: an event without its blank line, if any."""
        raw, self._buffer = bytes(self._buffer), bytearray()
        return [parse_event(raw)] if raw else []

    @property
    def unread(self) -> bytes:
        return bytes(self._buffer)


def parse_event(raw: bytes) -> SseEvent:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return SseEvent(raw, None, None, "\n")  # not ours to understand: pass it on untouched
    name, data, newline = None, [], None
    for content, ending in _LINE.findall(text):
        newline = newline or ending or None
        field, _, value = content.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    return SseEvent(raw, name, "\n".join(data) if data else None, newline or "\n")
