"""Rewrite chosen string values of a JSON document and leave every other byte alone.

Re-serialising a whole body would reformat numbers, whitespace and escapes; the next turn of
the conversation would then not share the previous turn's bytes, which breaks prompt caching.
Instead we find the exact character span of each string literal to replace and splice in the
new literal. Containers off the way to a target are skipped with the C decoder
(``raw_decode``), so the cost is close to one ``json.loads``.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any, Iterable

from llm_dlp.jsondoc import INNER_JSON, OBJECT_KEY, JsonPath, RequestFormatError, parse_json

_WS = re.compile(r"[ \t\n\r]*")
_SKIPPER = json.JSONDecoder()


def replace_strings(document: str, edits: dict[JsonPath, str], values: dict[JsonPath, Any] | None = None) -> str:
    """Return ``document`` with the string at each path replaced by its new value.

    A path may cross ``INNER_JSON``: the string there holds JSON, which is edited the same
    way and re-embedded as a string literal. ``values`` replaces whole JSON values (of any
    type, by any JSON value) at paths outside ``INNER_JSON``; no edit may lie inside one. A path
    ending in ``OBJECT_KEY`` renames that key; a rename that collides with a sibling key is
    refused (``RequestFormatError``), since the provider would then read one of the two.
    """
    values = values or {}
    outer: dict[JsonPath, Any] = dict(values)
    inner: dict[JsonPath, dict[JsonPath, str]] = {}
    for path, value in edits.items():
        if INNER_JSON in path:
            cut = path.index(INNER_JSON)
            inner.setdefault(path[:cut], {})[path[cut + 1 :]] = value
        else:
            outer[path] = value
    spans = _locate(document, set(outer) | set(inner))
    values_at = set(values)
    pieces: list[str] = []
    cursor = 0
    for path, (start, end) in sorted(spans.items(), key=lambda item: item[1][0]):
        old_literal = document[start:end]
        if path in values_at:
            new_literal = json.dumps(outer[path], ensure_ascii=old_literal.isascii(), separators=(",", ":"))
        elif path in inner:
            new_literal = _literal_like(old_literal, replace_strings(json.loads(old_literal), inner[path]))
        else:
            new_literal = _literal_like(old_literal, outer[path])
        pieces.append(document[cursor:start])
        pieces.append(new_literal)
        cursor = end
    pieces.append(document[cursor:])
    out = "".join(pieces)
    if any(path[-1:] == (OBJECT_KEY,) for path in edits):
        parse_json(out)  # a renamed key must not repeat a sibling's
    return out


def _literal_like(old_literal: str, value: str) -> str:
    # Keep the client's escaping style: an all-ASCII literal stays all-ASCII.
    return json.dumps(value, ensure_ascii=old_literal.isascii())


def _locate(document: str, targets: set[JsonPath]) -> dict[JsonPath, tuple[int, int]]:
    # A key is found while walking the object that holds it: its value need not be entered.
    prefixes = {path[:n] for path in targets for n in range(len(path) - 1 if path[-1:] == (OBJECT_KEY,) else len(path) + 1)}
    found: dict[JsonPath, tuple[int, int]] = {}
    position = _WS.match(document, 0).end()
    _walk(document, position, (), targets, prefixes, found)
    missing = targets - set(found)
    if missing:
        raise RequestFormatError(f"cannot locate {len(missing)} string(s) to rewrite")
    return found


def _walk(
    doc: str,
    pos: int,
    path: JsonPath,
    targets: set[JsonPath],
    prefixes: set[JsonPath],
    found: dict[JsonPath, tuple[int, int]],
) -> int:
    """Parse the value at ``pos``; return the index just after it."""
    if path not in prefixes:
        _, end = _SKIPPER.raw_decode(doc, pos)
        return end
    if path in targets and doc[pos : pos + 1] != '"':  # a whole object, array or scalar to replace
        _, end = _SKIPPER.raw_decode(doc, pos)
        found[path] = (pos, end)
        return end
    char = doc[pos : pos + 1]
    if char == '"':
        _, end = scanstring(doc, pos + 1, True)
        if path in targets:
            found[path] = (pos, end)
        return end
    if char == "{":
        return _walk_object(doc, pos + 1, path, targets, prefixes, found)
    if char == "[":
        return _walk_array(doc, pos + 1, path, targets, prefixes, found)
    _, end = _SKIPPER.raw_decode(doc, pos)
    return end


def _walk_object(doc, pos, path, targets, prefixes, found) -> int:
    pos = _WS.match(doc, pos).end()
    if doc[pos : pos + 1] == "}":
        return pos + 1
    while True:
        start = pos
        key, pos = scanstring(doc, pos + 1, True)
        if path + (key, OBJECT_KEY) in targets:
            found[path + (key, OBJECT_KEY)] = (start, pos)
        pos = _WS.match(doc, pos).end()
        pos = _WS.match(doc, pos + 1).end()  # past ':'
        pos = _walk(doc, pos, path + (key,), targets, prefixes, found)
        pos = _WS.match(doc, pos).end()
        if doc[pos] == "}":
            return pos + 1
        pos = _WS.match(doc, pos + 1).end()  # past ','


def _walk_array(doc, pos, path, targets, prefixes, found) -> int:
    pos = _WS.match(doc, pos).end()
    if doc[pos : pos + 1] == "]":
        return pos + 1
    index = 0
    while True:
        pos = _walk(doc, pos, path + (index,), targets, prefixes, found)
        pos = _WS.match(doc, pos).end()
        if doc[pos] == "]":
            return pos + 1
        pos = _WS.match(doc, pos + 1).end()
        index += 1


def apply_replacements(text: str, replacements: Iterable[tuple[int, int, str]]) -> str:
    """Replace non-overlapping ``(start, end, new)`` spans of ``text``."""
    pieces: list[str] = []
    cursor = 0
    for start, end, new in sorted(replacements):
        if start < cursor:
            continue  # overlapping findings were merged by the caller; never split a value
        pieces.append(text[cursor:start])
        pieces.append(new)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)
