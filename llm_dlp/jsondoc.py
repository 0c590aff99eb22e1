"""A JSON request body as the proxy reads it: paths into it, the one strict reading of it, and
its string leaves. Shared by the request side (``providers``) and the answer side (``restore``),
so neither has to import the other's package to walk a document."""

from __future__ import annotations

import json
import math
import re
from typing import Any, Iterator, Union

# A step into a JSON document: an object key, an array index, or ``INNER_JSON`` meaning "this
# string holds a JSON document; continue inside it" (OpenAI's tool-call ``arguments``).
PathStep = Union[str, int]
INNER_JSON = "\x00json"
# The last step of a path naming an object key itself rather than its value: ``path + (key,
# OBJECT_KEY)`` is the text of ``key`` in the object at ``path`` (``coverage``, ``splice``).
OBJECT_KEY = "\x00key"
# First steps of the texts outside the body (``target``): the request target and its headers.
TARGET = "\x00target"
HEADER = "\x00header"
JsonPath = tuple[PathStep, ...]

MAX_DEPTH = 128  # deeper than any real request; bounds recursion on hostile bodies


class RequestFormatError(ValueError):
    """The body cannot be understood, so it must not be forwarded."""


class AmbiguousBodyError(RequestFormatError):
    """A body a provider's parser could read differently from ours: refused, never guessed at."""


def parse_json(body: str) -> Any:
    """The one reading of a JSON body. Anything another parser may read differently is refused:
    duplicate object keys (we would scan the last, a provider may use the first), unpaired UTF-16
    surrogate escapes (replaced, dropped or refused, depending on the parser), NaN and Infinity
    (not JSON; some parsers take them) and numbers too large for a double. Invalid escapes and
    control characters in strings are already errors of ``json``; bodies that are not UTF-8 never
    get here (``bodies.decode_body``)."""
    try:
        document = _STRICT.decode(body)
    except RecursionError:
        raise RequestFormatError(f"JSON nested deeper than this proxy accepts ({MAX_DEPTH})")
    except json.JSONDecodeError as exc:
        raise RequestFormatError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    if _has_lone_surrogate(body):
        raise AmbiguousBodyError("a string holds an unpaired UTF-16 surrogate escape")
    return document


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise AmbiguousBodyError("an object repeats a key")
    return obj


def _no_constant(name: str) -> Any:
    raise AmbiguousBodyError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise AmbiguousBodyError("a number is too large for a double")
    return value


_STRICT = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite_float)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LOW_ESCAPE = re.compile(r"\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def _has_lone_surrogate(body: str) -> bool:
    """Whether a string of ``body`` (JSON that parsed) holds an unpaired surrogate escape: a
    ``\\uD800``-``\\uDBFF`` escape not followed at once by a ``\\uDC00``-``\\uDFFF`` one, or one of
    the latter not right after one of the former. Read from the text, with no walk over the
    document: a backslash that is itself escaped (``\\\\uD800``) starts no escape."""
    paired = -1  # where the low half of the last pair starts
    for match in _SURROGATE_ESCAPE.finditer(body):
        start = match.start()
        if start == paired:
            continue
        first = start
        while first > 0 and body[first - 1] == "\\":
            first -= 1
        if (start - first) % 2:  # an escaped backslash, then the letters "uD8..": plain text
            continue
        if body[start + 3] in "89abAB" and _LOW_ESCAPE.match(body, start + 6):
            paired = start + 6
            continue
        return True
    return False


def string_leaves(
    value: Any,
    path: JsonPath,
    *,
    skip_keys: frozenset[str] = frozenset(),
    keys: bool = False,
    depth: int = 0,
) -> Iterator[tuple[JsonPath, str]]:
    """Every string value under ``value``, depth-first in document order, with its path; with
    ``keys``, every object key too (its path ends in ``OBJECT_KEY``)."""
    if depth > MAX_DEPTH:
        raise RequestFormatError(f"JSON nested deeper than this proxy accepts ({MAX_DEPTH})")
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in skip_keys:
                continue
            if keys:
                yield path + (key, OBJECT_KEY), key
            yield from string_leaves(item, path + (key,), skip_keys=skip_keys, keys=keys, depth=depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from string_leaves(item, path + (index,), skip_keys=skip_keys, keys=keys, depth=depth + 1)
