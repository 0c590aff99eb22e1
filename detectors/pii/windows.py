"""Cut a long text down to the windows where personal data can possibly be.

Every recognizer's match contains an *anchor*: an ``@``, a run of six or more digits (phone,
card, IBAN and ID numbers), a dotted or colon-separated address, or the cue/key phrase of a name
recognizer. One pass of one compiled regex finds the anchors; presidio then analyses only
``BEFORE`` characters ahead of each anchor (enough for the five context words presidio looks
at) and ``AFTER`` characters behind it (longer than any entity), widened to whitespace and
merged where they overlap. On prose-and-code prompts this is a small part of the text, and the
cost stays linear however long the text is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator

BEFORE = 80
AFTER = 64
# How far a window edge may move to reach whitespace.
EDGE_SLACK = 48

BUILTIN_ANCHORS = (
    r"@",
    r"\d(?:[ \t\-.()/]{0,3}\d){5,}",  # phone, card, IBAN, SSN and ID numbers
    r"\d\.\d{1,3}\.\d",  # IPv4
    r"(?<=[0-9A-Fa-f]):[0-9A-Fa-f]{0,4}:",  # IPv6
    r"::[0-9A-Fa-f]",
)


@dataclass(frozen=True, slots=True)
class Window:
    start: int
    end: int


def compile_anchors(extra: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    # One regex per anchor: Python's engine tries every branch of an alternation at every
    # position, so separate passes are several times faster than one combined pattern.
    return tuple(re.compile(anchor) for anchor in (*BUILTIN_ANCHORS, *extra))


def candidate_windows(text: str, anchors: tuple[re.Pattern[str], ...]) -> list[Window]:
    windows: list[Window] = []
    for start, end in _merged_spans(text, anchors):
        start, end = _widen_left(text, start), _widen_right(text, end)
        if windows and start <= windows[-1].end:
            windows[-1] = Window(windows[-1].start, end)
        else:
            windows.append(Window(start, end))
    return windows


def _merged_spans(text: str, anchors: tuple[re.Pattern[str], ...]) -> Iterator[tuple[int, int]]:
    hits = sorted((match.start(), match.end()) for anchor in anchors for match in anchor.finditer(text))
    current_start = current_end = -1
    for hit_start, hit_end in hits:
        start = max(0, hit_start - BEFORE)
        end = min(len(text), hit_end + AFTER)
        if start <= current_end:
            current_end = max(current_end, end)
            continue
        if current_end >= 0:
            yield current_start, current_end
        current_start, current_end = start, end
    if current_end >= 0:
        yield current_start, current_end


def _widen_left(text: str, start: int) -> int:
    floor = max(0, start - EDGE_SLACK)
    while start > floor and not text[start - 1].isspace():
        start -= 1
    return start


def _widen_right(text: str, end: int) -> int:
    ceiling = min(len(text), end + EDGE_SLACK)
    while end < ceiling and not text[end].isspace():
        end += 1
    return end
