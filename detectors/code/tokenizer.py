"""The tokenizer of the proprietary-code index: source text in, normalised tokens out.

Normalisation makes a copy match its original after the edits people make when pasting code:
whitespace and comments are dropped (reformatting, re-indenting), identifiers become ``V``,
strings ``S`` and numbers ``N`` (renaming, changed literals), and separators that formatters add
or remove (``;``, trailing commas) are dropped. Keywords and operators stay: they are the shape.
Each token also keeps its exact code (names and string contents) and, for strings and numbers,
a value that survives renaming (``_string_hashes``); lines of prose (docstring and comment
bodies, licence text) and Markdown fences are no tokens at all.

The tokenizer is vectorised: one regular-expression pass finds the comments, prose lines and
strings (few per file), numpy does the rest over the whole text's code points, so a 200 KB
prompt is tokenised in a few milliseconds rather than a Python loop over 40,000 tokens.
``fingerprint.py`` hashes and winnows the token stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# Every rule is confined to one line on purpose: an excerpt may start inside a docstring or a
# block comment, and a multi-line rule would then pair the wrong delimiters and swallow the code
# after them. Lines of prose (docstring and comment bodies) are skipped too (``_skipped_lines``), so
# they neither match nor stop matching whatever context they are pasted in. Only what is not a
# plain word or operator is matched here; numpy splits the rest. (``re``, not ``regex``: this
# pattern runs over every prompt and ``re`` is several times faster on it.)
_SPANS = re.compile(  # no named groups: they cost re its first-character scan (7x slower)
    r"""//[^\n]*|/\*[^\n]*?\*/|<!--[^\n]*?-->|\#[^\n]*|--[ \t][^\n]*"""  # comments
    r"""|\"\"\"[^\n]*?\"\"\"|'''[^\n]*?'''|\"\"\"|'''"""  # one-line triple-quoted strings, lone delimiters
    r"""|`[^`\n]*`|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'"""  # strings
)
# A prose line starts with a word that does not begin a statement ...
_STATEMENT_WORDS = (
    "return import from raise yield assert del print if elif while for with case throw echo export let "
    "const var val go defer await pass break continue"
).split()
# ... and holds only words, spaces and sentence punctuation, at least four words of them.
_PROSE_PUNCTUATION = "'’,.:!?/-"
_MIN_PROSE_WORDS = 4
_SHOUTED_PUNCTUATION = '"();'
_MIN_SHOUTED_CAPITALS = 12

# Reserved words of most of the languages we see; they cannot be renamed, so they keep the shape.
# Words that are keywords in one language but ordinary names in others (``data``, ``type``,
# ``end``, ``val``) are left out: renaming such a variable must not change the fingerprint.
KEYWORDS = frozenset(
    """and as assert async await break case catch class const continue def del do elif else enum
    except extends finally fn for from func function if impl implements import in instanceof interface
    is lambda let namespace new not or package pass private protected public raise return self static
    struct super switch this throw throws trait try typeof using var void while with yield
    true false True False None null nil""".split()
)

_BASE = 0x100000001B3  # odd, so invertible modulo 2**64
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)
_MASK = (1 << 64) - 1
# Codes of the tokens that are not words; operator characters are their own code point.
CODE_NAME, CODE_STRING, CODE_NUMBER, CODE_DELIMITER, CODE_NAMEALUE = (np.uint64(0xA5A5_0000_0000_0000 + i) for i in range(5))
_SEMICOLON, _COMMA = np.uint64(ord(";")), np.uint64(ord(","))
_CLOSERS = np.array([ord(")"), ord("]"), ord("}")], dtype=np.uint64)


def _character_class(members: str) -> np.ndarray:
    """Per code point of the Basic Multilingual Plane: is it one of ``members``? Indexing this
    table is several times faster than ``np.isin`` over every character of a prompt."""
    table = np.zeros(0x10000, dtype=bool)
    table[[ord(c) for c in members]] = True
    table.flags.writeable = False
    return table


def _in_class(chars: np.ndarray, table: np.ndarray) -> np.ndarray:
    return table[np.minimum(chars, 0xFFFF)]  # no member is U+FFFF, a noncharacter


def _among(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """``np.isin`` for a short sorted key array, by binary search."""
    at = np.minimum(np.searchsorted(sorted_keys, values), len(sorted_keys) - 1)
    return sorted_keys[at] == values


_COMMENT_OPENERS = _character_class("/#<-")
_PROSE_PUNCTUATION_CLASS = _character_class(_PROSE_PUNCTUATION)
_SHOUTED_PUNCTUATION_CLASS = _character_class(_SHOUTED_PUNCTUATION)
_SPACE = _character_class("\t\n\x0b\x0c\r ")


def word_hash(word: str) -> int:
    """The hash ``tokenize`` gives a word (sum of code points times powers of the base)."""
    return sum(ord(ch) * pow(_BASE, i, 1 << 64) for i, ch in enumerate(word)) & _MASK


_KEYWORD_HASHES = np.array(sorted({word_hash(w) for w in KEYWORDS}), dtype=np.uint64)
_STATEMENT_HASHES = np.array(sorted({word_hash(w) for w in _STATEMENT_WORDS}), dtype=np.uint64)


@dataclass(frozen=True, slots=True)
class Tokens:
    """A token stream; ``starts``/``ends`` are character offsets into the source."""

    codes: np.ndarray  # uint64 normalised token codes (names, strings, numbers replaced)
    exact: np.ndarray  # uint64 exact token codes (names and string contents kept)
    values: np.ndarray  # uint64 codes of strings without their words, of numbers; else 0
    starts: np.ndarray  # int64
    ends: np.ndarray  # int64


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _spans(text: str, chars: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, kind) of comments (0), strings (1) and lone triple-quote delimiters (2)."""
    found = [m.span() for m in _SPANS.finditer(text)]
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    spans = np.array(found, dtype=np.int64)
    starts, ends = spans[:, 0], spans[:, 1]
    # a lone delimiter is three equal quotes; a one-character string ("a", "🦖") is a string
    second, third = np.minimum(starts + 1, len(chars) - 1), np.minimum(starts + 2, len(chars) - 1)
    lone = (ends - starts == 3) & (chars[starts] == chars[second]) & (chars[starts] == chars[third])
    kind = np.where(_in_class(chars[starts], _COMMENT_OPENERS), 0, np.where(lone, 2, 1))
    return starts, ends, kind


class _SubstringHasher:
    """Hash of any ``chars[s:e]`` in O(1): (P[e] - P[s]) * BASE**-s with P the prefix sums of
    chars * BASE**i, all modulo 2**64 (numpy's wrapping uint64 arithmetic)."""

    def __init__(self, chars: np.ndarray) -> None:
        n = len(chars)
        with np.errstate(over="ignore"):
            powers = np.full(n, _BASE, dtype=np.uint64)
            inverse = np.full(n, _BASE_INVERSE, dtype=np.uint64)
            if n:
                powers[0] = inverse[0] = 1
            powers = np.cumprod(powers, dtype=np.uint64)
            self._inverse = np.cumprod(inverse, dtype=np.uint64)
            self._prefix = np.zeros(n + 1, dtype=np.uint64)
            np.cumsum(chars.astype(np.uint64) * powers, out=self._prefix[1:])

    def __call__(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        if len(self._inverse) == 0:
            return np.zeros(len(starts), dtype=np.uint64)
        with np.errstate(over="ignore"):
            return (self._prefix[ends] - self._prefix[starts]) * self._inverse[np.minimum(starts, len(self._inverse) - 1)]


def _skipped_lines(chars: np.ndarray, word: np.ndarray, substring_hash: _SubstringHasher) -> np.ndarray:
    """Per character: is it on a Markdown fence line or a line of prose (a docstring or comment
    body, a sentence)?

    A prose line is optional indentation and an optional ``*``, then at least four words made of
    word characters and sentence punctuation only, the first a letter-initial word that does not
    start a statement (``return``, ``import``, ``if`` ...).
    """
    n = len(chars)
    newline = chars == 10
    line = np.cumsum(newline) - newline  # a newline belongs to the line it ends
    lines = int(line[-1]) + 1 if n else 0
    blank = (chars == 32) | (chars == 9) | (chars == 13) | newline
    visible = np.flatnonzero(~blank)
    if len(visible) == 0:
        return np.zeros(n, dtype=bool)
    line_of = line[visible]
    first_in_line = np.flatnonzero(np.concatenate(([True], line_of[1:] != line_of[:-1])))
    lead = visible[first_in_line]
    star = chars[lead] == ord("*")
    # after a leading star the line's text starts at its next visible character (same line)
    after_star = np.minimum(first_in_line + 1, len(visible) - 1)
    same_line = line_of[after_star] == line_of[first_in_line]
    text_start = np.where(star & same_line, visible[after_star], lead)
    lead_lines = line[lead]

    allowed = word | blank | _in_class(chars, _PROSE_PUNCTUATION_CLASS)
    # docstrings name the functions they talk about: "each get() used to fetch a task"
    called = np.flatnonzero((chars[1:-1] == ord("(")) & (chars[2:] == ord(")")) & word[:-2]) + 1
    allowed[called] = allowed[called + 1] = True
    allowed[lead[star]] = True
    edges = np.concatenate(([0], np.flatnonzero(newline) + 1, [n]))

    def per_line(mask: np.ndarray) -> np.ndarray:  # how many characters of each lead's line
        counts = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(mask, out=counts[1:])
        return (counts[edges[1:]] - counts[edges[:-1]])[lead_lines]

    disallowed = per_line(~allowed)
    # words, not space-separated groups: a formatter that writes "A: array" for "A : array" must
    # not turn a docstring line into code
    word_start = word & ~np.concatenate(([False], word[:-1]))
    words = per_line(word_start)
    first_char = chars[text_start] | np.uint32(0x20)
    letter = (first_char >= 97) & (first_char <= 122)
    word_end = _word_ends(word, text_start)
    statement = _among(substring_hash(text_start, word_end), _STATEMENT_HASHES)
    prose = letter & (disallowed == 0) & (words >= _MIN_PROSE_WORDS) & ~statement
    # Licence disclaimers shout: a line without a lower-case letter may also hold quotes,
    # parentheses and semicolons ("AS IS", "(INCLUDING ... SERVICES; LOSS OF USE,").
    lowercase = (chars >= 97) & (chars <= 122)
    capitals = (chars >= 65) & (chars <= 90)
    shouting = (per_line(lowercase) == 0) & (per_line(capitals) >= _MIN_SHOUTED_CAPITALS)
    shouting &= per_line(~(allowed | _in_class(chars, _SHOUTED_PUNCTUATION_CLASS))) == 0
    prose |= shouting & (words >= _MIN_PROSE_WORDS)
    fence_char = (chars[lead] == ord("`")) | (chars[lead] == ord("~"))
    fence = fence_char & (chars[np.minimum(lead + 1, n - 1)] == chars[lead]) & (chars[np.minimum(lead + 2, n - 1)] == chars[lead])
    prose |= fence
    prose_by_line = np.zeros(lines, dtype=bool)
    prose_by_line[lead_lines[prose]] = True
    return prose_by_line[line] & ~newline


def _word_ends(word: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """End offset of the run of word characters beginning at each of ``starts``."""
    ends = np.flatnonzero(word & ~np.concatenate((word[1:], [False]))) + 1
    return ends[np.minimum(np.searchsorted(ends, starts, side="right"), len(ends) - 1)] if len(ends) else starts


def tokenize(text: str) -> Tokens:
    """Normalised and exact tokens with their character spans."""
    chars = _code_points(text)
    n = len(chars)
    lower = chars | np.uint32(0x20)
    word = (
        ((lower >= 97) & (lower <= 122)) | ((chars >= 48) & (chars <= 57))
        | (chars == 95) | (chars == 36) | (chars == 64) | (chars >= 128)
    )
    substring_hash = _SubstringHasher(chars)
    prose = _skipped_lines(chars, word, substring_hash)
    span_starts, span_ends, span_kinds = _spans(text, chars)
    if len(span_starts):  # strings and comments inside a prose line belong to the prose
        outside = ~prose[span_starts]
        span_starts, span_ends, span_kinds = span_starts[outside], span_ends[outside], span_kinds[outside]
    depth = np.zeros(n + 1, dtype=np.int64)
    np.add.at(depth, span_starts, 1)
    np.add.at(depth, span_ends, -1)
    inside = (np.cumsum(depth[:n]) > 0) | prose

    contents, values = _string_hashes(chars, word, span_starts[span_kinds == 1], span_ends[span_kinds == 1])
    word &= ~inside
    punct = ~word & ~inside & ~_in_class(chars, _SPACE)
    word_starts = np.flatnonzero(word & ~np.concatenate(([False], word[:-1])))
    word_ends = np.flatnonzero(word & ~np.concatenate((word[1:], [False]))) + 1
    punct_at = np.flatnonzero(punct)

    word_exact = substring_hash(word_starts, word_ends)
    first = chars[word_starts]
    word_normal = np.where(
        _among(word_exact, _KEYWORD_HASHES), word_exact, np.where((first >= 48) & (first <= 57), CODE_NUMBER, CODE_NAME)
    )
    literal = span_kinds > 0
    lit_starts, lit_ends, lone = span_starts[literal], span_ends[literal], span_kinds[literal] == 2
    string_exact = np.full(len(lit_starts), CODE_DELIMITER, dtype=np.uint64)
    string_exact[~lone] = contents ^ CODE_STRING
    string_normal = np.where(lone, CODE_DELIMITER, CODE_STRING)
    string_value = np.zeros(len(lit_starts), dtype=np.uint64)
    string_value[~lone] = values
    word_value = np.where(word_normal == CODE_NUMBER, word_exact, 0).astype(np.uint64)

    starts = np.concatenate((word_starts, punct_at, lit_starts))
    ends = np.concatenate((word_ends, punct_at + 1, lit_ends))
    punct_codes = chars[punct_at].astype(np.uint64)
    normal = np.concatenate((word_normal, punct_codes, string_normal)).astype(np.uint64)
    exact = np.concatenate((word_exact, punct_codes, string_exact)).astype(np.uint64)
    value = np.concatenate((word_value, np.zeros(len(punct_at), dtype=np.uint64), string_value))
    order = np.argsort(starts, kind="stable")
    starts, ends, normal, exact, value = starts[order], ends[order], normal[order], exact[order], value[order]

    # Formatters add or drop semicolons and trailing commas; neither may change a fingerprint.
    keep = normal != _SEMICOLON
    keep[keep] = ~((normal[keep] == _COMMA) & np.isin(np.concatenate((normal[keep][1:], [np.uint64(0)])), _CLOSERS))
    return Tokens(normal[keep], exact[keep], value[keep], starts[keep].astype(np.int64), ends[keep].astype(np.int64))


_WORD_MARK = 0x1F  # stands for a word inside a string: a control character no string holds


def _string_hashes(chars: np.ndarray, word: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per string span: (content, value) hashes, both over the content without its whitespace
    (reformatting may re-space a string: ``"a,b"``, ``"a, b"``).

    The value is the content with every word (a run of word characters that starts with a letter)
    replaced by one mark, or 0 when too little but words is left: ``'1977-03-02T12:30'``,
    ``'\\x00'``, ``'%s=%d'`` and ``'sıfır'`` keep most of what they are through a find-and-replace
    rename that also rewrites words inside strings; ``"name"`` does not (it is 0, a value like
    any other string name).
    """
    n = len(chars)
    quote = np.where((ends - starts >= 6) & (chars[np.minimum(starts + 2, n - 1)] == chars[starts]), 3, 1)
    content_starts = starts + quote
    lengths = np.maximum(ends - quote - content_starts, 0)
    if lengths.sum() == 0:
        empty = _SubstringHasher(np.zeros(0, dtype=np.uint32))(starts, starts)
        return empty, np.zeros(len(starts), dtype=np.uint64)
    # the strings' contents, one after the other (a few per cent of a prompt's characters)
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    at = np.repeat(content_starts - bounds[:-1], lengths) + np.arange(bounds[-1])
    text, letters = chars[at], word[at]
    visible = ~_in_class(text, _SPACE)
    shown = np.concatenate(([0], np.cumsum(visible)))
    contents = _SubstringHasher(text[visible])(shown[bounds[:-1]], shown[bounds[1:]])
    after_word = np.concatenate(([False], letters[:-1]))
    after_word[bounds[:-1][lengths > 0]] = False  # a content starts after its quote
    run_start = letters & ~after_word
    lower = text | np.uint32(0x20)
    initial = ((lower >= 97) & (lower <= 122)) | (text == 95)
    # per run of word characters: a word (not a number)? (index -1, before any run, is False)
    word_run = np.append(initial[run_start], False)
    in_word = letters & word_run[np.cumsum(run_start) - 1]
    keep = ~(in_word & after_word) & visible  # a word's first character stays, as the mark
    marked = np.where(in_word, np.uint32(_WORD_MARK), text)[keep]
    kept = np.concatenate(([0], np.cumsum(keep)))
    hashes = _SubstringHasher(marked)(kept[bounds[:-1]], kept[bounds[1:]]) ^ CODE_NAMEALUE
    # a value holds a digit or a non-Latin letter outside words, or two marks ('%s=%d', not 'a-b')
    digits = np.concatenate(([0], np.cumsum(~in_word & (((text >= 48) & (text <= 57)) | (text >= 128)))))
    marks = np.concatenate(([0], np.cumsum(~letters & visible)))
    meaningful = (digits[bounds[1:]] > digits[bounds[:-1]]) | (marks[bounds[1:]] - marks[bounds[:-1]] >= 2)
    return contents, np.where(meaningful, hashes, 0).astype(np.uint64)


def line_numbers(text: str, offsets: np.ndarray) -> np.ndarray:
    """1-based line number of each character offset."""
    newlines = np.flatnonzero(np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32) == 10)
    return np.searchsorted(newlines, offsets, side="left") + 1

