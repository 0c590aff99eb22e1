"""grep and ripgrep output over several files: lines led by the file's path.

``grep -n`` and ``rg -n`` give ``path:12:code`` for a match and ``path-13-context`` for context.
ripgrep prints line numbers only on a terminal: piped, as an agent's shell tool runs it, a search
over several files gives ``path:line`` for a match and ``path-line`` for context, and
``--heading`` gives the path alone on a line, then the file's lines as they are (a blank line
before the next file's path). Without the prefixes the lines are the file's own, so the
fingerprints of an indexed file match again; the file is named, its line numbers are not known.

Without numbers, both are told from code by a path that repeats: the same file path leads most
lines, or the text starts with a line that is nothing but a path with a directory and an
extension. ``unwrap.py`` calls these after the numbered listings it recognises itself.
"""

from __future__ import annotations

import re
from collections import Counter

from detectors.code.views import Line

# grep -n / rg -n over several files: ``path:12:code`` (a match), ``path-13-context``.
_GREP_PATH = re.compile(r"([^\s:]{1,512}?):(\d{1,9}):")
# ``path:`` at the start of a line (the shortest run without whitespace up to a colon)
# led by the newline before the line (the text gets one in front): a literal the regex engine
# finds fast, where a ``(?m)^`` pattern is tried at every character (the same matches: no path
# spans a newline)
_LEADING_PATH = re.compile(r"\n([^\s:]{1,512}?):")
_PATH_COLON = re.compile(r"([^\s:]{1,512}?):")
_PATH_ONLY = re.compile(r"[^\s:]{1,512}")
MIN_LINES = 2  # a listing needs this many lines that a path leads
MIN_SHARE = 0.5  # ... and this share of the text's lines that are not blank


def _looks_like_path(word: str) -> bool:
    return ("/" in word or "." in word.lstrip(".")) and not word.startswith(("http", "//"))


def leading_paths(text: str) -> list[str]:
    """File paths that lead lines as ``path:``, when together they lead ``MIN_LINES`` lines or
    more (a cheap screen: one regex pass and a count)."""
    counts = Counter(path for path in _LEADING_PATH.findall("\n" + text) if _looks_like_path(path))
    return list(counts) if sum(counts.values()) >= MIN_LINES else []


def may_be_grep_output(head: str) -> bool:
    """A cheap screen on the first few KB of a text: do file paths lead most of its lines?"""
    paths = leading_paths(head)
    if not paths:
        return False
    led = "\n" + head
    prefixed = sum(led.count("\n" + path + ":") + led.count("\n" + path + "-") for path in paths)
    return prefixed >= MIN_SHARE * (len(head.splitlines()) - head.count("\n\n"))


def path_prefixed(text: str, lines: list[Line], paths: list[str]) -> list[Line] | None:
    """The lines without their ``path:`` or ``path-`` prefix, each naming its file, if most lines
    carry one of ``paths``; ``--`` separators dropped. A context line (``path-``) carries the
    path of the match line before or after it (a path may hold ``-`` itself)."""
    known = set(paths)
    matched: list[str | None] = []
    for line in lines:
        match = _PATH_COLON.match(text, line.start, line.end)
        matched.append(match.group(1) if match is not None and match.group(1) in known else None)
    before = _carried(matched)
    after = _carried(matched[::-1])[::-1]
    result, prefixed, visible = [], 0, 0
    for line, own, previous, following in zip(lines, matched, before, after):
        if line.end > line.start and not text[line.start : line.end].isspace():
            visible += 1
        path = own or next((p for p in (previous, following) if p is not None and text.startswith(p + "-", line.start)), None)
        if path is not None:
            result.append(Line(line.start + len(path) + 1, line.end, 0, path))
            prefixed += 1
        elif text[line.start : line.end] != "--":
            result.append(line)
    if prefixed < MIN_LINES or prefixed < MIN_SHARE * visible:
        return None
    return result


def _carried(paths: list[str | None]) -> list[str | None]:
    """Per line, the last path named at or before it."""
    result, last = [], None
    for path in paths:
        last = path or last
        result.append(last)
    return result


def starts_with_heading(text: str) -> bool:
    """Whether the first line is a file's path alone (a directory, a name with an extension)."""
    first = text[: text.find("\n")] if "\n" in text else ""
    return _PATH_ONLY.fullmatch(first) is not None and "/" in first and "." in first.rsplit("/", 1)[-1]


def under_headings(text: str, lines: list[Line]) -> list[Line]:
    """rg --heading without numbers: each path line dropped, the lines under it naming its file
    (a path line is the first line, or a path alone after a blank line)."""
    result: list[Line] = []
    file: str | None = None
    previous_blank = True
    for line in lines:
        content = text[line.start : line.end]
        if previous_blank and _PATH_ONLY.fullmatch(content) and "/" in content and "." in content.rsplit("/", 1)[-1]:
            file = content
            previous_blank = False
            continue
        previous_blank = not content.strip()
        result.append(line._replace(file=file) if file is not None and not previous_blank else line)
    return result


def path_numbered(text: str, lines: list[Line], visible: int) -> list[Line] | None:
    """``path:12:match`` and ``path-13-context`` lines (grep -n / rg -n over several files). A
    context line carries the path of the match before or after it (paths may hold ``-``)."""
    matches = [_GREP_PATH.match(text, line.start, line.end) for line in lines]
    if not any(matches):
        return None
    before: list[str | None] = []
    last = None
    for match in matches:
        last = match.group(1) if match else last
        before.append(last)
    after: list[str | None] = [None] * len(matches)
    last = None
    for index in range(len(matches) - 1, -1, -1):
        last = matches[index].group(1) if matches[index] else last
        after[index] = last
    result, numbered = [], 0
    for line, match, previous, following in zip(lines, matches, before, after):
        found = (int(match.group(2)), match.group(1), match.end()) if match else (
            _context(text, line, previous) or _context(text, line, following))
        if found is not None:
            result.append(Line(found[2], line.end, found[0], found[1]))
            numbered += 1
        elif text[line.start : line.end] != "--":
            result.append(line)
    if numbered < min(MIN_LINES, visible) or numbered < MIN_SHARE * visible:
        return None
    return result


_CONTEXT_NUMBER = re.compile(r"-(\d{1,9})-")


def _context(text: str, line: Line, path: str | None) -> tuple[int, str, int] | None:
    if path is None or not text.startswith(path, line.start):
        return None
    number = _CONTEXT_NUMBER.match(text, line.start + len(path), line.end)
    return (int(number.group(1)), path, number.end()) if number else None
