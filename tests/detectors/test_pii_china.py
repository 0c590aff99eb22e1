"""The Greater China pack: every recognizer's own samples, Faker zh_CN numbers, CJK-glued text."""

from __future__ import annotations

import pytest
from faker import Faker

from detectors.pii.china import CnMobileRecognizer, CnResidentIdRecognizer, chinese_recognizers

RECOGNIZERS = chinese_recognizers()


def _found(recognizer, text: str) -> list[str]:
    return [text[r.start : r.end] for r in recognizer.analyze(text, recognizer.supported_entities, None)]


@pytest.mark.parametrize(
    "recognizer,sample",
    [(r, s) for r in RECOGNIZERS for s in r.SAMPLES["valid"]],
    ids=lambda value: getattr(value, "ENTITY", value),
)
def test_recognizer_accepts_its_valid_samples(recognizer, sample):
    assert _found(recognizer, sample) == [sample]


@pytest.mark.parametrize(
    "recognizer,sample",
    [(r, s) for r in RECOGNIZERS for s in r.SAMPLES["invalid"]],
    ids=lambda value: getattr(value, "ENTITY", value),
)
def test_recognizer_rejects_its_invalid_samples(recognizer, sample):
    assert _found(recognizer, sample) == []


def test_faker_zh_cn_resident_ids_validate_and_corrupted_ones_do_not():
    fake = Faker("zh_CN")
    fake.seed_instance(4)
    recognizer = CnResidentIdRecognizer()
    for _ in range(300):
        number = fake.ssn()
        assert recognizer.validate_result(number) is True, number
        wrong_check = number[:17] + ("0" if number[17] != "0" else "1")
        assert recognizer.validate_result(wrong_check) is False, wrong_check


def test_faker_zh_cn_mobile_numbers_are_found():
    fake = Faker("zh_CN")
    fake.seed_instance(4)
    recognizer = CnMobileRecognizer()
    for _ in range(300):
        number = fake.phone_number()
        assert _found(recognizer, f"手机{number}谢谢") == [number]


# Every mainland mobile prefix as MIIT allocates them today (13x-19x, data-card 14x, virtual
# 16x/17x, satellite 174, broadcast 192), and prefixes that are unallocated or 13-digit IoT.
ALLOCATED = (
    [str(p) for p in range(130, 140)] + ["145", "146", "147", "148", "149"]
    + [str(p) for p in (150, 151, 152, 153, 155, 156, 157, 158, 159)] + ["162", "165", "166", "167"]
    + [str(p) for p in range(170, 179)] + [str(p) for p in range(180, 190)]
    + [str(p) for p in (190, 191, 192, 193, 195, 196, 197, 198, 199)]
)
UNALLOCATED = ["140", "141", "144", "154", "160", "161", "163", "164", "168", "169", "179", "194"]


@pytest.mark.parametrize("prefix", ALLOCATED)
def test_every_allocated_mobile_prefix_is_a_mobile_number(prefix):
    number = prefix + "12345678"
    assert _found(CnMobileRecognizer(), f"手机{number}谢谢") == [number]


@pytest.mark.parametrize("prefix", UNALLOCATED)
def test_unallocated_and_iot_prefixes_are_no_mobile_numbers(prefix):
    assert _found(CnMobileRecognizer(), f"手机{prefix}12345678谢谢") == []


def test_resident_id_with_impossible_birth_date_is_rejected():
    # Valid check digit for the 17 digits, but February 30th does not exist.
    body = "11010519490230002"
    weights = CnResidentIdRecognizer._WEIGHTS
    number = body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]
    assert CnResidentIdRecognizer().validate_result(number) is False


def test_chinese_context_raises_the_score_of_a_weak_pattern():
    recognizer = [r for r in RECOGNIZERS if r.ENTITY == "CN_PASSPORT"][0]
    bare = recognizer.analyze("编号E12345678", ["CN_PASSPORT"], None)
    with_context = recognizer.enhance_using_context(
        "护照号E12345678", recognizer.analyze("护照号E12345678", ["CN_PASSPORT"], None), [], None
    )
    assert bare[0].score < 0.4 <= with_context[0].score
