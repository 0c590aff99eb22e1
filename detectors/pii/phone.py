"""presidio's phone recognizer, run only where a phone number can be.

``PhoneRecognizer`` runs libphonenumber's matcher over the whole text once per region; on code
it parses every number it sees (ports, sizes, constants), which made it 80 % of the scan time
with eleven regions. Here a cheap regex picks digit sequences with at least seven digits first,
and the same matcher runs on just those (one character of surroundings kept, which the matcher
inspects).
"""

from __future__ import annotations

import re
from typing import List, Optional

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

# A digit, then digits and the separators phone numbers are written with, then a digit;
# optionally led by "+" or "(" and followed by an extension.
_CANDIDATE = re.compile(r"[+(（]?\d[\d \t\-./()（）]{4,40}\d(?:\s?(?:ext\.?|x|#)\s?\d{1,6})?", re.IGNORECASE)
_MIN_DIGITS = 7
_MAX_BARE_DIGITS = 15
_LETTER = re.compile(r"[A-Za-z_]")


class CandidatePhoneRecognizer(PhoneRecognizer):
    SAMPLES = {
        "valid": ["(212) 555-0199", "+44 20 7946 0958", "+86 138 0013 8000", "010-62345678", "0912 345 678"],
        "invalid": ["8080", "1024 * 768", "v2.31.0"],
    }

    def analyze(
        self, text: str, entities: List[str], nlp_artifacts: Optional[NlpArtifacts] = None
    ) -> List[RecognizerResult]:
        results: list[RecognizerResult] = []
        for candidate in _CANDIDATE.finditer(text):
            start, end = max(0, candidate.start() - 1), min(len(text), candidate.end() + 1)
            digits = sum(char.isdigit() for char in candidate.group())
            if digits < _MIN_DIGITS or self._in_identifier(text, start, end):
                continue
            if digits > _MAX_BARE_DIGITS and candidate.group().isdigit():
                continue  # a constant or an ID: E.164 numbers have at most 15 digits
            for result in super().analyze(text[start:end], entities, nlp_artifacts):
                result.start += start
                result.end += start
                results.append(result)
        return EntityRecognizer.remove_duplicates(results)

    @staticmethod
    def _in_identifier(text: str, start: int, end: int) -> bool:
        """Digits cut out of a hash or an identifier (``a9f3081884c7``) are never a phone number."""
        return bool(_LETTER.match(text[start]) or _LETTER.match(text[end - 1]))
