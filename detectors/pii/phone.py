"""Phone numbers by shape, confirmed by libphonenumber where the shape alone is not enough.

presidio's ``PhoneRecognizer`` runs libphonenumber's matcher once per region over the text:
about 0.6 ms per digit group per region, so 7 ms for each number-like thing in code with the
eleven regions we need, and it only accepts numbers that are valid in today's numbering plans
(0.46 recall on presidio-evaluator's phone numbers, whose area codes are random).

Here one regex finds digit groups written the way phone numbers are, and the score says how
sure the shape is:

* ``STRONG`` (0.5): a North American 3-3-4 with separators, an international ``+``/``00``
  number in groups, a bracketed area code, or an extension: reported on its own;
* ``VALID`` (0.4, presidio's phone score): any other shape that libphonenumber accepts as a
  valid number in one of ``REGIONS`` (tried only in regions whose number pattern can match),
  or digits in groups of two to six under one kind of separator, the last group not the
  shorter of two; (both drop to ``GROUPED`` after "Apt."/"Suite"/"Box" or before a
  capitalised word, where house and flat numbers stand);
* ``GROUPED`` (0.25) or ``BARE`` (0.1): needs a context word (``phone``, ``call``, ``fax`` …).

Dates, IPv4 addresses, versions and decimals are never phone numbers here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional

import phonenumbers
import regex

from detectors.pii.light_imports import AnalysisExplanation, EntityRecognizer, RecognizerResult
from detectors.pii.numbering import NumberingPlans

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

# presidio's defaults plus Greater China: numbers without a country prefix are read as these.
REGIONS = ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR", "CN", "HK", "TW")

# Germany's plan accepts five in six digit strings of 7-11 digits (numbers in JSON and code),
# China's and Brazil's most of the rest.
_TRY_FIRST = ("DE", "CN", "BR", "US", "GB", "IN")

STRONG, VALID, GROUPED, BARE = 0.5, 0.4, 0.25, 0.1
_MIN_DIGITS, _MAX_DIGITS = 7, 15

_CANDIDATE = regex.compile(
    # Not glued to an identifier, version, path or list of numbers; an escape such as the
    # "\\n" of a string literal in code is a boundary too.
    r"(?:(?<=\\[nrt])|(?<![\w+\-./:#@$%]|\d,))(?:\+|(?<!\d)00)?\(?\d[\d \-.()]{4,24}\d"
    r"(?:\s?(?i:x|ext\.?|extension|#)\s?\d{1,6})?"
    r"(?![\w/@%]|[\-.,]\d)",
    regex.ASCII,
)
_EXTENSION = re.compile(r"\s?(?:x|ext\.?|extension|#)\s?\d{1,6}$", re.IGNORECASE)
_NANP = re.compile(r"(?:(?:\+|00)?1[ .\-]?)?(?:\(\d{3}\)\s?|\d{3}[ .\-])\d{3}[ .\-]\d{4}")
_INTERNATIONAL = re.compile(r"(?:\+|00)\d{1,3}[ .\-]?\(?\d{1,5}\)?(?:[ .\-]\d{1,5}){1,6}|\+\d{9,15}")
_BRACKETED_AREA = re.compile(r"\(\d{1,5}\)\s?\d{2,5}(?:[ .\-]\d{2,5}){0,3}")
_DATE = re.compile(r"\d{4}[-.]\d{1,2}[-.]\d{1,2}(?:\D|$)|\d{1,2}[-.]\d{1,2}[-.]\d{2,4}$")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_SEPARATOR = re.compile(r"[ \-.()]+")
_UNIT_BEFORE = re.compile(r"(?i:\b(?:apt|apartment|suite|ste|unit|box|no|flat|room))\.?\s*#?$")
_WORD_AFTER = re.compile(r" [A-Z][a-z]")
_TRUNK_ZERO = re.compile(r"\s?\(0\)\s?")


@dataclass(frozen=True)
class _RegionPlan:
    """One region's numbering plan, read the way libphonenumber's parse reads a national
    number; validity is libphonenumber's own (any region of the country code, as for +1)."""

    region: str
    country_code: int
    number_pattern: re.Pattern[str]
    national_prefix: Optional[re.Pattern[str]]
    transform: Optional[str]

    def national_numbers(self, digits: str) -> list[str]:
        """The digits as written, and without the national (trunk) prefix, where either
        could be a number of this region at all."""
        forms = [digits]
        prefix = self.national_prefix.match(digits) if self.national_prefix else None
        if prefix is not None and prefix.end() > 0:
            rest = digits[prefix.end() :]
            if self.transform and prefix.lastindex:
                rest = prefix.expand(self.transform) + rest
            forms.append(rest)
        return [form for form in forms if self.number_pattern.fullmatch(form)]


def _significant(national: str) -> str:
    """The national significant number libphonenumber reads from these digits: leading zeros
    kept (as ``italian_leading_zero``), the rest as an integer."""
    if national.startswith("0") and len(national) > 1:
        zeros = len(national) - len(national.lstrip("0"))
        return "0" * zeros + str(int(national))
    return str(int(national))


def _plan(region: str) -> _RegionPlan:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    prefix = metadata.national_prefix_for_parsing or metadata.national_prefix
    return _RegionPlan(
        region,
        metadata.country_code,
        re.compile(metadata.general_desc.national_number_pattern),
        re.compile(prefix) if prefix else None,
        metadata.national_prefix_transform_rule,
    )


class PhoneNumberRecognizer(EntityRecognizer):
    ENTITY = "PHONE_NUMBER"
    ANCHOR = r"(?:^|[^0-9])\d(?:[ \-.()]{0,2}\d){6}"
    # presidio's phone context words, and the other ways a text says "this is a number to call".
    CONTEXT = ["phone", "number", "telephone", "cell", "cellphone", "mobile", "call", "tel", "fax",
               "contact", "reach", "dial", "sms", "whatsapp", "电话", "手机", "联系", "電話"]
    SAMPLES = {
        "valid": ["(212) 555-0199", "+44 20 7946 0958", "+86 138 0013 8000", "650-752-7354x549",
                  "544.587.7175", "001-380-633-1239x6532", "(73) 4746-3459", "+447700556093"],
        "invalid": ["8080", "1024 * 768", "v2.31.0", "2010-12-12 00", "3.14159265", "10.1.2.3", "1.22.333.4444"],
    }

    def __init__(self, regions: tuple[str, ...] = REGIONS) -> None:
        super().__init__(supported_entities=[self.ENTITY], name="PhoneNumberRecognizer", context=list(self.CONTEXT))
        # Any order gives the same answer; the plans that accept most numbers first give it sooner.
        ordered = sorted(regions, key=lambda region: _TRY_FIRST.index(region) if region in _TRY_FIRST else len(_TRY_FIRST))
        self._plans = tuple(_plan(region) for region in ordered)
        self._numbering = NumberingPlans()

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: List[str], nlp_artifacts: Optional[NlpArtifacts] = None
    ) -> List[RecognizerResult]:
        results: list[RecognizerResult] = []
        # A number repeated through a text (a line of code, a column of a table) is scored once.
        scores: dict[str, Optional[float]] = {}
        for match in _CANDIDATE.finditer(text):
            candidate = match.group()
            if candidate not in scores:
                scores[candidate] = self.shape_score(candidate)
            score = scores[candidate]
            if score is None:
                continue
            if score < STRONG and _in_address(text, match.start(), match.end()):
                score = GROUPED
            results.append(
                RecognizerResult(
                    self.ENTITY, match.start(), match.end(), score,
                    analysis_explanation=AnalysisExplanation(self.name, score, pattern_name="phone_shape"),
                    recognition_metadata={
                        RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                    },
                )
            )
        return results

    def shape_score(self, candidate: str) -> Optional[float]:
        """The score of a candidate, or None when it is not a phone number at all."""
        if candidate.isdigit():
            # What the steps below make of digits alone (no shape but validity is theirs);
            # most candidates in code and JSON are such, and this is a fifth of their cost.
            if not _MIN_DIGITS <= len(candidate) <= _MAX_DIGITS:
                return None
            return VALID if self._valid_somewhere(candidate) else BARE
        # "+33 (0)5 …": the bracketed trunk zero is dropped when dialling from abroad.
        main = _TRUNK_ZERO.sub(" ", _EXTENSION.sub("", candidate)).replace("  ", " ")
        digits = re.sub(r"\D", "", main)
        if not _MIN_DIGITS <= len(digits) <= _MAX_DIGITS or not _plausible(main):
            return None
        if _EXTENSION.search(candidate) or _NANP.fullmatch(main) or _INTERNATIONAL.fullmatch(main) or _BRACKETED_AREA.fullmatch(main):
            return STRONG
        if _phone_grouped(main) or self._valid_somewhere(digits):
            return VALID
        return GROUPED if _SEPARATOR.search(main) else BARE

    def _valid_somewhere(self, digits: str) -> bool:
        # Validity is libphonenumber's, of a country code and a national significant number:
        # regions sharing both (US and CA, as +1) ask it once.
        asked: set[tuple[int, str]] = set()
        for plan in self._plans:
            for national in plan.national_numbers(digits):
                number = (plan.country_code, _significant(national))
                if number not in asked:
                    asked.add(number)
                    if self._numbering.is_valid(*number):
                        return True
        return False


def _in_address(text: str, start: int, end: int) -> bool:
    """After "Apt."/"Suite"/"Box", or before a capitalised word ("3455 181 Heb Place"): numbers
    of an address, unless a context word says otherwise."""
    return bool(_UNIT_BEFORE.search(text, max(0, start - 12), start) or _WORD_AFTER.match(text, end))


def _phone_grouped(main: str) -> bool:
    """Groups of two to five digits under one kind of separator, as numbers are written for
    people to dial ("0494 41 18 24", "723 813 266", "26 841054" is not)."""
    separators = set(re.sub(r"[\d+]", "", main))
    groups = [group for group in _SEPARATOR.split(main.lstrip("+")) if group]
    if len(separators) != 1 or len(groups) < 2 or not all(2 <= len(group) <= 6 for group in groups):
        return False
    # Two groups: numbers end with the longer block ("439 4166", "26 841054"); a longer block
    # first is a house and a street number ("3455 181") or a postcode.
    return len(groups) > 2 or len(groups[0]) <= len(groups[1])


def _plausible(main: str) -> bool:
    if _DATE.match(main) or _IPV4.fullmatch(main):
        return False
    if main.count("(") != main.count(")") or main.count("(") > 1:
        return False
    groups = [group for group in _SEPARATOR.split(main.lstrip("+")) if group]
    separators = set(re.sub(r"[\d+]", "", main))
    if separators == {"."}:
        # Dotted numbers are versions and decimals unless every group is phone-sized.
        return len(groups) >= 3 and all(len(group) >= 2 for group in groups)
    # Single digits between separators are lists and arithmetic, not phone groups.
    return sum(len(group) == 1 for group in groups) <= 1
