"""Street addresses in prose: the shapes of a street line, and one finding per whole address.

A street line is recognised by its shape in the address conventions of many countries: a house
number and a street type (``254 Damvergi Street``, ``46 rue Nationale``, ``Linzer Strasse 69``,
``Hauptstraße 5``), a post box, flat or suite (``P.O. Box 63``, ``Apt. 559``), US military mail
(``PSC 3810, Box 5070``, ``FPO AE 67601``). A post code is found after its label (``ZIP:``)
or right after a town or country. ``whole_addresses`` then joins a street line with the unit,
town, region and post code after it, so that an address is redacted, counted and audited once.
"""

from __future__ import annotations

import regex
from detectors.pii.light_imports import RecognizerResult

from detectors.pii.prefilter import literal_alternatives

SCORE_ADDRESS = 0.65
SCORE_ZIP = 0.5

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
STREET = regex.compile(
    r"(?<![\p{L}\p{N}])(?:"
    # 254 Damvergi Street, 3240 Meadow Drive East
    + _HOUSE + r"[ \t]+(?:" + _NAME_WORD + r"[ \t]+){1,3}(?:" + _STREET_WORDS + r")(?:[ \t]+(?:North|South|East|West|[NSEW]))?"
    # Via Leopardi 83, Rua Arapiraca 1943
    + r"|(?:" + _STREET_PREFIXES + r")[ \t]+(?:(?:" + _NAME_WORD + r"|d[aeio]|del|della|des|du|de la)[ \t]+){0,3}" + _NAME_WORD + r"[ \t]+" + _HOUSE
    # 46 rue Nationale, 138 Rue de Libya, 82 rue du Faubourg National
    + r"|" + _HOUSE + r",?[ \t]+(?:" + _STREET_PREFIXES + "|" + _STREET_PREFIXES_LOWER + r")"
    + r"(?:[ \t]+(?:" + _NAME_PARTICLE + r"[ \t]+)*\p{Lu}[\p{L}\p{M}'’\-]*){1,4}"
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

ZIP = regex.compile(
    r"(?i:\b(?:zip|zip[ \t]?code|postal[ \t]code|post[ \t]?code|plz|cep)\b[ \t]*(?:is|:|=)?[ \t]*)"
    r"\K(?:\d{5}(?:-\d{4})?|\d{4}|\d{3}-\d{3}|\d{5}-\d{3}|[A-Z]{1,2}\d[A-Z\d]?[ \t]\d[A-Z]{2})(?![\p{L}\p{N}])"
)

# Hyperscan anchors (``detectors.pii.prefilter``): a part that every match contains.
ANCHOR_STREET = (
    # A house number before a capitalised word starts the English, number-name-number and
    # French shapes (or the lead byte of a Latin, Greek or Cyrillic letter outside ASCII).
    r"[0-9],?[ \t]+(?:[A-Z\xc3-\xd4]|" + literal_alternatives(_STREET_PREFIXES_LOWER) + r")"
    r"|(?:" + literal_alternatives(_STREET_PREFIXES) + r"|Box|Apt|Apartment|Suite|Ste|Unit|Flat|APO|FPO|DPO|PSC|USS|USNS|USNV|USCGC)\b"
    r"|(?:" + literal_alternatives(_STREET_SUFFIXES) + r")[ \t]+[0-9]"
    r"|[ \t](?:" + literal_alternatives(_STREET_TYPE_WORDS) + r")[ \t]+[0-9]"
)
ANCHOR_ZIP = r"(?i)\b(?:zip|postal|post ?code|plz|cep)\b"


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


def codes_after_places(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
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


def whole_addresses(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
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
