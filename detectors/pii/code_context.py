"""Whether a place in a text stands in source code, and whether one line reads as code.

Which findings count depends on it (``detectors.pii.code_noise``), and the prose recogniser
skips lines of code (``detectors.pii.prose``). A text is code where it is mostly code as a
whole (a file an agent read), inside a Python module's docstrings, or on a line of code among
mostly code lines. Only lines near a finding, or sampled for the whole, are ever judged.
"""

from __future__ import annotations

import re
from bisect import bisect_left

from detectors.pii.blobs import mask_blobs

_TRIPLE_QUOTE = re.compile('"""')
_PYTHON_DEFINITION = re.compile(r"^[ \t]*(?:def|class|import|from)[ \t]", re.MULTILINE)
# How many lines on each side of a finding decide whether it stands in code.
_CONTEXT_LINES = 8
# A text is code as a whole when this share of the lines sampled from it look like code (a
# Python module with its docstrings is about 0.6 to 0.8; a Markdown prompt with code blocks less
# than 0.3); it needs a few lines to judge.
_SAMPLED_LINES = 200
_WHOLE_SHARE = 0.5
_MIN_WHOLE_LINES = 10
# A numbered line as an agent's file viewer or ``cat -n`` shows it: the number is no code.
_LINE_NUMBER = re.compile(r"^\s*\d+(?:→|\t|:)")


class CodeContext:
    """Whether a position of a text stands in code: the text as a whole is mostly code (a file
    an agent read, docstrings and all), or most of the non-blank lines around the position look
    like code (a code block in a prompt). Each line is judged once, and only lines near a
    finding or sampled for the whole are."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._verdicts: dict[int, bool | None] = {}
        self._whole: bool | None = None
        self._quotes: list[int] | None = None

    def is_code(self, position: int) -> bool:
        if self._whole is None:
            self._whole = self._mostly_code()
        return self._whole or self._in_docstring(position) or self._around_is_code(position)

    def _in_docstring(self, position: int) -> bool:
        """Inside a triple-quoted string of a Python module (one that defines or imports
        something): API documentation, whose dates, links and capitalised words describe code."""
        if self._quotes is None:
            text = self._text
            module = '"""' in text and _PYTHON_DEFINITION.search(text) is not None
            self._quotes = [match.start() for match in _TRIPLE_QUOTE.finditer(text)] if module else []
        return bisect_left(self._quotes, position) % 2 == 1

    def _mostly_code(self) -> bool:
        """At least _WHOLE_SHARE of the non-blank lines at _SAMPLED_LINES evenly spread places."""
        text = self._text
        step = max(1, len(text) // _SAMPLED_LINES)
        starts = {text.rfind("\n", 0, position) + 1 for position in range(0, len(text), step)}
        judged = [verdict for verdict in map(self._line, starts) if verdict is not None]
        return len(judged) >= _MIN_WHOLE_LINES and sum(judged) >= _WHOLE_SHARE * len(judged)

    def _around_is_code(self, position: int) -> bool:
        """The finding's own line is code, and so are most non-blank lines around it (a line of
        prose between two statements keeps its findings)."""
        text = self._text
        start = text.rfind("\n", 0, position) + 1
        votes = [self._line(start)]
        # Up to _CONTEXT_LINES non-blank lines before and after; a stretch of blank lines is
        # looked through only so far, so the work per finding stays bounded.
        cursor = start
        for _ in range(_CONTEXT_LINES * 3):
            if cursor == 0 or sum(vote is not None for vote in votes) > _CONTEXT_LINES:
                break
            cursor = text.rfind("\n", 0, cursor - 1) + 1
            votes.append(self._line(cursor))
        cursor, after = start, 0
        for _ in range(_CONTEXT_LINES * 3):
            newline = text.find("\n", cursor)
            if newline < 0 or after >= _CONTEXT_LINES:
                break
            cursor = newline + 1
            verdict = self._line(cursor)
            votes.append(verdict)
            after += verdict is not None
        judged = [vote for vote in votes if vote is not None]
        return votes[0] is True and sum(judged) * 2 > len(judged)

    def _line(self, start: int) -> bool | None:
        if start not in self._verdicts:
            end = self._text.find("\n", start)
            line = self._text[start : end if end >= 0 else len(self._text)]
            self._verdicts[start] = looks_like_code(line) if line.strip() else None  # type: ignore[assignment]
        return self._verdicts[start]


# Source code: statement ends, assignments, calls, keywords at a line's start, comment markers.
# A line is code when it ends a statement or opens/closes a block, holds an operator prose does
# not use, calls something, assigns, or starts with a keyword or a comment marker.
_CODE_ENDINGS = (";", "{", "}", "[", "(", ",\\", ":\\")
_CODE_OPERATORS = re.compile(r"==|!=|<=|>=|=>|->|::|&&|\|\||0x[0-9A-Fa-f]")
_CODE_KEYWORDS = frozenset(
    "def class import from return if for while const let var function public private static package using "
    "#include elif else try except async await export raise with yield assert".split()
)
_CODE_COMMENTS = ("#", "//", "/*", "* ", "--", "@")
_CALL = re.compile(r"\w\(|\)[ \t]*[:{]")
_ASSIGNMENT = re.compile(r"\w=\S|[\w\])][ \t]+=[ \t]")
# An item of a list, tuple or call spread over lines: quotes or brackets, and a comma at the end.
_ITEM_LINE = re.compile(r"[\"'\[\]()].*,$")
# A comment after a statement or an item: ``"https://...",  # example``, ``x = 1;  // why``.
_TRAILING_COMMENT = re.compile(r"[\"'\])},;]\s+(?:#|//)\s")


def looks_like_code(line: str) -> bool:
    """Whether one line reads as source code rather than prose (an agent's line number aside,
    and read around any base64 or hex on it: ``Key for Anna: <blob>`` is a sentence)."""
    if line[:1].isspace() or line[:1].isdigit():
        line = _LINE_NUMBER.sub("", line, count=1)
    line = mask_blobs(line)
    # Plain string tests first: they settle most lines for a fraction of a regex search.
    stripped_end = line.rstrip()
    if stripped_end.endswith(_CODE_ENDINGS) or _CODE_OPERATORS.search(line):
        return True
    stripped = line.lstrip()
    if stripped.startswith(_CODE_COMMENTS) or stripped.split(" ", 1)[0].rstrip(":") in _CODE_KEYWORDS:
        return True
    if stripped_end.endswith(",") and _ITEM_LINE.search(stripped_end):
        return True
    if ("#" in line or "//" in line) and _TRAILING_COMMENT.search(line):
        return True
    return ("(" in line and _CALL.search(line) is not None) or ("=" in line and _ASSIGNMENT.search(line) is not None)
