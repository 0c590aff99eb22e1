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

import re
from dataclasses import dataclass
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


# A data URL's header as RFC 2397 spells it (a media type, parameters, ``;base64``): text before
# the first comma that is anything else ("data: my key is ...,") is prose, scanned as it is,
# never taken for a header that decoding would leave unread.
_DATA_URL_HEADER = re.compile(r"\s*data:(?:[\w.+-]+/[\w.+-]+)?(?:;[\w.+-]+=(?:[\w.+-]+|\"[^\",]*\"))*(?:;base64)?,", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class MediaField:
    """A base64 payload a format knows the media type of (an image, a PDF, audio)."""

    path: JsonPath
    media_type: str | None
    what: str  # "image", "document", "audio", "file"


@dataclass(frozen=True, slots=True)
class Covered:
    segments: list[Segment]
    exempt: tuple[str, ...]  # the exemption names present, in first-seen order; never values
    unscanned_media: tuple[tuple[JsonPath, str], ...]  # binary media (``decoding.Unscanned``)


def cover(
    document: Any,
    annotated: list[Segment],
    exempt: Exemptions,
    media: list[MediaField],
    vocabulary: frozenset[str],
) -> Covered:
    walker = _Walker(annotated, exempt, {m.path: m for m in media}, vocabulary | SCHEMA_WORDS)
    walker.visit(document, (), None, "body", 0)
    return Covered(walker.out, tuple(walker.exempt_seen), tuple(walker.media_found))


class _Walker:
    def __init__(self, annotated: list[Segment], exempt: Exemptions, media: dict[JsonPath, MediaField],
                 vocabulary: frozenset[str]) -> None:
        self.by_path: dict[JsonPath, list[Segment]] = {}
        for segment in annotated:
            path = segment.path
            leaf = path[: path.index(INNER_JSON)] if INNER_JSON in path else path
            self.by_path.setdefault(leaf, []).append(segment)
        self.units: dict[JsonPath, ContentUnit] = {s.unit.path: s.unit for s in annotated if s.unit is not None}
        self.exempt = exempt
        self.media = media
        self.vocabulary = vocabulary
        self.out: list[Segment] = []
        self.exempt_seen: dict[str, None] = {}
        self.media_found: list[tuple[JsonPath, str]] = []

    def visit(self, value: Any, path: JsonPath, unit: ContentUnit | None, role: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise RequestFormatError(f"JSON nested deeper than this proxy accepts ({MAX_DEPTH})")
        name = self.exempt.get(path)
        if name is not None:
            self.exempt_seen[name] = None
            return
        unit = self.units.get(path, unit)
        if isinstance(value, str):
            self._string(value, path, unit, role)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key not in self.vocabulary and key:
                    self.out.append(Segment(path + (key, OBJECT_KEY), key, role, None, unit))
                self.visit(item, path + (key,), unit, key if depth == 0 else role, depth + 1)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.visit(item, path + (index,), unit, role, depth + 1)

    def _string(self, value: str, path: JsonPath, unit: ContentUnit | None, role: str) -> None:
        annotated = self.by_path.get(path)
        if annotated is not None:
            self.out.extend(annotated)
            return
        media = self.media.get(path)
        if media is not None:
            # A field the API defines as base64: never read as base64 text. One that does not
            # decode (or a PDF too broken to read) is a request the pipeline refuses.
            decoded: Decoded | Unscanned | None = decode_base64_payload(value, media.media_type)
        else:
            try:  # a data URL anywhere; a string that only starts like one is scanned as it is
                decoded = decode_data_url(value) if _DATA_URL_HEADER.match(value) else None
            except DecodeError:
                decoded = None
        if isinstance(decoded, Decoded):
            self.out.append(Segment(path, decoded.text, role, None, unit, codec=decoded.codec))
        elif decoded is not None:
            self.media_found.append((path, decoded.media_type))
        elif value and value not in self.vocabulary:
            self.out.append(Segment(path, value, role, None, unit))
