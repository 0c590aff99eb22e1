"""Text as a reader sees it: invisible characters dropped, lookalikes of ASCII folded to ASCII.

A token with a zero-width space inside (``AKIA\\u200bIOSF...``), with Cyrillic ``А`` for Latin
``A``, or with fullwidth digits reads the same to a person or a model but matches no rule. So
before matching, ``normalise`` drops Unicode format characters (category Cf: zero-width
spaces and joiners, bidi controls, the BOM, tags) and the other default-ignorable characters
(soft hyphen, variation selectors, the combining grapheme joiner, Hangul fillers), folds
compatibility forms with NFKC where that yields ASCII (fullwidth ``ＡＫＩＡ``, mathematical
bold letters, the ``ﬁ`` ligature, no-break spaces), and folds the characters Unicode's
confusables data lists as lookalikes of an ASCII letter, digit or ``-_./+=:``
(``confusables.txt`` beside this module says how it was derived).

Only characters that can become ASCII are touched: the rules are ASCII, and text in other
scripts is otherwise left as it is. ``Normalised.original_span`` maps a span of the folded text
back onto the original, so redaction replaces exactly the original characters, the invisible
ones inside the value included.

Cost: ASCII text (most of what an agent sends) is answered by ``str.isascii`` without a copy;
other text costs one regex pass in C plus Python work per run of characters that change length.
Linear in the text either way.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from detectors.base import Finding
from detectors.build_cache import cached_values

_CONFUSABLES = Path(__file__).with_name("confusables.txt")
# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties) outside category Cf, which the
# table takes whole: invisible, yet they are letters, marks or symbols by category.
_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD),  # soft hyphen (Cf, listed for the reader)
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong / jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors and vowel separator
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE0FFF),  # tags and variation selectors supplement
)
# Planes worth enumerating: every Cf, compatibility form and listed confusable lies in these.
_PLANES = ((0x80, 0x20000), (0xE0000, 0xE1000))


@dataclass(frozen=True, slots=True)
class _Fold:
    """What each changed character becomes, and one pattern that finds runs of them."""

    table: dict[int, str]
    runs: re.Pattern[str]
    resizing: re.Pattern[str]  # characters that may fold to other than one character


@dataclass(frozen=True, slots=True)
class Normalised:
    """``text`` folded, and the edits that changed its length, to map spans back.

    ``marks[k]`` is where the output of edit ``k`` starts in ``text``; ``edits[k]`` is
    ``(original start, original end, output length)``. Characters folded one for one need no
    edit: they move no offset."""

    original: str
    text: str
    marks: tuple[int, ...]
    edits: tuple[tuple[int, int, int], ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        return self._original_start(start), self._original_end(end)

    def _original_start(self, offset: int) -> int:
        # The last edit at or before ``offset``: invisible characters just before a value are
        # skipped, a character an expansion came from is included whole.
        k = bisect.bisect_right(self.marks, offset) - 1
        if k < 0:
            return offset
        mark, (original_start, original_end, length) = self.marks[k], self.edits[k]
        return original_start if offset < mark + length else original_end + offset - mark - length

    def _original_end(self, offset: int) -> int:
        # The last edit before ``offset``: invisible characters just after a value stay out.
        k = bisect.bisect_left(self.marks, offset) - 1
        if k < 0:
            return offset
        mark, (_, original_end, length) = self.marks[k], self.edits[k]
        return original_end if offset <= mark + length else original_end + offset - mark - length


def normalise(text: str) -> Normalised | None:
    """``text`` as matching should see it, or None when nothing in it would change."""
    if text.isascii():
        return None
    fold = _fold()
    pieces: list[str] = []
    marks: list[int] = []
    edits: list[tuple[int, int, int]] = []
    copied = 0  # original offset up to which text is in ``pieces``
    shift = 0  # folded offset minus original offset so far
    for run in fold.runs.finditer(text):
        start, end = run.span()
        pieces.append(text[copied:start])
        folded = run.group().translate(fold.table)
        pieces.append(folded)
        copied = end
        if not fold.resizing.search(text, start, end):
            continue
        if not folded:  # a run of invisible characters: one edit
            marks.append(start + shift)
            edits.append((start, end, 0))
            shift -= end - start
            continue
        for index in range(start, end):
            replacement = fold.table.get(ord(text[index]), text[index])
            if len(replacement) != 1:
                marks.append(index + shift)
                edits.append((index, index + 1, len(replacement)))
                shift += len(replacement) - 1
    pieces.append(text[copied:])
    folded_text = "".join(pieces)
    if folded_text == text:
        return None
    return Normalised(text, folded_text, tuple(marks), tuple(edits))


def scan_as_read(text: str, scan: Callable[[str], list[Finding]]) -> list[Finding]:
    """``scan``'s findings in ``text`` as a reader sees it (invisible characters dropped,
    lookalikes folded), with spans in ``text`` itself; a finding that needed folding says so."""
    folded = normalise(text)
    if folded is None:
        return scan(text)
    found = []
    for finding in scan(folded.text):
        start, end = folded.original_span(finding.start, finding.end)
        details = dict(finding.details)
        if text[start:end] != folded.text[finding.start : finding.end]:
            details["normalised"] = True
        found.append(replace(finding, start=start, end=end, details=details))
    return found


def prepare_normalise() -> None:
    """Build the tables now rather than on the first non-ASCII text."""
    _fold()


@functools.cache
def _fold() -> _Fold:
    """Built once per process; ``SecretDetector`` builds it before workers fork. Walking the
    planes takes ~0.3 s, so the result is stored in the build cache under the Unicode version
    and the content of this module and the confusables list: a change to any of them rebuilds."""
    derived_from = [
        unicodedata.unidata_version,
        hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        hashlib.sha256(_CONFUSABLES.read_bytes()).hexdigest(),
    ]
    table, bmp, resizing = cached_values("normalise-fold", derived_from, _fold_table, valid=_is_fold_table)
    return _Fold(
        table,
        re.compile(f"(?:[{bmp}]|[\U00010000-\U0010ffff])+"),
        re.compile(f"[{resizing}]|[\U00010000-\U0010ffff]"),
    )


def _is_fold_table(value: object) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 3
        and isinstance(value[0], dict)
        and all(isinstance(part, str) for part in value[1:])
    )


def _fold_table() -> tuple[dict[int, str], str, str]:
    """The fold table and the two character classes its patterns are made of."""
    table: dict[int, str] = {}
    confusables = _confusables()
    for low, high in _PLANES:
        for code in range(low, high):
            char = chr(code)
            if unicodedata.category(char) == "Cf":
                table[code] = ""
            elif code in confusables:
                table[code] = confusables[code]
            elif unicodedata.decomposition(char).startswith("<"):
                compatible = unicodedata.normalize("NFKC", char)
                compatible = "".join(confusables.get(ord(c), c) for c in compatible)
                if any(c.isascii() for c in compatible):
                    table[code] = compatible
    for low, high in _IGNORABLE_RANGES:
        for code in range(low, high + 1):
            table[code] = ""
    # sre tests a class with astral ranges range by range at every character, but a class
    # within the BMP as one bitmap: so the BMP characters form their own class, and astral
    # characters (rare, and mostly emoji) are taken whole and looked up in the table.
    bmp = _character_class(sorted(code for code in table if code <= 0xFFFF))
    resizing = _character_class(sorted(c for c, folded in table.items() if len(folded) != 1 and c <= 0xFFFF))
    return table, bmp, resizing


def _confusables() -> dict[int, str]:
    table = {}
    for line in _CONFUSABLES.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, ascii_form, _name = line.split("\t")
            table[int(code, 16)] = ascii_form
    return table


def _character_class(codes: list[int]) -> str:
    """Sorted code points as regex class ranges (``\\U`` escapes, so nothing needs quoting)."""
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in ranges)
