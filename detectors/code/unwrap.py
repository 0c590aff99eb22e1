"""Code as coding agents send it, back to the text the file holds.

An agent rarely sends a file as it is: Claude Code's Read numbers every line (``12\\tcode``; before
2.1, ``    12→code``), ``cat -n`` and ``nl`` do the same, ``grep -n`` and ripgrep put a path and a
line number in front (``src/a.py:12:code``, ``src/a.py-13-context``, or a heading line and
``12:code``), a diff prefixes ``+``/``-``/space (and Codex's ``apply_patch`` does the same
inside ``*** Update File:`` sections), a notebook is JSON whose cells' ``source`` arrays hold the
code, and a chat message may quote it (``> ``). Those prefixes sit between every pair of lines,
so fingerprints of the wrapped text never match the file, and a language model sees numbers.

``unwrap`` turns such a text into one or more ``View``s (``views.py``): the code without its wrapper, where each
of its characters came from in the wrapped text (so a finding redacts the right characters), and
the line numbers and file the wrapper names (so a finding says "src/a.py lines 4-77"). A diff
has two views, the new side and the old side, because each side is a copy of one version of the
file and the two interleaved are a copy of neither.

Every step is one pass over the lines with anchored, bounded patterns: linear in the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from detectors.code.line_table import code_units
from detectors.code.grep_files import (
    leading_paths,
    may_be_grep_output,
    path_numbered,
    path_prefixed,
    starts_with_heading,
    under_headings,
)
from detectors.code.views import (
    DIFF,
    GREP,
    NOTEBOOK,
    NUMBERED,
    PLAIN,
    QUOTE,
    Line,
    Pieces,
    Side,
    View,
    build,
    newlines,
    plain,
)

__all__ = ["DIFF", "GREP", "NOTEBOOK", "NUMBERED", "PLAIN", "QUOTE", "View", "unwrap"]



# Claude Code Read (2.1+, flush-left) and cat -n / nl (width 6): number, tab.
_TAB = re.compile(r" {0,8}(\d{1,9})\t")
# Claude Code Read before 2.1: number right-aligned to six, an arrow.
_ARROW = re.compile(r" {0,8}(\d{1,9})\u2192")
# bat and editors' listings: ``  12 | code``.
_PIPE = re.compile(r" {0,8}(\d{1,9}) \| ?")
# grep -n / rg -n over one file, and rg's heading mode: ``12:code``, ``13-context``.
_GREP_NUMBER = re.compile(r"(\d{1,9})[:-]")
# each: (per line, over the whole text, needs a share of the lines with ascending numbers)
_LISTINGS = tuple(
    (pattern, re.compile("(?m)^" + pattern.pattern), strict)
    for pattern, strict in ((_TAB, False), (_ARROW, False), (_PIPE, True), (_GREP_NUMBER, True))
)
_PATH_LINE = re.compile(r"[^\s:]{1,512}")  # rg --heading: the file's path alone (with a / or .)
_QUOTE = re.compile(r"(?:>(?!>) ?)+")  # one or more levels; not a doctest's >>>
_HUNK = re.compile(r"@@ -(\d{1,9})(?:,(\d{1,9}))? \+(\d{1,9})(?:,(\d{1,9}))? @@")
_DIFF_FILE = re.compile(r"\+\+\+ (?:b/)?(\S{1,512})")
_PATCH_FILE = re.compile(r"\*\*\* (?:Update|Add) File: (\S.{0,511})")
_DIFF_HEADERS = ("diff --git ", "index ", "--- ", "+++ ", "new file mode", "deleted file mode", "old mode",
                 "new mode", "similarity index", "rename from", "rename to", "copy from", "copy to", "Binary files")
_PATCH_MARKS = ("*** Begin Patch", "*** End Patch", "*** End of File", "*** Delete File:", "*** Move to:")
# A listing needs this many numbered lines (one suffices when it is all the text has).
MIN_NUMBERED = 2
# Numbered formats that code itself can look like (``80: 'x',`` in a dict) need this share of the
# text's lines and numbers that mostly go up.
MIN_SHARE = 0.5
MIN_ASCENDING = 0.9





def unwrap(text: str) -> list[View]:
    """The views of ``text`` to look for code in: the new side first for a diff, else one."""
    if _looks_like_notebook(text):
        notebook = _notebook(text)
        if notebook is not None:
            return [notebook]
    # A listing numbered on every line first: the commonest wrapper, and one the screen below
    # always passes (no line of it can open a diff's hunk), so its screen is skipped.
    listing = _whole_listing(text)
    if listing is not None:
        return [listing]
    if not _may_be_wrapped(text):
        return [plain(text)]
    lines, quoted = _unquoted(text)
    parsed = _diff(text, lines)
    if parsed is not None:
        new = build(text, [line for line in parsed if line.side != Side.OLD], DIFF)
        if not any(line.side == Side.OLD for line in parsed):
            return [new]
        old = [line._replace(number=line.old_number) if line.side == Side.BOTH else line
               for line in parsed if line.side != Side.NEW]
        return [new, build(text, old, DIFF)]
    kind, parsed = _numbered(text, lines, quoted)
    if parsed is not None:
        return [build(text, parsed, kind)]
    paths = leading_paths(text)
    parsed = path_prefixed(text, lines, paths) if paths else None
    if parsed is not None:
        return [build(text, parsed, GREP)]
    if starts_with_heading(text):
        return [build(text, under_headings(text, lines), GREP)]
    return [build(text, lines, QUOTE)] if quoted else [plain(text)]


# A screen that most texts fail: no diff marker, no line led by a digit or a quote mark, no
# ``:12:``. It is substring searches and numpy over line starts, a few times faster than any
# regular expression anchored at every line, and a text that passes is parsed line by line.
_GREP_MARK = re.compile(r":\d{1,9}:")
_ANY_GREP_PATH = re.compile(r"\n[^\s:]{1,512}:\d{1,9}:")  # on the text led by a newline
_ANY_LISTED = re.compile(r"\n {0,8}\d{1,9}(?:\t|\u2192)")  # on the text led by a newline: a literal found fast
_SCREEN_CHARS = 4096
_MAX_INDENT = 9  # a listing's number is right-aligned in at most this many columns (cat -n: 6)
_COLUMNS = np.arange(_MAX_INDENT)
_NEWLINES = np.full(_MAX_INDENT, 10, dtype=np.uint8)


def _has_diff_marks(text: str) -> bool:
    """Whether a line (after any quote marks) opens a hunk or a patch's file, as a diff's lines
    do: "@@ -" elsewhere (difflib's own source quotes it) sent 1 MB of code through the
    line-by-line parsers."""
    if "@@ -" not in text and "*** Update File: " not in text and "*** Add File: " not in text:
        return False
    led = "\n" + text
    return any(mark[1] != "@@ -" or _HUNK.match(led, mark.start(1)) for mark in _DIFF_LINE.finditer(led))


# a line that may open a diff's hunk or a patch's file, led by the newline before it
_DIFF_LINE = re.compile(r"\n(?:>(?!>) ?)*(@@ -|\*\*\* (?:Update|Add) File:)")


def _may_be_wrapped(text: str) -> bool:
    if _has_diff_marks(text):
        return True
    if not text:
        return False
    units = np.concatenate((code_units(text), _NEWLINES))  # a line's first columns always index something
    starts = np.concatenate(([0], np.flatnonzero(units[: len(text)] == 10) + 1))
    starts = starts[starts < len(text)]
    visible = int(np.count_nonzero(units[starts] != 10))
    if visible == 0:
        return False
    # per line, the first character that is not a space within its first _MAX_INDENT columns
    columns = units[starts[:, None] + _COLUMNS]
    lead = columns[np.arange(len(starts)), np.argmax(columns != 32, axis=1)]  # a space when all are
    numbered = int(np.count_nonzero((lead >= 48) & (lead <= 57)))
    quoted = int(np.count_nonzero(units[starts] == ord(">")))
    needed = max(min(MIN_NUMBERED, visible), MIN_SHARE * visible)
    if numbered >= needed or quoted >= needed:
        return True
    if _GREP_MARK.search(text) is not None and len(_ANY_GREP_PATH.findall("\n" + text)) >= min(MIN_NUMBERED, visible):
        return True
    # a listing with a tab or an arrow after its numbers may sit among other lines
    if ("\t" in text or "\u2192" in text) and len(_ANY_LISTED.findall("\n" + text)) >= min(MIN_NUMBERED, visible):
        return True
    # ripgrep without line numbers: a path leading lines (its output is dense with them, so its
    # first few KB show them), or alone on the first line
    return starts_with_heading(text) or may_be_grep_output(text[:_SCREEN_CHARS])


# Every line numbered, by Claude Code's Read (either format), cat -n or nl -ba: the commonest
# shape of all, unwrapped without a Python step per line.
# Each led by the newline before the line (the text gets one in front): a literal the regex
# engine finds fast, where a ``(?m)^`` pattern is tried at every character.
_WHOLE_LISTINGS = tuple(re.compile("\n(" + pattern.pattern + ")") for pattern in (_TAB, _ARROW))


def _whole_listing(text: str) -> View | None:
    """The view of a listing whose every line is numbered (a final empty line aside): the same
    view ``_numbered`` gives it, from one regex pass and numpy."""
    if not text[:_MAX_INDENT].lstrip(" ")[:1].isdigit():  # its first line is numbered too (most texts: not)
        return None
    count = text.count("\n") + 1
    numbered = count - text.endswith("\n")
    head = "\n" + text[:4095]
    led = None
    for pattern in _WHOLE_LISTINGS:
        if len(pattern.findall(head)) < min(numbered, 2):  # a cheap look at the head first
            continue
        led = "\n" + text if led is None else led
        # one pass: the lines' contents, each line's prefix and its number, in turn
        parts = pattern.split(led)
        if len(parts) // 3 != numbered:
            continue
        prefix_texts, number_texts = parts[1::3], parts[2::3]
        prefixes = np.zeros(count, dtype=np.int64)
        prefixes[:numbered] = np.fromiter(map(len, prefix_texts), dtype=np.int64, count=numbered)
        numbers = np.zeros(count, dtype=np.int64)
        numbers[:numbered] = np.fromiter(map(int, number_texts), dtype=np.int64, count=numbered)
        breaks = newlines(text)
        origins = np.concatenate(([0], breaks + 1)) + prefixes
        lengths = np.concatenate((breaks, [len(text)])) - origins
        joined = "\n".join(parts[::3])[1:]  # as ``pattern.sub("\n", led)[1:]``
        view_starts = np.concatenate(([0], np.cumsum(lengths[:-1] + 1))).astype(np.int64)
        pieces = np.minimum(lengths + 1, np.maximum(len(joined) - view_starts, 0))
        return View(joined, NUMBERED, text, view_starts, origins.astype(np.int64), pieces.astype(np.int64), view_starts,
                    numbers, np.full(count, -1, dtype=np.int64), ())
    return None


def _split(text: str) -> list[Line]:
    lines, offset = [], 0
    for raw in text.split("\n"):
        lines.append(Line(offset, offset + len(raw)))
        offset += len(raw) + 1
    return lines


def _unquoted(text: str) -> tuple[list[Line], bool]:
    """The text's lines without Markdown quote marks, when most of its lines are quoted."""
    lines = _split(text)
    if text.count("\n>") + text.startswith(">") < MIN_NUMBERED:  # counted in C: most texts quote nothing
        return lines, False
    marks = [_QUOTE.match(text, line.start, line.end) for line in lines]
    quoted = sum(1 for m, line in zip(marks, lines) if m is not None and _real_quote(text, m, line))
    visible = sum(1 for line in lines if text[line.start : line.end].strip())
    if quoted < MIN_NUMBERED or quoted < MIN_SHARE * visible:
        return lines, False
    return [
        Line(m.end(), line.end) if m is not None and _real_quote(text, m, line) else line
        for m, line in zip(marks, lines)
    ], True


def _real_quote(text: str, mark: re.Match, line: Line) -> bool:
    """``> text`` or a bare ``>``, not ``>foo`` (a JSX tag's closing bracket is ``>`` alone too,
    but a file is never mostly such lines)."""
    return mark.end() == line.end or text[mark.end() - 1] == " "


def _numbered(text: str, lines: list[Line], quoted: bool) -> tuple[str, list[Line] | None]:
    """Lines of a numbered listing or of grep output, stripped of their prefixes, if the text is one."""
    visible = sum(1 for line in lines if not text[line.start : line.end].isspace() and line.end > line.start)
    if not visible:
        return PLAIN, None
    best_kind, best, best_hits = PLAIN, None, 0
    for pattern, anywhere, strict in _LISTINGS:
        # counted by the regex engine over the whole text unless quote marks were taken off
        numbers = [m.group(1) for line in lines if (m := pattern.match(text, line.start, line.end))] if quoted \
            else anywhere.findall(text)
        if len(numbers) <= best_hits or not _enough(len(numbers), visible, strict, [int(n) for n in numbers]):
            continue
        found = [(line, pattern.match(text, line.start, line.end)) for line in lines]
        best_kind, best_hits = (GREP if pattern is _GREP_NUMBER else NUMBERED), len(numbers)
        best = _prefixed(text, found, pattern is _GREP_NUMBER)
        if pattern is _TAB:
            best = _counting_blank_lines(text, best)
        if best_hits == visible:  # every line is numbered: no other listing can number more
            break
    grep = path_numbered(text, lines, visible) if _GREP_MARK.search(text) else None
    if grep is not None and sum(1 for line in grep if line.number) > best_hits:
        return GREP, grep
    return best_kind, best


def _counting_blank_lines(text: str, lines: list[Line]) -> list[Line]:
    """``nl`` without ``-ba`` numbers only the lines that are not blank, so its numbers fall
    behind the file's at every blank line. Where the numbers go up by one across blank lines
    (and only blank lines stand between numbered ones), number the lines by their place instead."""
    rows = [i for i, line in enumerate(lines) if line.number]
    gaps = [(a, b) for a, b in zip(rows, rows[1:]) if b > a + 1]
    if not gaps or any(lines[b].number != lines[a].number + 1 for a, b in gaps):
        return lines
    if any(text[line.start : line.end].strip() for a, b in gaps for line in lines[a + 1 : b]):
        return lines
    first, last = rows[0], rows[-1]
    padded = lambda i: 0 <= i < len(lines) and _padding(text, lines[i])  # noqa: E731
    start = first
    while padded(start - 1):  # the file's leading and trailing blank lines, which nl pads
        start -= 1
    while padded(last + 1):
        last += 1
    base = lines[first].number - (first - start)
    return [line._replace(number=base + i - start) if start <= i <= last else line for i, line in enumerate(lines)]


def _padding(text: str, line: Line) -> bool:
    """A blank line as nl prints it: spaces where the number would be (an empty line is not)."""
    return line.end > line.start and text[line.start : line.end].isspace()


def _enough(hits: int, visible: int, strict: bool, numbers: list[int]) -> bool:
    if hits < min(MIN_NUMBERED, visible):
        return False
    if not strict:
        return True
    ascending = sum(1 for a, b in zip(numbers, numbers[1:]) if b > a)
    return hits >= MIN_SHARE * visible and ascending >= MIN_ASCENDING * max(len(numbers) - 1, 1)


def _prefixed(text: str, found: list[tuple[Line, re.Match | None]], grep: bool) -> list[Line]:
    """Numbered lines stripped; in grep output, ``--`` separators dropped and a heading line
    (rg --heading: the path alone before its numbered lines) names the file of what follows."""
    result, file = [], None
    for index, (line, match) in enumerate(found):
        if match is not None:
            result.append(Line(match.end(), line.end, int(match.group(1)), file))
            continue
        content = text[line.start : line.end]
        if grep and content == "--":
            continue
        following = found[index + 1][1] if index + 1 < len(found) else None
        if grep and following is not None and _PATH_LINE.fullmatch(content) and ("/" in content or "." in content):
            file = content
            continue
        result.append(line)
    return result


def _diff(text: str, lines: list[Line]) -> list[Line] | None:
    """A unified diff (``git diff``, ``git show``, ``diff -u``) or a Codex patch, line by line:
    hunk lines without their ``+``/``-``/space, numbered on their side; headers dropped; other
    lines (a commit message, prose around the diff) kept as they are, on both sides."""
    if not _has_diff_marks(text):
        return None
    result: list[Line] = []
    hunk = _Hunk()
    file: str | None = None
    hunks = 0
    for line in lines:
        content = text[line.start : line.end]
        if hunk.takes(content):
            if content[:1] != "\\":  # "\ No newline at end of file"
                result.append(hunk.line(line, content, file))
            continue
        header = _HUNK.match(content)
        if header or (content.startswith("@@") and hunk.patch):
            hunk, hunks = _Hunk.opened(header, hunk.patch), hunks + 1
            continue
        hunk = _Hunk(patch=hunk.patch)
        if content.startswith("diff --git "):
            file = None
        # "--- a/x" names the file until "+++ b/x" does (which is /dev/null when x was deleted)
        named = _OLD_FILE.match(content) or _DIFF_FILE.match(content) or _PATCH_FILE.match(content)
        if named and named.group(1) != "/dev/null":
            file = named.group(1).strip()
        if content.startswith(("*** Update File:", "*** Add File:")):  # a patch: hunks follow, uncounted
            hunk, hunks = _Hunk.opened(None, True), hunks + 1
            continue
        if not content.startswith(_DIFF_HEADERS + _PATCH_MARKS):
            result.append(line)
    return result if hunks else None


_OLD_FILE = re.compile(r"--- (?:a/)?(\S{1,512})")


@dataclass(slots=True)
class _Hunk:
    """The hunk being read: its lines' numbers on each side, and how many lines its header
    announced (a patch's hunks announce none: they end at the first line that is not a hunk line)."""

    open: bool = False
    patch: bool = False
    old: int = 0
    new: int = 0
    old_left: int = 0
    new_left: int = 0

    @classmethod
    def opened(cls, header: re.Match | None, patch: bool) -> _Hunk:
        if header is None:
            return cls(True, True)
        counts = [int(header.group(i)) if header.group(i) is not None else 1 for i in (2, 4)]
        return cls(True, patch, int(header.group(1)), int(header.group(3)), counts[0], counts[1])

    def takes(self, content: str) -> bool:
        if not self.open or content[:1] not in (" ", "+", "-", "\\", ""):
            return False
        if self.patch:
            return not content.startswith(("--- ", "+++ ", "*** "))
        return self.old_left > 0 or self.new_left > 0 or content[:1] == "\\"

    def line(self, line: Line, content: str, file: str | None) -> Line:
        marker = content[:1]
        start = line.start + (1 if marker else 0)
        if marker == "-":
            result = Line(start, line.end, self.old, file, Side.OLD)
            self.old_left -= 1
            self.old += 1 if self.old else 0
        elif marker == "+":
            result = Line(start, line.end, self.new, file, Side.NEW)
            self.new_left -= 1
            self.new += 1 if self.new else 0
        else:
            result = Line(start, line.end, self.new, file, Side.BOTH, self.old)
            self.old_left, self.new_left = self.old_left - 1, self.new_left - 1
            self.old, self.new = self.old + (1 if self.old else 0), self.new + (1 if self.new else 0)
        return result


def _looks_like_notebook(text: str) -> bool:
    head = text[:200].lstrip()
    return head.startswith("{") and '"cell_type"' in text and '"source"' in text


_SOURCE_KEY = re.compile(r'"source"\s*:\s*')
_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_JSON_SEPARATOR = re.compile(r"\s*,\s*")



def _notebook(text: str) -> View | None:
    """The cells' sources of a Jupyter notebook's JSON, one after the other."""
    builder = Pieces()
    for key in _SOURCE_KEY.finditer(text):
        at = key.end()
        array = text.startswith("[", at)
        at = at + 1 if array else at
        if array:
            at = _skip_space(text, at)
        while True:
            literal = _JSON_STRING.match(text, at)
            if literal is None:
                break
            builder.add_json_string(text, literal.start() + 1, literal.end() - 1)
            at = literal.end()
            if not array:
                break
            separator = _JSON_SEPARATOR.match(text, at)
            if separator is None or separator.end() == at:
                break
            at = separator.end()
        if builder.text_length:
            builder.add_newline(at)
    if not builder.text_length:
        return None
    return builder.view(text, NOTEBOOK)


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


