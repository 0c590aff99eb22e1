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
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import regex

MODEL_PATH = Path(__file__).with_name("language_model.npz")
BUCKETS = 1 << 18
# The class the model uses for text that is not code of any language (prose, logs, licences).
NOT_CODE = "not_code"

_TOKEN = regex.compile(
    r"[A-Za-z_$@][A-Za-z0-9_$]*|\d+(?:\.\d+)?|::|->|=>|:=|<-|\|\||&&|===|!==|==|!=|<=|>=|"
    r"\+\+|--|<<|>>|\.\.\.?|\?\?|\?\.|<\?|\?>|</|/>|<%|%>|\$\(|\$\{|#\[|#!|//|/\*|\*/|#|"
    r"[^\sA-Za-z0-9_]"
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


def feature_vector(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Bucket indices and L2-normalised log-count values of a snippet's hashed features."""
    counts = Counter(map(_bucket, features(text)))  # Counter counts an iterable in C
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    values = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
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
