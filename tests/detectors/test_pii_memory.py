"""A long-running proxy: the spaCy vocabulary behind context scoring stops growing.

spaCy keeps every string it tokenizes; a proxy sees new identifiers in every prompt. The
detector's ``BoundedVocabulary`` learns for good from the first ``LEARN_CHARACTERS``
characters, forgets everything after that (spaCy memory zones), and reloads the pipeline
after ``REBUILD_AFTER`` forgotten characters (the zones leave dead hash-table capacity).
"""

from __future__ import annotations

import random
import string
import threading

import pytest
import spacy

from detectors.pii import PiiConfig, PiiDetector
from detectors.pii import vocabulary as vocabulary_module
from detectors.pii.context import ContextRequest, ContextScorer
from detectors.pii.vocabulary import BoundedVocabulary

BUDGET = 20_000


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randrange(6, 12)))


def _prompt(rng: random.Random, lines: int = 40) -> str:
    """Lines of never-seen words, each with a phone number that wants context words."""
    return "\n".join(
        " ".join(_word(rng) for _ in range(8)) + f" phone 212-555-{rng.randrange(1000, 10000)} "
        + " ".join(_word(rng) for _ in range(3))
        for _ in range(lines)
    )


@pytest.fixture
def detector(monkeypatch):
    monkeypatch.setattr(vocabulary_module, "LEARN_CHARACTERS", BUDGET)
    return PiiDetector()


def _strings(detector: PiiDetector) -> int:
    return len(detector._vocabulary.nlp.vocab.strings)


def _no_reload() -> spacy.language.Language:
    raise AssertionError("not expected to reload")


def test_distinct_tokens_stop_growing_the_vocabulary_after_the_budget(detector):
    rng = random.Random(5)
    start = _strings(detector)
    while detector._vocabulary._left:  # learning: a few prompts' words are kept
        detector.scan(_prompt(rng))
    learned = _strings(detector)
    assert start < learned <= start + 6 * BUDGET  # a token adds its text, lower case, shape, affixes
    for _ in range(30):  # about 30,000 words never seen before
        findings = detector.scan(_prompt(rng))
        assert sum(f.rule == "PHONE_NUMBER" for f in findings) == 40
    assert _strings(detector) == learned


def test_scores_are_the_same_learning_or_forgetting(detector):
    text = _prompt(random.Random(9), lines=5) + "\nmy ssn 536-22-1234 and passport A12345678"
    learning = detector.scan(text)
    detector._vocabulary._left = 0
    assert detector.scan(text) == learning
    assert {f.rule for f in learning} >= {"PHONE_NUMBER", "US_SSN"}


def test_context_scorer_forgets_inside_a_session_and_answers_the_same():
    rng = random.Random(1)
    texts = [_prompt(rng, lines=3) for _ in range(12)]
    requests = [[ContextRequest(0, len(text), (text.index("212-"),))] for text in texts]
    learning = ContextScorer(BoundedVocabulary(spacy.blank("en"), _no_reload, learn_characters=10**9))
    nlp = spacy.blank("en")
    forgetting = ContextScorer(BoundedVocabulary(nlp, _no_reload, learn_characters=0))
    before = len(nlp.vocab.strings)
    for text, request in zip(texts, requests):
        [[words]] = forgetting.words(text, request)
        [[expected]] = learning.words(text, request)
        assert sorted(words) == sorted(expected) and "phone" in words
    assert len(nlp.vocab.strings) == before


def test_the_pipeline_is_reloaded_after_enough_forgetting(monkeypatch):
    monkeypatch.setattr(vocabulary_module, "LEARN_CHARACTERS", 0)
    monkeypatch.setattr(vocabulary_module, "REBUILD_AFTER", 50_000)
    detector = PiiDetector()
    rng = random.Random(3)
    text = _prompt(rng)
    expected = detector.scan(text)
    pipelines = {id(detector._vocabulary.nlp)}
    for _ in range(12):
        detector.scan(_prompt(rng))
        pipelines.add(id(detector._vocabulary.nlp))
    assert len(pipelines) > 1
    # presidio's engine uses the same, latest pipeline, and findings do not change.
    assert detector._engine.nlp_engine.nlp["en"] is detector._vocabulary.nlp
    assert detector.scan(text) == expected


def test_sessions_are_exclusive_across_threads(detector):
    detector._vocabulary._left = 0  # every session opens a memory zone, which cannot nest
    texts = [_prompt(random.Random(seed), lines=10) for seed in range(4)]
    expected = [detector.scan(text) for text in texts]
    outcomes: list[bool] = []

    def worker(index: int) -> None:
        outcomes.extend(detector.scan(texts[index]) == expected[index] for _ in range(3))

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == [True] * 12


def test_with_a_model_the_engine_forgets_and_reloads_too(monkeypatch, tmp_path):
    """The model path (presidio's engine over 20 KB pieces) runs in the same sessions; a saved
    blank pipeline stands in for a model, which cannot be installed here."""
    spacy.blank("en").to_disk(tmp_path / "model")
    monkeypatch.setattr(vocabulary_module, "LEARN_CHARACTERS", 0)
    monkeypatch.setattr(vocabulary_module, "REBUILD_AFTER", 10_000)
    detector = PiiDetector(PiiConfig(spacy_model=str(tmp_path / "model")))
    rng = random.Random(7)
    text = _prompt(rng, lines=20)
    expected = detector.scan(text)
    assert sum(f.rule == "PHONE_NUMBER" for f in expected) == 20
    first = detector._vocabulary.nlp
    before = len(first.vocab.strings)
    for _ in range(8):
        detector.scan(_prompt(rng))
    assert detector._vocabulary.nlp is not first  # reloaded
    assert len(first.vocab.strings) == before  # and nothing was kept before that
    assert detector._engine.nlp_engine.nlp["en"] is detector._vocabulary.nlp
    assert detector.scan(text) == expected
