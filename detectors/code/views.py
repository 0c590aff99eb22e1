"""What ``unwrap`` gives: code without its wrapper, and where each of its characters came from.

A ``View`` is the code a wrapper held (a numbered listing's lines without their numbers, one side
of a diff, a notebook's cell sources), built from pieces of the wrapped text, with the file's own
line number and the file the wrapper names, per line. Detectors scan ``View.text`` and report
``View.span`` of what they found, so a redaction covers the characters as they were sent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

import numpy as np

from detectors.code.line_table import code_units

PLAIN, NUMBERED, GREP, DIFF, NOTEBOOK, QUOTE = "plain", "numbered", "grep", "diff", "notebook", "quote"
# Wrappers that prefix every line: a finding covers whole lines, prefixes included.
_LINE_PREFIXES = frozenset({NUMBERED, GREP, DIFF, QUOTE})


class Side(IntEnum):
    """Which version of the file a diff line belongs to."""

    BOTH = 0
    OLD = 1
    NEW = 2


class Line(NamedTuple):  # a NamedTuple: tens of thousands are made per listing, cheaply
    """One line of code in a wrapped text."""

    start: int  # where the line's content starts in the wrapped text
    end: int  # where it ends (before the newline)
    number: int = 0  # the file's own line number, 0 when the wrapper gives none
    file: str | None = None
    side: Side = Side.BOTH
    old_number: int = 0  # a diff's context line: its number in the old version


@dataclass(frozen=True, slots=True)
class View:
    """Code without its wrapper. ``text`` is built from pieces of the wrapped text: piece ``i``
    starts at ``starts[i]`` in ``text`` and at ``origins[i]`` in the wrapped text, where it is
    ``lengths[i]`` characters long (as long as in ``text``, except a JSON escape: one character
    here, several there)."""

    text: str
    wrapper: str
    original: str  # the wrapped text
    starts: np.ndarray
    origins: np.ndarray
    lengths: np.ndarray
    line_starts: np.ndarray  # where each line of ``text`` starts
    numbers: np.ndarray  # per line of ``text``: the file's own line number (0: none given)
    line_files: np.ndarray  # per line: index into ``files``, -1 when none is named
    files: tuple[str, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The characters of the wrapped text that ``text[start:end]`` came from."""
        if self.wrapper == PLAIN or end <= start:
            return start, end
        first = int(np.searchsorted(self.starts, start, side="right")) - 1
        last = int(np.searchsorted(self.starts, end - 1, side="right")) - 1
        origin_start, origin_end = self._origin(first, start, False), self._origin(last, end - 1, True)
        if self.wrapper in _LINE_PREFIXES:  # whole lines: the first one's number or marker goes too
            origin_start = self.original.rfind("\n", 0, origin_start) + 1
            line_end = self.original.find("\n", max(origin_end - 1, origin_start))
            origin_end = len(self.original) if line_end < 0 else max(line_end, origin_end)
        return origin_start, origin_end

    def _origin(self, piece: int, at: int, after: bool) -> int:
        copied = self.lengths[piece] == (self._piece_end(piece) - self.starts[piece])
        if copied:
            return int(self.origins[piece] + at - self.starts[piece] + after)
        return int(self.origins[piece] + (self.lengths[piece] if after else 0))

    def _piece_end(self, piece: int) -> int:
        return int(self.starts[piece + 1]) if piece + 1 < len(self.starts) else len(self.text)

    def lines(self, start: int, end: int) -> tuple[int, int] | None:
        """The file's own numbers of the first and last numbered lines in ``text[start:end]``."""
        numbers = self.numbers[self._line_range(start, end)]
        numbers = numbers[numbers > 0]
        return (int(numbers.min()), int(numbers.max())) if len(numbers) else None

    def file(self, start: int, end: int) -> str | None:
        """The file the wrapper names for most of ``text[start:end]``, if any."""
        named = self.line_files[self._line_range(start, end)]
        named = named[named >= 0]
        return self.files[int(np.bincount(named).argmax())] if len(named) else None

    def _line_range(self, start: int, end: int) -> slice:
        first = int(np.searchsorted(self.line_starts, start, side="right")) - 1
        last = int(np.searchsorted(self.line_starts, max(end - 1, start), side="right")) - 1
        return slice(max(first, 0), last + 1)


def file_details(view: View, start: int, end: int, path_hint: str | None) -> dict[str, object]:
    """What a finding in ``view.text[start:end]`` says about the file it was read from: the path
    the wrapper (grep, a diff) or the tool call names, and the file's own line numbers when the
    wrapper carries them. Metadata only, never the text."""
    details: dict[str, object] = {}
    file = view.file(start, end) or path_hint
    if file:
        details["file"] = file
    lines = view.lines(start, end)
    if lines is not None:
        details["file_lines"] = list(lines)
    return details


def plain(text: str) -> View:
    """The view of a text that has no wrapper: itself."""
    line_starts = np.concatenate(([0], newlines(text) + 1)).astype(np.int64)
    zero = np.zeros(1, dtype=np.int64)
    return View(text, PLAIN, text, zero, zero, np.array([len(text)], dtype=np.int64), line_starts,
                np.zeros(len(line_starts), dtype=np.int64), np.full(len(line_starts), -1, dtype=np.int64), ())


def newlines(text: str) -> np.ndarray:
    """Where the newlines of ``text`` are."""
    return np.flatnonzero(code_units(text) == 10)


# A character outside the BMP is escaped as a surrogate pair (an emoji in a notebook): decoded as
# one, or the view would hold two lone surrogates that no UTF encoding takes.
_ESCAPE = re.compile(r"\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)")


class Pieces:
    """Accumulates a view's text and its pieces of the wrapped text."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.starts: list[int] = []
        self.origins: list[int] = []
        self.lengths: list[int] = []
        self.text_length = 0

    def copy(self, text: str, start: int, end: int) -> None:
        if end > start:
            self._piece(text[start:end], start, end - start)

    def _piece(self, part: str, origin: int, length: int) -> None:
        self.parts.append(part)
        self.starts.append(self.text_length)
        self.origins.append(origin)
        self.lengths.append(length)
        self.text_length += len(part)

    def add_newline(self, origin: int) -> None:
        self._piece("\n", origin, 0)

    def add_json_string(self, text: str, start: int, end: int) -> None:
        at = start
        for escape in _ESCAPE.finditer(text, start, end):
            self.copy(text, at, escape.start())
            try:
                decoded = json.loads('"' + escape.group() + '"')
            except json.JSONDecodeError:
                decoded = escape.group()
            self._piece(decoded, escape.start(), escape.end() - escape.start())
            at = escape.end()
        self.copy(text, at, end)

    def view(self, original: str, wrapper: str) -> View:
        """The pieces as a view whose lines carry no numbers or file names."""
        text = "".join(self.parts)
        line_starts = np.concatenate(([0], newlines(text) + 1)).astype(np.int64)
        return View(
            text, wrapper, original,
            np.array(self.starts, dtype=np.int64), np.array(self.origins, dtype=np.int64), np.array(self.lengths, dtype=np.int64),
            line_starts, np.zeros(len(line_starts), dtype=np.int64), np.full(len(line_starts), -1, dtype=np.int64), (),
        )


def build(text: str, lines: list[Line], wrapper: str) -> View:
    """A view of ``lines`` (each a stretch of ``text``), one line of the view per line: one
    piece per line, its newline included when the line ends at one in ``text`` too."""
    if not lines:
        return plain("")
    starts = np.fromiter((line.start for line in lines), dtype=np.int64, count=len(lines))
    ends = np.fromiter((line.end for line in lines), dtype=np.int64, count=len(lines))
    lengths = ends - starts
    view_starts = np.concatenate(([0], np.cumsum(lengths[:-1] + 1))).astype(np.int64)
    joined = "\n".join([text[line.start : line.end] for line in lines])
    # every line's piece runs on over the newline after it (the last line's: no newline follows)
    lengths = np.minimum(lengths + 1, np.maximum(len(joined) - view_starts, 0))
    names = sorted({line.file for line in lines if line.file is not None})
    index = {name: i for i, name in enumerate(names)}
    return View(
        joined, wrapper, text, view_starts, starts, lengths, view_starts,
        np.fromiter((line.number for line in lines), dtype=np.int64, count=len(lines)),
        np.fromiter((index[line.file] if line.file is not None else -1 for line in lines), dtype=np.int64, count=len(lines)),
        tuple(names),
    )
