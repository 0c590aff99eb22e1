"""Recognizers outside the Chinese pack: each one's own samples, and phone/card recall next to presidio's."""

from __future__ import annotations

import pytest
import regex
from faker import Faker
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    PhoneRecognizer,
)

from detectors.pii.cards import PaymentCardRecognizer
from detectors.pii.engine import CodeAwareIpRecognizer
from detectors.pii.names import name_recognizers
from detectors.pii.phone import REGIONS, PhoneNumberRecognizer

NAMES = name_recognizers()
PHONE = PhoneNumberRecognizer()
CARDS = PaymentCardRecognizer()


def _spans(recognizer, text: str, threshold: float = 0.0) -> set[tuple[int, int]]:
    return {(r.start, r.end) for r in recognizer.analyze(text, recognizer.supported_entities, None) if r.score >= threshold}


@pytest.mark.parametrize("recognizer,sample", [(r, s) for r in NAMES for s in r.SAMPLES["valid"]])
def test_name_recognizer_finds_a_name_in_its_valid_samples(recognizer, sample):
    assert recognizer.analyze(sample, ["PERSON"], None)


@pytest.mark.parametrize("recognizer,sample", [(r, s) for r in NAMES for s in r.SAMPLES["invalid"]])
def test_name_recognizer_finds_nothing_in_its_invalid_samples(recognizer, sample):
    assert recognizer.analyze(sample, ["PERSON"], None) == []


@pytest.mark.parametrize("recognizer", [PHONE, CARDS], ids=["phone", "card"])
def test_number_recognizers_find_their_valid_samples_whole(recognizer):
    for sample in recognizer.SAMPLES["valid"]:
        assert _spans(recognizer, f"see {sample} here") == {(4, 4 + len(sample))}, sample


@pytest.mark.parametrize("recognizer", [PHONE, CARDS], ids=["phone", "card"])
def test_number_recognizers_reject_their_invalid_samples(recognizer):
    for sample in recognizer.SAMPLES["invalid"]:
        assert _spans(recognizer, f"see {sample} here", threshold=0.1) == set(), sample


def test_phone_shapes_alone_do_not_reach_the_threshold_unless_distinctive():
    assert PHONE.shape_score("(212) 555-0199") >= 0.4
    assert PHONE.shape_score("+41 53 147 37 99") >= 0.4
    assert PHONE.shape_score("12345678") < 0.4  # a bare run valid nowhere: needs a context word
    assert PHONE.shape_score("0494 41 18 24") == 0.4  # grouped for dialling
    assert PHONE.shape_score("8240084271") == 0.4  # bare, but valid in one of the regions
    assert PHONE.shape_score("1 2 3 4 5 6 7") is None


def test_every_phone_presidio_finds_in_text_is_found_too():
    """presidio's matcher (libphonenumber-valid numbers, eleven regions) finds nothing we miss."""
    fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "zh_CN", "zh_TW", "en_IN", "pt_BR"])
    fake.seed_instance(11)
    lines = [f"line {i}: please call {fake.phone_number()} today, or port 8080, v2.31.0" for i in range(300)]
    text = "\n".join(lines)
    stock = PhoneRecognizer(supported_regions=REGIONS).analyze(text, ["PHONE_NUMBER"])
    ours = {(r.start, r.end) for r in PHONE.analyze(text, ["PHONE_NUMBER"])}
    missed = [text[r.start : r.end] for r in stock if not any(s <= r.start and r.end <= e for s, e in ours)]
    assert missed == []


def test_cards_presidio_misses_are_found_by_issuer_range():
    """Faker's cards: presidio's pattern (still run) plus ours cover all of them."""
    fake = Faker("en_US")
    fake.seed_instance(5)
    numbers = [fake.credit_card_number() for _ in range(400)]
    stock = CreditCardRecognizer()
    missed_by_stock = [n for n in numbers if not stock.analyze(f"card {n} ok", ["CREDIT_CARD"])]
    assert missed_by_stock  # 19-digit Visa, 2-series Mastercard, Maestro, 15-digit JCB
    assert [n for n in missed_by_stock if not _spans(CARDS, f"card {n} ok")] == []


def test_every_ipv6_match_has_the_patterns_cheap_anchor_near_its_start():
    """The IPv6 pattern is skipped where its anchor is absent, and searched from a little before
    the anchor's first occurrence; neither may ever lose a match."""
    recognizer = CodeAwareIpRecognizer()
    [ipv6] = [pattern for pattern in recognizer.patterns if pattern.name == "IPv6"]
    compiled = regex.compile(ipv6.regex, flags=recognizer.global_regex_flags)
    anchor = recognizer.PATTERN_ANCHORS["IPv6"]
    fake = Faker()
    fake.seed_instance(4)
    texts = [fake.ipv6() for _ in range(300)] + [
        "::1", "::", "a::", "abcd::", "abcd:ef01::1", "g::z", "1::2:3", "FE80::1%eth0", "fe80:%eth0",
        "::ffff:10.1.2.3", "2001:db8::10.1.2.3", "1:2:3:4::10.1.2.3", "1:2:3:4:5:6:7:8", "std::vector",
        "zip::write", "x = a[::2]",
    ]
    matched = 0
    for text in texts:
        for match in compiled.finditer(f"see {text} here"):
            matched += 1
            first = anchor.search(match.group())
            assert first is not None and first.start() <= recognizer.PATTERN_ANCHOR_REACH, match.group()
    assert matched >= 300
