"""Values this proxy has already redacted, per tenant, found again wherever they reappear.

A redacted value can be restored into the model's answer; the client then sends it back in the
next turn's history, in new surroundings where a keyword-gated rule may no longer fire. Looking
for the exact values we redacted before closes that gap: the value gets the same placeholder as
before, so the history stays byte-identical too (the conversation prefix, and the provider's
prompt cache, hold). Kept in memory, bounded per tenant.

With a store (the proxy's, which follows its vault: ``known_stores.py``) every value remembered
is also kept there, sealed under the deployment key with a purpose of its own (never in clear,
never confused with a vault entry), for the vault's TTL. A tenant's values are read from the
store at start-up, and what other processes added since is read at most once a second per
tenant, on the request path, with one small read. The store is an addition: when it cannot be
read or written, every request is still scanned by every detector and by the values in this
process's memory; the store is left alone for a few seconds and a warning says so.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import hyperscan

from detectors.base import Finding
from llm_dlp.known_stores import KnownStore, Read, open_known_store
from llm_dlp.vault import DEFAULT_TTL_SECONDS
from llm_dlp.vault.sealing import Sealer, UnsealError
from llm_dlp.verdict import Redaction

log = logging.getLogger("llm_dlp")

MIN_LENGTH = 8  # shorter values would match ordinary text
MAX_VALUES_PER_TENANT = 20_000
# A value is written to the store again when its entry is half a TTL old (to keep it alive), so
# the store may hold each value twice.
STORED_PER_TENANT = 2 * MAX_VALUES_PER_TENANT
PURPOSE = b"llm-dlp known values v1"  # the sealing key's purpose: a vault entry does not open as one of these
SYNC_INTERVAL_SECONDS = 1.0  # what other processes added is read at most this often per tenant
RETRY_AFTER_SECONDS = 5.0  # after a store error, the store is not asked for this long
# New values go into a small matcher of their own, compiled on every change; it is folded into
# the large one when it grows past this share of it, so a tenant with thousands of values does
# not recompile them all for each new one (hyperscan: ~140 ms for 5,000 literals, ~1 ms for 50).
_RECENT_SHARE = 4
_RECENT_MIN = 256


@dataclass(frozen=True, slots=True)
class _Known:
    kind: str
    rule: str


class _Literals:
    """Fixed strings found in one pass over a text, whatever their number (hyperscan literals;
    a regex alternation of the same values costs ~80 ms per 300 KB at 50 values, ~1 s at 500)."""

    def __init__(self, values: Iterable[str]) -> None:
        self.values = tuple(values)
        encoded = [value.encode("utf-8", "surrogatepass") for value in self.values]
        self._database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._database.compile(expressions=encoded, ids=list(range(len(encoded))),
                               flags=[hyperscan.HS_FLAG_SOM_LEFTMOST] * len(encoded), literal=True)
        self._local = threading.local()  # a scratch per thread: requests are inspected in threads

    def find(self, data: bytes) -> list[tuple[int, int, str]]:
        """(start, end, value) of every occurrence, in byte offsets, overlapping ones included."""
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._database)
        found: list[tuple[int, int, str]] = []
        values = self.values

        def on_match(index: int, start: int, end: int, flags: int, context: object) -> None:
            found.append((start, end, values[index]))

        self._database.scan(data, match_event_handler=on_match, scratch=scratch)
        return found


@dataclass(frozen=True, slots=True)
class _Matcher:
    """A tenant's values as of one change: the large matcher, the recent one, and the values
    in force (a value evicted since the large matcher was built is matched there, then dropped)."""

    settled: _Literals | None
    recent: _Literals | None
    known: dict[str, _Known]

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """Leftmost-longest occurrences, not overlapping (a value that contains another is matched
        whole), in character offsets."""
        data = text.encode("utf-8", "surrogatepass")
        hits = [hit for literals in (self.settled, self.recent) if literals is not None for hit in literals.find(data)
                if hit[2] in self.known]
        chosen: list[tuple[int, int, str]] = []
        end = -1
        for hit in sorted(hits, key=lambda h: (h[0], h[0] - h[1])):
            if hit[0] >= end:
                chosen.append(hit)
                end = hit[1]
        if len(data) != len(text):  # not ASCII: byte offsets to character offsets
            chars = lambda offset: len(data[:offset].decode("utf-8", "surrogatepass"))  # noqa: E731
            chosen = [(chars(start), chars(stop), value) for start, stop, value in chosen]
        return chosen


class _Tenant:
    """One tenant's values, and where this process stands with the store."""

    def __init__(self) -> None:
        self.values: OrderedDict[str, _Known] = OrderedDict()  # least recently redacted first
        self.stored: dict[str, float] = {}  # value -> when its newest store entry was added (wall clock)
        self.unsaved: dict[str, _Known] = {}  # to write to the store (new, due a refresh, or a write failed)
        self.cursor: str | None = None  # None: not read from the store yet
        self.next_check = float("-inf")  # monotonic
        self.reading = threading.Lock()  # one store read at a time


class KnownValues:
    name = "known_values"

    def __init__(self, limit: int = MAX_VALUES_PER_TENANT, *, store: KnownStore | None = None,
                 key: bytes | None = None, ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic, clock: Callable[[], float] = time.time) -> None:
        if store is not None and key is None:
            raise ValueError("a known-values store needs the deployment key to seal its values")
        self._limit = limit
        self._store = store
        self._sealer = Sealer(key, PURPOSE) if key is not None else None
        self._refresh_after = ttl_seconds / 2
        self._monotonic = monotonic
        self._clock = clock
        self._tenants: dict[str, _Tenant] = {}
        # tenant -> its matcher, rebuilt only when the values change, so a scan never copies the
        # table on the request path.
        self._matchers: dict[str, _Matcher] = {}
        self._lock = threading.Lock()
        self._skip_until = float("-inf")  # monotonic: no store calls before this, after an error

    def load(self, tenants: Iterable[str]) -> None:
        """Read these tenants' values from the store now (start-up), not at their first request."""
        for tenant in tenants:
            self._sync(tenant)

    def remember(self, tenant: str, redactions: Iterable[Redaction]) -> None:
        """Values just redacted for ``tenant``, to be found again in its later requests."""
        fresh = [r for r in redactions if len(r.value) >= MIN_LENGTH]
        if not fresh:
            return
        due = self._clock() - self._refresh_after
        with self._lock:
            state = self._tenant(tenant)
            known = state.values
            changed = False
            for redaction in fresh:
                if redaction.value in known:
                    known.move_to_end(redaction.value)
                else:
                    known[redaction.value] = _Known(redaction.kind, redaction.rule)
                    changed = True
                if self._store is not None and state.stored.get(redaction.value, float("-inf")) <= due:
                    state.unsaved[redaction.value] = known[redaction.value]
            if changed:
                self._evict(tenant, state)
            unsaved = dict(state.unsaved) if state.unsaved and self._store_usable() else {}
        if unsaved:
            self._save(tenant, state, unsaved)

    def scan(self, tenant: str, text: str) -> list[Finding]:
        self._sync(tenant)
        matcher = self._matchers.get(tenant)
        if matcher is None or len(text) < MIN_LENGTH:
            return []
        findings = []
        for start, end, value in matcher.find(text):
            entry = matcher.known[value]
            findings.append(Finding(entry.kind, entry.rule, start, end, 1.0, self.name, {"seen_before": True}))
        return findings

    def close(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            except Exception as exc:  # noqa: BLE001 — closing at shutdown must not hide the real exit
                log.debug("llm-dlp: known values' store not closed cleanly: %s", exc)

    def _tenant(self, tenant: str) -> _Tenant:
        """Callers hold ``self._lock``."""
        state = self._tenants.get(tenant)
        if state is None:
            state = self._tenants[tenant] = _Tenant()
        return state

    def _evict(self, tenant: str, state: _Tenant) -> None:
        """Drop the least recently redacted values past the limit and rebuild the matcher.
        Callers hold ``self._lock``."""
        while len(state.values) > self._limit:
            value, _ = state.values.popitem(last=False)
            state.stored.pop(value, None)
            state.unsaved.pop(value, None)
        self._matchers[tenant] = self._rebuilt(self._matchers.get(tenant), state.values)

    def _sync(self, tenant: str) -> None:
        """Pick up what the store holds for ``tenant`` that this process does not: all of it the
        first time, then what was added since, at most once per ``SYNC_INTERVAL_SECONDS``."""
        if self._store is None:
            return
        state = self._tenants.get(tenant)
        if state is not None and self._monotonic() < state.next_check:
            return  # the request path's usual case: no store call
        if not self._store_usable():
            return
        with self._lock:
            state = self._tenant(tenant)
        # A tenant's first read is waited for: its request must not go out before the values the
        # store holds are known. A later one is left to whichever thread is already reading.
        if not state.reading.acquire(blocking=state.cursor is None):
            return
        try:
            if self._monotonic() < state.next_check or not self._store_usable():
                return  # another thread read (or failed) meanwhile
            state.next_check = self._monotonic() + SYNC_INTERVAL_SECONDS
            try:
                read = self._store.newest(tenant) if state.cursor is None else self._store.after(tenant, state.cursor)
            except Exception as exc:  # noqa: BLE001 — unreadable, unreachable, damaged: scan without it
                self._failed("read", exc)
                return
            self._merge(tenant, state, read)
        finally:
            state.reading.release()

    def _merge(self, tenant: str, state: _Tenant, read: Read) -> None:
        assert self._sealer is not None
        associated = _associated(tenant)
        opened: list[tuple[str, _Known, float]] = []
        unopened = 0
        for entry in read.entries:
            try:
                kind, rule, value = json.loads(self._sealer.open(entry.blob, associated).decode("utf-8", "surrogatepass"))
            except (UnsealError, ValueError):  # another deployment key, a tampered or foreign entry
                unopened += 1
                continue
            opened.append((value, _Known(kind, rule), entry.added))
        if unopened:
            log.warning("llm-dlp: %d known-value entries of tenant %s do not open with this proxy's key; ignored",
                        unopened, tenant)
        with self._lock:
            first = state.cursor is None
            state.cursor = read.cursor
            found: OrderedDict[str, _Known] = OrderedDict()
            for value, known, added in opened:  # oldest first
                if len(value) < MIN_LENGTH:
                    continue
                state.stored[value] = max(state.stored.get(value, added), added)
                if value not in state.values:
                    found.pop(value, None)
                    found[value] = known
            if not found:
                return
            if first:  # older than what this process remembered before the store could be read
                state.values = OrderedDict([*found.items(), *state.values.items()])
            else:
                state.values.update(found)
            self._evict(tenant, state)

    def _save(self, tenant: str, state: _Tenant, unsaved: dict[str, _Known]) -> None:
        assert self._store is not None and self._sealer is not None
        associated = _associated(tenant)
        blobs = [self._sealer.seal(json.dumps([known.kind, known.rule, value], ensure_ascii=False)
                                   .encode("utf-8", "surrogatepass"), associated)
                 for value, known in unsaved.items()]
        try:
            self._store.append(tenant, blobs)
        except Exception as exc:  # noqa: BLE001 — kept in memory, written at a later request
            self._failed("write", exc)
            return
        now = self._clock()
        with self._lock:
            for value in unsaved:
                state.unsaved.pop(value, None)
                if value in state.values:
                    state.stored[value] = now

    def _store_usable(self) -> bool:
        return self._monotonic() >= self._skip_until

    def _failed(self, what: str, exc: Exception) -> None:
        with self._lock:
            if not self._store_usable():
                return  # another thread failed first and warned
            self._skip_until = self._monotonic() + RETRY_AFTER_SECONDS
        log.warning("llm-dlp: cannot %s the store of values redacted earlier (%s); requests are still scanned by "
                    "every detector and this process's known values, the store is asked again in %g s",
                    what, exc, RETRY_AFTER_SECONDS)

    @staticmethod
    def _rebuilt(matcher: _Matcher | None, known: OrderedDict[str, _Known]) -> _Matcher:
        settled = matcher.settled if matcher is not None else None
        settled_values = frozenset(settled.values) if settled is not None else frozenset()
        recent = [value for value in known if value not in settled_values]
        if len(recent) > max(_RECENT_MIN, len(settled_values) // _RECENT_SHARE):
            return _Matcher(_Literals(known), None, dict(known))
        return _Matcher(settled, _Literals(recent) if recent else None, dict(known))


def open_known_values(vault: str, confdir: str | Path, key: bytes, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> KnownValues:
    """The proxy's known values, stored where its vault is (``known_stores.open_known_store``)."""
    store = open_known_store(vault, confdir, ttl_seconds=ttl_seconds, max_entries=STORED_PER_TENANT)
    return KnownValues(store=store, key=key, ttl_seconds=ttl_seconds)


def _associated(tenant: str) -> bytes:
    """Binds an entry to its tenant: one copied under another tenant does not open."""
    return b"llm-dlp:known:" + tenant.encode("utf-8", "surrogatepass")
