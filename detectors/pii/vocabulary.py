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
everything after that is processed inside a memory zone.

Memory zones do not give everything back: spaCy's hash tables (preshed maps) mark a forgotten
entry deleted rather than empty, so churning through new strings keeps growing the tables'
capacity (measured: +10 MB over 50 MB of prompts full of never-repeated identifiers). So after
``REBUILD_AFTER`` forgotten characters the pipeline is loaded afresh and learns again (78 ms
for the blank pipeline; a spaCy model takes seconds, during which scans wait). What the
pipeline holds beyond a fresh one is therefore bounded, whatever the traffic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc


# On prompts made of never-repeated identifiers (the worst case) this is ~37,000 strings and
# ~15 MB of process size (bench/pii.py); real prose and code repeat far more.
LEARN_CHARACTERS = 1_000_000
# Measured ~1 byte of dead hash-table capacity per forgotten character, so ~5 MB at most
# between reloads; with realistic prompts (PII every few KB) a reload every ~150 MB scanned.
REBUILD_AFTER = 5_000_000


class BoundedVocabulary:
    """One spaCy pipeline, used by one caller at a time, whose memory stays bounded: it learns
    from its first ``learn_characters`` characters, forgets everything after that, and is
    replaced by a fresh one from ``reload`` after ``rebuild_after`` forgotten characters."""

    def __init__(
        self,
        nlp: Language | None,
        reload: Callable[[], Language],
        learn_characters: int | None = None,
        rebuild_after: int | None = None,
    ) -> None:
        # None: loaded by ``reload`` when first needed (spaCy takes a second to import, and
        # most texts have no result that needs context words).
        self._nlp = nlp
        self._reload = reload
        self._learn_characters = LEARN_CHARACTERS if learn_characters is None else learn_characters
        self._rebuild_after = REBUILD_AFTER if rebuild_after is None else rebuild_after
        self._left = self._learn_characters
        self._forgotten = 0
        # Memory zones cannot nest, and spaCy's tokenizer is not documented as thread-safe.
        self._lock = threading.RLock()

    @contextmanager
    def session(self) -> Iterator[VocabularySession]:
        """Exclusive use of the pipeline. Nothing spaCy made inside (a Doc, a Token, a Lexeme)
        may be used after the block: only plain Python values may leave it."""
        with self._lock:
            if self._nlp is None or self._forgotten >= self._rebuild_after:
                self._nlp = self._reload()
                self._left, self._forgotten = self._learn_characters, 0
            with ExitStack() as zone:
                yield VocabularySession(self, zone)

    @property
    def nlp(self) -> Language:
        """The pipeline, loaded now if it has not been yet."""
        if self._nlp is None:
            with self._lock:
                if self._nlp is None:
                    self._nlp = self._reload()
        return self._nlp

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
        if not self._forgetting:
            if self._vocabulary._learn(characters):
                return
            self._zone.enter_context(self._vocabulary.nlp.memory_zone())
            self._forgetting = True
        self._vocabulary._forgotten += characters

    def make_doc(self, text: str) -> Doc:
        """``text`` tokenized (no pipeline components)."""
        self.reserve(len(text))
        return self._vocabulary.nlp.make_doc(text)
