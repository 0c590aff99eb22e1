"""Context scoring that stays linear in the text length.

presidio's ``LemmaContextAwareEnhancer`` finds the token of every result by walking all tokens
from the start of the text, which makes ``analyze`` quadratic (2 s at 100 KB, 3 min at 1 MB).
``detectors.pii.presidio_engine.LinearContextEnhancer`` (used when a spaCy model runs over whole chunks)
finds the same token by binary search; every other step is presidio's own, so scores are identical.
``ContextScorer`` (used on the prefilter's windows) collects the same context words from a
short stretch of text around one result, tokenized on demand.

presidio's context words are whole (lemmatised) tokens. Chinese has no spaces, so a blank
tokenizer yields one token for ``手机号13800138000``; Chinese context words are therefore
looked up as substrings just before the match, inside the recognizer (``CjkContextMixin``).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from detectors.pii.light_imports import RecognizerResult
from detectors.pii.prefilter import align_left, align_right, cuts_between
from detectors.pii.vocabulary import BoundedVocabulary, VocabularySession

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts
    from spacy.language import Language

# presidio's defaults: five keywords before the match, and the match's own token or the first
# keyword after it ("suffix count 0" still takes one word forward).
CONTEXT_BEFORE = 5
CONTEXT_AFTER = 0
# Characters tokenized on each side at first; widened until enough keywords are in reach.
_FIRST_REACH = 160
# spaCy cannot hash a lone surrogate (any str may arrive); one replacement character keeps offsets.
_SURROGATE = re.compile("[\ud800-\udfff]")


class CjkContextMixin:
    """Boost a recognizer's results when one of its CJK context words ends just before them.

    Mixed into presidio ``PatternRecognizer`` subclasses. ``CJK_CONTEXT`` lists the words,
    ``CJK_CONTEXT_REACH`` how many characters before the match are searched (short, so
    that a word in an earlier sentence does not count). A boosted result is marked as
    enhanced, so presidio's token-based enhancer leaves it alone.
    """

    CJK_CONTEXT: tuple[str, ...] = ()
    CJK_CONTEXT_REACH = 12
    CJK_CONTEXT_BOOST = 0.35

    def enhance_using_context(
        self,
        text: str,
        raw_recognizer_results: list[RecognizerResult],
        other_raw_recognizer_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        for result in raw_recognizer_results:
            before = text[max(0, result.start - self.CJK_CONTEXT_REACH) : result.start]
            if any(word in before for word in self.CJK_CONTEXT):
                result.score = min(1.0, result.score + self.CJK_CONTEXT_BOOST)
                result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return raw_recognizer_results


@dataclass(frozen=True, slots=True)
class ContextRequest:
    """Results at ``starts`` that want context words, tokenized together as one stretch
    ``text[left:right]``; ``left`` starts a whitespace-separated chunk (``align_left``)."""

    left: int
    right: int
    starts: tuple[int, ...]


class ContextScorer:
    """The context words presidio's lemma enhancer would collect for results at given offsets.

    presidio tokenizes the whole text with spaCy, keeps as *keywords* the lemmas that are not
    stop words, punctuation, "-PRON-" or "be" (split on ":"), and takes the first
    ``CONTEXT_BEFORE + 1`` keywords walking back from the result's token and the first
    ``CONTEXT_AFTER + 1`` walking forward. spaCy splits on whitespace before anything else,
    so tokenizing a stretch that starts at a whitespace-separated chunk gives the same tokens;
    a stretch too short for a walk is widened until the walk ends inside it.

    All stretches of one text are tokenized in one session of the pipeline's
    ``BoundedVocabulary`` (one lock; once the vocabulary has learned enough, one spaCy memory
    zone), so the identifiers of a long-running proxy's prompts do not pile up in it.
    """

    def __init__(self, vocabulary: BoundedVocabulary) -> None:
        self._vocabulary = vocabulary

    def words(self, text: str, requests: Sequence[ContextRequest]) -> list[list[list[str]]]:
        """For each request, the context words of each of its starts."""
        if not requests:
            return []
        with self._vocabulary.session() as session:
            stretches = _Stretches(session, text)
            answers = []
            for request in requests:
                stretch = stretches.get(request.left, request.right)
                answers.append([stretches.words_at(stretch, start) for start in request.starts])
            return answers


class _Stretches:
    """The stretches of one text tokenized so far, so that none is tokenized twice.

    Requests and widened stretches start and end at whitespace-separated chunks, so inside one
    long run without whitespace (a one-line JSON body) they all have the same bounds: tokenized
    once, not once per result (which made such a body quadratic). A result that needs a wider
    stretch first tries the widest one built before it, which already covers it when results
    come in text order.
    """

    def __init__(self, session: VocabularySession, text: str) -> None:
        self._session = session
        self._text = text
        # Whether a lemma is a stop word or punctuation depends on the string alone.
        self._kept: dict[str, bool] = {}
        self._built: dict[tuple[int, int], Stretch] = {}
        self._widest: Stretch | None = None

    def get(self, left: int, right: int) -> Stretch:
        stretch = self._built.get((left, right))
        if stretch is None:
            stretch = self._built[(left, right)] = Stretch(self._session, self._text, left, right, self._kept)
        return stretch

    def words_at(self, stretch: Stretch, start: int) -> list[str]:
        found = stretch.words(start)
        if found is None and self._widest is not None and self._widest.covers(start):
            found = self._widest.words(start)
        text, reach = self._text, _FIRST_REACH
        while found is None:
            left = align_left(text, max(0, start - reach))
            # Forward, presidio needs only the first keyword from the match's own token on.
            right = align_right(text, min(len(text), start + 1 + reach // 4))
            self._widest = self.get(left, right)
            found = self._widest.words(start)
            reach *= 4
        return found


class Stretch:
    """``text[left:right]`` tokenized once, for the context of every result inside it. Lives
    only inside its session (its keyword test looks strings up in the vocabulary)."""

    def __init__(self, session: VocabularySession, text: str, left: int, right: int, kept: dict[str, bool]) -> None:
        self._left, self._right = left, right
        self._at_start = left == 0
        self._at_end = right == len(text)
        from spacy.attrs import IDX, LEMMA, LENGTH, LOWER

        # Each token's ``lemma_ or lower_`` and end, read as the vocabulary's ids in one call
        # per piece and each id named once: a Python property per token per attribute was
        # most of the cost of context words in code (19,000 tokens in 100 KB).
        strings = session.nlp.vocab.strings
        names: dict[int, str] = {}
        lemmas: list[str] = []
        self._ends: list[int] = []
        for piece_start, piece_end in _pieces(text, left, right):
            doc = session.make_doc(_SURROGATE.sub("\ufffd", text[piece_start:piece_end]))
            for lemma, lower, index, length in doc.to_array([LEMMA, LOWER, IDX, LENGTH]).tolist():
                name = lemma or lower
                if name not in names:
                    names[name] = strings[name]
                lemmas.append(names[name] or strings[lower])
                self._ends.append(piece_start + index + length)
        is_keyword = _keyword_test(session.nlp, lemmas, ":" in text[left:right], kept)
        # The keywords of the stretch, lowered, and the indices of their tokens; the answer
        # is the same for every token of one spelling.
        lowered = [lemma.lower() for lemma in lemmas]
        keyword = {lower: is_keyword(lower) for lower in set(lowered)}
        self._positions = [index for index, lower in enumerate(lowered) if keyword[lower]]
        self._keywords = [lowered[index] for index in self._positions]

    def covers(self, start: int) -> bool:
        return self._left <= start < self._right

    def words(self, start: int) -> list[str] | None:
        """The context words for a result at ``start``, or None if they reach past the stretch."""
        # presidio takes the first token with idx == start or start < idx + len: ends grow.
        index = bisect_right(self._ends, start)
        if index >= len(self._ends):
            return [""] if self._at_end else None
        # presidio walks back from that token (itself included) to CONTEXT_BEFORE + 1
        # keywords, and forward (itself included) to CONTEXT_AFTER + 1.
        behind = bisect_right(self._positions, index)
        backward = self._keywords[max(0, behind - CONTEXT_BEFORE - 1) : behind]
        ahead = bisect_left(self._positions, index)
        forward = self._keywords[ahead : ahead + CONTEXT_AFTER + 1]
        if (len(backward) <= CONTEXT_BEFORE and not self._at_start) or (len(forward) <= CONTEXT_AFTER and not self._at_end):
            return None
        return list(set(backward + forward))


def _pieces(text: str, left: int, right: int) -> list[tuple[int, int]]:
    """``text[left:right]`` as the pieces spaCy tokenizes one by one: split at the cuts of
    long runs without whitespace (``prefilter.is_cut``), whole where there are none."""
    bounds = [left, *cuts_between(text, left, right), right]
    return list(zip(bounds, bounds[1:]))


def _keyword_test(nlp: Language, lemmas: list[str], has_colon: bool, known: dict[str, bool]) -> Callable[[str], bool]:
    """Whether a lowered lemma is among presidio's keywords of this stretch.

    Keywords are the lemmas that are not stop words, punctuation, "-PRON-" or "be",
    lowered and split on ":"; a lemma with a colon is therefore never one itself, while
    the pieces of one are. The stop list is consulted before lowering: tokenizer exceptions
    give "id" the lemma "I", which is no stop word although "i" is. ``known`` remembers the
    answer per lemma across the stretches of one call.
    """
    vocab = nlp.vocab

    def kept(lemma: str) -> bool:
        answer = known.get(lemma)
        if answer is None:
            lexeme = vocab[lemma]
            answer = known[lemma] = not (lexeme.is_stop or lexeme.is_punct or lemma in ("-PRON-", "be"))
        return answer

    pieces: set[str] = set()
    if has_colon:
        pieces = {piece for lemma in lemmas if ":" in lemma and kept(lemma) for piece in lemma.lower().split(":")}
    # Lowered lemmas that some token spells with capitals, with every spelling present.
    cased: dict[str, set[str]] = {lemma.lower(): set() for lemma in lemmas if lemma != lemma.lower()}
    if cased:
        for lemma in lemmas:
            if lemma.lower() in cased:
                cased[lemma.lower()].add(lemma)

    def is_keyword(lower: str) -> bool:
        if lower in pieces:
            return True
        if ":" in lower:
            return False
        spellings = cased.get(lower)
        return kept(lower) if spellings is None else any(kept(spelling) for spelling in spellings)

    return is_keyword
