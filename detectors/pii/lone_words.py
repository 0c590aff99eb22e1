"""Whether a lone capitalised word from the word lists is a name or a place, or an ordinary word.

The prose recogniser (``detectors.pii.prose``) reads a capitalised word that a first-name list
or GeoNames holds as a person or a place. Alone (one word, no cue such as "Hi" or "lives in"
before it) that is weak evidence: English capitalises any word at the start of a sentence, a
line or a list item, headings capitalise nouns, and products are named with ordinary words.
Two checks here, both on the findings that are left after lines of code are dropped:

* the same text writes the word in lower case ("Skip routine..." where "skip" occurs nearby),
  or it is a field label (``**Mobile:**``) - ``without_ordinary_words``;
* a dictionary lists it as an ordinary English word ("Skip", "Bias", "Legacy", "Mermaid")
  and nothing else vouches for it - ``without_dictionary_words``;
* it opens a sentence of instructions as a verb or a label: a gerund with its object
  ("Reading a directory...") or a word before a number ("Max 100 matches.", "Max: 5") -
  ``without_instruction_words``.
"""

from __future__ import annotations

import regex

from detectors.pii.gazetteers import Gazetteers

# A word before a capital that makes it a place ("in", "from", "visiting").
_PLACE_CUE = regex.compile(r"(?i:\b(?:in|at|from|to|near|of|visit|visiting|via)[ \t]+)$")


def follows_place_cue(text: str, start: int) -> bool:
    return _PLACE_CUE.search(text, max(0, start - 12), start) is not None


_LONE_WORD_ENTITIES = frozenset({"PERSON", "LOCATION"})
# How far around a lone word its lower-case form is looked for, in characters.
_NEARBY = 20_000


def without_ordinary_words(
    text: str, found: list[tuple[str, int, int, float]], cued: dict[int, str]
) -> list[tuple[str, int, int, float]]:
    """A lone capitalised word from the lists whose lower-case form the same text also uses is
    an ordinary word at the start of a sentence or a heading ("Skip routine...", "Tool"),
    however many towns are called so; a place that is a field label ("**Mobile:**") is none
    either. A cue before the word overrides both. (Run after the code lines are dropped: each
    distinct word costs a search of the text near it.)"""
    lowered: dict[tuple[str, int], bool] = {}
    kept = []
    for item in found:
        entity, begin, end, _ = item
        word = text[begin:end]
        if begin not in cued and entity in _LONE_WORD_ENTITIES and " " not in word and "\t" not in word:
            # The text around the word, in blocks of _NEARBY: a long prompt costs a bounded
            # search per distinct word and block, not a search of all of it.
            key = (word, begin // _NEARBY)
            if key not in lowered:
                block = key[1] * _NEARBY
                lowered[key] = _written_lowercase(text, word.lower(), max(0, block - _NEARBY), block + 2 * _NEARBY)
            if lowered[key] or (entity == "LOCATION" and _is_field_label(text, begin, end)):
                continue
        kept.append(item)
    return kept


# Occurrences of a word looked at before deciding it is never written in lower case.
_MAX_OCCURRENCES = 64


# What makes a lone word that is also an English word a name or a place all the same: a title
# before it ("Dr. Carter", "ms. Alma"), a question for a name before it ("last name? Smith"), a
# comma before it (a town after its street, a list of places), a "Where:" label, or a verb in
# the past tense after it, which makes it its sentence's subject ("Marcel shouted", "Anes spent").
_TITLE_BEFORE = regex.compile(r"(?i:\b(?:mr|mrs|ms|mx|miss|dr|prof|sir|madam|dear)\.?[ \t]+)$")
_NAME_QUESTION_BEFORE = regex.compile(r"(?i:\bname)[^.!?\n]{0,3}[?:][ \t]*$")
_WHERE_BEFORE = regex.compile(r"(?:(?<!\p{L})|(?<=\\n))(?i:where)[ \t]*[?:][ \t]*$")
_COMMA_BEFORE = regex.compile(r",[ \t]*$")
# Where English capitalises any word: the start of the text, a line, a list item ("- ", "1. ",
# "(c) "), a heading or a quote, a sentence, or what follows a label's colon.
_SENTENCE_START = regex.compile(
    r"(?:^|\n|\\n)[ \t]*(?:(?:[-*+•>]|\d{1,3}[.)]|\(\w{1,3}\)|#{1,6})[ \t]+)?(?:\*\*|__)?$|[.!?:][\"')\]*_`]*[ \t]+$"
)
_PAST_TENSE_AFTER = regex.compile(
    r"[ \t]+(?:[a-z]{2,}ed|said|spent|went|came|told|made|took|gave|got|left|felt|found|ran|saw|wrote|"
    r"met|sent|lost|won|bought|brought|thought|knew|grew|flew|drove|became|began|kept|held|stood|sat|"
    r"paid|heard|taught|sang|spoke|led|fell|ate|drank|swam|rode|chose|forgot|hid|shook|threw|woke)\b"
)


def without_dictionary_words(
    text: str, found: list[tuple[str, int, int, float]], cued: dict[int, str], lists: Gazetteers
) -> list[tuple[str, int, int, float]]:
    """A lone name or place (one word, no cue before it) that a dictionary lists as an ordinary
    word is that word: in an agent's instructions "Skip routine process", "Bias towards action",
    "Helper functions", "`gpt-5.5`: Legacy coding model", "use Mermaid when you can" name no
    one, however many towns or nicknames are spelt so. Still a name or a place: a popular
    given name (``Laura``, ``Amber``), a well-known place (``China``, ``Mobile``), a word in
    capitals (a town on an address line), and a word with a title, a question for a name, a
    comma or a "Where:" before it, or a past-tense verb after it."""
    kept = []
    for item in found:
        entity, begin, end, _ = item
        word = text[begin:end]
        lowered = word.lower()
        if (
            entity in _LONE_WORD_ENTITIES and begin not in cued and " " not in word and "\t" not in word
            and lowered in lists.dictionary_words and not word.isupper()
            and not _still_named(text, entity, begin, end, lowered, lists)
        ):
            continue
        kept.append(item)
    return kept


def _still_named(text: str, entity: str, begin: int, end: int, lowered: str, lists: Gazetteers) -> bool:
    before = max(0, begin - 24)
    if entity == "PERSON":
        # Inside a sentence, a capital is evidence of a name ("says Brown", "call me Alma").
        if not _SENTENCE_START.search(text, before, begin):
            return True
        if text[begin:end] in lists.popular_first_names or _TITLE_BEFORE.search(text, before, begin):
            return True
        if _NAME_QUESTION_BEFORE.search(text, before, begin) or _PAST_TENSE_AFTER.match(text, end):
            return True
    elif lowered in lists.major_places or follows_place_cue(text, begin) or _WHERE_BEFORE.search(text, before, begin):
        return True
    return _COMMA_BEFORE.search(text, before, begin) is not None


# A label that opens a line or a list item and ends in a colon: "Mobile: 730 064 218",
# "- **Mobile:** Flutter", "Tool:". The value follows it; the label is no place. (A first name
# there is a speaker, "Emily: Who are you?", and stays a person.)
_LABEL_BEFORE = regex.compile(r"(?:^|\n)[ \t]*(?:[-*+][ \t]+)?(?:\*\*|__)?$")
_LABEL_AFTER = regex.compile(r"(?:\*\*|__)?:|:(?:\*\*|__)")


def _is_field_label(text: str, start: int, end: int) -> bool:
    return _LABEL_AFTER.match(text, end) is not None and _LABEL_BEFORE.search(text, max(0, start - 8), start) is not None


def _written_lowercase(text: str, lower: str, start: int, stop: int) -> bool:
    """Whether ``lower`` occurs in ``text[start:stop]`` as a word of its own."""
    position = text.find(lower, start, stop)
    for _ in range(_MAX_OCCURRENCES):
        if position < 0:
            return False
        end = position + len(lower)
        before = text[position - 1] if position else " "
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            return True
        position = text.find(lower, end, stop)
    return False


# A determiner or a pronoun: after a sentence-initial "-ing" word it is the gerund's object
# ("Reading a directory", "Using the API", "Running these tests"); a town's name is followed
# by a verb or a preposition ("Reading is...", "Reading in 1990").
_GERUND_OBJECT_AFTER = regex.compile(
    r"[ \t]+(?:a|an|the|this|that|these|those|its|their|your|my|our|his|her|all|each|every|any|some|"
    r"no|multiple|several|many|one|two|it|them|you|files?)\b"
)
# A number after the word, maybe after a colon: a limit or a count ("Max 100 matches.",
# "Max: 5", "Min 3 characters"), not a person.
_NUMBER_AFTER = regex.compile(r":?[ \t]+[0-9]")


def without_instruction_words(
    text: str, found: list[tuple[str, int, int, float]], cued: dict[int, str], lists: Gazetteers
) -> list[tuple[str, int, int, float]]:
    """Agents' instructions and tool descriptions open sentences with verbs and limits: in
    "- Reading a directory returns an error." a gerund takes an object, in "Max 100 matches."
    a word is the label of a number. Neither is a place or a person, however many towns or
    people are called Reading or Max. A lone word (one word, no cue before it) at the start of
    a sentence, a line or a list item is dropped when it is an "-ing" form followed by a
    determiner or a pronoun, or when a number follows it. A person's name with a number after
    it mid-sentence ("paid Max 100 dollars") or with a cue ("Hi Max 5") stays a person, and a
    well-known place stays a place before its postal code ("Austria 73269" on an address's
    last line)."""
    kept = []
    for item in found:
        entity, begin, end, _ = item
        word = text[begin:end]
        if (
            entity in _LONE_WORD_ENTITIES and begin not in cued and word.isalpha()
            and _SENTENCE_START.search(text, max(0, begin - 24), begin)
            and (
                _is_gerund_with_object(text, word, end)
                or (_NUMBER_AFTER.match(text, end) and word.lower() not in lists.major_places)
            )
        ):
            continue
        kept.append(item)
    return kept


def _is_gerund_with_object(text: str, word: str, end: int) -> bool:
    return len(word) > 4 and word.endswith("ing") and _GERUND_OBJECT_AFTER.match(text, end) is not None
