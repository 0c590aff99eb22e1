"""Names, places, organisations, addresses, dates and ages in running prose, without a model.

A spaCy NER model finds these from the shape of the sentence. Without one, this recogniser
finds what can be known from the words themselves (``detectors.pii.gazetteers``) and from the
fixed shapes of addresses, company names, dates and ages:

* a run of capitalised words that starts with a known first name (``Jennifer Eiffel``,
  ``Helena C. Carlsen``), or is a first name alone that is not also an English word;
* a run that is a known place (``Czech Republic``, ``Teixeira de Freitas``, ``NICOSIA``);
* a nationality or religion (``Norwegian``);
* capitalised words ending in a company form (``Hyatt Hotels Corporation``, ``ITC Ltd``);
* a house number with a street word (``254 Damvergi Street``, ``Via Leopardi 83``), a post box
  or flat (``P.O. Box 63``, ``Apt. 559``), a post code after its label (``ZIP: 32700``);
* a date after a word that introduces one (``born on 4/18/1960``, ``in 1991``) or a weekday;
* an age (``a 63 year old``, ``turned 29``).

Lines that look like source code are skipped: there, capitalised words are type names, and a
name worth finding sits in a string after a key (``detectors.pii.names``).

What it cannot know: a name that is not in the lists and has no cue, a town too small for
GeoNames, an organisation without a company form. Those need a model (``PiiConfig.spacy_model``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate, compress

import regex
import tldextract
from presidio_analyzer import RecognizerResult

from detectors.pii.gazetteers import Gazetteers, load_gazetteers
from detectors.pii.prefilter import AnchorScanner, Hit

ENTITIES = (
    "PERSON", "LOCATION", "NRP", "ORGANIZATION", "STREET_ADDRESS", "DATE_TIME", "AGE", "ZIP_CODE", "TITLE", "DOMAIN_NAME",
)

# A full name or a known place is good evidence; a single first name or a year less so.
SCORE_FULL_NAME = 0.6
SCORE_SINGLE_NAME = 0.45
SCORE_PLACE = 0.55
SCORE_NRP = 0.5
SCORE_ORGANIZATION = 0.6
SCORE_ADDRESS = 0.65
SCORE_DATE = 0.45
SCORE_AGE = 0.5
SCORE_ZIP = 0.5
SCORE_TITLE = 0.5
SCORE_DOMAIN = 0.5

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

# Source code: statement ends, assignments, calls, keywords at a line's start, comment markers.
# A line is code when it ends a statement or opens/closes a block, holds an operator prose does
# not use, calls something, assigns, or starts with a keyword or a comment marker.
_CODE_ENDINGS = (";", "{", "}", "[", "(", ",\\", ":\\")
_CODE_OPERATORS = re.compile(r"==|!=|<=|>=|=>|->|::|&&|\|\|")
_CODE_KEYWORDS = frozenset(
    "def class import from return if for while const let var function public private static package using "
    "#include elif else try except async await export".split()
)
_CODE_COMMENTS = ("#", "//", "/*", "* ", "--", "@")
_CALL = re.compile(r"\w\(|\)[ \t]*[:{]")
_ASSIGNMENT = re.compile(r"\w=\S|[\w\])][ \t]+=[ \t]")

_COMPANY_FORMS = (
    r"Ltd\.?|Limited|Inc\.?|Incorporated|PLC|Plc|LLC|L\.L\.C\.|LLP|Corp\.?|Corporation|Bancorporation|"
    r"Co\.|Company|GmbH|AG|S\.A\.|SA|S\.p\.A\.|SpA|N\.V\.|NV|B\.V\.|BV|AB|ASA|Oyj|A/S|K\.K\.|Pty|"
    r"Holdings|Group|Bancorp|Trust|Partners|Associates|Foundation|University|Institute|Bank|"
    r"LTD\.?|LIMITED|INC\.?|CORP\.?|CORPORATION|CO\.|COMPANY|HOLDINGS|GROUP|BANK"
)
_ORGANIZATION = regex.compile(
    r"(?<![\p{L}\p{N}])(?:(?:\p{Lu}[\p{L}\p{N}&'’.+/\-]*|&)[ \t]){1,6}?"
    r"(?:" + _COMPANY_FORMS + r")(?:[ \t.,]{0,2}(?:" + _COMPANY_FORMS + r"))*(?![\p{L}\p{N}])"
)

# Street types written after the name: the common English ones and the rest of the USPS
# list of street suffixes (Publication 28, appendix C1), long forms and usual abbreviations.
_STREET_WORDS = (
    r"Street|Streets|St\.|Avenue|Ave\.?|Road|Roads|Rd\.?|Drive|Drives|Dr\.|Lane|Ln\.?|Way|Ways|Boulevard|Blvd\.?|"
    r"Court|Courts|Ct\.?|Place|Pl\.|Square|Squares|Sq\.|Terrace|Crescent|Close|Row|Heights|Parkway|Parkways|"
    r"Pkwy\.?|Highway|Hwy\.?|Alley|Trail|Circle|Circles|Gardens|Garden|Grove|Groves|Hill|Hills|Mews|Park|Parks|"
    r"Walk|Walks|View|Views|Vale|Wharf|Green|Greens|Gate|Gateway|Loop|Pike|Plaza|Route|Run|Point|Points|Ridge|"
    r"Ridges|Tunnel|Turnpike|Crossing|Crossroad|Expressway|Freeway|Junction|Junctions|Passage|Path|Rise|"
    r"Esplanade|Quay|Embankment|Annex|Arcade|Bayou|Beach|Bend|Bluff|Bluffs|Bottom|Branch|Bridge|Brook|Brooks|"
    r"Burg|Burgs|Bypass|Camp|Canyon|Cape|Causeway|Center|Centers|Centre|Cliff|Cliffs|Common|Commons|Corner|"
    r"Corners|Course|Cove|Coves|Creek|Crest|Curve|Dale|Dam|Divide|Estate|Estates|Extension|Extensions|Fall|"
    r"Falls|Ferry|Field|Fields|Flat|Flats|Ford|Fords|Forest|Forge|Forges|Fork|Forks|Fort|Glen|Glens|Harbor|"
    r"Harbors|Haven|Hollow|Inlet|Island|Islands|Isle|Key|Keys|Knoll|Knolls|Lake|Lakes|Landing|Light|Lights|"
    r"Loaf|Lock|Locks|Lodge|Manor|Manors|Meadow|Meadows|Mill|Mills|Mission|Motorway|Mount|Mountain|"
    r"Mountains|Neck|Orchard|Oval|Overpass|Pass|Pine|Pines|Plain|Plains|Port|Ports|Prairie|Radial|Ramp|"
    r"Ranch|Rapid|Rapids|Rest|River|Shoal|Shoals|Shore|Shores|Skyway|Spring|Springs|Spur|Spurs|Station|"
    r"Stravenue|Stream|Summit|Throughway|Trace|Track|Trafficway|Underpass|Union|Unions|Valley|Valleys|"
    r"Viaduct|Village|Villages|Ville|Vista|Wall|Well|Wells"
)
# Street types written before the name (``Via Leopardi 83``, ``46 rue Nationale``).
_STREET_PREFIXES = (
    r"Via|Viale|Piazza|Corso|Vicolo|Strada|Rua|Avenida|Av\.|Calle|C/|Camino|Paseo|Carrer|Travessa|Largo|"
    r"Praça|Praca|Alameda|Estrada|Rodovia|Rue|Avenue|Boulevard|Chemin|Allée|Impasse|Place|Quai|Ulica|ul\.|"
    r"Ulitsa|Calea|Odos|Leoforos"
)
# The French, Spanish and Italian ones are written in lower case after a house number.
_STREET_PREFIXES_LOWER = r"rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse|quai|cours|route|rua|calle|via|viale|piazza|corso"
# Street names built with a suffix in many European languages (``Hauptstraße``, ``Nørregade``).
_STREET_SUFFIXES = (
    r"straße|strasse|str\.|gasse|weg|allee|platz|ring|damm|vej|gade|gatan|vägen|gränd|veien|vei|gata|katu|tie|"
    r"polku|kuja|laan|straat|gracht|plein|kade|utca|út|ská|ova|ovo|ná|ní|ová|ulica|iela|gatve|tee"
)
# The same types written as a word of their own after the name (``Linzer Strasse 69``,
# ``Síp utca 71.``, ``Søren Jaabæks vei 148``).
_STREET_TYPE_WORDS = (
    r"Strasse|Straße|Str\.|Gasse|Weg|Allee|Platz|Ring|Damm|utca|u\.|út|körút|tér|sor|köz|rakpart|sétány|"
    r"vei|veien|gate|gata|gatan|vej|gade|vägen|väg|katu|tie|laan|straat"
)
_HOUSE = r"\d{1,5}[A-Za-z]?(?:[-/]\d{1,5})?"
_NAME_WORD = r"\p{Lu}[\p{L}\p{M}'’.\-]*"
_NAME_PARTICLE = r"(?:de|da|do|dos|das|di|del|della|des|du|la|le|y|van|von|der|den|al|el|ibn)"
_STREET = regex.compile(
    r"(?<![\p{L}\p{N}])(?:"
    # 254 Damvergi Street, 3240 Meadow Drive East
    + _HOUSE + r"[ \t]+(?:" + _NAME_WORD + r"[ \t]+){1,3}(?:" + _STREET_WORDS + r")(?:[ \t]+(?:North|South|East|West|[NSEW]))?"
    # Via Leopardi 83, Rua Arapiraca 1943
    + r"|(?:" + _STREET_PREFIXES + r")[ \t]+(?:(?:" + _NAME_WORD + r"|d[aeio]|del|della|des|du|de la)[ \t]+){0,3}" + _NAME_WORD + r"[ \t]+" + _HOUSE
    # 46 rue Nationale, 138 Rue de Libya, 82 rue du Faubourg National
    + r"|" + _HOUSE + r",?[ \t]+(?:" + _STREET_PREFIXES + "|" + _STREET_PREFIXES_LOWER + r")"
    + r"(?:[ \t]+(?:" + _NAME_PARTICLE + r"[ \t]+)*" + _NAME_WORD + r"){1,4}"
    # Strojírenská 1006, Hauptstraße 5
    + r"|\p{Lu}[\p{L}\p{M}]*(?:" + _STREET_SUFFIXES + r")[ \t]+" + _HOUSE
    # Linzer Strasse 69, Rákóczi út 41
    + r"|(?:" + _NAME_WORD + r"[ \t]+){1,3}(?:" + _STREET_TYPE_WORDS + r")[ \t]+" + _HOUSE
    # 8906 Parmova 110: a house number, a name and a number
    + r"|\d{1,5}[ \t]+(?:" + _NAME_WORD + r"[ \t]+){1,2}\d{1,5}"
    # P.O. Box 63, Apt. 559, Suite 026, Unit 5964 Box 0235, DPO AP 18214
    + r"|(?:P\.?[ \t]?O\.?[ \t]?Box|PO[ \t]Box|Box|Apt\.?|Apartment|Suite|Ste\.|Unit|Flat)[ \t]+#?\d{1,6}[A-Za-z]?"
    + r"|(?:APO|FPO|DPO)[ \t]+A[AEP][ \t]+\d{5}"
    # US military mail: PSC 3810, Box 5070 / USS Lindqvist, FPO AE 67601
    + r"|PSC[ \t]+\d{3,5}"
    + r"|(?:USS|USNS|USNV|USCGC)[ \t]+(?:" + _NAME_PARTICLE + r"[ \t]+)*" + _NAME_WORD + r"(?:[ \t]+" + _NAME_WORD + r")?"
    + r")(?![\p{L}\p{N}])"
)
_ZIP = regex.compile(
    r"(?i:\b(?:zip|zip[ \t]?code|postal[ \t]code|post[ \t]?code|plz|cep)\b[ \t]*(?:is|:|=)?[ \t]*)"
    r"\K(?:\d{5}(?:-\d{4})?|\d{4}|\d{3}-\d{3}|\d{5}-\d{3}|[A-Z]{1,2}\d[A-Z\d]?[ \t]\d[A-Z]{2})(?![\p{L}\p{N}])"
)

_MONTHS = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
_DATE_VALUE = (
    r"\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"
    r"|\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
    r"|" + _MONTHS + r"\.?[ \t]\d{1,2}(?:st|nd|rd|th)?(?:,?[ \t]\d{4})?"
    r"|\d{1,2}(?:st|nd|rd|th)?[ \t](?:of[ \t])?" + _MONTHS + r"(?:,?[ \t]\d{4})?"
    r"|(?:1[89]|20)\d{2}"
)
_DATE = regex.compile(
    r"(?i:\b(?:born|birthday|birth|dob|d\.o\.b\.|date|dated|on|in|since|during|until|till|from|by|of|year|expires?|expiry)"
    r"\b[ \t]*(?:on|in|of|:)?[ \t]*)\K(?:" + _DATE_VALUE + r")(?![\p{L}\p{N}])"
    r"|(?<![\p{L}])(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)(?![\p{L}])"
)
_AGE = regex.compile(
    r"(?<![\p{L}\p{N}.])\d{1,3}(?=[ \t-]years?[ \t-]old\b|[ \t-]yo\b|[ \t-]y/o\b)"
    r"|(?i:\b(?:aged?|turned|turns|age[ \t]of|when[ \t](?:he|she|they|i)[ \t](?:was|were)|age:)[ \t]*)\K\d{1,3}(?![\p{N}.,]\d|[ \t]?%)"
)


# Anchors for hyperscan: each is a part that every match of its shape contains, tight enough
# that code rarely fires it (``return`` holds "turn", ``message`` holds "age", ``except`` holds
# "cep", and every number in code could be a year: the date anchor needs its cue word). A word
# boundary before a long alternation makes hyperscan several times slower; after it, it does not.
def _literal_alternatives(alternatives: str) -> str:
    """A shape's alternation for hyperscan: optional dots stay optional, literal dots too."""
    return alternatives.replace("\\.?", "").replace("\\.", "\\.?")


_DATE_CUES = r"born|birthday|birth|dob|d\.o\.b\.|date|dated|on|in|since|during|until|till|from|by|of|year|expires?|expiry"
_WEEKDAYS = r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_AGE_CUES = r"aged?|turned|turns|age[ \t]of|when[ \t](?:he|she|they|i)[ \t](?:was|were)|age:"
_ANCHOR_STREET = (
    # A house number before a capitalised word starts the English, number-name-number and
    # French shapes (a byte of 0x80 or more: a letter outside ASCII).
    r"[0-9],?[ \t]+(?:[A-Z\x80-\xff]|" + _literal_alternatives(_STREET_PREFIXES_LOWER) + r")"
    r"|(?:" + _literal_alternatives(_STREET_PREFIXES) + r"|Box|Apt|Apartment|Suite|Ste|Unit|Flat|APO|FPO|DPO|PSC|USS|USNS|USNV|USCGC)\b"
    r"|(?:" + _literal_alternatives(_STREET_SUFFIXES) + r")[ \t]+[0-9]"
    r"|[ \t](?:" + _literal_alternatives(_STREET_TYPE_WORDS) + r")[ \t]+[0-9]"
)
# (Not word-led: company forms may be written together, ``CompanyLimited``, ``HOLDINGSINC.``.)
_ANCHOR_ORGANIZATION = r"(?:" + _literal_alternatives(_COMPANY_FORMS) + r")(?:[^A-Za-z0-9]|$)"
_ANCHOR_ZIP = r"(?i)\b(?:zip|postal|post ?code|plz|cep)\b"
_ANCHOR_DATE = (
    r"(?i)\b(?:" + _DATE_CUES + r")\b[ \t]*(?:on|in|of|:)?[ \t]*(?:[0-9]|" + _MONTHS + ")"
    r"|(?:" + _WEEKDAYS + ")"
)
_ANCHOR_AGE = r"(?i)[0-9][ \t-](?:years?[ \t-]old|yo\b|y/o)|\b(?:" + _AGE_CUES + r")[ \t]*[0-9]"

# An honorific before a capitalised word (``Mr. Tokaryev``, ``Dr Zoe Fyodorova``): the title
# is reported, the name after it is a PERSON (``detectors.pii.names``).
_HONORIFICS = r"Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Rev"
_TITLE = regex.compile(r"(?<![\p{L}\p{N}.])(?:" + _HONORIFICS + r")\.?(?=[ \t]{1,2}\p{Lu}[\p{L}\p{M}])")
_WORD_AFTER_TITLE = regex.compile(r"\.?[ \t]{1,2}(\p{Lu}[\p{L}\p{M}'’\-]*)")
_ANCHOR_TITLE = r"(?:" + _HONORIFICS + r")\.?[ \t]{1,2}[A-Z\xc3-\xc9]"
# A web site written in prose: a scheme or ``www.`` and a host, nothing after it but a slash
# (``https://www.LargeFood.be/``). A link with a path is a document, not someone's site.
_WEB_SITE = regex.compile(
    r"(?<![\w@/.])(?:(?i:https?://)(?:(?i:www)\.)?|(?i:www)\.)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}/?(?![\w./:@-])"
)
_ANCHOR_WEB_SITE = r"(?i)(?:https?://|www\.)[a-z0-9]"
# Names reserved for examples and local use (RFC 2606, RFC 6761): nobody's site.
_RESERVED_HOSTS = regex.compile(r"(?i)(?:^|\.)(?:example\.(?:com|net|org)|localhost|[^.]+\.(?:test|example|invalid|local|localhost))$")

# Each shape: entity, score, its hyperscan anchor, the pattern.
_SHAPES = (
    ("STREET_ADDRESS", SCORE_ADDRESS, _ANCHOR_STREET, _STREET),
    ("ORGANIZATION", SCORE_ORGANIZATION, _ANCHOR_ORGANIZATION, _ORGANIZATION),
    ("ZIP_CODE", SCORE_ZIP, _ANCHOR_ZIP, _ZIP),
    ("DATE_TIME", SCORE_DATE, _ANCHOR_DATE, _DATE),
    ("AGE", SCORE_AGE, _ANCHOR_AGE, _AGE),
    ("TITLE", SCORE_TITLE, _ANCHOR_TITLE, _TITLE),
    ("DOMAIN_NAME", SCORE_DOMAIN, _ANCHOR_WEB_SITE, _WEB_SITE),
)
# A greeting or a self-introduction before a capital ("Hi Doku,", "I'm Mashuu"); its anchor
# comes after the shapes' anchors.
_ANCHOR_NAME_CUE = r"\b(?i:hi|hello|hey|i'm|i’m|i am)[ \t]+[A-Z\xc3-\xc9]"
_NAME_CUE_HIT = len(_SHAPES)
# A verb of living or moving and its preposition before a capital: a place follows
# ("lives in Neupré", "moved here from Tiszabög", "flew to Bärau").
_ANCHOR_PLACE_CUE = (
    r"\b(?i:(?:lives?|lived|living|grew[ \t]up|born|based|located|moved(?:[ \t]here)?|flew|travell?ed|returned|"
    r"relocated|originally|came|comes|went)[ \t]+(?:in|from|to|at))[ \t]+[A-Z\xc3-\xc9]"
)
_PLACE_CUE_HIT = len(_SHAPES) + 1


@dataclass(frozen=True)
class _Word:
    start: int
    end: int
    text: str


class ProseRecognizer:
    """Person, place, organisation, address, date and age findings from prose lines."""

    ENTITIES = ENTITIES
    # Hyperscan anchors of the shapes, in order; a caller that scans the text for anchors
    # anyway (``PiiDetector``) adds these to its scan and hands over their hits.
    ANCHORS = tuple(anchor for _entity, _score, anchor, _pattern in _SHAPES) + (_ANCHOR_NAME_CUE, _ANCHOR_PLACE_CUE)

    def __init__(self, gazetteers: Gazetteers | None = None) -> None:
        self._lists = gazetteers or load_gazetteers()

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
        results = [RecognizerResult(entity, begin, end, score) for entity, begin, end, score in found]
        results += _codes_after_places(text, results)
        if "STREET_ADDRESS" in wanted:
            results = _whole_addresses(text, results)
        return [result for result in results if result.entity_type in wanted]

    def _shapes(self, text: str, hits: list[Hit]) -> list[tuple[str, int, int, float]]:
        """Each shape's pattern runs only on the lines where hyperscan found its anchor."""
        lines: set[tuple[int, int]] = set()
        for hit in hits:
            # No anchor crosses a line end, so its last character is on the hit's line.
            if hit.anchor < len(_SHAPES):
                lines.add((hit.anchor, text.rfind("\n", 0, hit.end - 1) + 1))
        found: list[tuple[str, int, int, float]] = []
        for shape, start in sorted(lines):
            entity, score, _anchor, pattern = _SHAPES[shape]
            end = text.find("\n", start)
            end = len(text) if end < 0 else end + 1
            found += [
                (entity, match.start(), match.end(), score)
                for match in pattern.finditer(text, start, end)
                if self._shape_holds(entity, text, match.start(), match.end())
            ]
        return found

    def _shape_holds(self, entity: str, text: str, start: int, end: int) -> bool:
        """The one check a shape's pattern cannot make by itself."""
        if entity == "TITLE":
            # "Dr. Zoe", not "Dr. Everything": the word after the title is no English word.
            following = _WORD_AFTER_TITLE.match(text, end)
            return following is not None and not self._common(following.group(1))
        if entity == "DOMAIN_NAME":
            host = regex.sub(r"(?i)^(?:https?://)?(?:www\.)?", "", text[start:end]).rstrip("/")
            return not _RESERVED_HOSTS.search(host) and self._suffixes(host).fqdn != ""
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
            key = (run, _after_place_cue(text, start), cued.get(start))
            if key not in readings:
                readings[key] = self._classify(run, key[1], key[2])
            found += [(entity, start + begin, start + end, score) for entity, begin, end, score in readings[key]]
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
            place_cue = after_place_cue if index == 0 else _after_place_cue(run, word.start)
            if bare in lists.nationalities:
                found.append(("NRP", word.start, word.end, SCORE_NRP))
            elif not common and bare in lists.first_names and not (place_cue and bare.lower() in lists.places):
                # After "in" or "to", a word that is a first name and a place is the place.
                found.append(("PERSON", word.start, word.end, SCORE_SINGLE_NAME))
            elif not common and bare not in lists.surnames and self._place_length(run, words, index, min_words=1):
                found.append(("LOCATION", word.start, word.end, SCORE_PLACE))
            index += 1
        return found

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
        ``NaN``) are not towns or names."""
        return bare.lower() in self._lists.common_words or (len(bare) <= 4 and not bare[1:].islower())

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

_PLACE_CUE = regex.compile(r"(?i:\b(?:in|at|from|to|near|of|visit|visiting|via)[ \t]+)$")


def _after_place_cue(text: str, start: int) -> bool:
    return _PLACE_CUE.search(text, max(0, start - 12), start) is not None


# A greeting or a self-introduction right before a capitalised word: a person follows.
_NAME_CUE_WORDS = frozenset(("hi", "hello", "hey", "i'm", "i’m"))
_NAME_CUE = regex.compile(r"(?i:(?<![\p{L}'’])(?:hi|hello|hey|i'm|i’m|i[ \t]am)[ \t]+)$")


def _after_name_cue(text: str, start: int) -> bool:
    return _NAME_CUE.search(text, max(0, start - 10), start) is not None


def _unpossessed(word: str) -> str:
    return word[:-2] if word.endswith(("'s", "’s")) and len(word) > 3 else word


# What may stand between the parts of one address: spaces, line breaks (also as ``\n`` escapes),
# commas, a house number, a state code, a post code, up to three words of an unknown town.
_ADDRESS_GAP = regex.compile(
    r"[\s,]*(?:(?:\d{1,6}(?:-\d{3,4})?|[A-Z]{2}|\p{Lu}[\p{L}\p{M}'’.\-]*)[\s,]+){0,3}"
)
_ADDRESS_PARTS = {"STREET_ADDRESS", "LOCATION", "ZIP_CODE"}
# A house number before a street, a post code after the last part.
_NUMBER_BEFORE = regex.compile(r"(?<![\p{L}\p{N}])\d{1,6}[ \t]+$")
_CODE_AFTER = regex.compile(r"[\s,]*(?:[A-Z]{2}[ \t]+)?\d{4,6}(?:-\d{3,4})?(?![\p{L}\p{N}])")
# What may end an address after its last known part: a town no list knows, a region code
# and a post code, on one line or several (``Freeport, NY 56349``, ``ISSEKA\n, WA\n 65034``,
# ``Maarssen UT 3607 KP``). It must end in a post code: a capitalised line alone is prose.
_PART_BREAK = r"[ \t]*(?:,[ \t]*\n?|\n)[ \t]*,?[ \t]*"
_UNKNOWN_TOWN = r"\p{Lu}[\p{L}\p{M}'’.\-]*(?:[ \t]+(?:\p{Ll}{1,4}[ \t]+)?\p{Lu}[\p{L}\p{M}'’.\-]*){0,3}"
_POST_CODE = r"[A-Z]{1,2}\d[A-Z\d]?[ \t]\d[A-Z]{2}|\d{4}[ \t][A-Z]{2}(?![\p{L}\p{N}])|\d{4,6}(?:-\d{3,4})?|\d{2}-\d{3}"
_ADDRESS_TAIL = regex.compile(
    r"(?:" + _PART_BREAK + _UNKNOWN_TOWN + r")?(?:(?:" + _PART_BREAK + r"|[ \t]+)[A-Z]{2,3})?"
    r"(?:" + _PART_BREAK + r"|[ \t]+)(?:" + _POST_CODE + r")(?![\p{L}\p{N}])"
)


def _codes_after_places(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """A post code right after a town or country (``Denmark 03088``, ``Lascano RO 27300``)."""
    codes = []
    for result in results:
        if result.entity_type == "LOCATION":
            code = _CODE_AFTER.match(text, result.end)
            if code:
                digits = regex.search(r"\d", code.group())
                start = result.end + (digits.start() if digits else 0)
                codes.append(RecognizerResult("ZIP_CODE", start, code.end(), SCORE_ZIP))
    return codes


def _whole_addresses(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """One finding per address: a street and the unit, town, region and post code that follow
    it join into one STREET_ADDRESS, so the address is redacted, counted and audited once."""
    ordered = sorted(results, key=lambda r: (r.start, -r.end))
    merged: list[RecognizerResult] = []
    index = 0
    while index < len(ordered):
        result = ordered[index]
        index += 1
        if result.entity_type != "STREET_ADDRESS":
            merged.append(result)
            continue
        start, end = result.start, result.end
        number = _NUMBER_BEFORE.search(text, max(0, start - 12), start)
        if number:
            start = number.start()
        while index < len(ordered):
            following = ordered[index]
            if following.start < end:
                index += 1
                continue
            gap = _ADDRESS_GAP.match(text, end, following.start)
            if following.entity_type not in _ADDRESS_PARTS or gap is None or gap.end() != following.start:
                break
            end = max(end, following.end)
            index += 1
        tail = _ADDRESS_TAIL.match(text, end)
        if tail:
            end = tail.end()
        merged.append(RecognizerResult("STREET_ADDRESS", start, end, result.score))
    return merged


def _outside_code_lines(
    text: str, found: list[tuple[str, int, int, float]]
) -> list[tuple[str, int, int, float]]:
    """Drop what was found on lines that look like code; only lines with a finding are judged."""
    verdicts: dict[int, bool] = {}
    kept = []
    for item in found:
        start = text.rfind("\n", 0, item[1]) + 1
        if start not in verdicts:
            end = text.find("\n", item[1])
            verdicts[start] = _looks_like_code(text[start : end if end >= 0 else len(text)])
        if not verdicts[start]:
            kept.append(item)
    return kept


def _looks_like_code(line: str) -> bool:
    # Plain string tests first: they settle most lines for a fraction of a regex search.
    if line.rstrip().endswith(_CODE_ENDINGS) or _CODE_OPERATORS.search(line):
        return True
    stripped = line.lstrip()
    if stripped.startswith(_CODE_COMMENTS) or stripped.split(" ", 1)[0].rstrip(":") in _CODE_KEYWORDS:
        return True
    return ("(" in line and _CALL.search(line) is not None) or ("=" in line and _ASSIGNMENT.search(line) is not None)


def _bare(word: str) -> str:
    return word.rstrip(".")


def _is_initial(word: str) -> bool:
    return len(word) == 2 and word.endswith(".") or len(word) == 1
