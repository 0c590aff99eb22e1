"""Drop matches that are artefacts of source code rather than personal data.

Developers paste code all day; a detector that flags every hash fragment, version string and
timestamp is switched off within a week. Each rule names the shape of noise it removes.

Two kinds of rule. Shapes that are never personal data wherever they stand (a year range, a
ZIP+4 read as a phone number, an IP address after ``__version__ =``). And findings that only
prose can support: in a stretch of text that is mostly code, capitalised words are type names,
identifiers and the names of Unicode characters, dates are release and deprecation dates,
host names are documentation links, and a place or a nationality is a locale table. There,
only what code itself says is personal is kept: structured identifiers (e-mail, phone, card,
IBAN, national numbers), a name under a key that says it holds one, names in a table's name
column, street addresses.
"""

from __future__ import annotations

import re

from detectors.pii.light_imports import RecognizerResult

from detectors.pii.code_context import CodeContext
from detectors.pii.gazetteers import load_gazetteers

# Entities whose match can be cut out of a longer identifier, hash or number.
_NUMERIC = {"PHONE_NUMBER", "IP_ADDRESS", "US_SSN", "US_ITIN", "US_PASSPORT", "CREDIT_CARD", "DATE_TIME"}
_IDENTIFIER_CHAR = re.compile(r"[A-Za-z0-9_]")
_ESCAPE_BEFORE = re.compile(r"\\[nrt]$")
# ``v1.2.3.4``, ``pkg==10.2.0.1``, ``"lodash@4.17.21"``, ``version: 2.0.1.3``, ``__version__ = "0.5.1.2"``
_VERSION_BEFORE = re.compile(
    r"(?:\bv|version_*[\"']?\s*[:=]?\s*|\bver\.?\s*|[=<>~!]=\s*|[<>^~]\s*|@)[\"']?$", re.IGNORECASE
)
# A version, a release or a numbered section talked about in the same sentence, before the
# dotted number: "version strings ... 1.2.3.4 is not valid", "Guile 3.0.5.130", "Hyperspec 2.4.8.19".
_VERSION_WORDS = re.compile(r"(?i:version|release|semver|upgrade|downgrade|section|hyperspec|rfc|§)[^.!?\n]*$")
_NON_PERSONAL_IPS = re.compile(r"^(?:0\.0\.0\.0|127\.\d+\.\d+\.\d+|255\.\d+\.\d+\.\d+|\d+\.\d+\.\d+\.0|::1?)$")
# ASN.1 object identifiers (LDAP schemas, X.509): arcs 0, 1 and 2 with the usual first branches.
_OBJECT_IDENTIFIER = re.compile(r"^(?:0\.9\.2342|1\.2\.840|1\.3\.6|2\.5\.\d|2\.16\.840)")
_INTERNAL_IP = re.compile(
    r"^(?:10\.|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\.|169\.254\.|(?i:fe[89ab][0-9a-f]:|2001:0?db8:)"
    # documentation ranges (RFC 5737: TEST-NET-1, -2, -3) and IETF protocol assignments (192.0.0.0/24)
    r"|192\.0\.[02]\.|198\.51\.100\.|203\.0\.113\.)"
)
# The value of a key that says it is an example: ``example_number='312345678'``, ``sample_email:``.
_EXAMPLE_WORDS = ("example", "sample", "dummy", "placeholder")
_EXAMPLE_KEY_BEFORE = re.compile(r"(?i:example|sample|dummy|placeholder)\w{0,20}[\"']?\s{0,3}[:=]\s{0,3}[\"']?$")
# An access-log line's status and size after the request ("GET /index.html 200 1298").
_HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
_HTTP_REQUEST_BEFORE = re.compile(r"\b(?:GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS)[ \t]+\S+(?:[ \t]+HTTP/[\d.]+\"?)?[ \t]+$")
# A decimal number among space-separated figures ("123 3.1416 789"), not a phone number's
# dotted groups (05.06.52.16.25, 544.587.7175).
_DECIMAL = re.compile(r"\s\d+\.\d+\s|\s\d+\.\d+$|^\d+\.\d+\s")
# Unix time in seconds or milliseconds, 2001 to 2033: a timestamp, not a phone number.
_EPOCH = re.compile(r"^1\d{9}(?:\d{3})?$")
# "Copyright 2006-2022", "1999–2004": a span of years.
_YEAR_RANGE = re.compile(r"^(?:19|20)\d\d\s?[-–/]\s?(?:19|20)\d\d$")
# A US ZIP+4 code, the example of every address parser's docstring.
_ZIP_PLUS_FOUR = re.compile(r"^\d{5}-\d{4}$")
_SPACED_DATE = re.compile(r"^(?:19|20)\d\d[ ./]\d\d?[ ./]\d\d?$")
_RANGE = re.compile(r"^(\d{3,6})\s?[-–]\s?(\d{3,6})$")
# A standard's number and year after its body's name ("IEEE standard 854-1987", "ISO 8601-2004").
_STANDARD_BEFORE = re.compile(r"(?i:\b(?:ieee|iso|iec|ansi|ecma|itu-t|standard|std\.?)[ \t/]*)$")
# A number the documentation around it calls an example ("For example, the number +1 650 253
# 0000 is...", "e.g. '+41446681800'", "(ex: '123:2:3:4:5:6:7:8')"), in the same sentence.
_EXAMPLE_CUE_BEFORE = re.compile(r"(?i:\b(?:for example|for instance|e\.g\.|such as|ex:|example:))[^.!?;]{0,50}$")
# Only zeros and ones: bits written in groups ("0x0020 -- 0010 0000"), not a phone number.
_BITS = re.compile(r"^[01]+(?:[ \t.-][01]+)*$")
# A round number (3600000 ms, 43200000): a duration or a limit.
_ROUND_NUMBER = re.compile(r"^\d+0000$")
# Mailboxes of systems and roles, not of a person ("Co-Authored-By: Claude <noreply@anthropic.com>",
# "contact info@pythonware.com"): nobody in particular reads them, so they identify no one.
_ROLE_MAILBOXES = frozenset(
    "noreply no-reply no_reply donotreply do-not-reply mailer-daemon postmaster hostmaster abuse webmaster "
    "info contact support help helpdesk sales billing office team security privacy press legal feedback "
    "bugs hello enquiries inquiries".split()
)
# Mailing lists by their usual suffixes ("email-sig@python.org", "idle-dev@python.org",
# "python-list@python.org"): a list's address is nobody's own.
_MAILING_LIST = re.compile(
    r"[-_.](?:dev|devel|sig|users?|announce|list|request|bugs|owner|discuss|general|commits|checkins|help)$"
)
# A date the sentence says is public: today's date, a release, a deprecation, a copyright.
_PUBLIC_DATE_CUE = re.compile(
    r"(?i:today(?:'s|’s)?(?:[ \t]+date)?|current[ \t]+date|released?|announced|shutdown|deprecat\w*|"
    r"copyright|\(c\)|version|updated|last[ \t]+modified|changelog|effective|published)\b[^.!?\n]*$"
)
# The word after a number that makes it a date or a reference, not a house number.
_NOT_STREET_WORDS = frozenset(
    "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july august "
    "september october november december section chapter part figure table appendix page pages vol volume "
    "issue no rfc".split()
)
# An ISO date inside a phone-shaped match: a table row's index, date and hour ("0   2020-01-01 10").
_ISO_DATE = re.compile(r"(?:19|20)\d\d-[01]\d-[0-3]\d")

# Entities that, without a model, come only from prose word lists and shapes; in code they
# are type names, locale tables, documentation links and release dates.
_PROSE_ONLY = {"LOCATION", "NRP", "ORGANIZATION", "DATE_TIME", "AGE", "TITLE", "DOMAIN_NAME", "ZIP_CODE"}
# A person found from a key that says it holds a name, or a table's name column, scores this
# or more; a first name or a full name from the word lists scores less.
_KEYED_NAME_SCORE = 0.7
# A name under the bare key ``name`` (not ``first_name``, ``customer``...): in code, the name of
# a lexer, a field, a colour or an enum member (``name = 'Swift'``, ``name = 'Common Lisp'``),
# unless it is a known first name and a surname.
_BARE_NAME_KEY = re.compile(r"(?<![A-Za-z0-9_])name[\"']?\s*[:=]\s*[\"']?$", re.IGNORECASE)

# After a value under a name key: a call's parenthesis, or two lower-case words of a description.
_CALL_OR_DESCRIPTION_AFTER = re.compile(r"[ \t]*\(|[ \t]+[a-z][a-z-]*[ \t]+[A-Za-z]")

# A phone number's score once a context word ("phone", "mobile", "tel") stands near it.
_CUED_PHONE_SCORE = 0.5


def drop_code_noise(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    context = CodeContext(text)
    return [result for result in results if not _is_noise(text, result) and not _prose_only_in_code(text, result, context)]


def _is_noise(text: str, result: RecognizerResult) -> bool:
    """Shapes that are never personal data, in code or out of it."""
    value = text[result.start : result.end]
    entity = result.entity_type
    # Plain substring tests before each regex: most findings have none of these words near.
    near = text[max(0, result.start - 40) : result.start].lower()
    if any(word in near for word in _EXAMPLE_WORDS) and _EXAMPLE_KEY_BEFORE.search(near):
        return True
    if entity in _NUMERIC and (_glued(text, result.start, result.end) or _inside_decimal(text, result.start, result.end)):
        return True
    before = text[max(0, result.start - 16) : result.start]
    if entity in {"IP_ADDRESS", "PHONE_NUMBER"} and _VERSION_BEFORE.search(before):
        return True
    if entity == "PHONE_NUMBER" and (_after_http_request(text, result.start) or _DECIMAL.search(value)):
        return True
    if entity == "PHONE_NUMBER" and _STANDARD_BEFORE.search(before):
        return True
    if entity == "IP_ADDRESS":
        sentence = text[max(0, result.start - 100) : result.start]
        return bool(_NON_PERSONAL_IPS.match(value) or _OBJECT_IDENTIFIER.match(value) or _VERSION_WORDS.search(sentence))
    if entity == "PHONE_NUMBER":
        return bool(
            _EPOCH.match(value) or _YEAR_RANGE.match(value) or _ZIP_PLUS_FOUR.match(value) or _ISO_DATE.search(value)
            or _SPACED_DATE.match(value) or "  " in value or _is_number_range(value) or _ROUND_NUMBER.match(value)
            or _BITS.match(value)
        )
    if entity == "CREDIT_CARD":
        # presidio's recognizer takes 13-17 digits from a 1 on Luhn alone; a card number's first
        # digit 1 is the airlines' (ISO/IEC 7812), whose one scheme, UATP, has 15 digits. Other
        # lengths are Unix times in ms or µs (1759178010641129), Luhn-valid one time in ten.
        digits = re.sub(r"\D", "", value)
        return digits.startswith("1") and len(digits) != 15
    if entity == "EMAIL_ADDRESS":
        local = value.split("@", 1)[0].lower()
        return local in _ROLE_MAILBOXES or _MAILING_LIST.search(local) is not None
    if entity == "DATE_TIME":
        return _PUBLIC_DATE_CUE.search(text, max(0, result.start - 80), result.start) is not None
    if entity == "STREET_ADDRESS":
        first_line = value.split("\n", 1)[0]
        words = first_line.split()
        # Aligned columns (a directory listing, a printed data frame), a date, a section number.
        # A tab inside: a numbered line of a file viewer ("2\tRelease 1") or two cells.
        spread = "  " in first_line.strip() or "\t" in first_line
        return spread or (len(words) > 1 and words[1].rstrip(".").lower() in _NOT_STREET_WORDS)
    return False


def _after_http_request(text: str, start: int) -> bool:
    window = text[max(0, start - 200) : start]
    return any(method in window for method in _HTTP_METHODS) and _HTTP_REQUEST_BEFORE.search(window) is not None


def _is_number_range(value: str) -> bool:
    """Pages, bug numbers or years from one to another ("pp. 3397-3415", "bugs 2360-2363")."""
    match = _RANGE.match(value)
    if match is None:
        return False
    low, high = match.group(1), match.group(2)
    if len(low) == len(high):
        return 0 < int(high) - int(low) < 1000
    # "250-30000 ms", "5000-300000": a number and one at least a hundred times larger, neither
    # with a trunk zero; a local phone number's groups differ by one digit at most (555-1234).
    return len(high) - len(low) >= 2 and not low.startswith("0") and not high.startswith("0")


def _prose_only_in_code(text: str, result: RecognizerResult, context: CodeContext) -> bool:
    """A finding only prose can support, standing in code."""
    entity = result.entity_type
    if entity in _PROSE_ONLY:
        pass
    elif entity == "PERSON":
        value = text[result.start : result.end]
        keyed = result.score >= _KEYED_NAME_SCORE and not value.islower()
        # ``frame_font_name = Frame(frame_font)``, ``builtin_name: Menu variable for the theme``:
        # a call or a type, and the first word of a description, under a key that names things.
        if keyed and _CALL_OR_DESCRIPTION_AFTER.match(text, result.end):
            return context.is_code(result.start)
        if keyed and not _BARE_NAME_KEY.search(text, max(0, result.start - 12), result.start):
            return False
        # Under the bare key ``name``, code names lexers, fields and enum members ('Swift',
        # 'Common Lisp'); a person's name there starts with a known first name.
        if keyed and value.split()[0] in load_gazetteers().first_names and " " in value:
            return False
    elif entity == "IP_ADDRESS":
        # Private, link-local and documentation addresses in code are examples and
        # configuration: no one on the internet is reached by them; nor is one its
        # documentation calls an example.
        if not _INTERNAL_IP.match(text[result.start : result.end]) and not _called_an_example(text, result.start):
            return False
    elif entity == "PHONE_NUMBER":
        # A phone number in code is written as one, in a string: "+1 212 555 0199",
        # "(212) 555-0199"; a bare run of digits is a constant (2147483647, 305419896),
        # unless a word such as "mobile" or "tel" beside it raised its score. One the
        # documentation calls an example ("For example, the number +1 650 253 0000") is no one's.
        written = not text[result.start : result.end].isdigit() or result.score >= _CUED_PHONE_SCORE
        if written and not _called_an_example(text, result.start):
            return False
    else:
        return False
    return context.is_code(result.start)


def _called_an_example(text: str, start: int) -> bool:
    return _EXAMPLE_CUE_BEFORE.search(text, max(0, start - 80), start) is not None


def _glued(text: str, start: int, end: int) -> bool:
    """Part of a longer ASCII identifier, hash or number (CJK neighbours are fine). The
    escape before a value in a string literal (``"Tel:\\n555-0199"``) is not glue."""
    before = text[start - 1] if start > 0 and not _ESCAPE_BEFORE.match(text, max(0, start - 2), start) else " "
    after = text[end] if end < len(text) else " "
    # Right after a backslash, the match is an escape's body ("\U00002216" read as a passport).
    return bool(_IDENTIFIER_CHAR.match(before) or _IDENTIFIER_CHAR.match(after) or before == "\\")


def _inside_decimal(text: str, start: int, end: int) -> bool:
    """Digits after a decimal point or before one (``3.14159265358979``)."""
    before = text[max(0, start - 2) : start]
    after = text[end : end + 2]
    return (len(before) == 2 and before[1] == "." and before[0].isdigit()) or (
        len(after) == 2 and after[0] == "." and after[1].isdigit()
    )
