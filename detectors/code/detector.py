"""``CodeDetector``: code regions in a text, each with its language, line and character counts."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from functools import cached_property

import numpy as np

from detectors.base import Finding, FindingKind, Problem
from detectors.code.language_model import NOT_CODE, LanguageModel
from detectors.code.languages import (
    LANGUAGE_IDS,
    UNKNOWN,
    language_from_fence,
    language_from_path,
)
from detectors.code.regions import Region, find_regions
from detectors.code.unwrap import _looks_like_notebook, unwrap
from detectors.code.views import View, file_details, newlines

# Below this probability the model's language is not trusted and the region is "unknown".
MIN_LANGUAGE_PROBABILITY = 0.35
# A region the model calls prose/log with at least this probability is not reported as code.
# (Chosen on the dev prose and code windows of bench/language_corpus.py: 0.4 reports code in 7.5%
# of prose windows against 8.3% at 0.5, and misses one more of 3,985 code windows.)
MAX_NOT_CODE_PROBABILITY = 0.4
_CODE_CLASSES = frozenset(LANGUAGE_IDS)
# The model needs a few dozen lines to name a language; a whole 2,000-line file read by an agent
# costs 20x more to featurise and says nothing more. Longer regions are judged on blocks of
# lines taken evenly from start to end. (3 blocks of 12, down from 4 of 12 and before that 6 of
# 20: on the 4,427 test-split code files of bench/language_corpus.py the largest region's
# language was right 4,080 times against 4,075 with 4 blocks, 778 against 777 of the 786 files
# longer than 200 lines; 4,409 files gave the same findings. 3 blocks of 10 fell to 4,071.)
SAMPLE_BLOCKS, SAMPLE_BLOCK_LINES = 3, 12


class CodeDetector:
    name = "code"
    # ``lines``: the region's line count (``min_lines`` in a policy)
    kinds = (FindingKind("code", details=frozenset({"lines"})),)
    # a file's extension names the language of numbered lines read from it
    takes_path_hint = True

    def rule_ids(self) -> Mapping[str, frozenset[str] | None]:
        return {"code": frozenset(LANGUAGE_IDS) | {UNKNOWN}}

    def self_check(self, needed: frozenset[str]) -> list[Problem]:
        """Load the language model now: a missing or broken one would fail every request."""
        if not self.identify_languages:
            if "code" in needed:
                return [Problem("it was started without its language model (no policy had a rule on kind code); "
                                "restart llm-dlp to apply rules on kind code")]
            return []
        try:
            self.model
        except Exception as exc:  # noqa: BLE001 — reported, so the proxy does not start on it
            return [Problem(f"the language model cannot be loaded: {type(exc).__name__}: {exc}")]
        return []

    def __init__(self, min_lines: int = 2, model: LanguageModel | None = None, identify_languages: bool = True) -> None:
        self.min_lines = min_lines
        self._model = model
        # Off for a proxy whose policies cannot act on a language or record one (no rule on kind
        # ``code``, default action allow): regions are still found, named by their fence or file
        # where those name a language, else "unknown", and the language model never runs. The
        # findings cache keys this setting, so the two modes never share entries.
        self.identify_languages = identify_languages

    def without_languages(self) -> CodeDetector:
        return CodeDetector(self.min_lines, self._model, identify_languages=False)

    @cached_property
    def model(self) -> LanguageModel:
        return self._model or LanguageModel.load()

    def scan(self, text: str, *, path_hint: str | None = None) -> list[Finding]:
        if self._one_line(text):
            return []
        # a diff's new side (context and added lines) first, then what only its old side holds
        findings: list[Finding] = []
        for number, view in enumerate(unwrap(text)):
            earlier = sorted(findings, key=lambda f: f.start)  # disjoint, so their ends are sorted too
            ends = [f.end for f in earlier]
            for region in find_regions(view.text, self.min_lines, view.numbers > 0):
                finding = self._classify(view, region, path_hint)
                if finding is None:
                    continue
                # one view's regions never overlap: only an earlier view's findings can
                after = bisect.bisect_right(ends, finding.start)
                if number == 0 or after == len(earlier) or earlier[after].start >= finding.end:
                    findings.append(finding)
        return sorted(findings, key=lambda f: f.start)

    def _one_line(self, text: str) -> bool:
        """Whether ``text`` provably holds no region, so unwrapping it (~0.1 ms whatever its
        length; most of a JSON body's strings are one short line) can be skipped. A region needs
        ``min_lines`` non-blank lines, or two for a fence and its content (``find_regions`` returns
        nothing for one line when ``min_lines`` >= 2). Every view ``unwrap`` makes of a text is made
        of slices of the text's lines, so a text without a newline has only one-line views; the
        exception is a notebook's JSON, whose escaped sources are decoded into lines."""
        return self.min_lines >= 2 and "\n" not in text and not _looks_like_notebook(text)

    def _classify(self, view: View, region: Region, path_hint: str | None) -> Finding | None:
        named = language_from_fence(region.fence_info) if region.fence_info else None
        # A file listing (numbered, or under a path grep or a diff names) is that file's code.
        listed = file_details(view, region.start, region.end, path_hint)
        if named is None and ("file_lines" in listed or view.file(region.start, region.end)):
            named = language_from_path(listed.get("file"))  # type: ignore[arg-type]
        if named is not None:
            # A fence or the file's name says the language: the model would add nothing (a
            # third of this detector's time on agent bodies went to it).
            language, confidence = named, 0.99
        elif not self.identify_languages:
            if region.lines < self.min_lines:
                return None
            language, confidence = UNKNOWN, 0.5
        else:
            if region.lines < self.min_lines:  # (a one-line fenced block): nothing for the model to decide
                return None
            probabilities = self.model.probabilities(_sample(region.code))
            if probabilities.get(NOT_CODE, 0.0) >= MAX_NOT_CODE_PROBABILITY:
                return None
            code_probs = {lang: p for lang, p in probabilities.items() if lang in _CODE_CLASSES}
            guessed = max(code_probs, key=code_probs.__getitem__)
            share = code_probs[guessed] / max(sum(code_probs.values()), 1e-9)
            language = guessed if share >= MIN_LANGUAGE_PROBABILITY else UNKNOWN
            confidence = round(1.0 - probabilities.get(NOT_CODE, 0.0), 3)
        start, end = view.span(region.start, region.end)
        return Finding(
            kind="code",
            rule=language,
            start=start,
            end=end,
            confidence=confidence,
            detector=self.name,
            details={"language": language, "lines": region.lines, "chars": end - start, **listed},
        )


def _sample(code: str) -> str:
    """The lines of ``code`` the model reads: all of them, or blocks taken evenly from start
    to end (found from the newlines' offsets: splitting a whole long region into lines to keep a
    few dozen cost more than the model)."""
    count = code.count("\n") + 1
    if count <= SAMPLE_BLOCKS * SAMPLE_BLOCK_LINES:
        return code
    starts = np.concatenate(([0], newlines(code) + 1, [len(code) + 1]))  # each line's start, and one past the end
    step = (count - SAMPLE_BLOCK_LINES) / (SAMPLE_BLOCKS - 1)
    firsts = [round(i * step) for i in range(SAMPLE_BLOCKS)]
    return "\n".join(code[starts[first] : starts[min(first + SAMPLE_BLOCK_LINES, count)] - 1] for first in firsts)
