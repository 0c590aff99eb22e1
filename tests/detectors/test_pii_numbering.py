"""detectors.pii.numbering answers as libphonenumber's is_valid_number does, and the phone and
CN mobile recognizers score as they did when they asked libphonenumber itself."""

from __future__ import annotations

import random
import re

import phonenumbers
import pytest
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from detectors.pii.china import ALLOCATED_MOBILE_PREFIXES, CnMobileRecognizer
from detectors.pii.numbering import NumberingPlans
from detectors.pii.phone import REGIONS, PhoneNumberRecognizer

COUNTRY_CODES = sorted({phonenumbers.PhoneMetadata.metadata_for_region(region).country_code for region in REGIONS})


def _libphonenumber_valid(country_code: int, national: str) -> bool:
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    if national.startswith("0") and len(national) > 1:
        number.italian_leading_zero = True
        number.number_of_leading_zeros = len(national) - len(national.lstrip("0"))
    return phonenumbers.is_valid_number(number)


def _leading_digits(country_code: int) -> list[str]:
    """The leading digits of the country code's regions that have them (NANPA's area codes,
    the Crown dependencies'), so each region's own branch is taken."""
    found = []
    for region in COUNTRY_CODE_TO_REGION_CODE[country_code]:
        pattern = phonenumbers.PhoneMetadata.metadata_for_region(region).leading_digits
        if pattern:
            found += [digits for digits in (f"{n:03}" for n in range(1000)) if re.match(pattern, digits)][:3]
    return found


@pytest.mark.parametrize("country_code", COUNTRY_CODES)
def test_validity_is_libphonenumbers(country_code):
    rng = random.Random(country_code)
    plans = NumberingPlans()
    prefixes = ["", "", "", "0", "00", *_leading_digits(country_code)]
    checked = valid = 0
    for _ in range(3000):
        digits = rng.choice(prefixes) + "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 13)))
        # The national significant number as PhoneNumberRecognizer hands it over.
        zeros = len(digits) - len(digits.lstrip("0")) if digits.startswith("0") and len(digits) > 1 else 0
        significant = "0" * zeros + str(int(digits))
        expected = _libphonenumber_valid(country_code, digits)
        assert plans.is_valid(country_code, significant) == expected, digits
        checked += 1
        valid += expected
    assert 0 < valid < checked  # both answers were exercised


def test_phone_scores_are_libphonenumbers_on_digit_runs():
    """Bare digit runs score VALID exactly when libphonenumber finds them valid in a region
    (as written or without the trunk prefix), BARE otherwise."""
    recognizer = PhoneNumberRecognizer()
    rng = random.Random(11)
    for _ in range(2000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(7, 13)))
        expected = any(
            _libphonenumber_valid(plan.country_code, national)
            for plan in recognizer._plans
            for national in plan.national_numbers(digits)
        )
        assert recognizer.shape_score(digits) == (0.4 if expected else 0.1), digits


def test_cn_mobile_validity_is_libphonenumbers_parse():
    recognizer = CnMobileRecognizer()
    rng = random.Random(86)
    for prefix in range(130, 200):
        for _ in range(40):
            digits = f"{prefix}{rng.randrange(10**8):08}"
            number = phonenumbers.parse(digits, "CN")
            allocated = digits[:3] in ALLOCATED_MOBILE_PREFIXES
            expected = None if phonenumbers.is_valid_number(number) or allocated else False
            assert recognizer.validate_result(digits) is expected, digits
            assert recognizer.validate_result(f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}") is expected, digits
