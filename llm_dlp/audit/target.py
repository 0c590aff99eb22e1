"""The request target and model as the audit writes them: the route's shape, never the client's values.

A request path is chosen by the client: a query string can carry an API key (``?key=…``), a
path segment can be anything (``/v1/AKIA…/messages``), and the model name is a free string in the
body (or, for Gemini and Bedrock, in the path). The audit keeps what tells a reviewer where the
request went and nothing more:

- a path segment is written as it is when it is a word of the APIs' routes (``v1``, ``messages``,
  ``chat``, ``generateContent`` ...); the segment after ``models``/``model``/``deployments`` is a
  model and follows the model rule; any other segment becomes a keyed hash, ``#3fa2c1d0``;
- a query keeps its parameter names when they are plain identifiers made of word-like parts,
  never its values: ``?alt=…&key=…``;
- a model is written as it is only when it looks like a model id (short tokens of a strict
  charset, no long run that mixes letters and digits the way keys do) and no detector found
  anything in it; otherwise as a masked preview and keyed hash, ``clau…(41 chars) #3fa2c1d0``.

The host is kept when its labels are word-like (every AI API host is); one that could carry a
value (a Host header made up by the client) becomes a mark too.

``RequestTargetMask`` applies this to every event on its way into the audit chain, so no event
kind (decision, response, restore, refused login, and any added later) can write a raw host, path
or model.
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import unquote

from llm_dlp.audit.locations import key_mark
from llm_dlp.keys import ValueHasher, mask_preview

MODEL_LOCATION = "$.model"  # where a finding in the body's model field is (locations.audited_location)
ROUTE_LOCATION = "target[0]"  # where a finding in the path without its query is (the request target's first part)

ROUTE_WORDS = frozenset({
    "api", "apps", "anthropic", "openai", "coding", "paas", "compatible-mode", "backend-api", "codex",
    "deployments", "chat", "completions", "messages", "count_tokens", "batches", "responses",
    "input_tokens", "compact", "embeddings", "files", "uploads", "parts", "models", "model", "tunedModels",
    "cachedContents", "images", "audio", "moderations", "realtime", "threads", "runs", "assistants",
    "vector_stores", "content", "cancel", "results", "converse", "converse-stream", "invoke",
    "invoke-with-response-stream", "projects", "locations", "publishers", "google", "endpoints",
    "generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents",
    "rawPredict", "streamRawPredict", "predict", "serving-endpoints", "inference", "openai-compatible",
})
MODEL_AFTER = frozenset({"models", "model", "deployments", "tunedModels"})
_VERSION = re.compile(r"v\d+(?:\.\d+)?(?:alpha|beta|internal)?\d*")
_PARAMETER = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-\[\]]{0,39}")
_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,99}")
_MODEL_TOKENS = re.compile(r"[._:/@+-]+")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")


def audited_path(path: str, hasher: ValueHasher, found: bool = False) -> str:
    """The path as the audit writes it; ``found``: a detector found something in the route, so
    a model named there is a mark whatever its shape."""
    route, _, query = path.partition("?")
    route = route.split("#", 1)[0]
    segments = route.split("/")
    out = []
    for index, segment in enumerate(segments):
        after = segments[index - 1] if index else ""
        out.append(_segment(segment, after, hasher, found))
    return "/".join(out) + (f"?{_query(query, hasher)}" if query else "")


def _segment(segment: str, after: str, hasher: ValueHasher, found: bool) -> str:
    if not segment or segment in ROUTE_WORDS or _VERSION.fullmatch(segment):
        return segment
    # Gemini and Vertex name the method after a colon: models/gemini-2.5-pro:generateContent.
    name, colon, method = segment.rpartition(":")
    if colon and method in ROUTE_WORDS:
        return f"{_segment(name, after, hasher, found)}:{method}"
    if after in MODEL_AFTER and not found and looks_like_model(unquote(segment)):
        return segment
    return f"#{key_mark(segment, hasher)}"


def _query(query: str, hasher: ValueHasher) -> str:
    parts = []
    for pair in query.split("&"):
        name, equals, _value = pair.partition("=")
        shown = name if _parameter_name(name) else f"#{key_mark(name, hasher)}"
        parts.append(f"{shown}=…" if equals else shown)
    return "&".join(parts)


def _parameter_name(name: str) -> bool:
    """An identifier made of word-like parts (``alt``, ``api-version``, ``uploadType``), not a
    key that happens to be an identifier (``ghp_…``)."""
    return bool(_PARAMETER.fullmatch(name)) and all(_model_token(t) for t in re.split(r"[_.\-\[\]]+", name) if t)


def looks_like_model(model: str) -> bool:
    """Short tokens of a strict charset: ``claude-sonnet-4-20250514``, ``gpt-4o-mini``,
    ``us.anthropic.claude-3-7-sonnet-20250219-v1:0``, ``meta-llama/Llama-3.1-8B-Instruct``. A key
    is one long token (``AKIA…``, ``ghp_…``) or mixes letters and digits within one token."""
    if not _MODEL.fullmatch(model):
        return False
    tokens = [t for t in _MODEL_TOKENS.split(model) if t]
    return len(tokens) <= 16 and all(_model_token(t) for t in tokens)


def _model_token(token: str) -> bool:
    if token.isdigit():
        return len(token) <= 14  # dates (20250514), account ids
    if token.isalpha():
        return len(token) <= (16 if token.islower() else 10)
    # Letters and digits together: short and of one case (4o, 8B, v3p1, llama3, 8x7b), as
    # version tags are; a key's run of both (``123e4567``, ``A1b2C3``) is longer or mixes cases.
    digits = sum(c.isdigit() for c in token)
    return len(token) <= 8 and digits <= 3 and not (any(c.islower() for c in token) and any(c.isupper() for c in token))


def audited_host(host: str, hasher: ValueHasher) -> str:
    """A host name of word-like labels (``api.anthropic.com``, ``bedrock-runtime.us-east-1.amazonaws.com``,
    an IP address) as it is; a label that could be a value (``akia….example``) makes it a mark."""
    labels = host.rstrip(".").split(".")
    if len(host) <= 253 and all(_host_label(label) for label in labels):
        return host
    return f"#{key_mark(host, hasher)}"


def _host_label(label: str) -> bool:
    parts = [p for p in label.split("-") if p] if _HOST_LABEL.fullmatch(label) else []
    # Provider names run long (generativelanguage, cognitiveservices): any lower-case word will do.
    return bool(parts) and all(p.isalpha() and p.islower() or _model_token(p) for p in parts)


def audited_model(model: str, hasher: ValueHasher, found: bool) -> str:
    """The model as the audit writes it; ``found``: a detector found something in it."""
    if not found and looks_like_model(model):
        return model
    return f"{mask_preview(model)} #{key_mark(model, hasher)}"


class RequestTargetMask:
    """The audit chain's first processor: ``host``, ``path`` and ``model`` of any event, masked.

    Without the proxy's key (a test, a tool writing lines of its own) the marks are made under a
    key of this process: still no value in the log, only marks that do not match across runs.

    An agent sends the same host, route and model on every turn: what each was masked to is
    remembered (in memory, a bounded number) rather than worked out twice a request."""

    REMEMBERED = 512

    def __init__(self, hasher: ValueHasher | None = None) -> None:
        self._hasher = hasher or ValueHasher(secrets.token_bytes(32))
        self._masked: dict[tuple[str, str, bool], str] = {}

    def __call__(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        host = event_dict.get("host")
        if isinstance(host, str):
            event_dict["host"] = self._mask("host", host, False)
        found = {f.get("location") for f in event_dict.get("findings") or () if isinstance(f, dict)}
        path = event_dict.get("path")
        if isinstance(path, str):
            event_dict["path"] = self._mask("path", path, ROUTE_LOCATION in found)
        model = event_dict.get("model")
        if isinstance(model, str):
            # Bedrock names the model in the path only: a finding in the route counts for it too.
            event_dict["model"] = self._mask("model", model, bool({MODEL_LOCATION, ROUTE_LOCATION} & found))
        return event_dict

    def _mask(self, what: str, text: str, found: bool) -> str:
        remembered = self._masked.get((what, text, found))
        if remembered is not None:
            return remembered
        if what == "host":
            masked = audited_host(text, self._hasher)
        elif what == "path":
            masked = audited_path(text, self._hasher, found)
        else:
            masked = audited_model(text, self._hasher, found)
        if len(self._masked) >= self.REMEMBERED:
            self._masked.clear()  # a client making up a new path each time gains nothing from memory
        self._masked[(what, text, found)] = masked
        return masked
