"""Per-line facts of a text, for all of its lines at once.

The region finder asks of every line whether it looks like code and what kind of line it is (a
comment, a docstring, an indented continuation). Asked one line at a time, that was a Python call
and a dozen small regex matches per line, two thirds of the code detector's time on an agent's
body. Here each fact comes for all lines at once: a line pattern ``map``-ped over the stripped
lines (a loop in C), numpy over the text's code points (symbol counts, a line's last character,
its English words), or a search for the few places a delimiter occurs. The score and the kinds
are the ones the per-line code gave; ``tests/detectors/test_code_line_table.py`` keeps that code
as the reference and checks the two agree line for line on the standard library and docs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


# The patterns read one stripped line each (``str.strip``), matched by ``map`` (a loop in C) over
# every line of the text: cheaper than one regex scan of the whole text per pattern.
_CODE_START = re.compile(
    r"(?:def|class|import|from\s+\S+\s+import|return|if\s*\(|for\s*\(|while\s*\(|#include|#define|"
    r"func|fn|let|const|var|val|public|private|protected|package|using|namespace|struct|impl|"
    r"function|async|await|elif|else|try|except|catch|finally|switch|case|echo|export|"
    r"SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|WITH|FROM|WHERE|JOIN|GROUP BY|ORDER BY|"
    r"resource|variable|module|output|provider|data|locals|terraform|"
    r"<\??[A-Za-z!/]|@[A-Za-z]|[A-Za-z_][\w.]*(?:\s*(?:=|:=|\+=|-=)\s*\S|\(.*\)\s*;?$)|"
    r"[.#]?[\w-]+\s*\{$|[\w-]+:\s|-\s+[\w-]+:|\}|\)|\]|//|/\*|\*|#\s|--\s)"
)
# Import lines end in a bare name, so the code endings miss them; a run of them is still code.
_IMPORT = re.compile(r"(?:import|from\s+[\w.]+\s+import|#include|#import|using|package|require)\s+[\w.<>\"/*{}, ]+$")
# A whole-line comment; a Markdown table row or block quote, or a reStructuredText directive,
# target or comment (``.. function:: open(file)``, ``.. _label:``); a heading's underline or a
# horizontal rule (``*****``, ``=====``, ``---``): documentation markup, never code.
_REMARK = re.compile(
    r"(?:#(?:\s|$|#)|//|--\s|<!--|/\*|\*(?:\s|$|/)"
    r"|\|.*\|$|>\s|\.\.\s+(?:[\w:-]+::|_|\|[^|]+\|\s)"
    r"|([=*#~^+_-])\1{2,}\Z)"
)
_LIST_ITEM = re.compile(r"(?:[-*+]\s|\d+[.)]\s)")
_TRIPLE_QUOTES = ('"""', "'''")
_SYMBOLS = "{}[]();=<>_$#&|*/\\:\"'`"
_INLINE_CODE = re.compile(r"(?::[\w:.+-]+:)?`[^`]+`_{0,2}|``[^`]+``")
_STOPWORDS = frozenset(
    "the a an and or of to in is are was were be been that this it for on with as by at from "
    "which we you they he she not but have has had will would can could should may our your "
    "their its if when then than there these those also into about more most such only".split()
)
# Line kinds (``regions.py``): REMARK, a comment or Markdown line, never code itself; DOC, blank
# or in a docstring (whose quotes a window cut mid-docstring may pair wrongly, so such lines may
# still count as code); INDENTED, an indented line that is not a list item, which continues the
# code around it however English its words are ("if key is None:"); else PLAIN.
PLAIN, INDENTED, DOC, REMARK = 0, 1, 2, 3

_SYMBOL = np.zeros(256, dtype=bool)
_SYMBOL[[ord(c) for c in _SYMBOLS]] = True
# How a code line ends: ``; { } [ ( , : ) \ >`` (``=>`` and ``->`` end in ``>``), or ``*/``.
_CODE_ENDING = np.zeros(256, dtype=bool)
_CODE_ENDING[[ord(c) for c in ";{}[(,:)\\>"]] = True
_PADDING = np.array([10, 10], dtype=np.uint8)
OTHER, OTHER_SPACE = 128, 129  # the code units of characters outside ASCII: whitespace and the rest
# What ``str.strip`` takes off: ASCII's whitespace, and these others (none beyond U+3000).
WHITESPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_WIDE_SPACE = np.zeros(0x3001, dtype=bool)
_WIDE_SPACE[[ord(c) for c in WHITESPACE]] = True
_SPACE = np.zeros(256, dtype=bool)
_SPACE[[ord(c) for c in WHITESPACE if ord(c) < 128] + [OTHER_SPACE]] = True
# The first characters of the lines ``_REMARK`` can match.
_REMARK_HEAD = np.zeros(256, dtype=bool)
_REMARK_HEAD[[ord(c) for c in "#/-<*|>.=~^+_"]] = True
# The first characters of list items' bullets, and of the lines ``_IMPORT`` can match.
_BULLET_HEAD = np.zeros(256, dtype=bool)
_BULLET_HEAD[[ord(c) for c in "-*+0123456789"] + list(range(128, 256))] = True
_IMPORT_HEAD = np.zeros(256, dtype=bool)
_IMPORT_HEAD[[ord(c) for c in "ifupr#"]] = True
_EIGHT = np.arange(8)


def code_units(text: str) -> np.ndarray:
    """One byte per character of ``text``: ASCII as it is, any other character ``OTHER`` or, if
    it is whitespace, ``OTHER_SPACE``. Every test here is of ASCII characters (or of "not ASCII"),
    and numpy is several times faster over bytes than over the four-byte code points."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    wide = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    units = wide.astype(np.uint8)  # ASCII right; the rest (few, in code) set below
    others = np.flatnonzero(wide > 127)
    points = wide[others]
    units[others] = np.where((points < len(_WIDE_SPACE)) & _WIDE_SPACE[np.minimum(points, len(_WIDE_SPACE) - 1)],
                             OTHER_SPACE, OTHER)
    return units


class _Stripped:
    """The lines of a text without the whitespace around them, cut from the text when asked
    for (most lines never are: only those a pattern must decide)."""

    def __init__(self, text: str, first: np.ndarray, last: np.ndarray) -> None:
        self.text, self.first, self.last = text, first, last

    def __getitem__(self, line: int) -> str:
        return self.text[self.first[line] : self.last[line] + 1]

    def pick(self, rows: np.ndarray) -> list[str]:
        return list(map(self.text.__getitem__, map(slice, self.first[rows].tolist(), (self.last[rows] + 1).tolist())))


_BLOCK_COMMENTS = (("/*", "*/"), ("<!--", "-->"))


@dataclass(frozen=True, slots=True)
class LineTable:
    """Lines of ``text`` (split at ``\\n``; a line's ``\\r`` stays in it, as in ``str.split``)."""

    text: str
    units: np.ndarray  # ``code_units(text)`` and two newlines
    starts: np.ndarray  # offset of each line's first character
    ends: np.ndarray  # offset just past its last character (before the newline)
    first: np.ndarray  # offset of its first character that is not whitespace (past its end when blank)
    blank: np.ndarray  # nothing but whitespace
    code: np.ndarray  # looks like code: a code score above zero
    local_kinds: np.ndarray  # PLAIN/INDENTED/DOC/REMARK of each line as if no block were open
    openers: np.ndarray  # lines that open a block comment or docstring, ascending
    block_ends: np.ndarray  # per opener: the line after the one closing its block (len(self) if none does)
    block_kinds: np.ndarray  # per opener: the kind of the lines inside its block (DOC or REMARK)

    def __len__(self) -> int:
        return len(self.starts)

    def kinds(self, first: int, last: int) -> np.ndarray:
        """Kinds of lines ``first`` to ``last`` (exclusive), block comments and docstrings
        opened within that range followed to their end (or ``last``)."""
        kinds = self.local_kinds[first:last].copy()
        low, high = np.searchsorted(self.openers, (first, last)).tolist()
        cursor = first
        for opener, end, kind in zip(self.openers[low:high].tolist(), self.block_ends[low:high].tolist(),
                                     self.block_kinds[low:high].tolist()):
            if opener < cursor:  # inside the block before
                continue
            end = min(end, last)
            kinds[opener + 1 - first : end - first] = kind
            cursor = end
        return kinds


def line_table(text: str, listed: np.ndarray | None = None) -> LineTable:
    """``listed``: lines an agent numbered, which are code whatever they look like: when every
    line that is not blank is one, no line is scored."""
    units = code_units(text)
    newlines = np.flatnonzero(units == 10)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.append(newlines, len(text))
    count = len(starts)
    lengths = ends - starts
    # runs of characters that are not whitespace: where each starts, and its last character
    space = _SPACE[units]
    run_first = np.flatnonzero(space[:-1] & ~space[1:]) + 1
    run_last = np.flatnonzero(~space[:-1] & space[1:])
    if len(units) and not space[0]:
        run_first = np.concatenate(([0], run_first))
    if len(units) and not space[-1]:
        run_last = np.append(run_last, len(units) - 1)
    first = np.append(run_first, len(text))[np.searchsorted(run_first, starts)]
    blank = first >= ends
    first = np.where(blank, ends, first)  # first non-blank character
    last = np.where(blank, ends - 1, run_last[np.searchsorted(run_last, ends) - 1] if len(run_last) else ends - 1)  # last non-blank character
    stripped = _Stripped(text, first, last)
    chars = np.concatenate((units, _PADDING))  # so a blank last line indexes something
    head = chars[first]

    remark = np.zeros(count, dtype=bool)
    maybe = np.flatnonzero(_REMARK_HEAD[head] & ~blank)
    remark[maybe] = _matching(_REMARK, stripped.pick(maybe))
    if listed is not None and bool(np.all(listed | blank)):
        code = np.zeros(count, dtype=bool)
    else:
        code = _looks_like_code(text, stripped, chars, starts, first, last, blank, head)

    local = np.full(count, PLAIN, dtype=np.int8)
    indented = ((chars[starts] == 32) | (chars[starts] == 9)) & (lengths > 0)
    bulleted = np.flatnonzero(indented & ~blank & _BULLET_HEAD[head])
    indented[bulleted[_matching(_LIST_ITEM, stripped.pick(bulleted))]] = False
    local[indented] = INDENTED
    opened: dict[int, str] = {}  # line -> the delimiter that closes the block it opens
    closers: dict[str, np.ndarray] = {}  # that delimiter -> the lines holding it (ascending)
    for quote in _TRIPLE_QUOTES:
        if quote in text:  # counted where they are (few places), not line by line
            holding = np.bincount(_lines_of(_occurrences(text, quote), starts), minlength=count)
            closers[quote] = np.flatnonzero(holding)
            # a comment opens no docstring; both kinds of quotes odd on a line: the later one wins
            opened.update(dict.fromkeys(np.flatnonzero((holding % 2 == 1) & ~remark).tolist(), quote))
    if opened:
        rows = np.array(list(opened), dtype=np.int64)
        starting = [line.lstrip("rRbBuUfF").startswith(_TRIPLE_QUOTES) for line in stripped.pick(rows)]
        local[rows[np.array(starting, dtype=bool)]] = DOC
    local[remark] = REMARK
    for opener, closer in _BLOCK_COMMENTS:
        if opener in text:
            closers[closer] = np.unique(_lines_of(_occurrences(text, closer), starts))
            for line in np.flatnonzero(remark & (head == ord(opener[0]))):
                if stripped[line].startswith(opener) and closer not in stripped[line]:
                    opened[int(line)] = closer
    local[blank] = DOC
    return LineTable(text, chars, starts, ends, first, blank, code, local, *_blocks(opened, closers, count))


def _blocks(opened: dict[int, str], closers: dict[str, np.ndarray], count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lines opening blocks, ascending; where each block ends (the line after its closer);
    and the kind of its lines."""
    openers = np.array(sorted(opened), dtype=np.int64)
    ends = np.full(len(openers), count, dtype=np.int64)
    kinds = np.zeros(len(openers), dtype=np.int8)
    delimiters = [opened[opener] for opener in openers.tolist()]
    for closer, holders in closers.items():
        mine = np.array([delimiter == closer for delimiter in delimiters], dtype=bool)
        kinds[mine] = DOC if closer in _TRIPLE_QUOTES else REMARK
        if not mine.any() or not len(holders):
            continue
        found = np.searchsorted(holders, openers[mine], side="right")
        ends[mine] = np.where(found < len(holders), holders[np.minimum(found, len(holders) - 1)] + 1, count)
    return openers, ends, kinds


def _occurrences(text: str, delimiter: str) -> np.ndarray:
    """Where ``delimiter`` occurs in ``text``, left to right without overlaps (as ``re.finditer``
    finds it): from the lengths of what ``str.split`` leaves between, with no Python step per one."""
    gaps = np.fromiter(map(len, text.split(delimiter)), dtype=np.int64)[:-1] + len(delimiter)
    return np.cumsum(gaps) - len(delimiter)


def _lines_of(at: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.searchsorted(starts, at, side="right") - 1


def _matching(pattern: re.Pattern, lines: list[str]) -> np.ndarray:
    return np.fromiter(map(bool, map(pattern.match, lines)), dtype=bool, count=len(lines))


def _looks_like_code(text: str, stripped: _Stripped, chars: np.ndarray, starts: np.ndarray, first: np.ndarray,
                     last: np.ndarray, blank: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Per line: a code score above one. The score adds, in this order, 1 for a code start
    (``_CODE_START``), 1 for a code ending, 0.3 for an indent, up to 1.5 for the share of symbols;
    then a line whose score is above one loses what its English words say against it.

    The code start is a long pattern matched line by line, a third of this function's time when
    matched on every line. It is matched only where it decides: the rest of the score and the
    penalty are worked out both ways, with and without it, in the same order of operations as
    the definition (so the same floating-point results), and most lines are code or not either way."""
    ending, indent, share = _code_signs(text, stripped, chars, starts, first, last, blank, head)
    words, stops = _words(chars, starts)
    tails = chars[last]
    sentence = (words >= 5) & ((tails == 46) | (tails == 63) | (tails == 33))
    wordy = words >= MIN_WORDS
    by_words = stops / np.maximum(words, 1) * 5

    def code(start_sign: float) -> np.ndarray:
        score = ((start_sign + ending) + indent) + share
        candidates = score - 1.0 > 0  # penalties only subtract: no other line can be code
        score[candidates & wordy] -= by_words[candidates & wordy]
        score[candidates & sentence] -= 1.0
        return (score - 1.0 > 0) & ~blank

    without, with_start = code(0.0), code(1.0)
    undecided = np.flatnonzero(without != with_start)
    result = without
    result[undecided[_matching(_CODE_START, stripped.pick(undecided))]] = True
    return result


def _code_signs(text: str, stripped: _Stripped, chars: np.ndarray, starts: np.ndarray, first: np.ndarray,
                last: np.ndarray, blank: np.ndarray, head: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The parts of a line's code score after its code start: ending, indent and symbol share
    (``regions.py`` once scored a line at a time, and the tests keep that scorer to compare)."""
    tail = chars[last]
    ending = _CODE_ENDING[tail] | ((tail == 47) & (last > first) & (chars[last - 1] == 42))
    # import lines: those not ended like code that start as an import does
    unended = np.flatnonzero(~ending & ~blank & _IMPORT_HEAD[head])
    ending[unended[_matching(_IMPORT, stripped.pick(unended))]] = True
    bullet = ((head == 45) | (head == 42)) & (last > first) & (chars[first + 1] == 32)
    digit = (head >= 48) & (head <= 57)
    for line in np.flatnonzero((head > 127) & ~blank):  # a digit of another script
        digit[line] = stripped[line][0].isdigit()
    indented = (chars[starts] == 32) | (chars[starts] == 9)
    # symbols per line: they are never whitespace, so those of the line are those of its stripped part
    symbols = _per_segment(np.flatnonzero(_SYMBOL[chars]), starts, len(chars))
    share = np.minimum(symbols / np.maximum(last + 1 - first, 1) * 8, 1.5)
    if "`" in text:  # documentation quotes code inline (``None``, :func:`open`): quoted, it is a word
        for line in np.unique(np.searchsorted(starts, np.flatnonzero(chars == 96), side="right") - 1):
            unquoted = _INLINE_CODE.sub("x", stripped[line])
            share[line] = min(sum(1 for c in unquoted if c in _SYMBOLS) / max(len(unquoted), 1) * 8, 1.5)
    return (np.where(ending & ~blank, 1.0, 0.0), np.where(indented & ~blank & ~bullet & ~digit, 0.3, 0.0),
            np.where(blank, 0.0, share))


def _words(chars: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per line, how many English words (``[A-Za-z][a-z']+`` as ``re.findall`` finds them) it
    has and, if they are ``MIN_WORDS`` or more (else 0: fewer say nothing), how many of them are
    stopwords; with numpy over the code units (``chars`` ends with a newline).

    Such a word is a run of lowercase letters and apostrophes, led by the capital just before
    the run if there is one, else from the run's first letter (which must not end the run)."""
    lower = ((chars >= 97) & (chars <= 122)) | (chars == 39)
    run_starts = np.flatnonzero(lower[1:] & ~lower[:-1]) + 1
    if len(lower) and lower[0]:
        run_starts = np.concatenate(([0], run_starts))
    run_ends = np.flatnonzero(lower[:-1] & ~lower[1:]) + 1  # the last unit is a newline: every run ends
    before = chars[np.maximum(run_starts - 1, 0)]
    capital = (run_starts > 0) & (before >= 65) & (before <= 90)
    first_letter = _first_letters(chars, lower, run_starts, run_ends)
    valid = capital | (first_letter < run_ends - 1)
    word_starts = np.where(capital, run_starts - 1, first_letter)[valid]
    word_ends = run_ends[valid]
    length = word_ends - word_starts
    # A stopword: six letters at most. A word's first eight bytes read as one number, cut to its
    # length and lowercased (every byte | 0x20: a word holds letters and apostrophes only, and an
    # apostrophe, which no stopword has, stays one), is a stopword's bytes read the same way.
    words = _per_segment(word_starts, starts, len(chars))
    short = (length <= _LONGEST_STOPWORD) & np.repeat(words >= MIN_WORDS, words)  # (words are in line order)
    units = np.concatenate((chars.astype(np.uint8, copy=False), np.zeros(8, dtype=np.uint8)))
    keys = units[word_starts[short][:, None] + _EIGHT].view("<u8")[:, 0]
    keys = (keys & _LENGTH_MASKS[length[short]]) | (_LOWERCASE & _LENGTH_MASKS[length[short]])
    found = np.minimum(np.searchsorted(_STOP_KEYS, keys), len(_STOP_KEYS) - 1)
    stops = word_starts[short][_STOP_KEYS[found] == keys]
    return words, _per_segment(stops, starts, len(chars))


def _first_letters(chars: np.ndarray, lower: np.ndarray, run_starts: np.ndarray, run_ends: np.ndarray) -> np.ndarray:
    """Each run's first letter: its start, past any apostrophes that lead it ('quoted'), or its
    end when it is all apostrophes."""
    first = run_starts.copy()
    quoted = np.flatnonzero(chars[run_starts] == 39)
    for _ in range(4):  # a few leading apostrophes, stepped over; more, looked up below
        if len(quoted) == 0:
            return first
        first[quoted] += 1
        quoted = quoted[(first[quoted] < run_ends[quoted]) & (chars[first[quoted]] == 39)]
    letters = np.append(np.flatnonzero(lower & (chars != 39)), len(chars))
    first[quoted] = np.minimum(letters[np.searchsorted(letters, first[quoted])], run_ends[quoted])
    return first


def _per_segment(positions: np.ndarray, starts: np.ndarray, size: int) -> np.ndarray:
    """How many of ``positions`` (ascending, each below ``size``) lie in each line (from each
    start to the next)."""
    return np.diff(np.searchsorted(positions, np.append(starts, size)))


_LONGEST_STOPWORD = max(len(w) for w in _STOPWORDS)
MIN_WORDS = 4  # a line of fewer English words is not judged by its stopwords
_LENGTH_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(_LONGEST_STOPWORD + 1)], dtype="<u8")
_LOWERCASE = np.uint64(0x2020202020202020)
_STOP_KEYS = np.sort(np.array([int.from_bytes(w.encode().ljust(8, b"\0"), "little") for w in _STOPWORDS if len(w) > 1],
                              dtype="<u8"))
