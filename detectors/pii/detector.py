"""``PiiDetector``: personal data in prompt text, as ``Finding``s of kind ``pii``."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from detectors.base import Finding, FindingKind, Problem
from detectors.collector import collector_paused
from detectors.normalise import prepare_normalise, scan_as_read
from detectors.pii.analysis import WindowAnalyzer
from detectors.pii.blobs import without_blob_findings
from detectors.pii.code_noise import drop_code_noise
from detectors.pii.engine import LANGUAGE, all_recognizers
from detectors.pii.light_imports import RecognizerResult
from detectors.pii.prefilter import AnchorScanner, Hit, Window, windows
from detectors.pii.prose import ProseRecognizer
from detectors.pii.records import (
    JSON_ARRAY_ANCHOR,
    NAME_HEADER_ANCHOR,
    RULE as RECORDS_RULE,
    bulk_record_findings,
    table_name_results,
)
from detectors.pii.vocabulary import BoundedVocabulary

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine
    from spacy.language import Language

DETECTOR_NAME = "pii"
# With a model, NER needs the whole text, so it is analysed in pieces of about this size,
# cut at line ends; the context enhancer is linear, so the piece size only bounds memory.
MODEL_CHUNK = 20_000
# When two findings overlap, the higher score wins; on a tie, the more specific entity.
_SPECIFICITY = (
    "CN_RESIDENT_ID", "CN_USCC", "CN_UNIONPAY_CARD", "HK_ID", "TW_ID", "CN_MOBILE", "CN_PASSPORT",
    "CREDIT_CARD", "IBAN_CODE", "US_SSN", "US_ITIN", "EMAIL_ADDRESS", "IP_ADDRESS", "PHONE_NUMBER",
    "US_PASSPORT", "STREET_ADDRESS", "ORGANIZATION", "PERSON", "LOCATION", "NRP", "ZIP_CODE", "AGE", "DATE_TIME",
)


@dataclass(frozen=True)
class PiiConfig:
    """How the PII detector is built.

    ``spacy_model``: name or path of an installed spaCy pipeline (e.g. ``en_core_web_lg``) for
    names, places and dates in free prose; None runs without a model. ``entities``: the entity
    types to report (None: all). ``min_records``: the smallest table, JSON array or run of
    lines of people reported as one ``PII_RECORDS`` finding. ``prose``: without a model, find
    names, places, organisations, addresses, dates, ages, titles and web sites in prose from word
    lists, cues and shapes (``detectors.pii.prose``; costs about 25 ms of CPU per MB of text).
    """

    spacy_model: str | None = None
    score_threshold: float = 0.4
    entities: tuple[str, ...] | None = None
    min_records: int = 2
    filter_code_noise: bool = True
    prose: bool = True


class PiiDetector:
    """presidio-analyzer, offline and linear-time, with the Chinese pack and record counting.

    Without a spaCy model, building one loads presidio's recognizers only; spaCy's tokenizer
    is loaded when a result first needs context words (about a second), and presidio's whole
    engine only when ``_engine`` is asked for. With a model, both load here. Build once per
    process; ``scan`` may be called from several threads.
    """

    name = DETECTOR_NAME
    # ``records``: how many people a PII_RECORDS finding holds (``min_records`` in a policy)
    kinds = (FindingKind("pii", details=frozenset({"records"})),)
    takes_path_hint = False

    def rule_ids(self) -> Mapping[str, frozenset[str] | None]:
        return {"pii": frozenset(self.entities) | {RECORDS_RULE}}

    def self_check(self, needed: frozenset[str]) -> list[Problem]:
        # A spaCy model loads in the constructor, which raises if it cannot.
        if "pii" in needed and not self.entities:
            return [Problem("the personal-data detector is configured with no entity types")]
        # Without a model, spaCy's tokenizer loads on first use. A proxy whose policies name
        # personal data checks its detectors before serving and forks its scan workers after:
        # loaded now, the workers share it and no request waits for it.
        if "pii" in needed:
            try:
                self._vocabulary.nlp
            except Exception as exc:  # a broken spaCy install: every scan would fail
                return [Problem(f"the personal-data detector cannot load spaCy's tokenizer: {exc}")]
        return []

    def __init__(self, config: PiiConfig | None = None) -> None:
        self.config = config or PiiConfig()
        recognizers = all_recognizers(with_model=self.config.spacy_model is not None)
        self._recognizers = recognizers
        # The one spaCy pipeline serves context scoring and, with a model, the engine; its
        # vocabulary must not grow with every identifier of every prompt, so it is reloaded
        # now and then (see detectors.pii.vocabulary). Without a model it loads on first use.
        self._vocabulary = BoundedVocabulary(None, reload=self._reload_pipeline)
        if self.config.spacy_model is not None:
            self._engine  # a model that cannot load stops the construction here
        supported = {entity for recognizer in recognizers for entity in recognizer.supported_entities}
        # Without a model, names, places and addresses in prose come from word lists and shapes.
        self._prose = ProseRecognizer() if self.config.prose and not self.config.spacy_model else None
        if self._prose:
            supported.update(self._prose.ENTITIES)
        self.entities = tuple(sorted(self.config.entities or supported))
        # One anchor per recognizer, in order, then a table's name-column header, the
        # opening of a JSON array of objects, and the prose shapes' anchors (whose hits need
        # only their ends): one hyperscan pass over the text serves them all.
        self._anchored = [r for r in recognizers if hasattr(r, "ANCHOR")]
        prose_anchors = list(self._prose.ANCHORS) if self._prose else []
        self._scanner = AnchorScanner(
            [r.ANCHOR for r in self._anchored] + [NAME_HEADER_ANCHOR, JSON_ARRAY_ANCHOR] + prose_anchors,
            caseless=[_caseless(r) for r in self._anchored] + [True, False] + [False] * len(prose_anchors),
            starts=[True] * (len(self._anchored) + 2) + [False] * len(prose_anchors),
        )
        self._header_anchor = len(self._anchored)
        self._array_anchor = len(self._anchored) + 1
        self._prose_anchor = len(self._anchored) + 2
        self._windows = WindowAnalyzer(self._anchored, self._vocabulary, self.config.score_threshold, self.entities)
        prepare_normalise()  # its tables, built here so forked workers share them

    def scan(self, text: str) -> list[Finding]:
        """Findings for ``text`` as a reader sees it (``detectors.normalise``: invisible
        characters dropped, lookalikes folded, as the secrets detector reads it), with spans in
        ``text`` itself. Any string is fine; an exception here is a bug, and it is raised, not
        swallowed: the pipeline fails closed on it and the policy decides."""
        if not isinstance(text, str):
            raise TypeError(f"PiiDetector.scan takes a str, not {type(text).__name__}")
        if not text.strip():
            return []
        return scan_as_read(text, self._scan_text)

    def _scan_text(self, text: str) -> list[Finding]:
        hits = self._scanner.hits(text)
        results = self._analyze(text, hits)
        if self._prose:
            threshold = self.config.score_threshold
            first = self._prose_anchor
            shape_hits = [Hit(hit.anchor - first, hit.start, hit.end) for hit in hits if hit.anchor >= first]
            results += [r for r in self._prose.analyze(text, self.entities, shape_hits) if r.score >= threshold]
        if "PERSON" in self.entities:
            # A header hit may begin at the newline before its line; its end is on the line.
            headers = [hit.end - 1 for hit in hits if hit.anchor == self._header_anchor]
            results += table_name_results(text, headers, self.config.score_threshold)
        # Not configurable: letters read inside a key or a hash are never personal data.
        results = without_blob_findings(text, results)
        if self.config.filter_code_noise:
            results = drop_code_noise(text, results)
        findings = [
            Finding(kind="pii", rule=r.entity_type, start=r.start, end=r.end,
                    confidence=round(float(r.score), 4), detector=DETECTOR_NAME)
            for r in _resolve_overlaps(results)
        ]
        arrays = [hit.start for hit in hits if hit.anchor == self._array_anchor]
        findings += bulk_record_findings(text, findings, self.config.min_records, DETECTOR_NAME, arrays)
        return findings

    def analyze(self, text: str) -> list[RecognizerResult]:
        """Recognizer results for the whole text, in text offsets (before noise filtering and
        overlap resolution); the same as presidio's ``AnalyzerEngine.analyze`` on the text."""
        return self._analyze(text, self._scanner.hits(text))

    def _analyze(self, text: str, hits: list[Hit]) -> list[RecognizerResult]:
        if self.config.spacy_model is None:
            recognizer_hits = [hit for hit in hits if hit.anchor < self._header_anchor]
            return self._windows.analyze(text, windows(text, recognizer_hits))
        results: list[RecognizerResult] = []
        for window in self._model_pieces(text):
            piece = text[window.start : window.end]
            with self._vocabulary.session() as session:
                session.reserve(len(piece))
                found = self._engine.analyze(piece, language=LANGUAGE, entities=list(self.entities))
            for result in found:
                result.start += window.start
                result.end += window.start
                results.append(result)
        return _unique(results)

    @cached_property
    def _engine(self) -> AnalyzerEngine:
        """presidio's own engine over the same recognizers and pipeline: it runs the text with a
        spaCy model; without one only the tests use it, as the reference the windows match."""
        with collector_paused():
            from detectors.pii.presidio_engine import build_analyzer

            return build_analyzer(self._vocabulary.nlp, self.config.score_threshold, self._recognizers)

    def _reload_pipeline(self) -> Language:
        """A fresh pipeline for the vocabulary, and for presidio's engine, so the old one is freed."""
        with collector_paused():
            from detectors.pii.spacy_pipeline import load_pipeline

            nlp = load_pipeline(self.config.spacy_model)
        if "_engine" in self.__dict__:
            self._engine.nlp_engine.nlp = {LANGUAGE: nlp}
        return nlp

    def _model_pieces(self, text: str) -> Iterator[Window]:
        """NER needs whole sentences: the text in pieces of about MODEL_CHUNK, cut at line ends."""
        start = 0
        while start < len(text):
            end = min(len(text), start + MODEL_CHUNK)
            if end < len(text):
                newline = text.rfind("\n", start + MODEL_CHUNK // 2, end)
                end = newline + 1 if newline >= 0 else end
            yield Window(start, end, frozenset())
            start = end


def _caseless(recognizer: object) -> bool:
    flags = getattr(recognizer, "global_regex_flags", 0) or 0
    return bool(flags & re.IGNORECASE)


def _unique(results: list[RecognizerResult]) -> list[RecognizerResult]:
    seen: dict[tuple[str, int, int], RecognizerResult] = {}
    for result in results:
        key = (result.entity_type, result.start, result.end)
        if key not in seen or result.score > seen[key].score:
            seen[key] = result
    return list(seen.values())


def _resolve_overlaps(results: list[RecognizerResult]) -> list[RecognizerResult]:
    def rank(result: RecognizerResult) -> tuple[float, int, int]:
        specificity = _SPECIFICITY.index(result.entity_type) if result.entity_type in _SPECIFICITY else len(_SPECIFICITY)
        return (-result.score, -(result.end - result.start), specificity)

    # Kept results never overlap, so sorting them by start also sorts them by end.
    kept: list[RecognizerResult] = []
    starts: list[int] = []
    for result in sorted(results, key=rank):
        index = bisect_right(starts, result.start)
        if index > 0 and kept[index - 1].end > result.start:
            continue
        if index < len(kept) and kept[index].start < result.end:
            continue
        kept.insert(index, result)
        starts.insert(index, result.start)
    return kept
