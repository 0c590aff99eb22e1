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
