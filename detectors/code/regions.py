"""Where the code is in a text: fenced blocks and unfenced runs of lines.

The finder only proposes line ranges; whether a range is code of some language (rather than a
log, a licence or a list) is decided by the language model in ``detector.py``. Agents' line
numbers, grep prefixes and diff markers are taken off before (``unwrap.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from detectors.code.stack_traces import stack_trace_rows

_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
_STOPWORDS = frozenset(
    "the a an and or of to in is are was were be been that this it for on with as by at from "
    "which we you they he she not but have has had will would can could should may our your "
    "their its if when then than there these those also into about more most such only".split()
)
_WORD = re.compile(r"[A-Za-z][a-z']+")
_CODE_START = re.compile(
    r"^(?:def|class|import|from\s+\S+\s+import|return|if\s*\(|for\s*\(|while\s*\(|#include|#define|"
    r"func|fn|let|const|var|val|public|private|protected|package|using|namespace|struct|impl|"
    r"function|async|await|elif|else|try|except|catch|finally|switch|case|echo|export|"
    r"SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|WITH|FROM|WHERE|JOIN|GROUP BY|ORDER BY|"
    r"resource|variable|module|output|provider|data|locals|terraform|"
    r"<\??[A-Za-z!/]|@[A-Za-z]|[A-Za-z_][\w.]*\s*(?:=|:=|\+=|-=)\s*\S|[A-Za-z_][\w.]*\(.*\)\s*;?$|"
    r"[.#]?[\w-]+\s*\{$|[\w-]+:\s|-\s+[\w-]+:|\}|\)|\]|//|/\*|\*|#\s|--\s)"
)
# Import lines end in a bare name, so _CODE_ENDINGS misses them; a run of them is still code.
_IMPORT = re.compile(r"(?:import|from\s+[\w.]+\s+import|#include|#import|using|package|require)\s+[\w.<>\"/*{}, ]+$")
# How a code line ends (the line is stripped, so a suffix test is ``(...)\s*$``, without the
# regex search that tried every position of the line).
_CODE_ENDINGS = (";", "{", "}", "[", "(", ",", ":", ")", "=>", "->", "\\", "*/", ">")
# (``re``, not ``regex``: these run on every line of every prompt and ``re`` is faster on them.)
_INLINE_CODE = re.compile(r"(?::[\w:.+-]+:)?`[^`]+`_{0,2}|``[^`]+``")
_SYMBOLS = "{}[]();=<>_$#&|*/\\:\"'`"
# Counting them with one regex is ~4x faster than deleting them with str.translate.
_SYMBOL = re.compile("[" + re.escape(_SYMBOLS) + "]")
# Lines that open or close a block comment or docstring, and whole-line comments.
_TRIPLE_QUOTES = ('"""', "'''")
_LINE_COMMENT = re.compile(r"(?:#(?:\s|$|#)|//|--\s|<!--|/\*|\*(?:\s|$|/))")
# An indented line that is not a list item continues the code around it, however English its
# words ("if key is None:", "raise Error('position not in range')").
# A Markdown table row or block quote, or a reStructuredText directive, target or comment
# (``.. function:: open(file)``, ``.. _label:``): documentation markup, never code.
_MARKDOWN = re.compile(r"(?:\|.*\|$|>\s|\.\.\s+(?:[\w:-]+::|_|\|[^|]+\|\s))")
# A heading's underline or a horizontal rule (``*****``, ``=====``, ``---``).
_RULE = re.compile(r"([=*#~^+_-])\1{2,}")
_LIST_ITEM = re.compile(r"(?:[-*+]\s|\d+[.)]\s)")


@dataclass(frozen=True, slots=True)
class Line:
    start: int  # offset of the first character of the line in the text
    end: int  # offset just past the line's last character (before the newline)
    content: str  # the line without its newline


@dataclass(frozen=True, slots=True)
class Region:
    start: int
    end: int
    code: str  # the region's text without line-number prefixes, for classification
    lines: int  # non-blank lines
    fence_info: str | None  # the info string when the region is a fenced block


def split_lines(text: str) -> list[Line]:
    result = []
    offset = 0
    for raw in text.split("\n"):
        end = offset + len(raw)
        result.append(Line(offset, end, raw.removesuffix("\r")))
        offset = end + 1
    return result


def code_likeness(content: str) -> float:
    """Positive for lines that look like code, negative for prose; 0 for blank lines."""
    stripped = content.strip()
    if not stripped:
        return 0.0
    return _prose_penalty(stripped, _code_signs(content, stripped)) - 1.0


def looks_like_code(content: str) -> bool:
    """``code_likeness(content) > 0``, without counting words where the code signs alone
    cannot reach above zero (the word count is the costliest part; penalties only subtract)."""
    stripped = content.strip()
    if not stripped:
        return False
    signs = _code_signs(content, stripped)
    if signs - 1.0 <= 0:
        return False
    return _prose_penalty(stripped, signs) - 1.0 > 0


def _code_signs(content: str, stripped: str) -> float:
    score = 0.0
    if _CODE_START.match(stripped):
        score += 1.0
    if stripped.endswith(_CODE_ENDINGS) or _IMPORT.match(stripped):
        score += 1.0
    if content[:1] in (" ", "\t") and not stripped[:2] in ("- ", "* ") and not stripped[:1].isdigit():
        score += 0.3
    # Documentation quotes code inline (``None``, :func:`open`, `options`); quoted, it is a word.
    unquoted = _INLINE_CODE.sub("x", stripped) if "`" in stripped else stripped
    symbols = len(_SYMBOL.findall(unquoted))
    score += min(symbols / max(len(unquoted), 1) * 8, 1.5)
    return score


def _prose_penalty(stripped: str, score: float) -> float:
    """``score`` less what the line's English words say against it."""
    words = _WORD.findall(stripped)
    if len(words) >= 4:
        stop = sum(1 for w in words if w.lower() in _STOPWORDS) / len(words)
        score -= stop * 5
    if stripped.endswith((".", "?", "!")) and len(words) >= 5:
        score -= 1.0
    return score


def _fenced(lines: list[Line]) -> list[tuple[int, int, str]]:
    """(first line, last line exclusive, info) of each fenced block's content, closed or not."""
    blocks = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i].content)
        if not opening:
            i += 1
            continue
        fence = opening["fence"]
        j = i + 1
        while j < len(lines):
            closing = _FENCE.match(lines[j].content)
            if closing and closing["fence"][0] == fence[0] and len(closing["fence"]) >= len(fence) and not closing["info"].strip():
                break
            j += 1
        blocks.append((i + 1, j, opening["info"].strip()))
        i = j + 1
    return blocks


def _region(lines: list[Line], first: int, last: int, info: str | None) -> Region | None:
    while first < last and not lines[first].content.strip():
        first += 1
    while last > first and not lines[last - 1].content.strip():
        last -= 1
    if first >= last:
        return None
    body = lines[first:last]
    return Region(
        start=body[0].start,
        end=body[-1].end,
        code="\n".join(line.content for line in body),
        lines=sum(1 for line in body if line.content.strip()),
        fence_info=info,
    )


def _unfenced_runs(
    lines: list[Line], traces: list[bool], listed: Sequence[bool], first: int, last: int, min_lines: int
) -> list[Region]:
    """Runs of code-like lines that are not comments or Markdown (a block of comments is prose;
    a heading, a bullet list, a table or a quote looks like a comment). Inside a run may sit one
    prose-like line, three blank lines, or any number of comment, docstring and indented lines,
    so that a pasted file stays one region. A stack trace is neither code nor a bridge."""
    kinds = _line_kinds(lines, first, last)
    code_rows = [
        i for i in range(first, last)
        if not traces[i]
        and (listed[i] or (kinds[i - first] != _REMARK and looks_like_code(lines[i].content)))
    ]
    regions = []
    group: list[int] = []
    for row in code_rows + [None]:
        if row is not None and group and not _trace_between(traces, kinds, first, group[-1], row) \
                and _bridgeable(lines, kinds, first, group[-1], row):
            group.append(row)
            continue
        if len(group) >= min_lines:
            region = _region(lines, group[0], group[-1] + 1, None)
            if region:
                regions.append(region)
        group = [row] if row is not None else []
    return regions


def _trace_between(traces: list[bool], kinds: list[int], first: int, previous: int, row: int) -> bool:
    """A stack trace between two code rows ends a run, unless it is quoted in a docstring or
    comment (doctests quote tracebacks) of the code around it."""
    return any(traces[i] and kinds[i - first] not in (_DOC, _REMARK) for i in range(previous + 1, row))


# _REMARK: a comment or Markdown line, never code itself; _DOC: blank or in a docstring (whose
# quotes a window cut mid-docstring may pair wrongly, so such lines may still count as code).
_PLAIN, _INDENTED, _DOC, _REMARK = 0, 1, 2, 3
_BLOCK_COMMENTS = (("/*", "*/"), ("<!--", "-->"))


def _line_kinds(lines: list[Line], first: int, last: int) -> list[int]:
    """Per line of ``lines[first:last]``: _REMARK for whole-line comments, lines of a block
    comment and Markdown tables and quotes; _DOC for blank lines and lines of a docstring;
    _INDENTED for an indented line that is not a list item, which continues the code around it
    however English its words are ("if key is None:", "raise Error('position not in range')");
    else _PLAIN."""
    kinds = []
    comment_end: str | None = None  # the delimiter that closes the open block comment
    quote: str | None = None  # the delimiter that closes the open docstring
    for line in lines[first:last]:
        stripped = line.content.strip()
        if comment_end is not None:
            kinds.append(_REMARK)
            if comment_end in stripped:
                comment_end = None
            continue
        if quote is not None:
            kinds.append(_DOC)
            if quote in stripped:
                quote = None
            continue
        if not stripped:
            kinds.append(_DOC)
            continue
        if _LINE_COMMENT.match(stripped) or _MARKDOWN.match(stripped) or _RULE.fullmatch(stripped):
            kinds.append(_REMARK)
            for opener, closer in _BLOCK_COMMENTS:
                if stripped.startswith(opener) and closer not in stripped:
                    comment_end = closer
            continue
        for delimiter in _TRIPLE_QUOTES:
            if stripped.count(delimiter) % 2:
                quote = delimiter
        if quote is not None and stripped.lstrip("rRbBuUfF").startswith(_TRIPLE_QUOTES):
            kinds.append(_DOC)
        elif line.content[:1] in (" ", "\t") and not _LIST_ITEM.match(stripped):
            kinds.append(_INDENTED)
        else:
            kinds.append(_PLAIN)
    return kinds


def _bridgeable(lines: list[Line], kinds: list[int], first: int, previous: int, row: int) -> bool:
    """Whether the lines between two code rows belong to the same run: only comment, Markdown,
    docstring, indented and blank lines, or one other line (prose-like code such as ``x = a or b``) with at
    most three blank lines around it."""
    gap = kinds[previous + 1 - first : row - first]
    plain = sum(1 for kind in gap if kind == _PLAIN)
    if plain == 0:
        return True
    blank = sum(1 for line in lines[previous + 1 : row] if not line.content.strip())
    return plain == 1 and blank <= 3


def find_regions(text: str, min_lines: int = 2, listed: Sequence[bool] | None = None) -> list[Region]:
    """Candidate code regions in reading order. ``listed``: per line, is it a line of a file
    listing (an agent numbered it)? Those are code whatever they look like."""
    lines = split_lines(text)
    listed = listed if listed is not None else [False] * len(lines)
    traces = stack_trace_rows([line.content for line in lines])
    regions: list[Region] = []
    cursor = 0
    for first, last, info in _fenced(lines):
        regions.extend(_unfenced_runs(lines, traces, listed, cursor, max(cursor, first - 1), min_lines))
        block = _region(lines, first, last, info)
        if block and not _mostly_trace(lines, traces, first, last):
            regions.append(block)
        cursor = last + 1
    if cursor < len(lines):
        regions.extend(_unfenced_runs(lines, traces, listed, cursor, len(lines), min_lines))
    return regions


def _mostly_trace(lines: list[Line], traces: list[bool], first: int, last: int) -> bool:
    """A fenced block that is a pasted stack trace, whatever its info string says (tracebacks
    are often fenced as ```python)."""
    rows = [i for i in range(first, last) if lines[i].content.strip()]
    return bool(rows) and sum(traces[i] for i in rows) * 5 >= len(rows) * 4
