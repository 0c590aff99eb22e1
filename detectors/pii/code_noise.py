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
from bisect import bisect_left

from presidio_analyzer import RecognizerResult

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
    r"^(?:10\.|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\.|169\.254\.|(?i:fe[89ab][0-9a-f]:|2001:0?db8:))"
)
# The value of a key that says it is an example: ``example_number='312345678'``, ``sample_email:``.
_EXAMPLE_KEY_BEFORE = re.compile(r"(?i:example|sample|dummy|placeholder)\w{0,20}[\"']?\s{0,3}[:=]\s{0,3}[\"']?$")
# An access-log line's status and size after the request ("GET /index.html 200 1298").
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
# A round number (3600000 ms, 43200000): a duration or a limit.
_ROUND_NUMBER = re.compile(r"^\d+0000$")
# Mailboxes of systems and roles, not of a person ("Co-Authored-By: Claude <noreply@anthropic.com>").
_ROLE_MAILBOXES = frozenset(
    "noreply no-reply no_reply donotreply do-not-reply mailer-daemon postmaster hostmaster abuse webmaster".split()
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
# a lexer, a field, a colour or an enum member (``name = 'Swift'``), unless it has two words.
_BARE_NAME_KEY = re.compile(r"(?<![A-Za-z0-9_])name[\"']?\s*[:=]\s*[\"']?$", re.IGNORECASE)

_TRIPLE_QUOTE = re.compile('"""')
_PYTHON_DEFINITION = re.compile(r"^[ \t]*(?:def|class|import|from)[ \t]", re.MULTILINE)
# A phone number's score once a context word ("phone", "mobile", "tel") stands near it.
_CUED_PHONE_SCORE = 0.5
# How many lines on each side of a finding decide whether it stands in code.
_CONTEXT_LINES = 8
# A text is code as a whole when this share of the lines sampled from it look like code (a
# Python module with its docstrings is about 0.6 to 0.8; a Markdown prompt with code blocks less
# than 0.3); it needs a few lines to judge.
_SAMPLED_LINES = 200
_WHOLE_SHARE = 0.5
_MIN_WHOLE_LINES = 10
# A numbered line as an agent's file viewer or ``cat -n`` shows it: the number is no code.
_LINE_NUMBER = re.compile(r"^\s*\d+(?:→|\t|:)")


def drop_code_noise(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    context = CodeContext(text)
    return [result for result in results if not _is_noise(text, result) and not _prose_only_in_code(text, result, context)]


def _is_noise(text: str, result: RecognizerResult) -> bool:
    """Shapes that are never personal data, in code or out of it."""
    value = text[result.start : result.end]
    entity = result.entity_type
    if _EXAMPLE_KEY_BEFORE.search(text, max(0, result.start - 40), result.start):
        return True
    if entity in _NUMERIC and (_glued(text, result.start, result.end) or _inside_decimal(text, result.start, result.end)):
        return True
    before = text[max(0, result.start - 16) : result.start]
    if entity in {"IP_ADDRESS", "PHONE_NUMBER"} and _VERSION_BEFORE.search(before):
        return True
    if entity == "PHONE_NUMBER" and (_HTTP_REQUEST_BEFORE.search(text, max(0, result.start - 200), result.start) or _DECIMAL.search(value)):
        return True
    if entity == "IP_ADDRESS":
        sentence = text[max(0, result.start - 100) : result.start]
        return bool(_NON_PERSONAL_IPS.match(value) or _OBJECT_IDENTIFIER.match(value) or _VERSION_WORDS.search(sentence))
    if entity == "PHONE_NUMBER":
        return bool(
            _EPOCH.match(value) or _YEAR_RANGE.match(value) or _ZIP_PLUS_FOUR.match(value) or _ISO_DATE.search(value)
            or _SPACED_DATE.match(value) or "  " in value or _is_number_range(value) or _ROUND_NUMBER.match(value)
        )
    if entity == "EMAIL_ADDRESS":
        return value.split("@", 1)[0].lower() in _ROLE_MAILBOXES
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
        if keyed and not _BARE_NAME_KEY.search(text, max(0, result.start - 12), result.start):
            return False
        # Under the bare key ``name``, code names lexers, fields and enum members ('Swift',
        # 'Common Lisp'); a person's name there starts with a known first name.
        if keyed and value.split()[0] in load_gazetteers().first_names and " " in value:
            return False
    elif entity == "IP_ADDRESS":
        # Private, link-local and documentation addresses in code are examples and
        # configuration: no one on the internet is reached by them.
        if not _INTERNAL_IP.match(text[result.start : result.end]):
            return False
    elif entity == "PHONE_NUMBER":
        # A phone number in code is written as one, in a string: "+1 212 555 0199",
        # "(212) 555-0199"; a bare run of digits is a constant (2147483647, 305419896),
        # unless a word such as "mobile" or "tel" beside it raised its score.
        if not text[result.start : result.end].isdigit() or result.score >= _CUED_PHONE_SCORE:
            return False
    else:
        return False
    return context.is_code(result.start)


class CodeContext:
    """Whether a position of a text stands in code: the text as a whole is mostly code (a file
    an agent read, docstrings and all), or most of the non-blank lines around the position look
    like code (a code block in a prompt). Each line is judged once, and only lines near a
    finding or sampled for the whole are."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._verdicts: dict[int, bool | None] = {}
        self._whole: bool | None = None
        self._quotes: list[int] | None = None

    def is_code(self, position: int) -> bool:
        if self._whole is None:
            self._whole = self._mostly_code()
        return self._whole or self._in_docstring(position) or self._around_is_code(position)

    def _in_docstring(self, position: int) -> bool:
        """Inside a triple-quoted string of a Python module (one that defines or imports
        something): API documentation, whose dates, links and capitalised words describe code."""
        if self._quotes is None:
            text = self._text
            module = '"""' in text and _PYTHON_DEFINITION.search(text) is not None
            self._quotes = [match.start() for match in _TRIPLE_QUOTE.finditer(text)] if module else []
        return bisect_left(self._quotes, position) % 2 == 1

    def _mostly_code(self) -> bool:
        """At least _WHOLE_SHARE of the non-blank lines at _SAMPLED_LINES evenly spread places."""
        text = self._text
        step = max(1, len(text) // _SAMPLED_LINES)
        starts = {text.rfind("\n", 0, position) + 1 for position in range(0, len(text), step)}
        judged = [verdict for verdict in map(self._line, starts) if verdict is not None]
        return len(judged) >= _MIN_WHOLE_LINES and sum(judged) >= _WHOLE_SHARE * len(judged)

    def _around_is_code(self, position: int) -> bool:
        """The finding's own line is code, and so are most non-blank lines around it (a line of
        prose between two statements keeps its findings)."""
        text = self._text
        start = text.rfind("\n", 0, position) + 1
        votes = [self._line(start)]
        # Up to _CONTEXT_LINES non-blank lines before and after; a stretch of blank lines is
        # looked through only so far, so the work per finding stays bounded.
        cursor = start
        for _ in range(_CONTEXT_LINES * 3):
            if cursor == 0 or sum(vote is not None for vote in votes) > _CONTEXT_LINES:
                break
            cursor = text.rfind("\n", 0, cursor - 1) + 1
            votes.append(self._line(cursor))
        cursor, after = start, 0
        for _ in range(_CONTEXT_LINES * 3):
            newline = text.find("\n", cursor)
            if newline < 0 or after >= _CONTEXT_LINES:
                break
            cursor = newline + 1
            verdict = self._line(cursor)
            votes.append(verdict)
            after += verdict is not None
        judged = [vote for vote in votes if vote is not None]
        return votes[0] is True and sum(judged) * 2 > len(judged)

    def _line(self, start: int) -> bool | None:
        if start not in self._verdicts:
            end = self._text.find("\n", start)
            line = self._text[start : end if end >= 0 else len(self._text)]
            self._verdicts[start] = looks_like_code(line) if line.strip() else None  # type: ignore[assignment]
        return self._verdicts[start]


# Source code: statement ends, assignments, calls, keywords at a line's start, comment markers.
# A line is code when it ends a statement or opens/closes a block, holds an operator prose does
# not use, calls something, assigns, or starts with a keyword or a comment marker.
_CODE_ENDINGS = (";", "{", "}", "[", "(", ",\\", ":\\")
_CODE_OPERATORS = re.compile(r"==|!=|<=|>=|=>|->|::|&&|\|\||0x[0-9A-Fa-f]")
_CODE_KEYWORDS = frozenset(
    "def class import from return if for while const let var function public private static package using "
    "#include elif else try except async await export raise with yield assert".split()
)
_CODE_COMMENTS = ("#", "//", "/*", "* ", "--", "@")
_CALL = re.compile(r"\w\(|\)[ \t]*[:{]")
_ASSIGNMENT = re.compile(r"\w=\S|[\w\])][ \t]+=[ \t]")
# An item of a list, tuple or call spread over lines: quotes or brackets, and a comma at the end.
_ITEM_LINE = re.compile(r"[\"'\[\]()].*,$")
# A comment after a statement or an item: ``"https://...",  # example``, ``x = 1;  // why``.
_TRAILING_COMMENT = re.compile(r"[\"'\])},;]\s+(?:#|//)\s")


def looks_like_code(line: str) -> bool:
    """Whether one line reads as source code rather than prose (an agent's line number aside)."""
    if line[:1].isspace() or line[:1].isdigit():
        line = _LINE_NUMBER.sub("", line, count=1)
    # Plain string tests first: they settle most lines for a fraction of a regex search.
    stripped_end = line.rstrip()
    if stripped_end.endswith(_CODE_ENDINGS) or _CODE_OPERATORS.search(line):
        return True
    stripped = line.lstrip()
    if stripped.startswith(_CODE_COMMENTS) or stripped.split(" ", 1)[0].rstrip(":") in _CODE_KEYWORDS:
        return True
    if stripped_end.endswith(",") and _ITEM_LINE.search(stripped_end):
        return True
    if ("#" in line or "//" in line) and _TRAILING_COMMENT.search(line):
        return True
    return ("(" in line and _CALL.search(line) is not None) or ("=" in line and _ASSIGNMENT.search(line) is not None)


def _glued(text: str, start: int, end: int) -> bool:
    """Part of a longer ASCII identifier, hash or number (CJK neighbours are fine). The
    escape before a value in a string literal (``"Tel:\\n555-0199"``) is not glue."""
    before = text[start - 1] if start > 0 and not _ESCAPE_BEFORE.match(text, max(0, start - 2), start) else " "
    after = text[end] if end < len(text) else " "
    return bool(_IDENTIFIER_CHAR.match(before) or _IDENTIFIER_CHAR.match(after))


def _inside_decimal(text: str, start: int, end: int) -> bool:
    """Digits after a decimal point or before one (``3.14159265358979``)."""
    before = text[max(0, start - 2) : start]
    after = text[end : end + 2]
    return (len(before) == 2 and before[1] == "." and before[0].isdigit()) or (
        len(after) == 2 and after[0] == "." and after[1].isdigit()
    )
