"""The benchmark's language corpus keeps train and test apart (collected with the test suite)."""

from __future__ import annotations

import re

from bench.language_corpus import SAMPLES, SOURCES


def _origin(source) -> tuple[str, str]:
    return (source.deb or source.directory or f"samples/{source.samples}", source.under)


def test_no_language_is_measured_on_a_source_it_was_trained_on() -> None:
    trained = {(s.language, *_origin(s)) for s in SOURCES if s.split in ("train", "dev")}
    measured = {(s.language, *_origin(s)) for s in SOURCES if s.split == "test"}
    assert trained.isdisjoint(measured)


def test_held_out_snippets_are_no_near_copies_of_training_snippets() -> None:
    """Idioms recur (``public static void main``), so a few shared lines are allowed; a held-out
    snippet that repeats a quarter of its substantial lines from training is a copy, not a test."""
    for held_out in sorted((SAMPLES / "held_out").glob("*.txt")):
        train = SAMPLES / "train" / held_out.name
        if not train.exists():
            continue
        trained_lines = {line.strip() for line in train.read_text(encoding="utf-8").splitlines()}
        for snippet in re.split(r"(?m)^---$", held_out.read_text(encoding="utf-8")):
            long_lines = [line.strip() for line in snippet.splitlines() if len(line.strip()) >= 30]
            shared = [line for line in long_lines if line in trained_lines]
            assert len(shared) < max(2, len(long_lines) / 4), f"{held_out.name}: {shared}"
