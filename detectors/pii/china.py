"""Mainland China, Hong Kong and Taiwan identifiers as presidio recognizers.

presidio ships none of these. Each recognizer is its patterns, its context words and at most
one validation function; ``SAMPLES`` beside it holds the numbers it must and must not accept
(the tests run every one). Patterns are anchored with look-arounds on ASCII letters and digits
instead of ``\\b``: in Unicode regex a CJK character is a word character, so ``\\b`` finds no
boundary in ``卡号6222…`` and the number would be missed.

A validator returning True lets presidio raise the score to 1.0, False drops the match, None
keeps the pattern's score (used where the check is too weak to trust on its own).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Optional

import phonenumbers
from detectors.pii.light_imports import Pattern, PatternRecognizer

from detectors.pii.context import CjkContextMixin
from detectors.pii.numbering import NumberingPlans

# Case matters for these formats (a lower-case "x" check digit is accepted separately).
_CASE_SENSITIVE = re.DOTALL | re.MULTILINE


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class CnResidentIdRecognizer(CjkContextMixin, PatternRecognizer):
    """公民身份号码, GB 11643-1999: region, birth date, sequence, ISO 7064 MOD 11-2 check."""

    ENTITY = "CN_RESIDENT_ID"
    ANCHOR = r"(?:^|[^0-9A-Za-z])[1-8]\d{16}"
    MATCHES_START_AT_ANCHOR = True
    PATTERNS = [Pattern("cn_resident_id", r"(?<![0-9A-Za-z])[1-8]\d{5}(?:18|19|20)\d{9}[0-9Xx](?![0-9A-Za-z])", 0.5)]
    CONTEXT = ["id", "identity", "resident", "身份证", "身份证号", "证件号"]
    CJK_CONTEXT = ("身份证", "证件", "公民身份")
    SAMPLES = {
        "valid": ["11010519491231002X", "360426199101010071", "440308199001011239"],
        "invalid": ["110105194912310021", "990105194912310021", "110105194913310025", "110105229912310026"],
    }
    _WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    # First two digits: provinces, plus 71/81/82/83 (Taiwan, Hong Kong, Macau residence permits).
    _PROVINCES = frozenset(
        "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 "
        "71 81 82 83".split()
    )

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY, patterns=self.PATTERNS, context=self.CONTEXT,
            global_regex_flags=_CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> Optional[bool]:
        number = pattern_text.upper()
        if number[:2] not in self._PROVINCES:
            return False
        try:
            born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        except ValueError:
            return False
        if born > date.today():
            return False
        total = sum(int(digit) * weight for digit, weight in zip(number[:17], self._WEIGHTS))
        return "10X98765432"[total % 11] == number[17]


# MIIT's current 11-digit mobile allocations that libphonenumber's data lags behind or leaves out
# (data-card and virtual-operator ranges such as 149 and 148, which Faker's zh_CN provider draws;
# 174, China Telecom's Tiantong and maritime satellite phones). 140-144 are 13-digit IoT numbers
# and 154, 160, 161, 163, 164, 168, 169, 179 and 194 are unallocated: they stay invalid.
ALLOCATED_MOBILE_PREFIXES = frozenset(
    "145 146 147 148 149 162 165 166 167 170 171 172 173 174 175 176 177 178 "
    "190 191 192 193 195 196 197 198 199".split()
)


class CnMobileRecognizer(CjkContextMixin, PatternRecognizer):
    """Mainland mobile numbers; prefixes are checked by libphonenumber, which tracks MIIT allocations."""

    ENTITY = "CN_MOBILE"
    # The pattern itself, with its look-arounds as the characters around it.
    ANCHOR = r"(?:^|[^0-9A-Za-z+])(?:(?:\+|00)?86[- ]?)?1[3-9]\d(?:\d{8}|[- ]\d{4}[- ]\d{4})(?:[^0-9A-Za-z]|$)"
    MATCHES_START_AT_ANCHOR = True
    PATTERNS = [
        Pattern("cn_mobile", r"(?<![0-9A-Za-z+])(?:(?:\+|00)?86[- ]?)?1[3-9]\d(?:\d{8}|[- ]\d{4}[- ]\d{4})(?![0-9A-Za-z])", 0.6)
    ]
    CONTEXT = ["phone", "mobile", "tel", "cell", "手机", "电话", "联系方式"]
    CJK_CONTEXT = ("手机", "电话", "联系", "致电", "号码", "微信")
    SAMPLES = {
        "valid": ["13800138000", "+86 139 1234 5678", "0086-19912345678", "16212345678", "147-1234-5678", "14912345678", "14812345678"],
        "invalid": ["14012345678", "19412345678", "1380013800"],
    }

    def __init__(self) -> None:
        super().__init__(supported_entity=self.ENTITY, patterns=self.PATTERNS, context=self.CONTEXT)
        self._numbering = NumberingPlans()
        self._prefix_for_parsing = re.compile(phonenumbers.PhoneMetadata.metadata_for_region("CN").national_prefix_for_parsing)

    def validate_result(self, pattern_text: str) -> Optional[bool]:
        digits = re.sub(r"\D", "", pattern_text)[-11:]
        # Eleven digits always parse: an allocated prefix needs no more, and a number that
        # CN's national prefix for parsing ("1[12]x", "179", "0") cannot begin is read as
        # written, so its validity is the numbering plan's (a third of the time of parsing).
        if digits[:3] in ALLOCATED_MOBILE_PREFIXES:
            return None
        if digits.isascii() and not self._prefix_for_parsing.match(digits):
            return None if self._numbering.is_valid(86, digits) else False
        try:
            number = phonenumbers.parse(digits, "CN")
        except phonenumbers.NumberParseException:
            return False
        if not (phonenumbers.is_valid_number(number) or digits[:3] in ALLOCATED_MOBILE_PREFIXES):
            return False
        # An 11-digit number is common outside phone books too; keep the pattern score.
        return None


class CnUnionPayCardRecognizer(CjkContextMixin, PatternRecognizer):
    """银联卡: IIN 62, 16 to 19 digits, Luhn. presidio's credit card pattern stops at 17 digits."""

    ENTITY = "CN_UNIONPAY_CARD"
    ANCHOR = r"(?:^|[^0-9A-Za-z])62\d{2}[- ]?\d{4}"
    MATCHES_START_AT_ANCHOR = True
    PATTERNS = [
        Pattern("unionpay_plain", r"(?<![0-9A-Za-z])62\d{14,17}(?![0-9A-Za-z])", 0.5),
        Pattern("unionpay_grouped", r"(?<![0-9A-Za-z])62\d{2}(?:[- ]\d{4}){3}(?:[- ]?\d{1,3})?(?![0-9A-Za-z])", 0.5),
    ]
    CONTEXT = ["card", "unionpay", "bank", "银行卡", "卡号"]
    CJK_CONTEXT = ("卡号", "银行卡", "银联", "借记卡", "信用卡", "账号")
    SAMPLES = {
        "valid": ["6222021234567894", "6228480012345678903", "6217 0012 3456 7890 122", "62284800123456782"],
        "invalid": ["6222021234567895", "6228480012345678904", "4111111111111111"],
    }

    def __init__(self) -> None:
        super().__init__(supported_entity=self.ENTITY, patterns=self.PATTERNS, context=self.CONTEXT)

    def validate_result(self, pattern_text: str) -> Optional[bool]:
        digits = re.sub(r"\D", "", pattern_text)
        return 16 <= len(digits) <= 19 and luhn_valid(digits)


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


class CnUsccRecognizer(CjkContextMixin, PatternRecognizer):
    """统一社会信用代码, GB 32100-2015: check character mod 31 and the embedded organisation code."""

    ENTITY = "CN_USCC"
    ANCHOR = r"(?:^|[^0-9A-Za-z])[1-9ANY][0-9A-Z]\d{6}[0-9A-Z]{10}"
    MATCHES_START_AT_ANCHOR = True
    PATTERNS = [
        Pattern("cn_uscc", r"(?<![0-9A-Za-z])[1-9ANY][0-9A-HJ-NPQRTUWXY]\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Za-z])", 0.4)
    ]
    CONTEXT = ["uscc", "credit", "信用代码", "统一社会信用代码"]
    CJK_CONTEXT = ("信用代码", "税号", "纳税人识别号", "营业执照")
    SAMPLES = {
        "valid": ["91110000600037341L", "91310000MA1FL4TR3A", "911101080828461726"],
        "invalid": ["91110000600037341K", "91110000600037340L", "0A110000600037341L"],
    }
    _WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    _ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY, patterns=self.PATTERNS, context=self.CONTEXT,
            global_regex_flags=_CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> Optional[bool]:
        code = pattern_text
        total = sum(_USCC_ALPHABET.index(char) * weight for char, weight in zip(code[:17], self._WEIGHTS))
        if _USCC_ALPHABET[(31 - total % 31) % 31] != code[17]:
            return False
        return self._organisation_code_valid(code[8:17])

    def _organisation_code_valid(self, org: str) -> bool:
        # GB 11714: eight body characters (digits or letters A=10..Z=35) and a mod-11 check.
        total = sum(int(char, 36) * weight for char, weight in zip(org[:8], self._ORG_WEIGHTS))
        check = 11 - total % 11
        return {10: "X", 11: "0"}.get(check, str(check)) == org[8]


class HkIdRecognizer(CjkContextMixin, PatternRecognizer):
    """Hong Kong identity card: 1-2 letters, 6 digits, mod-11 check digit (usually in brackets)."""

    ENTITY = "HK_ID"
    ANCHOR = r"(?:^|[^0-9A-Za-z])[A-Z]{1,2}\d{6}"
    MATCHES_START_AT_ANCHOR = True
    PATTERNS = [
        Pattern("hkid_bracketed", r"(?<![0-9A-Za-z])[A-Z]{1,2}\d{6}\s?\([0-9A]\)", 0.5),
        Pattern("hkid_bare", r"(?<![0-9A-Za-z])[A-Z]{1,2}\d{6}[0-9A](?![0-9A-Za-z])", 0.3),
    ]
    CONTEXT = ["hkid", "hong", "kong", "identity", "身份證", "身份证"]
    CJK_CONTEXT = ("身份證", "身份证", "香港")
    SAMPLES = {
        "valid": ["A123456(3)", "E364912(5)", "AB123456(9)", "C668668(9)"],
        "invalid": ["A123456(4)", "AB123456(8)"],
    }

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY, patterns=self.PATTERNS, context=self.CONTEXT,
            global_regex_flags=_CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> Optional[bool]:
        body = re.sub(r"[\s()]", "", pattern_text)
        letters, digits, check = body[:-7], body[-7:-1], body[-1]
        values = ([36] if len(letters) == 1 else []) + [ord(c) - 55 for c in letters] + [int(d) for d in digits]
        total = sum(value * weight for value, weight in zip(values, range(9, 1, -1)))
        expected = (11 - total % 11) % 11
        if ("A" if expected == 10 else str(expected)) != check:
            return False
        # Bracketed form is distinctive; a bare 8-9 character token passes by chance 1 time in 11.
        return True if "(" in pattern_text else None


_TW_LETTERS = dict(zip("ABCDEFGHJKLMNPQRSTUVXYWZIO", range(10, 36)))


class TwIdRecognizer(CjkContextMixin, PatternRecognizer):
    """Taiwan national ID / resident certificate: region letter, gender digit, 8 digits, mod-10 check."""

    ENTITY = "TW_ID"
    ANCHOR = r"(?:^|[^0-9A-Za-z])[A-Z][12ABCD89]\d{8}"
    MATCHES_START_AT_ANCHOR = True
    PATTERNS = [Pattern("tw_id", r"(?<![0-9A-Za-z])[A-Z][12ABCD89]\d{8}(?![0-9A-Za-z])", 0.4)]
    CONTEXT = ["taiwan", "identity", "身分證", "身份證", "統一證號"]
    CJK_CONTEXT = ("身分證", "身份證", "身份证", "證號", "统一证号")
    SAMPLES = {
        "valid": ["A123456789", "F131104093", "B223456782"],
        "invalid": ["A123456788", "F131104094"],
    }
    _WEIGHTS = (1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1)

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY, patterns=self.PATTERNS, context=self.CONTEXT,
            global_regex_flags=_CASE_SENSITIVE,
        )

    def validate_result(self, pattern_text: str) -> Optional[bool]:
        region = _TW_LETTERS[pattern_text[0]]
        second = pattern_text[1]
        # Old resident certificates carry a letter in position 2; it counts as its value's last digit.
        second_digit = _TW_LETTERS[second] % 10 if second.isalpha() else int(second)
        digits = [region // 10, region % 10, second_digit] + [int(d) for d in pattern_text[2:]]
        return sum(d * w for d, w in zip(digits, self._WEIGHTS)) % 10 == 0


class CnPassportRecognizer(CjkContextMixin, PatternRecognizer):
    """PRC, HKSAR and MSAR passport numbers. No check digit, so only context makes them count."""

    ENTITY = "CN_PASSPORT"
    ANCHOR = r"(?:^|[^0-9A-Za-z])(?:E[0-9A-Z]|G\d|[DSP]E|K\d|MA)\d{7}"
    MATCHES_START_AT_ANCHOR = True
    PATTERNS = [
        Pattern("cn_passport", r"(?<![0-9A-Za-z])(?:E[0-9A-HJ-NP-Z]\d{7}|G\d{8}|[DSP]E\d{7}|K\d{8}|MA\d{7})(?![0-9A-Za-z])", 0.1)
    ]
    CONTEXT = ["passport", "护照", "護照"]
    CJK_CONTEXT = ("护照", "護照")
    SAMPLES = {"valid": ["E12345678", "EA1234567", "G12345678", "PE1234567"], "invalid": ["EI1234567", "X12345678"]}

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY, patterns=self.PATTERNS, context=self.CONTEXT,
            global_regex_flags=_CASE_SENSITIVE,
        )


def chinese_recognizers() -> list[PatternRecognizer]:
    return [
        CnResidentIdRecognizer(),
        CnMobileRecognizer(),
        CnUnionPayCardRecognizer(),
        CnUsccRecognizer(),
        HkIdRecognizer(),
        TwIdRecognizer(),
        CnPassportRecognizer(),
    ]
