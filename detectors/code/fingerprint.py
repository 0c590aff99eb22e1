"""Winnowing fingerprints over normalised tokens (Schleimer, Wilkerson & Aiken, SIGMOD 2003).

Normalisation makes a copy match its original after the edits people make when pasting code:
whitespace and comments are dropped (reformatting, re-indenting), identifiers become ``V``,
strings ``S`` and numbers ``N`` (renaming, changed literals), and separators that formatters add
or remove (``;``, trailing commas) are dropped. Keywords and operators stay: they are the shape.

Every ``K`` consecutive tokens are hashed; in every window of ``W`` consecutive hashes the
rightmost minimum is kept. Any shared run of at least ``K + W - 1`` normalised tokens therefore
shares at least one fingerprint, whatever surrounds it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import regex

K = 12  # tokens per hashed k-gram (noise threshold)
W = 10  # k-grams per winnowing window; guarantee threshold = K + W - 1 tokens

# Every rule is confined to one line on purpose: an excerpt may start inside a docstring or a
# block comment, and a multi-line rule would then pair the wrong delimiters and swallow the code
# after them. Lines of prose (docstring and comment bodies) are skipped instead, so they neither
# match nor stop matching whatever context they are pasted in.
_LEXEME = regex.compile(
    r"""(?P<skip>(?m:^[ \t]*(?:```|~~~)[^\n]*$)
              |(?m:^[ \t]*(?:\*[ \t]*)?
                   (?!(?:return|import|from|raise|yield|assert|del|print|if|elif|while|for|with|case|
                         throw|echo|export|let|const|var|val|go|defer|await|pass|break|continue)\b)
                   [A-Za-z][\w'’,.:!?-]*(?:[ \t]+[\w'’,.:!?/-]+){3,}[ \t]*$)
              |//[^\n]*|/\*[^\n]*?\*/|<!--[^\n]*?-->|\#[^\n]*|--[ \t][^\n]*)
      |(?P<str>\"\"\"[^\n]*?\"\"\"|'''[^\n]*?''')
      |(?P<delimiter>\"\"\"|''')
      |(?P<str2>`[^`\n]*`
              |"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
      |(?P<num>\d[\w.]*)
      |(?P<word>[A-Za-z_$@][\w$]*)
      |(?P<op>/\*|\*/|::|->|=>|:=|\|\||&&|[=!<>]=|\+\+|--|<<|>>|\*\*|\.\.\.?|[^\s\w])""",
    regex.VERBOSE,
)

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
_DROPPED = frozenset({";"})
_CLOSERS = frozenset({")", "]", "}"})


@dataclass(frozen=True, slots=True)
class Tokens:
    """A normalised token stream; ``starts``/``ends`` are character offsets into the source."""

    codes: np.ndarray  # uint64 token codes
    starts: np.ndarray  # int64
    ends: np.ndarray  # int64


def _normal_form(kind: str, lexeme: str) -> str:
    if kind == "word":
        return lexeme if lexeme in KEYWORDS else "V"
    if kind in ("str", "str2"):
        return "S"
    if kind == "num":
        return "N"
    return lexeme


def tokenize(text: str) -> Tokens:
    """Normalised tokens with their character spans."""
    forms: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for match in _LEXEME.finditer(text):
        kind = match.lastgroup
        if kind == "skip":
            continue
        form = _normal_form(kind, match.group())
        if form in _DROPPED:
            continue
        if form in _CLOSERS and forms and forms[-1] == ",":
            forms.pop(), starts.pop(), ends.pop()
        forms.append(form)
        starts.append(match.start())
        ends.append(match.end())
    codes_by_form = {form: zlib.crc32(form.encode()) for form in set(forms)}
    return Tokens(
        np.fromiter((codes_by_form[f] for f in forms), dtype=np.uint64, count=len(forms)),
        np.asarray(starts, dtype=np.int64),
        np.asarray(ends, dtype=np.int64),
    )


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads polynomial hashes so window minima are unbiased."""
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def kgram_hashes(codes: np.ndarray, k: int = K) -> np.ndarray:
    """One 64-bit hash per k-gram of token codes (position i covers tokens i .. i+k-1)."""
    if len(codes) < k:
        return np.zeros(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        powers = np.uint64(1_000_003) ** np.arange(k - 1, -1, -1, dtype=np.uint64)
        windows = np.lib.stride_tricks.sliding_window_view(codes, k)
        return _mix((windows * powers).sum(axis=1, dtype=np.uint64))


def winnow(hashes: np.ndarray, w: int = W) -> np.ndarray:
    """Positions of the winnowed fingerprints: the rightmost minimum of every window of ``w``."""
    if len(hashes) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(hashes) <= w:
        return np.array([len(hashes) - 1 - int(np.argmin(hashes[::-1]))], dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(hashes, w)
    rightmost = w - 1 - np.argmin(windows[:, ::-1], axis=1)
    return np.unique(np.arange(len(windows)) + rightmost)


@dataclass(frozen=True, slots=True)
class Fingerprints:
    hashes: np.ndarray  # uint64
    first_token: np.ndarray  # int64, index of each fingerprint's first token
    tokens: Tokens


def fingerprint(text: str, k: int = K, w: int = W) -> Fingerprints:
    tokens = tokenize(text)
    hashes = kgram_hashes(tokens.codes, k)
    positions = winnow(hashes, w)
    return Fingerprints(hashes[positions], positions, tokens)


def line_numbers(text: str, offsets: np.ndarray) -> np.ndarray:
    """1-based line number of each character offset."""
    newlines = np.flatnonzero(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32) == 10)
    return np.searchsorted(newlines, offsets, side="left") + 1
