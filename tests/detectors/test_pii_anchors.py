"""The prefilter's anchors keep their promise: a recognizer is only run near its anchor's hits,
and those that say so (``MATCHES_START_AT_ANCHOR``) only look for matches beginning inside a
hit, so every match such a recognizer can report must begin inside one."""

from __future__ import annotations

import random

import pytest
import regex
from faker import Faker

from detectors.pii import PiiDetector
from detectors.pii.detector import _caseless
from detectors.pii.engine import LANGUAGE, OfflineEmailRecognizer, all_recognizers
from detectors.pii.prefilter import AnchorScanner

STARTING_AT_ANCHOR = [r for r in all_recognizers(with_model=False) if getattr(r, "MATCHES_START_AT_ANCHOR", False)]
# What stands around a number in prompts: spaces, punctuation, CJK, line starts and ends.
NEIGHBOURS = ["", " ", "\n", "(", ")", ",", ":", "/", "-", ".", "'", '"', "#", "中", "号", "x", "_", "9"]


def _numbers(seed: int) -> list[str]:
    fake = Faker(["en_US", "zh_CN"])
    fake.seed_instance(seed)
    en, zh = fake["en_US"], fake["zh_CN"]
    rng = random.Random(seed)
    made = []
    for _ in range(60):
        made += [
            en.ssn(), en.credit_card_number(), en.bothify("?########").upper(), en.bothify("#########"),
            f"9{rng.randrange(10, 99)}-{rng.randrange(70, 88)}-{rng.randrange(1000, 9999)}", zh.ssn(),
            zh.phone_number(), f"+86 {zh.phone_number()}", f"0086-{zh.phone_number()}", f"86{zh.phone_number()}", "62" + "".join(rng.choice("0123456789") for _ in range(rng.randrange(14, 18))),
            "".join(rng.choice("0123456789 -") for _ in range(rng.randrange(8, 30))),
            en.bothify("?#######?").upper(), en.bothify("?######(#)").upper(), en.bothify("E#######").upper(),
        ]
    return made


def _texts(seed: int) -> list[str]:
    rng = random.Random(seed)
    samples = [s for r in STARTING_AT_ANCHOR for s in getattr(r, "SAMPLES", {}).get("valid", [])]
    return [rng.choice(NEIGHBOURS) + number + rng.choice(NEIGHBOURS) for number in _numbers(seed) + samples]


@pytest.mark.parametrize("recognizer", STARTING_AT_ANCHOR, ids=lambda r: type(r).__name__)
def test_every_match_begins_inside_an_anchor_hit(recognizer):
    scanner = AnchorScanner([recognizer.ANCHOR], caseless=[_caseless(recognizer)])
    matched = 0
    for text in _texts(3):
        hits = scanner.hits(text)
        for pattern in recognizer.patterns:
            compiled = regex.compile(pattern.regex, flags=recognizer.global_regex_flags)
            for match in compiled.finditer(text):
                if recognizer.validate_result(match.group()) is False:
                    continue  # scored 0 and dropped: never reported
                matched += 1
                assert any(hit.start <= match.start() < hit.end for hit in hits), (text, match.group())
    assert matched


def test_a_window_cut_inside_a_long_token_makes_no_match_of_its_own():
    """A recognizer reads up to 64 characters past its last hit and on to whitespace, at
    most 48 more; inside a longer token it is cut there. Nine digits just before that cut
    are no passport number (the digits go on), so nothing may be reported there."""
    detector = PiiDetector()
    head = "passport 123456789 "
    token = "k" * 102 + "/" + "696831034464700" + "k" * 80
    text = head + token
    ours = {(r.entity_type, r.start, r.end) for r in detector.analyze(text)}
    whole = detector._engine.analyze(text, language=LANGUAGE, entities=list(detector.entities))
    assert ours == {(r.entity_type, r.start, r.end) for r in whole}


def test_no_email_match_begins_before_the_local_part_of_the_first_at():
    # As the detector has it: built-in patterns compiled ASCII-only.
    [recognizer] = [r for r in all_recognizers(with_model=False) if isinstance(r, OfflineEmailRecognizer)]
    [pattern] = recognizer.patterns
    compiled = regex.compile(pattern.regex, flags=recognizer.global_regex_flags)
    scanner = AnchorScanner([recognizer.ANCHOR], caseless=[_caseless(recognizer)])
    fake = Faker(["en_US", "zh_CN"])
    fake.seed_instance(8)
    rng = random.Random(8)
    glue = ["", " ", ".", "-", "+", "<", ">", ",", "(", "'", "中", "a", "_", "@", "x.y", "1"]
    texts = [
        "".join(rng.choice(glue) + (fake.email() if rng.random() < 0.6 else fake.word()) for _ in range(rng.randrange(1, 6)))
        for _ in range(400)
    ]
    matched = 0
    for text in texts:
        hits = scanner.hits(text)
        if not hits:
            continue
        earliest = recognizer.earliest_match_start(text, hits[0].start)
        for match in compiled.finditer(text):
            matched += 1
            assert match.start() >= earliest, (text, match.group())
    assert matched > 300
