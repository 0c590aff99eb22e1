"""Payment cards presidio's pattern does not reach: 12 to 19 digits, by issuer number range.

presidio's ``CreditCardRecognizer`` accepts 13 to 17 digits starting 1, 3, 4, 5[0-5] or 6 and
trusts Luhn alone. Cards issued today also come as 19-digit Visa, 2-series Mastercard
(2221-2720), 12-19 digit Maestro, 15-digit JCB (2131, 1800) and Mir (2200-2204); those are
missed (0.75 recall on presidio-evaluator's cards). This recognizer adds them. Luhn passes one
random number in ten, so only the standard issuer lengths score 1.0 on their own; the rest
keep a weak score that the word "card" (or similar) next to them raises.
"""

from __future__ import annotations

import re
from typing import Optional

from detectors.pii.light_imports import Pattern, PatternRecognizer

from detectors.pii.china import luhn_valid

# (first digits, lengths that are the issuer's standard and need no context, all lengths)
_ISSUERS: tuple[tuple[tuple[str, ...], frozenset[int], frozenset[int]], ...] = (
    (("4",), frozenset({16}), frozenset({13, 16, 19})),  # Visa
    (tuple(str(p) for p in range(51, 56)) + tuple(str(p) for p in range(2221, 2721)), frozenset({16}), frozenset({16})),  # Mastercard
    (("34", "37"), frozenset({15}), frozenset({15})),  # American Express
    (("6011", "65") + tuple(str(p) for p in range(644, 650)), frozenset({16}), frozenset(range(16, 20))),  # Discover
    (tuple(str(p) for p in range(3528, 3590)), frozenset({16}), frozenset(range(16, 20))),  # JCB
    (("2131", "1800"), frozenset(), frozenset({15})),  # JCB, older ranges
    (("300", "301", "302", "303", "304", "305", "36", "38", "39", "3095"), frozenset({14}), frozenset(range(14, 20))),  # Diners
    (("2200", "2201", "2202", "2203", "2204"), frozenset({16}), frozenset(range(16, 20))),  # Mir
    (("50", "56", "57", "58", "6", "0604"), frozenset(), frozenset(range(12, 20))),  # Maestro and other 5x/6x debit
)


class PaymentCardRecognizer(PatternRecognizer):
    ENTITY = "CREDIT_CARD"
    # Twelve digits or more (shorter matches fail validation), split by single separators,
    # where the pattern's look-behind allows a start; a match that can pass validation
    # begins there, and a shorter one lies inside the run of digits whose start that is.
    ANCHOR = r"(?:^|[^0-9A-Za-z_.\-])\d(?:[- ]?\d){11}"
    MATCHES_START_AT_ANCHOR = True
    PATTERNS = [
        Pattern(
            "card_by_issuer",
            r"(?<![\w\-.])\d{4}(?:[- ]?\d{2,6}){2,4}(?:[- ]?\d{1,4})?(?![\w\-]|\.\d)",
            0.3,
        )
    ]
    # presidio's card context words (its "cc " with a space never matches a single token).
    CONTEXT = ["credit", "card", "visa", "mastercard", "cc", "amex", "discover", "jcb", "diners", "maestro", "debit"]
    SAMPLES = {
        "valid": ["4841241182449353489", "2243150983930104", "2720431142626557", "213128569146303",
                  "4111 1111 1111 1111", "3782 822463 10005"],
        "invalid": ["4841241182449353488", "1234567890123452", "7000000000000002", "41111111111111111111"],
    }

    def __init__(self) -> None:
        super().__init__(supported_entity=self.ENTITY, patterns=self.PATTERNS, context=self.CONTEXT,
                         name="PaymentCardRecognizer")

    def validate_result(self, pattern_text: str) -> Optional[bool]:
        digits = re.sub(r"\D", "", pattern_text)
        if not luhn_valid(digits):
            return False
        for prefixes, standard, lengths in _ISSUERS:
            if digits.startswith(prefixes) and len(digits) in lengths:
                return True if len(digits) in standard else None
        return False
