"""libphonenumber's ``is_valid_number``, answered from patterns compiled once.

``phonenumbers.is_valid_number`` looks every pattern up in its regex cache and walks a dozen
number types one function call at a time: about 70 µs a number, which made validation most of
the PII detector's time on one-line JSON and minified code full of 7–11 digit numbers. The
answer here is the same by construction, step for step:

* the region of a number is the only region of its country code, or the first region in
  libphonenumber's order whose leading digits start the number (where the region has them) or
  for which the number has a type (where it has none);
* a number is valid when it has a type in that region: it fits the general description and at
  least one of the type descriptions (premium rate … mobile), each a possible length (where the
  description lists lengths) and a full match of its pattern.

Regions are read and compiled on first use, as libphonenumber does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

import phonenumbers
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, REGION_CODE_FOR_NON_GEO_ENTITY


@dataclass(frozen=True)
class _Region:
    leading_digits: Optional[re.Pattern[str]]
    # The general description and at least one type's, lengths included, as one pattern.
    typed: Optional[re.Pattern[str]]

    def has_type(self, number: str) -> bool:
        return self.typed is not None and self.typed.fullmatch(number) is not None


def _description(desc: object) -> Optional[str]:
    """A pattern that fully matches the numbers of the description (all digits, as national
    significant numbers are), or None when none can."""
    pattern = getattr(desc, "national_number_pattern", None)
    if not pattern:
        return None
    lengths = tuple(getattr(desc, "possible_length", None) or ())
    if not lengths:
        return f"(?:{pattern})"
    positive = sorted(length for length in lengths if length > 0)
    if not positive:
        return None
    return "(?=" + "|".join(f"\\d{{{length}}}\\Z" for length in positive) + f")(?:{pattern})"


def _region(country_code: int, code: str) -> Optional[_Region]:
    if code == REGION_CODE_FOR_NON_GEO_ENTITY:
        metadata = phonenumbers.PhoneMetadata.metadata_for_nongeo_region(country_code, None)
    else:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(code, None)
    if metadata is None:
        return None
    kinds = (metadata.premium_rate, metadata.toll_free, metadata.shared_cost, metadata.voip,
             metadata.personal_number, metadata.pager, metadata.uan, metadata.voicemail,
             metadata.fixed_line, metadata.mobile)
    general = _description(metadata.general_desc)
    types = [description for description in map(_description, kinds) if description is not None]
    typed = None
    if general is not None and types:
        typed = re.compile(f"(?=(?:{general})\\Z)(?:" + "|".join(types) + ")")
    return _Region(re.compile(metadata.leading_digits) if metadata.leading_digits is not None else None, typed)


class NumberingPlans:
    """Valid numbers of the world's numbering plans; regions compiled as they are first needed."""

    def __init__(self) -> None:
        self._regions: dict[tuple[int, str], Optional[_Region]] = {}

    def is_valid(self, country_code: int, national_significant: str) -> bool:
        """``phonenumbers.is_valid_number`` of the number with this country code and national
        significant number (leading zeros included)."""
        codes = COUNTRY_CODE_TO_REGION_CODE.get(country_code)
        if not codes:
            return False
        region = self._region_of(country_code, codes, national_significant)
        return region is not None and region.has_type(national_significant)

    def _region_of(self, country_code: int, codes: tuple[str, ...], number: str) -> Optional[_Region]:
        if len(codes) == 1:
            return self._compiled(country_code, codes[0])
        for code in codes:
            region = self._compiled(country_code, code)
            if region is None:
                continue
            if region.leading_digits is not None:
                if region.leading_digits.match(number):
                    return region
            elif region.has_type(number):
                return region
        return None

    def _compiled(self, country_code: int, code: str) -> Optional[_Region]:
        key = (country_code, code)
        if key not in self._regions:
            self._regions[key] = _region(country_code, code)
        return self._regions[key]
