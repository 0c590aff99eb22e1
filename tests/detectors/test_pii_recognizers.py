"""Recognizers outside the Chinese pack: each one's own samples, and the phone shortcut."""

from __future__ import annotations

import pytest
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from detectors.pii.engine import PHONE_REGIONS
from detectors.pii.names import name_recognizers
from detectors.pii.phone import CandidatePhoneRecognizer

NAMES = name_recognizers()


@pytest.mark.parametrize("recognizer,sample", [(r, s) for r in NAMES for s in r.SAMPLES["valid"]])
def test_name_recognizer_finds_a_name_in_its_valid_samples(recognizer, sample):
    assert recognizer.analyze(sample, ["PERSON"], None)


@pytest.mark.parametrize("recognizer,sample", [(r, s) for r in NAMES for s in r.SAMPLES["invalid"]])
def test_name_recognizer_finds_nothing_in_its_invalid_samples(recognizer, sample):
    assert recognizer.analyze(sample, ["PERSON"], None) == []


def test_candidate_phone_recognizer_matches_presidio_phone_recognizer():
    samples = CandidatePhoneRecognizer.SAMPLES
    text = "\n".join(
        f"line {i}: call {number} today, or port 8080, size 1024x768, v2.31.0" for i, number in enumerate(samples["valid"])
    ) + "\n" + " ".join(samples["invalid"]) + "\nfax +1 (415) 555-2671 ext. 12, 电话010-62345678。 MAX = 340282366920938463463374607431768211455"
    stock = PhoneRecognizer(supported_regions=PHONE_REGIONS).analyze(text, ["PHONE_NUMBER"])
    ours = CandidatePhoneRecognizer(supported_regions=PHONE_REGIONS).analyze(text, ["PHONE_NUMBER"])
    assert {(r.start, r.end, r.score) for r in ours} == {(r.start, r.end, r.score) for r in stock}
    assert {text[r.start : r.end] for r in ours} >= set(samples["valid"])
