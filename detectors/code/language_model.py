"""A small linear language classifier over hashed lexical features.

Why not Pygments' ``guess_lexer`` or guesslang: measured here, ``guess_lexer`` names almost no
10-line snippet correctly and guesslang needs a 1.5 GB TensorFlow install. A linear model over
tokens, token pairs, line-edge tokens and the shapes of identifiers after each token (comment
lines: markers only) is tiny, runs in well under a millisecond per snippet
and is trained by ``bench/train_language_model.py`` (which documents its corpus).

Features are hashed with CRC-32 (stable across processes, unlike ``hash``) into a fixed number of
buckets; the weights are stored as int8 with one scale per class, so the model file stays small.
"""

from __future__ import annotations

import functools
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from itertools import chain, repeat
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).with_name("language_model.npz")
BUCKETS = 1 << 18
# The class the model uses for text that is not code of any language (prose, logs, licences).
NOT_CODE = "not_code"

# ``re``, twice as fast here as ``regex``, which the model was trained with: the whitespace is
# spelled out as ``regex`` has it (``re``'s ``\s`` also takes \x1c-\x1f); ``\d`` differs only on the
# digits of scripts new in Unicode 16, which ``regex`` knows and ``re`` does not yet.
_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_TOKEN = re.compile(
    r"[A-Za-z_$@][A-Za-z0-9_$]*|\d+(?:\.\d+)?|::|->|=>|:=|<-|\|\||&&|===|!==|==|!=|<=|>=|"
    r"\+\+|--|<<|>>|\.\.\.?|\?\?|\?\.|<\?|\?>|</|/>|<%|%>|\$\(|\$\{|#\[|#!|//|/\*|\*/|#|"
    f"[^{_SPACE}A-Za-z0-9_]"
)


# Words inside a comment are prose, and prose is no language's own: learned from the JDK's Javadoc
# or Rust's doc comments they pulled commented C++ and Python docstrings to Java and Rust. A
# comment line speaks through its marker and punctuation (``//``, ``*``, ``@param``) only.
_COMMENT_STARTS = frozenset({"//", "/*", "*", "*/", "--"})
_HASH_DIRECTIVES = frozenset({"include", "define", "if", "ifdef", "ifndef", "endif", "else", "elif", "pragma",
                              "undef", "error", "import", "[", "!"})


def _is_comment(tokens: list[str]) -> bool:
    if tokens[0] == "#":
        return len(tokens) == 1 or tokens[1] not in _HASH_DIRECTIVES
    return tokens[0] in _COMMENT_STARTS


def _line_features(line: str, features: list[str]) -> None:
    stripped = line.strip()
    if not stripped:
        return
    tokens = _TOKEN.findall(stripped)
    if not tokens:
        return
    indent = line[: len(line) - len(line.lstrip())]
    if indent:
        features.append("i:tab" if "\t" in indent else f"i:{min(len(indent), 8) % 4 or 4}")
    features.append("s:" + tokens[0])
    features.append("e:" + tokens[-1])
    if len(tokens) > 1:
        features.append("s2:" + tokens[0] + " " + tokens[1])
    if _is_comment(tokens):
        features.append("c:" + tokens[0])
        features.extend("ct:" + token for token in tokens[1:] if not token[0].isalnum())
        return
    previous = "^"
    for token in tokens:
        features.append("t:" + token)
        features.append("b:" + previous + " " + token)
        if token[0].isalpha() or token[0] == "_":
            features.append("h:" + previous + " " + _shape(token))
        previous = token
    features.append("b:" + previous + " $")


# An identifier the model never saw still says something by its shape: C# and Go call members
# in PascalCase (``.WriteLine(``), Java and JavaScript in camelCase, Python and Rust in snake_case.
def _shape(word: str) -> str:
    if word.isupper():
        return "A_A" if "_" in word else "A"
    if "_" in word.strip("_"):
        return "a_a"
    if word[0].isupper():
        return "Aa"
    return "aA" if word.lower() != word else "a"


def features(text: str) -> list[str]:
    """The lexical features of a snippet; the same function serves training and prediction."""
    result: list[str] = []
    lines = text.splitlines()
    in_block = _starts_inside_block_comment(lines)
    for line in lines:
        stripped = line.strip()
        if in_block:
            _block_comment_features(stripped, result)
            in_block = "*/" not in stripped
        else:
            _line_features(line, result)
            in_block = stripped.startswith("/*") and "*/" not in stripped
    return result


# The inside of a ``/* ... */`` block is prose even where its lines carry no ``*``: a licence
# header in a C++ file read as Java because the JDK's sources are where the model met such words
# outside a marked comment line. A window cut in the middle of a block starts inside it when its
# first closing ``*/`` ends a line before any line opens a block.
def _starts_inside_block_comment(lines: list[str]) -> bool:
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("/*"):
            return False
        if stripped.endswith("*/") and "/*" not in stripped:
            return True
    return False


def _block_comment_features(stripped: str, features: list[str]) -> None:
    if not stripped:
        return
    features.append("c:/*")
    features.extend("ct:" + token for token in _TOKEN.findall(stripped) if not token[0].isalnum())


@functools.lru_cache(maxsize=1 << 18)
def _bucket(feature: str) -> int:
    # Features repeat heavily across code ("t:self", "b:( )"): hash each distinct one once.
    return zlib.crc32(feature.encode("utf-8")) & (BUCKETS - 1)


# ``features`` spells every feature out; predicting, only their buckets count. These give the
# bucket of each kind of feature from its parts, each a memo in C (``lru_cache``), so a line's
# buckets come from ``map`` over its tokens with no Python step per token: what a line gives is
# exactly the buckets of what ``_line_features`` writes (``tests/detectors/code``).
_MEMO = 1 << 16
_NONE = -1  # no feature (a comment token that is a word, a token that is no identifier)


@functools.lru_cache(maxsize=_MEMO)
def _token_buckets(previous: str, token: str) -> tuple[int, ...]:
    """What a token of a code line adds, after ``previous`` on its line: ``t:``, ``b:`` and, for
    an identifier, ``h:`` (one memo for the three: a lookup in it is most of the cost)."""
    buckets = (_bucket("t:" + token), _pair_bucket(previous, token))
    if token[0].isalpha() or token[0] == "_":
        return (*buckets, _bucket("h:" + previous + " " + _shape(token)))
    return buckets


@functools.lru_cache(maxsize=_MEMO)
def _pair_bucket(previous: str, token: str) -> int:
    return _bucket("b:" + previous + " " + token)


@functools.lru_cache(maxsize=_MEMO)
def _comment_token_bucket(token: str) -> int:
    return _NONE if token[0].isalnum() else _bucket("ct:" + token)


@functools.lru_cache(maxsize=_MEMO)
def _edge_buckets(first: str, second: str | None, last: str) -> tuple[int, ...]:
    if second is None:
        return _bucket("s:" + first), _bucket("e:" + last)
    return _bucket("s:" + first), _bucket("e:" + last), _bucket("s2:" + first + " " + second)


@functools.lru_cache(maxsize=64)
def _indent_bucket(indent: str) -> int:
    return _bucket("i:tab" if "\t" in indent else f"i:{min(len(indent), 8) % 4 or 4}")


_BLOCK_COMMENT = _bucket("c:/*")


def bucket_counts(text: str) -> Counter[int]:
    """How often each bucket occurs among ``features(text)``."""
    counts = Counter(_buckets(text))
    counts.pop(_NONE, None)
    return counts


def _buckets(text: str) -> list[int]:
    """The buckets of ``features(text)`` (and ``_NONE`` for features that are not), without
    spelling the features out: a short Python step per line; per token only ``map``s of the
    memos above. The code lines' tokens are gathered first, each with the token before it on its
    line (``^`` for the first)."""
    lines = text.splitlines()
    stripped = list(map(str.strip, lines))
    tokens = list(map(_TOKEN.findall, stripped))
    blocks = _block_comment_lines(stripped) if "/*" in text or "*/" in text else repeat(False)
    buckets: list[int] = []
    code: list[str] = []
    previous: list[str] = []
    lasts: list[str] = []
    for line, line_tokens, in_block in zip(lines, tokens, blocks):
        if not line_tokens:  # blank (whatever is not blank makes a token)
            continue
        if in_block:
            buckets.append(_BLOCK_COMMENT)
            buckets.extend(map(_comment_token_bucket, line_tokens))
            continue
        if line[0].isspace():
            buckets.append(_indent_bucket(line[: len(line) - len(line.lstrip())]))
        first = line_tokens[0]
        buckets.extend(_edge_buckets(first, line_tokens[1] if len(line_tokens) > 1 else None, line_tokens[-1]))
        if _is_comment(line_tokens):
            buckets.append(_bucket("c:" + first))
            buckets.extend(map(_comment_token_bucket, line_tokens[1:]))
            continue
        code.extend(line_tokens)
        previous.append("^")
        previous.extend(line_tokens[:-1])
        lasts.append(line_tokens[-1])
    buckets.extend(chain.from_iterable(map(_token_buckets, previous, code)))
    buckets.extend(map(_pair_bucket, lasts, repeat("$")))
    return buckets


def _block_comment_lines(stripped: list[str]) -> list[bool]:
    """Per line, whether ``features`` reads it as inside a ``/* ... */`` block."""
    in_block = _starts_inside_block_comment(stripped)
    inside = []
    for line in stripped:
        inside.append(in_block)
        in_block = "*/" not in line if in_block else line.startswith("/*") and "*/" not in line
    return inside


def feature_vector(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Bucket indices (ascending) and L2-normalised log-count values of a snippet's hashed features."""
    buckets = _buckets(text)
    indices, counts = np.unique(np.fromiter(buckets, dtype=np.int64, count=len(buckets)), return_counts=True)
    if len(indices) and indices[0] == _NONE:
        indices, counts = indices[1:], counts[1:]
    if not len(indices):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    values = 1.0 + np.log(counts.astype(np.float32))
    values /= np.linalg.norm(values)
    return indices, values


@dataclass(frozen=True)
class LanguageGuess:
    language: str
    probability: float


class LanguageModel:
    """Loads the trained weights once; ``predict`` is read-only, so threads may share it."""

    def __init__(self, weights: np.ndarray, scales: np.ndarray, bias: np.ndarray, classes: list[str]):
        self._weights = weights  # (BUCKETS, classes) int8
        self._scales = scales.astype(np.float32)  # (classes,)
        self._bias = bias.astype(np.float32)
        self.classes = classes

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> LanguageModel:
        with np.load(path, allow_pickle=False) as data:
            return cls(data["weights"], data["scales"], data["bias"], [str(c) for c in data["classes"]])

    def scores(self, text: str) -> np.ndarray:
        indices, values = feature_vector(text)
        raw = values @ self._weights[indices].astype(np.float32) if len(indices) else 0.0
        return raw * self._scales + self._bias

    def probabilities(self, text: str) -> dict[str, float]:
        scores = self.scores(text)
        exp = np.exp(scores - scores.max())
        probs = exp / exp.sum()
        return {cls: float(p) for cls, p in zip(self.classes, probs)}

    def predict(self, text: str, allowed: set[str] | None = None) -> LanguageGuess:
        """The most probable class, optionally restricted to ``allowed`` classes."""
        probs = self.probabilities(text)
        candidates = {c: p for c, p in probs.items() if allowed is None or c in allowed}
        best = max(candidates, key=candidates.__getitem__)
        return LanguageGuess(best, candidates[best])
