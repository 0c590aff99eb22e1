"""Coverage by default: every string and every object key of a body becomes a scanned segment.

A format annotates the texts it understands (role, content unit, file hint) and names the few
paths it exempts; this walker goes over the whole document in order and yields the annotated
segment where there is one and a plain segment everywhere else, so a field no adapter was
written for (a tool's description, ``metadata``, a JSON key) is scanned all the same.

Object keys are segments too, at ``path + (key, OBJECT_KEY)``: a finding in a key is redacted
in the key itself (``splice`` renames it, refusing a rename that would collide with a sibling)
or withheld with the unit around it, like any value.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from llm_dlp.decoding import DecodeError, Decoded, Unscanned, decode_base64_payload, decode_data_url
from llm_dlp.providers.base import INNER_JSON, MAX_DEPTH, OBJECT_KEY, ContentUnit, JsonPath, RequestFormatError, Segment

# A path (a value, or a whole subtree) -> the name the audit lists it under when present.
Exemptions = dict[JsonPath, str]

# Words every JSON-schema tool definition is made of: fixed words, so never worth a detector run.
SCHEMA_WORDS = frozenset({
    "type", "object", "string", "integer", "number", "boolean", "array", "null", "properties", "required",
    "items", "enum", "description", "default", "additionalProperties", "$schema", "anyOf", "oneOf", "allOf",
    "minimum", "maximum", "format", "pattern", "title", "const", "minItems", "maxItems", "minLength",
    "maxLength", "examples", "$ref", "$defs", "definitions", "nullable", "exclusiveMinimum", "exclusiveMaximum",
    "propertyNames", "uniqueItems", "not", "if", "then", "else", "uri", "date-time", "strict", "name",
    "parameters", "function", "input_schema",
})


@dataclass(frozen=True, slots=True)
class MediaField:
    """A base64 payload a format knows the media type of (an image, a PDF, audio).

    ``unit``: what is withheld in place of the payload's decoded text. A block that holds only
    its payload (a PDF with no title) has no annotated text to carry a unit, so the format names
    it here; without it a finding in the document could only block the request.
    """

    path: JsonPath
    media_type: str | None
    what: str  # "image", "document", "audio", "file"
    unit: ContentUnit | None = None


@dataclass(frozen=True, slots=True)
class Covered:
    segments: list[Segment]
    exempt: tuple[str, ...]  # the exemption names present, in first-seen order; never values
    unscanned_media: tuple[tuple[JsonPath, str], ...]  # binary media (``decoding.Unscanned``)


class WalkMemo:
    """The walk of a top-level value no format annotates, exempts or decodes (an agent's tool
    definitions: 40% of the nodes of a resent agent turn, the same every turn), kept by the value's
    exact JSON text, so a resent body does not walk it again. The entry is the walk's own output
    (frozen segments, media found), so what is scanned is the same either way. This process's
    memory only, a bounded number of entries; it holds the texts it stands for, as the body does."""

    def __init__(self, max_entries: int = 256, max_total_chars: int = 8 << 20) -> None:
        self.max_entries = max_entries
        self.max_total_chars = max_total_chars  # of the JSON texts kept (the segments are about as long again)
        self.max_chars = max_total_chars // 8  # a value longer than this is walked, not kept
        self._entries: OrderedDict[tuple, tuple[tuple[Segment, ...], tuple[tuple[JsonPath, str], ...]]] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[tuple[Segment, ...], tuple[tuple[JsonPath, str], ...]] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple, walked: tuple[tuple[Segment, ...], tuple[tuple[JsonPath, str], ...]]) -> None:
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = walked
            self._chars += len(key[-1])
            while len(self._entries) > self.max_entries or self._chars > self.max_total_chars:
                evicted, _ = self._entries.popitem(last=False)
                self._chars -= len(evicted[-1])

    def __len__(self) -> int:
        return len(self._entries)


def cover(
    document: Any,
    annotated: list[Segment],
    exempt: Exemptions,
    media: list[MediaField],
    vocabulary: frozenset[str],
    memo: WalkMemo | None = None,
) -> Covered:
    walker = _Walker(annotated, exempt, {m.path: m for m in media}, vocabulary | SCHEMA_WORDS, memo)
    walker.visit(document, (), None, "body", 0)
    return Covered(walker.out, tuple(walker.exempt_seen), tuple(walker.media_found))


class _Walker:
    def __init__(self, annotated: list[Segment], exempt: Exemptions, media: dict[JsonPath, MediaField],
                 vocabulary: frozenset[str], memo: WalkMemo | None = None) -> None:
        self.memo = memo
        self.by_path: dict[JsonPath, list[Segment]] = {}
        for segment in annotated:
            path = segment.path
            leaf = path[: path.index(INNER_JSON)] if INNER_JSON in path else path
            self.by_path.setdefault(leaf, []).append(segment)
        self.units: dict[JsonPath, ContentUnit] = {m.unit.path: m.unit for m in media.values() if m.unit is not None}
        self.units.update((s.unit.path, s.unit) for s in annotated if s.unit is not None)
        self.exempt = exempt
        self.media = media
        self.vocabulary = vocabulary
        self.out: list[Segment] = []
        self.exempt_seen: dict[str, None] = {}
        self.media_found: list[tuple[JsonPath, str]] = []

    def visit(self, value: Any, path: JsonPath, unit: ContentUnit | None, role: str, depth: int) -> None:
        # Every string and key of every body passes here (a resent agent turn: a thousand nodes),
        # so lookups that cannot answer (no exemptions, no media in most bodies) are not made.
        if depth > MAX_DEPTH:
            raise RequestFormatError(f"JSON nested deeper than this proxy accepts ({MAX_DEPTH})")
        if self.exempt:
            name = self.exempt.get(path)
            if name is not None:
                self.exempt_seen[name] = None
                return
        if unit is None:  # the outermost unit wins, as in the adapters (``with_unit``)
            unit = self.units.get(path)
        if isinstance(value, str):
            self._string(value, path, unit, role)
        elif isinstance(value, dict):
            vocabulary, out = self.vocabulary, self.out
            for key, item in value.items():
                child = path + (key,)
                if key and key not in vocabulary:
                    out.append(Segment(child + (OBJECT_KEY,), key, role, None, unit))
                if (depth == 0 and unit is None and self.memo is not None and isinstance(item, (dict, list))
                        and self._plain(child)):
                    self._remembered(item, child, key)
                else:
                    self.visit(item, child, unit, key if depth == 0 else role, depth + 1)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.visit(item, path + (index,), unit, role, depth + 1)

    def _plain(self, path: JsonPath) -> bool:
        """Whether nothing at or under ``path`` is annotated, a unit, exempt or media: then its
        walk depends on its value alone (with its path, role and the vocabulary)."""
        size = len(path)
        return not any(other[:size] == path for table in (self.by_path, self.units, self.exempt, self.media)
                       for other in table)

    def _remembered(self, value: Any, path: JsonPath, role: str) -> None:
        """``visit`` of a top-level value ``_plain`` at ``path``, from the memo where it has it."""
        assert self.memo is not None
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))  # one JSON value, one text
        if len(text) > self.memo.max_chars:
            self.visit(value, path, None, role, 1)
            return
        key = (path, self.vocabulary, text)
        walked = self.memo.get(key)
        if walked is None:
            out, media, self.out, self.media_found = self.out, self.media_found, [], []
            try:
                self.visit(value, path, None, role, 1)
                walked = (tuple(self.out), tuple(self.media_found))
            finally:
                self.out, self.media_found = out, media
            self.memo.put(key, walked)
        self.out.extend(walked[0])
        self.media_found.extend(walked[1])

    def _string(self, value: str, path: JsonPath, unit: ContentUnit | None, role: str) -> None:
        annotated = self.by_path.get(path)
        if annotated is not None:
            self.out.extend(_decoded_in_place(segment) for segment in annotated)
            return
        media = self.media.get(path) if self.media else None
        if media is not None:
            # A field the API defines as base64: never read as base64 text. One that does not
            # decode (or a PDF too broken to read) is a request the pipeline refuses.
            decoded: Decoded | Unscanned | None = decode_base64_payload(value, media.media_type)
        else:
            decoded = _data_url(value)
        if isinstance(decoded, Decoded):
            self.out.append(Segment(path, decoded.text, role, None, unit, codec=decoded.codec))
        elif decoded is not None:
            self.media_found.append((path, decoded.media_type))
        elif value and value not in self.vocabulary:
            self.out.append(Segment(path, value, role, None, unit))


def _data_url(value: str) -> Decoded | Unscanned | None:
    """A data URL anywhere, decoded; a string that only starts like one is scanned as it is
    (``decode_data_url`` alone decides what counts as its header)."""
    first = value[:1]
    if first not in "dD" and not first.isspace():  # what ``decode_data_url`` would refuse at once
        return None
    try:
        return decode_data_url(value)
    except DecodeError:
        return None


def _decoded_in_place(segment: Segment) -> Segment:
    """An annotated prompt field whose whole text is a text data URL is scanned decoded, as the
    model may read it; the role, unit and file hint stay, and an edit is re-encoded. A field
    holding binary media as a data URL stays text here: what the model gets is those characters."""
    if segment.codec is not None or INNER_JSON in segment.path:
        return segment
    decoded = _data_url(segment.text)
    if not isinstance(decoded, Decoded):
        return segment
    return replace(segment, text=decoded.text, codec=decoded.codec)
