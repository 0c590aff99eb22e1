"""presidio's ``AnalyzerEngine``: imported only when it is needed.

Without a spaCy model the detector runs presidio's recognizers itself (``detectors.pii.analysis``);
the engine runs whole texts only with a model, and in the tests that compare against it.
Importing this module imports all of presidio and spaCy (about a second of CPU).

* A blank pipeline has no lemmatizer, so every lemma is "" and presidio's context words never
  fire; lemmas fall back to the lower-cased token.
* Context scoring uses ``LinearContextEnhancer``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import SpacyRecognizer
from spacy.language import Language

from detectors.pii.engine import LANGUAGE, MODEL_ENTITIES
from detectors.pii.light_imports import real_nlp_artifacts

NlpArtifacts = real_nlp_artifacts()


class LinearContextEnhancer(LemmaContextAwareEnhancer):
    """presidio's lemma context enhancer with an O(log n) token lookup."""

    def _extract_surrounding_words(
        self, nlp_artifacts: NlpArtifacts, word: str, start: int
    ) -> list[str]:
        if not nlp_artifacts.tokens:
            return [""]
        # presidio picks the first token that ends after ``start``; token ends never decrease,
        # so bisect finds the same one. The list is cached on the per-call artifacts object.
        ends = getattr(nlp_artifacts, "_llm_dlp_token_ends", None)
        if ends is None:
            ends = [idx + len(tok) for idx, tok in zip(nlp_artifacts.tokens_indices, nlp_artifacts.tokens)]
            nlp_artifacts._llm_dlp_token_ends = ends
        token_index = bisect_right(ends, start)
        if token_index >= len(ends):
            raise ValueError(f"no token covers offset {start}")
        backward = self._add_n_words_backward(
            token_index, self.context_prefix_count, nlp_artifacts.lemmas, nlp_artifacts.keywords
        )
        forward = self._add_n_words_forward(
            token_index, self.context_suffix_count, nlp_artifacts.lemmas, nlp_artifacts.keywords
        )
        return list(set(backward + forward))


class LemmaFallbackSpacyNlpEngine(SpacyNlpEngine):
    """presidio's spaCy engine around an already-loaded pipeline, with lemma fallback."""

    def __init__(self, nlp: Language) -> None:
        super().__init__(models=[{"lang_code": LANGUAGE, "model_name": nlp.meta.get("name", "blank")}])
        self.nlp = {LANGUAGE: nlp}

    def _doc_to_nlp_artifact(self, doc, language: str) -> NlpArtifacts:
        entities, scores = self._get_updated_entities(self._get_entities(doc), self._get_scores_for_entities(doc))
        return NlpArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=[token.idx for token in doc],
            lemmas=[token.lemma_ or token.lower_ for token in doc],
            nlp_engine=self,
            language=language,
            scores=scores,
        )


def model_recognizer() -> EntityRecognizer:
    """presidio's recognizer for the entities of a spaCy NER model."""
    return SpacyRecognizer(supported_entities=list(MODEL_ENTITIES))


def build_analyzer(
    nlp: Language, score_threshold: float, recognizers: Iterable[EntityRecognizer]
) -> AnalyzerEngine:
    """presidio's engine around ``nlp`` (from ``detectors.pii.spacy_pipeline.load_pipeline``)."""
    registry = RecognizerRegistry(recognizers=list(recognizers), supported_languages=[LANGUAGE])
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=LemmaFallbackSpacyNlpEngine(nlp),
        supported_languages=[LANGUAGE],
        context_aware_enhancer=LinearContextEnhancer(),
        default_score_threshold=score_threshold,
    )
