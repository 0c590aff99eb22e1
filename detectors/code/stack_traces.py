"""Stack traces: what a runtime prints for an uncaught error.

A trace quotes paths, function names and (Python, Node.js) single source lines, so line by line
it looks like code; but it is a log of a failure, not code of a language, and a policy that
logs "code" must not fire on every pasted error. The region finder leaves the lines found here
out of code regions.

A trace is found from its frame lines, which each runtime prints in a fixed shape; one frame-like
line alone is never a trace (code can contain ``at foo(bar.js:1)`` in a string), so a block needs
two marker lines close together. Messages and quoted source lines between markers belong to the
block, as does the exception message just above or below it.
"""

from __future__ import annotations

import re

import numpy as np

from detectors.code.line_table import code_units

# One alternative per runtime; each matches a whole line (leading whitespace kept).
_MARKER = re.compile(
    r"""(?x)^(?:
      Traceback\ \(most\ recent\ call\ last\):                               # Python
    | \s*File\ "[^"\n]+",\ line\ \d+(?:,\ in\ \S.*)?
    | (?:During\ handling\ of\ the\ above\ exception|The\ above\ exception\ was\ the\ direct\ cause).*
    | \s+at\ (?:new\ |async\ )*[^\s(]+\ ?\((?:[^()\n]*:\d+(?::\d+)?|Native\ Method|Unknown\ Source|<anonymous>)\)\ ?\{?  # JVM, Node
    | \s+at\ (?:async\ )?[^\s()]+:\d+(?::\d+)?(?:\ \{)?                       # Node, Rust locations
    | \s+at\ [\w$.`<>\[\]|,+-]+\([^()\n]*\)(?:\ in\ \S.*:line\ \d+)?         # .NET
    | \s*(?:---\ End\ of\ (?:inner\ exception\ )?stack\ trace.*|\ --->\ \S.*)
    | (?:Caused\ by|\s+Suppressed):\ \S.*                                   # JVM
    | \s+\.\.\.\ \d+\ (?:more|common\ frames\ omitted)
    | Exception\ in\ thread\ ".*
    | goroutine\ \d+\ \[[^\]\n]+\]:                                          # Go
    | \t\S+\.go:\d+(?:\ \+0x[0-9a-f]+)?
    | created\ by\ \S.*
    | thread\ '[^'\n]*'\ (?:\(\d+\)\ )?panicked\ at\ \S.*                   # Rust
    | stack\ backtrace:
    | \s+\d+:\ +\S+
    | \s*(?:from\ )?\S+:\d+:in\ [`'].*'.*                                   # Ruby
    | \S.*\ \([\d.]+\)\ \S+\.rb:\d+:in\ [`'].*                              #   (gems in a Rails trace)
    | \#\d+\ (?:\S+\(\d+\):\ \S.*|\{main\})                                  # PHP
    | Stack\ trace:
    | \s+thrown\ in\ \S.*\ on\ line\ \d+
    | Node\.js\ v\d+\S*
    )\s*$"""
)
# An error's own line: "ValueError: ...", "panic: ...", "Unhandled exception. ...".
_MESSAGE = re.compile(
    r"^(?:[\w.$\\]*(?:Error|Exception|Exit|Interrupt|Warning|Failure)\b|panic: |\[signal |"
    r"Unhandled exception\b|PHP (?:Fatal error|Warning|Notice)|exit status \d+$|note: )"
)
# Node.js starts with where it threw, the source line and a caret under the throw; a long
# message (an assertion's diff) may stand between that and the first frame.
_NODE_WHERE = re.compile(r"^(?:node:[\w/]+|/\S+\.[cm]?[jt]s|<anonymous_script>):\d+\s*$")
_NODE_MESSAGE_LINES = 14
# Python's last line: the exception's (dotted) name, then its message.
_EXCEPTION_NAME = re.compile(r"^[A-Za-z_][\w.]*(?::\s|:?$)")
# Cheap test for the whole text: nearly every prompt has no trace and skips the line scan. Each a
# literal (``str.find`` runs through text at memory speed) and, where the literal is not the
# whole marker, a pattern tried only when the literal is there: one alternation over the text
# stopped at every newline, colon and "s" (8 ms per MB).
_ANY_MARKER = (
    ("Traceback (most", None), ("\n", re.compile(r"\n\s+at \S")), ("goroutine ", re.compile(r"goroutine \d")),
    ("panicked at", None), (":in ", re.compile(r":\d+:in [`']")), ("Stack trace:", None),
    ("\n#", re.compile(r"\n#\d+ ")), ("stack backtrace:", None), ("--- End of", None),
)
# What a line that ``_MARKER`` matches starts with after its leading whitespace (its first two
# characters; a digit alone for Rust's numbered frames), or holds: every alternative has one of
# these. ``_MARKER`` is a long alternation tried branch by branch (1 MB of code with one
# "Traceback (most" in a docstring spent 70 ms matching it on every line); this screen, numpy
# over the lines' first characters, passes a few lines in a thousand of code.
_MARKER_HEADS = ("Tr", 'Fi', "Du", "Th", "at", "--", "Ca", "Su", "..", "Ex", "go", "cr", "th", "st", "St", "No",
                 *(f"#{digit}" for digit in "0123456789"))  # PHP's numbered frames
_HEAD_PAIRS = np.array(sorted(ord(a) << 8 | ord(b) for a, b in _MARKER_HEADS), dtype=np.int64)
_INFIXES = (re.compile(":in "), re.compile(r"\.go:"))  # Ruby's frames, Go's file lines (each a fast literal search)
# Non-marker lines allowed between two markers of one trace (quoted source, carets, messages).
MAX_GAP = 4


def may_hold_trace(text: str) -> bool:
    """False when ``text`` (lines joined by newlines) provably holds no stack trace."""
    led = "\n" + text
    return any(literal in led and (pattern is None or pattern.search(led) is not None) for literal, pattern in _ANY_MARKER)


def stack_trace_rows(lines: list[str], candidates: list[int] | None = None) -> list[bool]:
    """For each line, whether it belongs to a stack trace. ``candidates``: the lines that may be
    marker lines (``marker_candidates``), when the caller has them."""
    rows = [False] * len(lines)
    if candidates is None:
        text = "\n".join(lines)
        if not may_hold_trace(text):
            return rows
        candidates = _marker_candidates_of(lines, text)
    markers = [i for i in candidates if _MARKER.match(lines[i])]
    for first, last in _blocks(markers):
        first = _message_above(lines, first)
        last = _tail(lines, last)
        for i in range(first, last + 1):
            rows[i] = True
    return rows


def marker_candidates(text: str, units: np.ndarray, starts: np.ndarray, first: np.ndarray, blank: np.ndarray) -> list[int]:
    """The lines of ``text`` that may be marker lines (a superset: ``_MARKER`` decides), from
    facts of its lines: ``units``, a byte per character of ``text`` (ASCII as is; followed by at
    least one more byte), where each line starts, where its first non-blank character is, and
    whether it is blank."""
    heads, seconds = units[first].astype(np.int64), units[first + 1]
    pairs = heads << 8 | seconds
    found = np.minimum(np.searchsorted(_HEAD_PAIRS, pairs), len(_HEAD_PAIRS) - 1)
    led = (_HEAD_PAIRS[found] == pairs) | ((heads >= 48) & (heads <= 57))
    holding = np.fromiter((match.start() for infix in _INFIXES for match in infix.finditer(text)), dtype=np.int64)
    holders = np.searchsorted(starts, holding, side="right") - 1
    return np.union1d(np.flatnonzero(led & ~blank), holders).tolist()


def _marker_candidates_of(lines: list[str], text: str) -> list[int]:
    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    starts = np.cumsum(lengths + 1) - (lengths + 1)
    shown = np.fromiter(map(len, map(str.lstrip, lines)), dtype=np.int64, count=len(lines))
    units = np.concatenate((code_units(text), np.zeros(2, dtype=np.uint8)))
    return marker_candidates(text, units, starts, starts + lengths - shown, shown == 0)


def _blocks(markers: list[int]) -> list[tuple[int, int]]:
    """Runs of at least two markers with at most MAX_GAP other lines between neighbours."""
    blocks = []
    start = 0
    for i in range(1, len(markers) + 1):
        if i == len(markers) or markers[i] - markers[i - 1] > MAX_GAP + 1:
            if i - start >= 2:
                blocks.append((markers[start], markers[i - 1]))
            start = i
    return blocks


def _message_above(lines: list[str], first: int) -> int:
    """Include the error message printed above the first frame (JVM, Node, .NET), which Go
    separates from its goroutine dump by a blank line, and Node's where-it-threw header."""
    for h in range(first - 1, max(-1, first - _NODE_MESSAGE_LINES), -1):
        if _NODE_WHERE.match(lines[h]) and h + 2 < first and _is_caret(lines[h + 2]):
            return h
    i = first
    while i > 0 and first - i < MAX_GAP:
        if _MESSAGE.match(lines[i - 1].strip()):
            i -= 1
        elif i > 1 and not lines[i - 1].strip() and _MESSAGE.match(lines[i - 2].strip()):
            i -= 2
        else:
            break
    return i


def _is_caret(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and set(stripped) <= set("^~")


def _tail(lines: list[str], last: int) -> int:
    """Include what a runtime prints after the last frame: Python's quoted source line and
    carets, then the exception message (any dotted name: ``re.error``, ``zipfile.BadZipFile``);
    Node's dump of the error's properties and its version line."""
    i = last
    while i + 1 < len(lines) and i - last < MAX_GAP:
        following = lines[i + 1]
        stripped = following.strip()
        if not stripped:
            break
        i += 1
        if following[:1] in (" ", "\t") or _is_caret(following):
            continue
        if not (_MESSAGE.match(stripped) or _EXCEPTION_NAME.match(stripped)):
            i -= 1
        break
    if lines[last].rstrip().endswith("{"):
        # Node prints `at ... {` then the error's own fields, up to a lone closing brace.
        for j in range(i + 1, min(len(lines), i + 40)):
            if lines[j].strip() == "}":
                i = j
                break
    for j in range(i + 1, min(len(lines), i + 3)):
        if lines[j].startswith("Node.js v"):
            return j
    return i
