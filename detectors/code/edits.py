"""The edits a pasted excerpt must survive, as functions: the proprietary-code tests and
``bench/code_detection.py`` apply them to real code to check that fingerprints still match.

They imitate what people and formatters do to code before pasting it, not what an adversary does.
"""

from __future__ import annotations

import builtins
import keyword
import random

import regex

from detectors.code.tokenizer import KEYWORDS

_IDENTIFIER = regex.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
_OPERATOR_SPACING = regex.compile(r"\s*(==|!=|<=|>=|\+=|-=|=|,|:)\s*")
_KEEP = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | KEYWORDS


def reformat(code: str, rng: random.Random) -> str:
    """Re-indent, re-space operators, swap quote style, and insert or drop blank lines."""
    out = []
    indent_unit = rng.choice(["  ", "\t", "        "])
    for line in code.splitlines():
        stripped = line.lstrip(" \t")
        depth = (len(line) - len(stripped)) // 4 if not line.startswith("\t") else len(line) - len(stripped)
        spaced = _OPERATOR_SPACING.sub(lambda m: _respace(m.group(1), rng), stripped)
        spaced = spaced.replace("'", '"') if "'" in spaced and '"' not in spaced else spaced
        if not stripped:
            if rng.random() < 0.5:
                continue
        out.append(indent_unit * depth + spaced.rstrip())
        if rng.random() < 0.1:
            out.append("")
    return "\n".join(out)


def _respace(operator: str, rng: random.Random) -> str:
    if operator in (",", ":"):
        return operator + " "
    return rng.choice([operator, f" {operator} "])


def rename_identifiers(code: str, rng: random.Random) -> str:
    """Rename every identifier that is not a keyword or builtin, consistently, to a fresh name."""
    names: dict[str, str] = {}

    def fresh(match: regex.Match) -> str:
        word = match.group()
        if word in _KEEP:
            return word
        if word not in names:
            names[word] = rng.choice(["tmp", "val", "item", "obj", "x", "data", "cfg"]) + f"_{len(names)}"
        return names[word]

    return _IDENTIFIER.sub(fresh, code)
