"""Where the code is in a text: fenced blocks and unfenced runs of lines.

The finder only proposes line ranges; whether a range is code of some language (rather than a
log, a licence or a list) is decided by the language model in ``detector.py``. Agents' line
numbers, grep prefixes and diff markers are taken off before (``unwrap.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from detectors.code.line_table import DOC, PLAIN, REMARK, LineTable, line_table
from detectors.code.stack_traces import marker_candidates, may_hold_trace, stack_trace_rows

_FENCE = re.compile(r" {0,3}(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)")  # a whole line
_FENCE_CHARS = (ord("`"), ord("~"))


@dataclass(frozen=True, slots=True)
class Region:
    start: int
    end: int
    code: str  # the region's text without line-number prefixes, for classification
    lines: int  # non-blank lines
    fence_info: str | None  # the info string when the region is a fenced block


def find_regions(text: str, min_lines: int = 2, listed: Sequence[bool] | np.ndarray | None = None) -> list[Region]:
    """Candidate code regions in reading order. ``listed``: per line, is it a line of a file
    listing (an agent numbered it)? Those are code whatever they look like."""
    count = text.count("\n") + 1
    if count < 2 and count < min_lines:  # no room for a fence and its content, nor for a run
        return []
    listed = np.zeros(count, dtype=bool) if listed is None else np.asarray(listed, dtype=bool)
    table = line_table(text, listed)
    traces = _trace_rows(table)
    regions: list[Region] = []
    cursor = 0
    for first, last, info in _fenced(table):
        regions.extend(_unfenced_runs(table, traces, listed, cursor, max(cursor, first - 1), min_lines))
        block = _region(table, first, last, info)
        if block and not _mostly_trace(table, traces, first, last):
            regions.append(block)
        cursor = last + 1
    if cursor < len(table):
        regions.extend(_unfenced_runs(table, traces, listed, cursor, len(table), min_lines))
    return regions


def _trace_rows(table: LineTable) -> np.ndarray:
    """Per line, whether it belongs to a stack trace (the lines split only when one may be there)."""
    if not may_hold_trace(table.text):
        return np.zeros(len(table), dtype=bool)
    candidates = marker_candidates(table.text, table.units, table.starts, table.first, table.blank)
    return np.array(stack_trace_rows(_Lines(table), candidates), dtype=bool)


class _Lines(Sequence[str]):
    """The table's lines, each cut from its text when asked for (with its ``\\r`` dropped):
    the trace finder reads only the lines around its candidates."""

    def __init__(self, table: LineTable) -> None:
        self._table = table

    def __len__(self) -> int:
        return len(self._table)

    def __getitem__(self, line):  # type: ignore[override]
        if not isinstance(line, int) or line < 0:
            raise IndexError(line)
        return self._table.text[self._table.starts[line] : self._table.ends[line]].removesuffix("\r")


def _fenced(table: LineTable) -> list[tuple[int, int, str]]:
    """(first line, last line exclusive, info) of each fenced block's content, closed or not."""
    fences = _fence_lines(table)
    blocks = []
    at = 0
    while at < len(fences):
        line, fence, info = fences[at]
        closing = next((j for j in range(at + 1, len(fences)) if fences[j][1][0] == fence[0]
                        and len(fences[j][1]) >= len(fence) and not fences[j][2].strip()), None)
        if closing is None:
            blocks.append((line + 1, len(table), info.strip()))
            break
        blocks.append((line + 1, fences[closing][0], info.strip()))
        at = closing + 1
    return blocks


def _fence_lines(table: LineTable) -> list[tuple[int, str, str]]:
    """(line, fence, info) of each line that is a fence. Only the lines led (after up to three
    columns) by three backticks or tildes are matched: a pattern anchored at every line is tried
    at every newline (4 ms per MB)."""
    units, first = table.units, np.minimum(table.first, len(table.text))
    head = units[first]
    maybe = np.flatnonzero(((head == _FENCE_CHARS[0]) | (head == _FENCE_CHARS[1])) & (units[first + 1] == head)
                           & (units[np.minimum(first + 2, len(units) - 1)] == head) & (first - table.starts <= 3))
    found = ((line, _FENCE.fullmatch(table.text, table.starts[line], table.ends[line])) for line in maybe.tolist())
    return [(line, m["fence"], m["info"]) for line, m in found if m is not None]


def _region(table: LineTable, first: int, last: int, info: str | None) -> Region | None:
    content = np.flatnonzero(~table.blank[first:last])
    if len(content) == 0:
        return None
    first, last = first + int(content[0]), first + int(content[-1]) + 1
    start, end = int(table.starts[first]), int(table.ends[last - 1])
    code = table.text[start:end]
    if "\r" in code:  # each line as ``str.split`` gives it, its trailing \r dropped
        code = "\n".join(line.removesuffix("\r") for line in code.split("\n"))
    return Region(start=start, end=end, code=code, lines=len(content), fence_info=info)


def _unfenced_runs(
    table: LineTable, traces: np.ndarray, listed: np.ndarray, first: int, last: int, min_lines: int
) -> list[Region]:
    """Runs of code-like lines that are not comments or Markdown (a block of comments is prose;
    a heading, a bullet list, a table or a quote looks like a comment). Inside a run may sit one
    prose-like line, three blank lines, or any number of comment, docstring and indented lines,
    so that a pasted file stays one region. A stack trace is neither code nor a bridge."""
    if last <= first:
        return []
    kinds = table.kinds(first, last)
    rows = slice(first, last)
    code_rows = np.flatnonzero(~traces[rows] & (listed[rows] | ((kinds != REMARK) & table.code[rows])))
    if len(code_rows) == 0:
        return []
    # Counts up to each line of what may not lie between two rows of one run: prose-like
    # (plain) lines, blank lines, and stack trace lines outside a docstring or comment.
    plain = np.concatenate(([0], np.cumsum(kinds == PLAIN)))
    blank = np.concatenate(([0], np.cumsum(table.blank[rows])))
    trace = np.concatenate(([0], np.cumsum(traces[rows] & (kinds != DOC) & (kinds != REMARK))))
    previous, following = code_rows[:-1], code_rows[1:]
    plain_between = plain[following] - plain[previous + 1]
    joined = (
        (trace[following] - trace[previous + 1] == 0)
        & ((plain_between == 0) | ((plain_between == 1) & (blank[following] - blank[previous + 1] <= 3)))
    )
    breaks = np.flatnonzero(~joined) + 1
    regions = []
    for group in np.split(code_rows, breaks):
        if len(group) >= min_lines:
            region = _region(table, first + int(group[0]), first + int(group[-1]) + 1, None)
            if region:
                regions.append(region)
    return regions


def _mostly_trace(table: LineTable, traces: np.ndarray, first: int, last: int) -> bool:
    """A fenced block that is a pasted stack trace, whatever its info string says (tracebacks
    are often fenced as ```python)."""
    rows = ~table.blank[first:last]
    return bool(rows.any()) and int(np.count_nonzero(traces[first:last] & rows)) * 5 >= int(np.count_nonzero(rows)) * 4
