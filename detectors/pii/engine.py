"""presidio's recognizers, as the detector runs them: offline, anchored, and with no spaCy model.

Stock ``AnalyzerEngine()`` downloads ``en_core_web_lg`` on first use, its e-mail validator
fetches the public-suffix list, and its context enhancer is quadratic. Here:

* E-mail validation uses tldextract's bundled suffix list.
* The engine itself, spaCy and context scoring with a model live in ``detectors.pii.presidio_engine``,
  imported only when a spaCy model is configured or the whole engine is wanted.
* Built-in patterns are compiled ASCII-only, so ``\\b`` sees a boundary between a CJK character
  and a digit or letter (``邮箱a@b.com谢谢``).

Every recognizer carries an ``ANCHOR`` for the prefilter (``detectors.pii.prefilter``): a
pattern that each of its matches contains. presidio's built-ins get theirs here.
"""

from __future__ import annotations

import re
from typing import ClassVar

import regex
import tldextract

from detectors.pii.cards import PaymentCardRecognizer
from detectors.pii.china import chinese_recognizers
from detectors.pii.light_imports import (
    CreditCardRecognizer,
    EmailRecognizer,
    EntityRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PatternRecognizer,
    UsItinRecognizer,
    UsPassportRecognizer,
    UsSsnRecognizer,
)
from detectors.pii.names import name_recognizers
from detectors.pii.phone import PhoneNumberRecognizer

LANGUAGE = "en"
# Entities a spaCy NER model contributes through presidio's SpacyRecognizer.
MODEL_ENTITIES = ("PERSON", "LOCATION", "NRP", "DATE_TIME")


class OfflineEmailRecognizer(EmailRecognizer):
    """presidio's e-mail recognizer validated against the suffix list bundled with tldextract."""

    ANCHOR = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]@[A-Za-z0-9_]"
    # The characters of a local part (presidio's, with ``\w`` in ASCII as ``builtin_recognizers``
    # compiles it); no "@" among them.
    _LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]*")

    def __init__(self) -> None:
        super().__init__()
        self._extract = tldextract.TLDExtract(suffix_list_urls=())

    def validate_result(self, pattern_text: str) -> bool | None:
        return self._extract(pattern_text).fqdn != ""

    def earliest_match_start(self, piece: str, first_hit: int) -> int:
        """Where the first match in ``piece`` can begin at the earliest: every match holds an
        "@" with a hit at it, and its local part runs back from there over local-part
        characters only, so no match begins before the run that ends at the first hit's "@"."""
        at = piece.index("@", first_hit)
        return at - self._LOCAL_PART.match(piece[:at][::-1]).end()


# Where a built-in pattern is bounded by ``\b`` (ASCII, see ``builtin_recognizers``), its anchor
# is bounded the same way, so digits inside longer numbers (an 11-digit mobile, an 18-digit
# resident ID, a timestamp) wake no recognizer that could not match them. Such an anchor
# begins with the character before the match (or the text's start), so every match begins
# after the start of an anchor hit (``MATCHES_START_AT_ANCHOR``, see detectors.pii.analysis).
_WORD_BOUNDARY_BEFORE = r"(?:^|[^0-9A-Za-z_])"
_WORD_BOUNDARY_AFTER = r"(?:[^0-9A-Za-z_]|$)"


class AnchoredCreditCardRecognizer(CreditCardRecognizer):
    MATCHES_START_AT_ANCHOR = True
    # presidio's card pattern: 13 to 17 digits, groups split by at most one "-" or " ".
    ANCHOR = _WORD_BOUNDARY_BEFORE + r"\d(?:[- ]?\d){12}"


class AnchoredIbanRecognizer(IbanRecognizer):
    ANCHOR = r"[A-Z]{2}\d{2}[ \-]?[A-Z0-9]{4}"


class CodeAwareIpRecognizer(IpRecognizer):
    """presidio's IP recognizer without its bare ``::`` pattern.

    That pattern (score 0.1) is reported whenever a word containing "ip" is near, and ``::``
    is the path separator of C++, Rust, PHP and Ruby: ``zip::write`` becomes an IPv6 address.
    """

    ANCHOR = r"\d\.\d{1,3}\.\d{1,3}\.\d|[0-9A-Fa-f]:[0-9A-Fa-f]{0,4}:|::[0-9A-Fa-f]|[0-9A-Fa-f]::"
    # presidio's IPv6 pattern is a long alternation that costs more than all the others; each
    # of its branches contains one of these, so a stretch without any is spared it.
    PATTERN_ANCHORS: ClassVar[dict[str, re.Pattern[str]]] = {"IPv6": re.compile(r"::|[0-9a-f]:[0-9a-f]{0,4}:|fe80:", re.IGNORECASE)}
    # Each branch has one within its first group: "abcd::", "abcd:ef01:", "::", "fe80:".
    PATTERN_ANCHOR_REACH = 4

    def __init__(self) -> None:
        super().__init__()
        self.patterns = [pattern for pattern in self.patterns if pattern.regex != "::"]


class AnchoredUsSsnRecognizer(UsSsnRecognizer):
    MATCHES_START_AT_ANCHOR = True
    ANCHOR = _WORD_BOUNDARY_BEFORE + r"\d{3}[- .]?\d{2}[- .]?\d{4}" + _WORD_BOUNDARY_AFTER


class AnchoredUsItinRecognizer(UsItinRecognizer):
    MATCHES_START_AT_ANCHOR = True
    ANCHOR = _WORD_BOUNDARY_BEFORE + r"9\d{2}[- ]?\d{2}[- ]?\d{4}" + _WORD_BOUNDARY_AFTER


class AnchoredUsPassportRecognizer(UsPassportRecognizer):
    MATCHES_START_AT_ANCHOR = True
    # Nine digits, or a letter and eight.
    ANCHOR = _WORD_BOUNDARY_BEFORE + r"[A-Za-z0-9]\d{8}" + _WORD_BOUNDARY_AFTER


def builtin_recognizers() -> list[EntityRecognizer]:
    recognizers: list[PatternRecognizer] = [
        OfflineEmailRecognizer(),
        AnchoredCreditCardRecognizer(),
        PaymentCardRecognizer(),
        AnchoredIbanRecognizer(),
        CodeAwareIpRecognizer(),
        AnchoredUsSsnRecognizer(),
        AnchoredUsItinRecognizer(),
        AnchoredUsPassportRecognizer(),
    ]
    for recognizer in recognizers:
        recognizer.global_regex_flags |= regex.ASCII
    return [*recognizers, PhoneNumberRecognizer()]


def all_recognizers(with_model: bool) -> list[EntityRecognizer]:
    recognizers = builtin_recognizers() + chinese_recognizers() + name_recognizers()
    if with_model:
        from detectors.pii.presidio_engine import model_recognizer

        recognizers.append(model_recognizer())
    return recognizers
