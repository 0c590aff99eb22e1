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

from collections.abc import Sequence
from dataclasses import dataclass

import regex
from detectors.pii.light_imports import (
    CONTEXT_MAX_SCORE,
    REGEX_TIMEOUT_SECONDS,
    EntityRecognizer,
    PatternRecognizer,
    RecognizerResult,
)

from detectors.pii.context import ContextRequest, ContextScorer
from detectors.pii.prefilter import Window, align_left, align_right
from detectors.pii.vocabulary import BoundedVocabulary

# Characters before a window's first result tokenized for its context words.
STRETCH_BEFORE = 72


@dataclass(frozen=True)
class ContextSettings:
    """presidio's ``LemmaContextAwareEnhancer`` defaults."""

    similarity_factor: float = 0.35
    min_score_with_context: float = 0.4


@dataclass
class Recognized:
    """A window's results; ``needing`` are those still waiting for context words."""

    window: Window
    results: list[RecognizerResult]
    needing: list[tuple[RecognizerResult, EntityRecognizer]]

    def context_request(self, text: str) -> ContextRequest:
        """One stretch serves every result of the window: from a little before the first to
        the end of the last one's first chunk (a result whose context reaches further gets
        its own, wider stretch)."""
        starts = tuple(result.start for result, _ in self.needing)
        left = align_left(text, max(self.window.start, min(starts) - STRETCH_BEFORE))
        return ContextRequest(left, align_right(text, max(starts) + 1), starts)


class WindowAnalyzer:
    def __init__(
        self,
        recognizers: Sequence[EntityRecognizer],
        vocabulary: BoundedVocabulary,
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
        self._context = ContextScorer(vocabulary)

    def analyze(self, text: str, windows: Sequence[Window]) -> list[RecognizerResult]:
        raw = self._raw_results(text, windows)
        words_in_text = _WordsInText(text)
        recognized = [self._recognize(text, window, own, words_in_text) for window, own in zip(windows, raw) if own]
        found = [window for window in recognized if window.results]
        # Every stretch of the text is tokenized in one go (one lock, one spaCy memory zone).
        requests = [recognized.context_request(text) for recognized in found if recognized.needing]
        answers = iter(self._context.words(text, requests))
        results: list[RecognizerResult] = []
        for recognized in found:
            if recognized.needing:
                for (result, recognizer), words in zip(recognized.needing, next(answers)):
                    self._apply_words(result, recognizer, words)
            kept = remove_duplicates(recognized.results)
            results += [result for result in kept if result.score >= self._threshold]
        return results

    def _raw_results(self, text: str, windows: Sequence[Window]) -> list[list[RecognizerResult]]:
        """Per window, the results of the recognizers whose anchors fired in it, in recognizer
        order, in text offsets.

        Each recognizer runs over all of its stretches before the next one starts: taking the
        windows one by one instead, and every recognizer in each, interleaves a dozen regex
        programs and validators and costs about a fifth more CPU for the same calls (measured
        on 1 MB of mixed text, bench/pii.py)."""
        raw: list[list[RecognizerResult]] = [[] for _ in windows]
        for index in sorted(self._wanted):
            recognizer = self._recognizers[index]
            for slot, window in enumerate(windows):
                if index in window.anchors:
                    raw[slot] += self._run(recognizer, text, window, index)
        return raw

    def _run(self, recognizer: EntityRecognizer, text: str, window: Window, index: int) -> list[RecognizerResult]:
        """One recognizer on its part of the window: it reads only around its own anchor's
        hits, as its matches contain them."""
        start, end = window.span_for(text, index)
        piece = text[start:end]
        if type(recognizer).analyze is PatternRecognizer.analyze:
            # The piece reaches back far enough for any recognizer; some know better.
            starts = (0, len(piece))
            first, last = window.hit_span(index)
            if getattr(recognizer, "MATCHES_START_AT_ANCHOR", False):
                # Every match begins inside one of the anchor's hits; where the piece's end
                # cuts a longer token, a match beginning after the last hit could be an
                # artefact of the cut.
                starts = (first - start, last - start)
            elif hasattr(recognizer, "earliest_match_start"):
                starts = (recognizer.earliest_match_start(piece, first - start), len(piece))
            found = _pattern_results(recognizer, piece, starts)
        else:
            found = recognizer.analyze(text=piece, entities=self._entities, nlp_artifacts=None) or []
        for result in found:
            result.start += start
            result.end += start
            result.recognition_metadata = result.recognition_metadata or {}
            result.recognition_metadata.setdefault(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY, recognizer.id)
            result.recognition_metadata.setdefault(RecognizerResult.RECOGNIZER_NAME_KEY, recognizer.name)
        return found

    def _recognize(self, text: str, window: Window, raw: list[RecognizerResult], words_in_text: _WordsInText) -> Recognized:
        """One window's recognizer results (``raw``, from ``_raw_results``) after
        recognizer-level context, and those of them that still want presidio's context words."""
        recognizers = [self._recognizers[index] for index in sorted(window.anchors & self._wanted)]
        # As in presidio, recognizers see the whole text and whole-text offsets here.
        enhanced = self._recognizer_context(text, raw, recognizers)
        by_id = {recognizer.id: recognizer for recognizer in recognizers}
        needing: list[tuple[RecognizerResult, EntityRecognizer]] = []
        for result in enhanced:
            recognizer = by_id[result.recognition_metadata[RecognizerResult.RECOGNIZER_IDENTIFIER_KEY]]
            if self._needs_words(result, recognizer) and words_in_text.any_of(recognizer):
                needing.append((result, recognizer))
        return Recognized(window, enhanced, needing)

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
        return result.score < CONTEXT_MAX_SCORE  # else a boost cannot change it

    def _apply_words(self, result: RecognizerResult, recognizer: EntityRecognizer, words: list[str]) -> None:
        """presidio's lemma context step: a context word inside any keyword boosts, once."""
        # The keywords are lowered already; joined, one substring test covers them all.
        keywords = "\0".join(words)
        if words and any(context_word.lower() in keywords for context_word in recognizer.context):
            score = max(result.score + self._settings.similarity_factor, self._settings.min_score_with_context)
            result.score = min(score, CONTEXT_MAX_SCORE)


class _WordsInText:
    """Whether any of a recognizer's context words occurs in the text at all, lower-cased.

    Context words only ever boost a result when one lies inside a keyword near it (see
    ``_apply_words``), and keywords are lower-cased tokens of the text: the blank pipeline
    that serves the windows has no lemmatizer, and its tokenizer exceptions set no lemma. So
    where none of a recognizer's words is in the text, its results need no tokenizing: most
    digit runs in JSON and code, whose 1 KB pieces without whitespace cost spaCy ~2 ms each
    to tokenize on every scan once the vocabulary forgets (one-line JSON: 180 of 250 ms).
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._lowered: str | None = None
        self._answers: dict[str, bool] = {}

    def any_of(self, recognizer: EntityRecognizer) -> bool:
        answer = self._answers.get(recognizer.id)
        if answer is None:
            if self._lowered is None:
                self._lowered = self._text.lower()
            answer = self._answers[recognizer.id] = any(word.lower() in self._lowered for word in recognizer.context)
        return answer


def _pattern_results(recognizer: PatternRecognizer, piece: str, starts: tuple[int, int]) -> list[RecognizerResult]:
    """``PatternRecognizer.analyze`` without its per-match explanation objects and timing.

    The same steps in the same order: each pattern's matches, ``validate_result`` (True sets
    the score to 1.0, False to 0), ``invalidate_result``, zero scores dropped, duplicates
    removed. presidio skips a pattern whose regex times out; here the timeout is raised, so
    a text crafted to stall a pattern fails the scan instead of slipping through it.

    Only matches beginning in ``starts`` (first and last offset into the piece) are taken,
    and none is looked for before it; look-behinds and ``\\b`` still see the characters
    before it.
    """
    scan_from, last_start = starts
    flags = recognizer.global_regex_flags
    entity = recognizer.supported_entities[0]
    # Optional, per pattern: something each of its matches contains, cheaper to look for,
    # and at most ``PATTERN_ANCHOR_REACH`` characters after the match begins.
    required = getattr(recognizer, "PATTERN_ANCHORS", {})
    results: list[RecognizerResult] = []
    for pattern in recognizer.patterns:
        start_at = scan_from
        if pattern.name in required:
            first = required[pattern.name].search(piece, scan_from)
            if first is None:
                continue
            start_at = max(scan_from, first.start() - recognizer.PATTERN_ANCHOR_REACH)
        if not pattern.compiled_regex or pattern.compiled_with_flags != flags:
            pattern.compiled_with_flags = flags
            pattern.compiled_regex = regex.compile(pattern.regex, flags=flags)
        for match in pattern.compiled_regex.finditer(piece, start_at, timeout=REGEX_TIMEOUT_SECONDS):
            start, end = match.span()
            if start > last_start:
                break
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
    return remove_duplicates(results)


def remove_duplicates(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """presidio's ``EntityRecognizer.remove_duplicates``, in linear time on disjoint results.

    presidio compares each result with every one kept before it, which is quadratic in the
    results of one window (a one-line JSON body of numbers is one window of 1,500 results:
    6.6 s at 100 KB). A result is dropped only for one it lies inside, so presidio's step runs
    on each cluster of overlapping results alone; the kept results are put back in presidio's
    order (score, start, longest first).
    """
    clusters: list[list[RecognizerResult]] = []
    reach = -1
    for result in sorted(results, key=lambda r: r.start):
        if clusters and result.start <= reach:
            clusters[-1].append(result)
        else:
            clusters.append([result])
        reach = max(reach, result.end) if len(clusters[-1]) > 1 else result.end
    # A result overlapping no other is kept unless its score is 0, as presidio's step keeps it.
    kept = [
        result
        for cluster in clusters
        for result in (
            EntityRecognizer.remove_duplicates(cluster) if len(cluster) > 1 else [r for r in cluster if r.score != 0]
        )
    ]
    return sorted(kept, key=lambda r: (-r.score, r.start, -(r.end - r.start)))
