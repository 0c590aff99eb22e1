"""The fixed shapes of personal data in prose, each a pattern and a hyperscan anchor.

Company names (capitalised words ending in a company form), street addresses and post codes
(``detectors.pii.addresses``), dates after a word that introduces one, ages, honorific titles
before a name, and web sites. Each shape's anchor is a part that every match of its pattern
contains (``detectors.pii.prefilter``), so a pattern runs only on the lines where its anchor is.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from detectors.pii.addresses import (
    ANCHOR_STREET,
    ANCHOR_ZIP,
    SCORE_ADDRESS,
    SCORE_ZIP,
    STREET,
    ZIP,
)
from detectors.pii.prefilter import literal_alternatives

SCORE_ORGANIZATION = 0.6
SCORE_DATE = 0.45
SCORE_AGE = 0.5
SCORE_TITLE = 0.5
SCORE_DOMAIN = 0.5


@dataclass(frozen=True)
class Shape:
    entity: str
    score: float
    anchor: str  # for hyperscan: every match of ``pattern`` contains a match of it
    pattern: regex.Pattern[str]


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

# Anchors: tight enough that code rarely fires them (``return`` holds "turn", ``message``
# holds "age", ``except`` holds "cep", and every number in code could be a year: the date
# anchor needs its cue word). A word boundary before a long alternation makes hyperscan several
# times slower; after it, it does not.
_DATE_CUES = r"born|birthday|birth|dob|d\.o\.b\.|date|dated|on|in|since|during|until|till|from|by|of|year|expires?|expiry"
_WEEKDAYS = r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_AGE_CUES = r"aged?|turned|turns|age[ \t]of|when[ \t](?:he|she|they|i)[ \t](?:was|were)|age:"
# The first company form always follows a space (after the name); it may be followed by
# another written together (``CompanyLimited``, ``HOLDINGSINC.``), never by a small letter.
_ANCHOR_ORGANIZATION = r"[ \t](?:" + literal_alternatives(_COMPANY_FORMS) + r")(?:[^a-z]|$)"
_ANCHOR_DATE = (
    r"(?i)\b(?:" + _DATE_CUES + r")\b[ \t]*(?:on|in|of|:)?[ \t]*(?:[0-9]|" + _MONTHS + ")"
    r"|(?:" + _WEEKDAYS + ")"
)
_ANCHOR_AGE = r"(?i)[0-9][ \t-](?:years?[ \t-]old|yo\b|y/o)|\b(?:" + _AGE_CUES + r")[ \t]*[0-9]"

# An honorific before a capitalised word (``Mr. Tokaryev``, ``Dr Zoe Fyodorova``): the title
# is reported, the name after it is a PERSON (``detectors.pii.names``).
_HONORIFICS = r"Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Rev"
_TITLE = regex.compile(r"(?<![\p{L}\p{N}.])(?:" + _HONORIFICS + r")\.?(?=[ \t]{1,2}\p{Lu}[\p{L}\p{M}])")
WORD_AFTER_TITLE = regex.compile(r"\.?[ \t]{1,2}(\p{Lu}[\p{L}\p{M}'’\-]*)")
_ANCHOR_TITLE = r"(?:" + _HONORIFICS + r")\.?[ \t]{1,2}[A-Z\xc3-\xc9]"
# A web site written in prose: a scheme or ``www.`` and a host, nothing after it but a slash
# (``https://www.LargeFood.be/``). A link with a path is a document, not someone's site.
_WEB_SITE = regex.compile(
    r"(?<![\w@/.])(?:(?i:https?://)(?:(?i:www)\.)?|(?i:www)\.)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}/?(?![\w./:@-])"
)
_ANCHOR_WEB_SITE = r"(?i)(?:https?://|www\.)[a-z0-9]"
# Names reserved for examples and local use (RFC 2606, RFC 6761): nobody's site.
RESERVED_HOSTS = regex.compile(r"(?i)(?:^|\.)(?:example\.(?:com|net|org)|localhost|[^.]+\.(?:test|example|invalid|local|localhost))$")

SHAPES = (
    Shape("STREET_ADDRESS", SCORE_ADDRESS, ANCHOR_STREET, STREET),
    Shape("ORGANIZATION", SCORE_ORGANIZATION, _ANCHOR_ORGANIZATION, _ORGANIZATION),
    Shape("ZIP_CODE", SCORE_ZIP, ANCHOR_ZIP, ZIP),
    Shape("DATE_TIME", SCORE_DATE, _ANCHOR_DATE, _DATE),
    Shape("AGE", SCORE_AGE, _ANCHOR_AGE, _AGE),
    Shape("TITLE", SCORE_TITLE, _ANCHOR_TITLE, _TITLE),
    Shape("DOMAIN_NAME", SCORE_DOMAIN, _ANCHOR_WEB_SITE, _WEB_SITE),
)
