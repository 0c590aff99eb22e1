"""presidio's ``AnalyzerEngine.analyze``, run only inside the prefilter's windows.

Calling the engine once per window costs about 2 ms each (spaCy over the window, a deep copy
of every result, every recognizer's regexes) whether or not the window holds anything. Here
each window runs only the recognizers whose anchors fired in it; a window where they find
nothing (most digit runs in code) costs one short regex search. Only windows with results
are tokenized, and context words are collected as presidio's lemma enhancer collects them
(``detectors.pii.context.ContextScorer``). The steps after that are presidio's own:
recognizer-level context, duplicate removal, the score threshold.

``tests/detectors/test_pii_equivalence.py`` checks the results against the engine run on the
whole text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import regex
from presidio_analyzer import EntityRecognizer, PatternRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from spacy.language import Language

from presidio_analyzer.pattern_recognizer import REGEX_TIMEOUT_SECONDS

from detectors.pii.context import ContextScorer, Stretch
from detectors.pii.prefilter import Window, align_left, align_right

# Characters before a window's first result tokenized for its context words.
STRETCH_BEFORE = 72


@dataclass(frozen=True)
class ContextSettings:
    """presidio's ``LemmaContextAwareEnhancer`` defaults."""

    similarity_factor: float = 0.35
    min_score_with_context: float = 0.4


class WindowAnalyzer:
    def __init__(
        self,
        recognizers: Sequence[EntityRecognizer],
        nlp: Language,
        score_threshold: float,
        entities: Sequence[str],
        settings: ContextSettings = ContextSettings(),
    ) -> None:
        self._recognizers = tuple(recognizers)
        self._entities = list(entities)
        # Recognizers of entities nobody asked for never run.
        self._wanted = frozenset(
            index for index, recognizer in enumerate(self._recognizers) if set(recognizer.supported_entities) & set(entities)
        )
        self._threshold = score_threshold
        self._settings = settings
        self._context = ContextScorer(nlp)

    def analyze(self, text: str, windows: Sequence[Window]) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        for window in windows:
            results += self._analyze_window(text, window)
        return results

    def _analyze_window(self, text: str, window: Window) -> list[RecognizerResult]:
        indices = sorted(window.anchors & self._wanted)
        recognizers = [self._recognizers[index] for index in indices]
        raw: list[RecognizerResult] = []
        for index, recognizer in zip(indices, recognizers):
            # Each recognizer reads only around its own anchors: its matches contain them.
            start, end = window.span_for(text, index)
            piece = text[start:end]
            if type(recognizer).analyze is PatternRecognizer.analyze:
                found = _pattern_results(recognizer, piece)
            else:
                found = recognizer.analyze(text=piece, entities=self._entities, nlp_artifacts=None) or []
            for result in found:
                result.start += start
                result.end += start
                result.recognition_metadata = result.recognition_metadata or {}
                result.recognition_metadata.setdefault(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY, recognizer.id)
                result.recognition_metadata.setdefault(RecognizerResult.RECOGNIZER_NAME_KEY, recognizer.name)
            raw += found
        if not raw:
            return []
        # As in presidio, recognizers see the whole text and whole-text offsets here.
        enhanced = self._recognizer_context(text, raw, recognizers)
        by_id = {recognizer.id: recognizer for recognizer in recognizers}
        needing: list[tuple[RecognizerResult, EntityRecognizer]] = []
        for result in enhanced:
            recognizer = by_id[result.recognition_metadata[RecognizerResult.RECOGNIZER_IDENTIFIER_KEY]]
            if self._needs_words(result, recognizer):
                needing.append((result, recognizer))
        if needing:
            # One tokenization serves every result of the window: from a little before the
            # first to the end of the last one's first chunk (a result whose context reaches
            # further gets its own, wider stretch).
            first = min(result.start for result, _ in needing)
            last = max(result.start for result, _ in needing)
            stretch = self._context.stretch(
                text, align_left(text, max(window.start, first - STRETCH_BEFORE)), align_right(text, last + 1)
            )
            for result, recognizer in needing:
                words = stretch.words(result.start)
                self._apply_words(result, recognizer, words if words is not None else self._context.words(text, result.start))
        kept = EntityRecognizer.remove_duplicates(enhanced)
        return [result for result in kept if result.score >= self._threshold]

    @staticmethod
    def _recognizer_context(
        text: str, raw: list[RecognizerResult], recognizers: list[EntityRecognizer]
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        for recognizer in recognizers:
            own = [r for r in raw if r.recognition_metadata[RecognizerResult.RECOGNIZER_IDENTIFIER_KEY] == recognizer.id]
            if not own:
                continue
            others = [r for r in raw if r.recognition_metadata[RecognizerResult.RECOGNIZER_IDENTIFIER_KEY] != recognizer.id]
            results += recognizer.enhance_using_context(
                text=text, raw_recognizer_results=own, other_raw_recognizer_results=others,
                nlp_artifacts=None, context=None,
            )
        return results

    @staticmethod
    def _needs_words(result: RecognizerResult, recognizer: EntityRecognizer) -> bool:
        if not recognizer.context or result.recognition_metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
            return False
        return result.score < ContextAwareEnhancer.MAX_SCORE  # else a boost cannot change it

    def _apply_words(self, result: RecognizerResult, recognizer: EntityRecognizer, words: list[str]) -> None:
        """presidio's lemma context step: the first context word found in a keyword boosts."""
        for context_word in recognizer.context:
            needle = context_word.lower()
            if any(needle in word.lower() for word in words):
                score = max(result.score + self._settings.similarity_factor, self._settings.min_score_with_context)
                result.score = min(score, ContextAwareEnhancer.MAX_SCORE)
                return


def _pattern_results(recognizer: PatternRecognizer, piece: str) -> list[RecognizerResult]:
    """``PatternRecognizer.analyze`` without its per-match explanation objects and timing.

    The same steps in the same order: each pattern's matches, ``validate_result`` (True sets
    the score to 1.0, False to 0), ``invalidate_result``, zero scores dropped, duplicates
    removed. presidio skips a pattern whose regex times out; here the timeout is raised, so
    a text crafted to stall a pattern fails the scan instead of slipping through it.
    """
    flags = recognizer.global_regex_flags
    entity = recognizer.supported_entities[0]
    results: list[RecognizerResult] = []
    for pattern in recognizer.patterns:
        if not pattern.compiled_regex or pattern.compiled_with_flags != flags:
            pattern.compiled_with_flags = flags
            pattern.compiled_regex = regex.compile(pattern.regex, flags=flags)
        for match in pattern.compiled_regex.finditer(piece, timeout=REGEX_TIMEOUT_SECONDS):
            start, end = match.span()
            if start == end:
                continue
            value = piece[start:end]
            score = pattern.score
            validation = recognizer.validate_result(value)
            if validation is not None:
                score = EntityRecognizer.MAX_SCORE if validation else EntityRecognizer.MIN_SCORE
            if recognizer.invalidate_result(value):
                score = EntityRecognizer.MIN_SCORE
            if score > EntityRecognizer.MIN_SCORE:
                results.append(
                    RecognizerResult(
                        entity, start, end, score,
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: recognizer.name,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer.id,
                        },
                    )
                )
    return EntityRecognizer.remove_duplicates(results)
