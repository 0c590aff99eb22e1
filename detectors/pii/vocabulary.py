"""A spaCy pipeline whose vocabulary stops growing, for a proxy that runs for weeks.

spaCy keeps every new string it tokenizes or looks up (with a lexeme for it, and a tokenizer
cache entry for every new whitespace-separated chunk) for the life of the pipeline; in a proxy
that is every identifier, hash and name of every prompt, and memory grows without end.
spaCy 3.8's memory zones forget, when they close, what was added inside them.

Making a lexeme is slow (~40 us: each of spaCy's lexical attributes is a Python function),
so forgetting everything would make every scan pay for the common words again: a 1 MB
prompt's context scoring takes ~65 ms with those words known and ~120 ms without. So the
vocabulary learns for good from the first ``LEARN_CHARACTERS`` characters the pipeline
processes (the common words of the traffic: English, keywords, frequent identifiers), and
everything after that is processed inside a memory zone. What the pipeline holds beyond its
start is therefore bounded by that many characters of text, whatever the traffic.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack, contextmanager
from typing import Iterator, Optional

from spacy.language import Language
from spacy.tokens import Doc

# About 2 MB of strings, lexemes and cache entries at worst (every token new), ~30,000
# distinct words of real prose and code; bench/pii.py measures the process size.
LEARN_CHARACTERS = 1_000_000


class BoundedVocabulary:
    """One spaCy pipeline, used by one caller at a time, whose vocabulary grows by at most
    ``learn_characters`` characters' worth of text over its life."""

    def __init__(self, nlp: Language, learn_characters: Optional[int] = None) -> None:
        self.nlp = nlp
        self._left = LEARN_CHARACTERS if learn_characters is None else learn_characters
        # Memory zones cannot nest, and spaCy's tokenizer is not documented as thread-safe.
        self._lock = threading.Lock()

    @contextmanager
    def session(self) -> Iterator["VocabularySession"]:
        """Exclusive use of the pipeline. Nothing spaCy made inside (a Doc, a Token, a Lexeme)
        may be used after the block: only plain Python values may leave it."""
        with self._lock, ExitStack() as zone:
            yield VocabularySession(self, zone)

    def _learn(self, characters: int) -> bool:
        """Whether ``characters`` more may be learned for good; the first refusal ends learning,
        so the vocabulary keeps what the earliest traffic taught it."""
        if characters <= self._left:
            self._left -= characters
            return True
        self._left = 0
        return False


class VocabularySession:
    def __init__(self, vocabulary: BoundedVocabulary, zone: ExitStack) -> None:
        self._vocabulary = vocabulary
        self._zone = zone
        self._forgetting = False

    @property
    def nlp(self) -> Language:
        return self._vocabulary.nlp

    def reserve(self, characters: int) -> None:
        """Announce ``characters`` of text about to be processed in this session: learned from
        if the budget allows, else from here to the end of the session nothing new is kept."""
        if self._forgetting or self._vocabulary._learn(characters):
            return
        self._zone.enter_context(self._vocabulary.nlp.memory_zone())
        self._forgetting = True

    def make_doc(self, text: str) -> Doc:
        """``text`` tokenized (no pipeline components)."""
        self.reserve(len(text))
        return self._vocabulary.nlp.make_doc(text)
