"""The line table scores and classifies every line as the region finder once did line by line.

``_reference_*`` below is that per-line code, kept here as the definition the table must match:
on the standard library's sources and on reStructuredText and Markdown documents, every line's
"looks like code" and every line's kind are the same (so the regions found are too).
"""

from __future__ import annotations

import random
import re
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from detectors.code.line_table import _words, line_table

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
_IMPORT = re.compile(r"(?:import|from\s+[\w.]+\s+import|#include|#import|using|package|require)\s+[\w.<>\"/*{}, ]+$")
_CODE_ENDINGS = (";", "{", "}", "[", "(", ",", ":", ")", "=>", "->", "\\", "*/", ">")
_INLINE_CODE = re.compile(r"(?::[\w:.+-]+:)?`[^`]+`_{0,2}|``[^`]+``")
_SYMBOL = re.compile("[" + re.escape("{}[]();=<>_$#&|*/\\:\"'`") + "]")
_LINE_COMMENT = re.compile(r"(?:#(?:\s|$|#)|//|--\s|<!--|/\*|\*(?:\s|$|/))")
_MARKDOWN = re.compile(r"(?:\|.*\|$|>\s|\.\.\s+(?:[\w:-]+::|_|\|[^|]+\|\s))")
_RULE = re.compile(r"([=*#~^+_-])\1{2,}")
_LIST_ITEM = re.compile(r"(?:[-*+]\s|\d+[.)]\s)")


def _reference_code(content: str) -> bool:
    stripped = content.strip()
    if not stripped:
        return False
    score = 0.0
    if _CODE_START.match(stripped):
        score += 1.0
    if stripped.endswith(_CODE_ENDINGS) or _IMPORT.match(stripped):
        score += 1.0
    if content[:1] in (" ", "\t") and not stripped[:2] in ("- ", "* ") and not stripped[:1].isdigit():
        score += 0.3
    unquoted = _INLINE_CODE.sub("x", stripped) if "`" in stripped else stripped
    score += min(len(_SYMBOL.findall(unquoted)) / max(len(unquoted), 1) * 8, 1.5)
    words = _WORD.findall(stripped)
    if len(words) >= 4:
        score -= sum(1 for w in words if w.lower() in _STOPWORDS) / len(words) * 5
    if stripped.endswith((".", "?", "!")) and len(words) >= 5:
        score -= 1.0
    return score - 1.0 > 0


def _reference_kinds(lines: list[str]) -> list[int]:
    kinds = []
    comment_end: str | None = None
    quote: str | None = None
    for content in lines:
        stripped = content.strip()
        if comment_end is not None:
            kinds.append(3)
            if comment_end in stripped:
                comment_end = None
            continue
        if quote is not None:
            kinds.append(2)
            if quote in stripped:
                quote = None
            continue
        if not stripped:
            kinds.append(2)
            continue
        if _LINE_COMMENT.match(stripped) or _MARKDOWN.match(stripped) or _RULE.fullmatch(stripped):
            kinds.append(3)
            for opener, closer in (("/*", "*/"), ("<!--", "-->")):
                if stripped.startswith(opener) and closer not in stripped:
                    comment_end = closer
            continue
        for delimiter in ('"""', "'''"):
            if stripped.count(delimiter) % 2:
                quote = delimiter
        if quote is not None and stripped.lstrip("rRbBuUfF").startswith(('"""', "'''")):
            kinds.append(2)
        elif content[:1] in (" ", "\t") and not _LIST_ITEM.match(stripped):
            kinds.append(1)
        else:
            kinds.append(0)
    return kinds


def _documents() -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sources = sorted(p for p in stdlib.rglob("*.py") if "test" not in p.parts)
    random.Random(16).shuffle(sources)
    repository = Path(__file__).resolve().parents[2]
    return sources[:150] + sorted(repository.glob("docs/*.md")) + sorted(repository.glob("*.md"))


@pytest.mark.parametrize("path", _documents(), ids=lambda p: p.name)
def test_every_line_scores_and_kinds_as_line_by_line(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    table = line_table(text)
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    assert table.code.tolist() == [_reference_code(line) for line in lines]
    assert table.kinds(0, len(lines)).tolist() == _reference_kinds(lines)


@pytest.mark.parametrize("text", [
    "", "\n", "x", "  \n\t\n", "/* open\nint x = 1;\n", '"""doc\nstill doc\n', "'''a\n\"\"\"b\n'''\nx = 1;\n",
    "```py\nx = 1\n```\n", "It's the end.\nDon't 'quote' me, A'the xThe AThe ''the x'the.\n", "# a\n/*\n*/\nb;\n",
    "x = 1;\r\ny = 2;\r\n", "\u00a0\u2003x = 1;\n\u0663. item\n  \u0663 item;\n",
    "\u3000x = f(a);\u3000\n\x85# note\x1c\n\u30abx = 1\n  \u2028\n`a` and `b` (c)\n\x0b/* x\n y */\n",
])
def test_edge_cases_score_and_kind_as_line_by_line(text: str) -> None:
    table = line_table(text)
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    assert table.code.tolist() == [_reference_code(line) for line in lines]
    assert table.kinds(0, len(lines)).tolist() == _reference_kinds(lines)


def test_words_and_stopwords_are_counted_as_the_regex_finds_them() -> None:
    rng = random.Random(7)
    alphabet = "aTthe'AxnB .-\nIS    "
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        chars = np.concatenate((np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), [10, 10]))
        starts = np.concatenate(([0], np.flatnonzero(chars[: len(text)] == 10) + 1))
        words, stops = _words(chars, starts)
        found = [_WORD.findall(line) for line in text.split("\n")]
        assert words.tolist() == [len(f) for f in found], text
        assert stops.tolist() == [sum(1 for w in f if w.lower() in _STOPWORDS) if len(f) >= 4 else 0 for f in found], text


def test_code_units_know_the_whitespace_str_strip_takes_off() -> None:
    from detectors.code.line_table import OTHER, OTHER_SPACE, WHITESPACE, code_units

    assert WHITESPACE == "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
    text = "".join(chr(c) for c in range(0x20000))
    units = code_units(text).tolist()
    assert units[:128] == list(range(128))
    assert all(unit == (OTHER_SPACE if chr(c).isspace() else OTHER) for c, unit in enumerate(units) if c >= 128)


def test_fences_are_the_lines_the_line_anchored_pattern_finds() -> None:
    """The region finder matches its fence pattern only on lines led by three backticks or
    tildes (after up to three columns); on random lines of fence-like pieces it finds what the
    pattern anchored at every line finds."""
    from detectors.code.regions import _fence_lines

    anchored = re.compile(r"(?m)^ {0,3}(`{3,}|~{3,})([^`\n]*)$")
    pieces = ["```", "~~~", "````", "``", "~~", " ", "  ", "\t", "py", "`", "x = 1", "\r", "\u00a0", ""]
    rng = random.Random(5)
    fences = 0
    for _ in range(3000):
        text = "\n".join("".join(rng.choice(pieces) for _ in range(rng.randint(0, 4))) for _ in range(rng.randint(1, 8)))
        expected = [(text.count("\n", 0, m.start()), m[1], m[2]) for m in anchored.finditer(text)]
        assert _fence_lines(line_table(text)) == expected, text
        fences += len(expected)
    assert fences > 1000
