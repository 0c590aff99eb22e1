"""Names, places, organisations, addresses, dates, ages, titles and web sites in prose, no model.

A spaCy NER model finds these from the shape of the sentence. Without one, this recogniser
finds what can be known from the words themselves (``detectors.pii.gazetteers``), from what
introduces them, and from the fixed shapes of addresses, company names, dates, ages, titles
and web sites (``detectors.pii.shapes``, ``detectors.pii.addresses``):

* a run of capitalised words that starts with a known first name (``Jennifer Eiffel``,
  ``Helena C. Carlsen``), or is a first name alone that is not also an English word;
* a run that is a known place (``Czech Republic``, ``Teixeira de Freitas``, ``NICOSIA``);
* a nationality or religion (``Norwegian``);
* a run after a greeting or self-introduction (``Hi Doku,``, ``I'm Mashuu Samurakami``): a
  person; after a verb of living or moving (``grew up in Vyskytná nad Jihlavou``): a place;
* the shapes: ``Hyatt Hotels Corporation``, ``254 Damvergi Street``, ``ZIP: 32700``,
  ``born on 4/18/1960``, ``a 63 year old``, ``Mr.`` before a name, ``https://www.LargeFood.be/``.

Lines that look like source code are skipped: there, capitalised words are type names, and a
name worth finding sits in a string after a key (``detectors.pii.names``).

What it cannot know: a name that is not in the lists and has no cue, a town too small for
GeoNames and not introduced as one, an organisation without a company form, a job title.
Those need a model (``PiiConfig.spacy_model``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate, compress

import regex
import tldextract
from detectors.pii.light_imports import RecognizerResult

from detectors.pii.agent_words import AGENT_WORDS, names_a_product
from detectors.pii.addresses import codes_after_places, whole_addresses
from detectors.pii.code_context import looks_like_code
from detectors.pii.gazetteers import Gazetteers, load_gazetteers
from detectors.pii.lone_words import (
    follows_place_cue,
    without_dictionary_words,
    without_instruction_words,
    without_ordinary_words,
)
from detectors.pii.prefilter import AnchorScanner, Hit
from detectors.pii.shapes import RESERVED_HOSTS, SHAPES, WORD_AFTER_TITLE

ENTITIES = (
    "PERSON", "LOCATION", "NRP", "ORGANIZATION", "STREET_ADDRESS", "DATE_TIME", "AGE", "ZIP_CODE", "TITLE", "DOMAIN_NAME",
)

# A full name or a known place is good evidence; a single first name or a year less so.
SCORE_FULL_NAME = 0.6
SCORE_SINGLE_NAME = 0.45
SCORE_PLACE = 0.55
SCORE_NRP = 0.5

# Longest place name looked up, in words (``Bosnia and Herzegovina``).
MAX_PLACE_WORDS = 4
# A name is at most this many words after the first name (``Maria de los Angeles Ruiz``).
MAX_NAME_WORDS = 4

# A word starting with a capital, or an initial (``C.``). The text may hold literal ``\n``
# escapes (a JSON or code string pasted as is); they separate words too.
# Words that join the parts of a name or a place (``Teixeira de Freitas``, ``Isle of Man``).
_PARTICLE_WORDS = "de|da|do|dos|das|di|del|della|der|den|van|von|ten|ter|zu|af|la|le|du|y|bin|ibn|al|el|nad|pod|pri|upon|sur|am"
_PARTICLES = frozenset(_PARTICLE_WORDS.split("|"))
_CAPITALISED = r"(?:\p{Lu}[\p{L}\p{M}'’\-]*[\p{L}\p{M}]|\p{Lu}\.|\p{Lu}(?![\p{L}\p{N}]))"
# A run of capitalised words joined by single spaces and particles (``Teixeira de Freitas``).
_RUN = regex.compile(
    r"(?:(?<![\p{L}\p{M}\p{N}_'’])|(?<=\\[nt]))" + _CAPITALISED
    + r"(?:[ \t]{1,2}(?:(?:" + _PARTICLE_WORDS + r")[ \t]{1,2})?" + _CAPITALISED + r")*"
)
_RUN_SPLITTER = regex.compile("(" + _RUN.pattern + ")")
_RUN_PART = regex.compile(_CAPITALISED + r"|(?:" + _PARTICLE_WORDS + r")(?=[ \t])")



# A greeting or a self-introduction before a capital ("Hi Doku,", "I'm Mashuu"); its anchor
# comes after the shapes' anchors.
_ANCHOR_NAME_CUE = r"\b(?i:hi|hello|hey|i'm|i’m|i am)[ \t]+[A-Z\xc3-\xc9]"
_NAME_CUE_HIT = len(SHAPES)
# A verb of living or moving and its preposition before a capital: a place follows
# ("lives in Neupré", "moved here from Tiszabög", "flew to Bärau").
_ANCHOR_PLACE_CUE = (
    r"\b(?i:(?:lives?|lived|living|grew[ \t]up|born|based|located|moved(?:[ \t]here)?|flew|travell?ed|returned|"
    r"relocated|originally|came|comes|went)[ \t]+(?:in|from|to|at))[ \t]+[A-Z\xc3-\xc9]"
)
_PLACE_CUE_HIT = len(SHAPES) + 1


_SCHEME_AND_WWW = regex.compile(r"(?i)^(?:https?://)?(?:www\.)?")


@dataclass(frozen=True)
class _Word:
    start: int
    end: int
    text: str


class ProseRecognizer:
    """Person, place, organisation, address, date, age, title and web-site findings from prose lines."""

    ENTITIES = ENTITIES
    # Hyperscan anchors of the shapes, in order; a caller that scans the text for anchors
    # anyway (``PiiDetector``) adds these to its scan and hands over their hits.
    ANCHORS = tuple(shape.anchor for shape in SHAPES) + (_ANCHOR_NAME_CUE, _ANCHOR_PLACE_CUE)

    def __init__(self, gazetteers: Gazetteers | None = None) -> None:
        self._given = gazetteers

    @cached_property
    def _lists(self) -> Gazetteers:
        # Loading the bundled lists costs about a second: on first use, not at every start.
        return self._given or load_gazetteers()

    @cached_property
    def _anchors(self) -> AnchorScanner:
        return AnchorScanner(self.ANCHORS, caseless=[False] * len(self.ANCHORS), starts=[False] * len(self.ANCHORS))

    def analyze(
        self, text: str, entities: tuple[str, ...] = ENTITIES, anchor_hits: list[Hit] | None = None
    ) -> list[RecognizerResult]:
        """``anchor_hits``: the hits of ``ANCHORS`` in ``text`` (numbered as in ``ANCHORS``),
        if the caller has scanned for them; they need only their ends."""
        wanted = set(entities)
        hits = self._anchors.hits(text) if anchor_hits is None else anchor_hits
        # A capital right after a greeting or "I'm" (the anchor's last character) opens a
        # run that is read as a name even when no list knows its words; after "lives in",
        # "moved to" and the like, as a place.
        cues = {_NAME_CUE_HIT: "name", _PLACE_CUE_HIT: "place"}
        cued = {hit.end - 1: cues[hit.anchor] for hit in hits if hit.anchor in cues}
        found = _outside_code_lines(text, self._shapes(text, hits) + self._word_runs(text, cued))
        found = without_ordinary_words(text, found, cued)
        found = without_dictionary_words(text, found, cued, self._lists)
        found = without_instruction_words(text, found, cued, self._lists)
        results = [RecognizerResult(entity, begin, end, score) for entity, begin, end, score in found]
        results += codes_after_places(text, results)
        if "STREET_ADDRESS" in wanted:
            results = whole_addresses(text, results)
        return [result for result in results if result.entity_type in wanted]

    def _shapes(self, text: str, hits: list[Hit]) -> list[tuple[str, int, int, float]]:
        """Each shape's pattern runs only on the lines where hyperscan found its anchor."""
        lines: set[tuple[int, int]] = set()
        for hit in hits:
            # No anchor crosses a line end, so its last character is on the hit's line.
            if hit.anchor < len(SHAPES):
                lines.add((hit.anchor, text.rfind("\n", 0, hit.end - 1) + 1))
        found: list[tuple[str, int, int, float]] = []
        for index, start in sorted(lines):
            shape = SHAPES[index]
            end = text.find("\n", start)
            end = len(text) if end < 0 else end + 1
            found += [
                (shape.entity, match.start(), match.end(), shape.score)
                for match in shape.pattern.finditer(text, start, end)
                if self._shape_holds(shape.entity, text, match.start(), match.end())
            ]
        return found

    def _shape_holds(self, entity: str, text: str, start: int, end: int) -> bool:
        """The one check a shape's pattern cannot make by itself."""
        if entity == "TITLE":
            # "Dr. Zoe", not "Dr. Everything": the word after the title is no English word.
            following = WORD_AFTER_TITLE.match(text, end)
            return following is not None and not self._common(following.group(1))
        if entity == "DOMAIN_NAME":
            host = _SCHEME_AND_WWW.sub("", text[start:end]).rstrip("/")
            return not RESERVED_HOSTS.search(host) and self._suffixes(host).fqdn != ""
        return True

    @cached_property
    def _suffixes(self) -> tldextract.TLDExtract:
        # The public suffix list bundled with tldextract; never fetched.
        return tldextract.TLDExtract(suffix_list_urls=())

    def _word_runs(self, text: str, cued: dict[int, str] | None = None) -> list[tuple[str, int, int, float]]:
        # Most runs are one word that is nothing (``The``, ``If``, a type name), and code
        # repeats its words: each distinct run is judged once, and only the runs that may hold
        # something are classified. (Splitting gives every run and, from the lengths of the
        # pieces, its offset, with no match object per run.)
        pieces = _RUN_SPLITTER.split(text)
        runs = pieces[1::2]
        worth = {run for run in set(runs) if " " in run or "\t" in run or self._may_stand_alone(_bare(_unpossessed(run)))}
        cued = cued or {}
        if not worth and not cued:
            return []
        offsets = list(accumulate(map(len, pieces), initial=0))[1::2]
        # A run reads the same wherever it stands, but for a cue just before it.
        readings: dict[tuple[str, bool, str | None], list[tuple[str, int, int, float]]] = {}
        found: list[tuple[str, int, int, float]] = []
        places = compress(zip(offsets, runs), map(worth.__contains__, runs))
        if cued:
            places = sorted(set(places) | {(start, run) for start, run in zip(offsets, runs) if start in cued})
        for start, run in places:
            key = (run, follows_place_cue(text, start), cued.get(start))
            if key not in readings:
                readings[key] = self._classify(run, key[1], key[2])
            found += [
                (entity, start + begin, start + end, score)
                for entity, begin, end, score in readings[key]
                if not _part_of_identifier(text, start + begin, start + end)
            ]
        return found

    def _classify(self, run: str, after_place_cue: bool, cue: str | None = None) -> list[tuple[str, int, int, float]]:
        """Walk one run of capitalised words left to right, taking the longest reading at each;
        offsets are into the run. ``after_place_cue``: a word such as "in" stands before it;
        ``cue``: "name" after a greeting or "I'm", "place" after "lives in" and the like."""
        after_name_cue = cue == "name"
        lists = self._lists
        words = [_Word(part.start(), part.end(), part.group()) for part in _RUN_PART.finditer(run)]
        # "Hunt's killers", "Dirk's kid": the name is the word without its possessive.
        last = words[-1]
        if _unpossessed(last.text) != last.text:
            words[-1] = _Word(last.start, last.start + len(_unpossessed(last.text)), _unpossessed(last.text))
        # A capitalised greeting is a word of the run itself: "Hi Doku", "I'm Mashuu Samurakami".
        if len(words) > 1 and words[0].text.lower() in _NAME_CUE_WORDS:
            words = words[1:]
            after_name_cue = True
        found: list[tuple[str, int, int, float]] = []
        index = 0
        if cue == "place":
            # "born in Paris" (also a name), "grew up in Vyskytná nad Jihlavou" (in no list).
            count = self._place_length(run, words, 0, min_words=1) or self._cued_place_length(words)
            if count:
                found.append(("LOCATION", words[0].start, words[count - 1].end, SCORE_PLACE))
                index = count
        if after_name_cue:
            # "Hi Doku,", "I'm Mashuu Samurakami": who follows is a person, known or not.
            count = self._cued_name_length(words)
            if count:
                score = SCORE_FULL_NAME if count > 1 else SCORE_SINGLE_NAME
                found.append(("PERSON", words[0].start, words[count - 1].end, score))
                index = count
        while index < len(words):
            word = words[index]
            place = self._place_length(run, words, index, min_words=2)
            if place:
                found.append(("LOCATION", word.start, words[index + place - 1].end, SCORE_PLACE))
                index += place
                continue
            name = self._name_length(words, index)
            if name > 1:
                found.append(("PERSON", word.start, words[index + name - 1].end, SCORE_FULL_NAME))
                index += name
                continue
            bare = _bare(word.text)
            common = self._common(bare)
            place_cue = after_place_cue if index == 0 else follows_place_cue(run, word.start)
            if bare in lists.nationalities:
                found.append(("NRP", word.start, word.end, SCORE_NRP))
            elif not common and bare in lists.first_names and not (place_cue and bare.lower() in lists.places):
                # After "in" or "to", a word that is a first name and a place is the place.
                found.append(("PERSON", word.start, word.end, SCORE_SINGLE_NAME))
            elif not common and bare not in lists.surnames and self._place_length(run, words, index, min_words=1):
                found.append(("LOCATION", word.start, word.end, SCORE_PLACE))
            index += 1
        return [f for f in found if not (f[0] == "PERSON" and _names_an_assistant(run[f[1] : f[2]]))]

    def _cued_place_length(self, words: list[_Word]) -> int:
        """How many words after a place cue form the place: capitalised words that are not
        English words, acronyms, people's first names or type names written in CamelCase."""
        count = 0
        while count < min(len(words), MAX_PLACE_WORDS):
            text = words[count].text
            bare = _bare(text)
            camel = not bare.isupper() and not bare[1:].islower() and "-" not in bare and "'" not in bare
            if self._common(bare) or bare in self._lists.first_names or camel:
                break
            count += 1
        while count and words[count - 1].text.lower() in _PARTICLES:
            count -= 1
        return count

    def _cued_name_length(self, words: list[_Word]) -> int:
        """How many words after a name cue form the name: capitalised words that are not
        English words, initials inside. (A greeting is to a person, even one named like a
        town somewhere.)"""
        count = 0
        while count < min(len(words), MAX_NAME_WORDS):
            bare = _bare(words[count].text)
            if not _is_initial(words[count].text) and (self._common(bare) or bare in self._lists.nationalities):
                break
            count += 1
        while count and _is_initial(words[count - 1].text):
            count -= 1
        return count

    def _common(self, bare: str) -> bool:
        """An English word, or an acronym: short words in capitals or mixed case (``URI``,
        ``NaN``) are not towns or names; nor are the names of an agent's tools and models."""
        lowered = bare.lower()
        return lowered in self._lists.common_words or lowered in AGENT_WORDS or (len(bare) <= 4 and not bare[1:].islower())

    def _may_stand_alone(self, bare: str) -> bool:
        """Whether a capitalised word with no other beside it can be a finding by itself."""
        lists = self._lists
        if bare in lists.nationalities:
            return True
        return (bare in lists.first_names or bare.lower() in lists.places) and not self._common(bare)

    def _place_length(self, text: str, run: list[_Word], index: int, min_words: int) -> int:
        """Words from ``index`` that name a known place, longest first; 0 if none."""
        if run[index].text.lower() in _PARTICLES:
            return 0
        for count in range(min(MAX_PLACE_WORDS, len(run) - index), min_words - 1, -1):
            last = run[index + count - 1]
            if last.text.lower() in _PARTICLES:
                continue
            phrase = text[run[index].start : last.end]
            if " ".join(phrase.split()).lower() in self._lists.places:
                return count
        return 0

    def _name_length(self, run: list[_Word], index: int) -> int:
        """How many words from ``index`` form a person's name: a first name (or a capitalised
        word before an initial) and the capitalised words after it."""
        lists = self._lists
        first = _bare(run[index].text)
        followed_by_initial = index + 1 < len(run) and _is_initial(run[index + 1].text)
        known = first in lists.first_names and first.lower() not in lists.common_words
        if not (known or (followed_by_initial and not _is_initial(first) and first.lower() not in lists.common_words)):
            return 0
        count = 1
        while index + count < len(run) and count <= MAX_NAME_WORDS:
            word = _bare(run[index + count].text)
            # An initial (``A``, ``A.``) stays inside a name although "a" is an English word.
            ordinary = word.lower() in lists.common_words and word.lower() not in _PARTICLES and not _is_initial(run[index + count].text)
            if word in lists.nationalities or ordinary or word in _UNIT_WORDS:
                break
            count += 1
        # Particles belong inside a name, never at its end.
        while count > 1 and run[index + count - 1].text.lower() in _PARTICLES:
            count -= 1
        if count > 1 and _is_initial(run[index + count - 1].text):
            count -= 1
        return count


# The words that open the unit of an address end a name before them ("Zoe Fyodorova Suite 210").
_UNIT_WORDS = frozenset(("Suite", "Apt", "Apartment", "Unit", "Box", "Flat", "Ste", "PO", "P.O"))

def _names_an_assistant(name: str) -> bool:
    """Prompts greet and name the assistants they go to ("Hi Claude", "ask Copilot") and the
    models they run on ("Claude Opus"): product names, not people, however many people are
    called Claude. "Claude Monet" still is one."""
    return names_a_product(name.split())


# A capitalised greeting or self-introduction is the first word of the run it introduces.
_NAME_CUE_WORDS = frozenset(("hi", "hello", "hey", "i'm", "i’m"))


# Around a word, what makes it part of an identifier, a type, a path or a code span rather than
# a word of prose: ``Union[int, str]``, ``Optional(...)``, ``CLAUDE.md``, ``America/New_York``,
# ``os.Path``, `` `Edit` ``.
# (Not a backslash: pasted JSON and code strings hold literal ``\n`` escapes between words.)
_IDENTIFIER_BEFORE = frozenset("./`$@#<")
_IDENTIFIER_AFTER = frozenset("[(`/<_")


def _part_of_identifier(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    if before in _IDENTIFIER_BEFORE or after in _IDENTIFIER_AFTER:
        return True
    # A dot followed by a letter or digit: a file name or an attribute, not a sentence's end.
    return after == "." and end + 1 < len(text) and text[end + 1].isalnum()


def _unpossessed(word: str) -> str:
    return word[:-2] if word.endswith(("'s", "’s")) and len(word) > 3 else word


# A line naming typefaces ("DM Sans, DM Serif Text, Germania One, Montagu Slab, Radley"): its
# capitalised words are fonts, whatever towns and people share their names.
_TYPEFACE_WORDS = regex.compile(r"\b(?:Sans|Serif|Mono|Slab|Condensed|Display|Gothic|Grotesk|Myeongjo)\b")


def _outside_code_lines(
    text: str, found: list[tuple[str, int, int, float]]
) -> list[tuple[str, int, int, float]]:
    """Drop what was found on lines that look like code or list typefaces; only lines with a
    finding are judged."""
    verdicts: dict[int, bool] = {}
    kept = []
    for item in found:
        start = text.rfind("\n", 0, item[1]) + 1
        if start not in verdicts:
            end = text.find("\n", item[1])
            line = text[start : end if end >= 0 else len(text)]
            verdicts[start] = looks_like_code(line) or len(_TYPEFACE_WORDS.findall(line)) >= 3
        if not verdicts[start]:
            kept.append(item)
    return kept


def _bare(word: str) -> str:
    return word.rstrip(".")


def _is_initial(word: str) -> bool:
    return len(word) == 2 and word.endswith(".") or len(word) == 1
