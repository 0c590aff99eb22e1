"""Which findings a conversation has already recorded: a finding goes into the log once per conversation.

A coding agent sends its whole history with every turn, so the file it read at turn 3 is found
again at turns 4, 5 ... 30. Recording it each time made one value count thirty times and made
lines grow with the conversation. Instead, a decision line lists only the findings not recorded
before and carries ``findings_already_recorded``: how many findings of this request an earlier
line holds. A ``shadow`` record (what a candidate policy would have done) is treated the same
way, as a conversation of its own.

How a conversation is told apart without storing anything of its content: the APIs have no
conversation id, but a history only grows at its end, so an earlier message keeps its place
(its JSON path) from turn to turn. A finding is "the same" when tenant, user (or client address
without proxy authentication), rule, location, the action taken, and the value's keyed hash
(``value_hash``, HMAC under the proxy's key) all match. Only a 16-byte BLAKE2 digest of those,
keyed with a key derived from the proxy's value-hash key, is kept, so nothing here can be turned
back into a value, nor a user name confirmed by guessing.

Where it is kept is a store (``recorded_stores.py``): the proxy's follows its vault, a shared
Redis for a fleet, a file in the confdir otherwise, so neither a restart nor a load balancer makes
a conversation's findings be recorded again. The store's TTL and bound decide how long an entry
lives; when an entry is gone, the finding is simply recorded again the next time. A store that
cannot be read or written errs the same way: every finding of that request is recorded, and the
store is left alone for a few seconds (a dead Redis must not add its timeout to every request).
The log may say more, never less. A value pasted again into a new message has a new location and
is recorded anew; two conversations of one user with the same value at the same place within
the TTL count as one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from llm_dlp.audit.events import ALREADY_RECORDED, DECISION
from llm_dlp.audit.recorded_stores import DEFAULT_MAX_ENTRIES, DEFAULT_TTL_SECONDS, MemoryRecorded, RecordedStore

log = logging.getLogger("llm_dlp")

RETRY_AFTER_SECONDS = 5.0  # after a store error, every finding is recorded without asking it
# A finding seen again is marked again only when its mark is this old: a turn that carries 130
# known findings then costs one read, not a read and 130 writes (2 ms with the file). So an entry
# lives at least the store's TTL less this after it was last seen, and the bound drops the least
# recently marked.
REFRESH_AFTER_SECONDS = 3600.0

__all__ = ["DEFAULT_MAX_ENTRIES", "DEFAULT_TTL_SECONDS", "RecordedFindings", "recorded_key"]


def recorded_key(value_key: bytes) -> bytes:
    """The digest key, from the proxy's value-hash key (``llm_dlp.keys``): every instance that
    shares the confdir's keys makes the same digests, so a shared store works across the fleet."""
    return hmac.new(value_key, b"llm-dlp recorded findings v1", hashlib.sha256).digest()


class RecordedFindings:
    """A processor for decision events; ``commit`` once the line is written, so a line that could
    not be written does not make its findings count as recorded. Callers serialise the two calls
    (the audit log's lock)."""

    def __init__(self, store: RecordedStore | None = None, *, key: bytes | None = None,
                 refresh_after_seconds: float = REFRESH_AFTER_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        # Without a store, this process's memory; without a key, one of this process (its memory
        # dies with it, so no other process needs to make the same digests).
        self._store: RecordedStore = store if store is not None else MemoryRecorded(monotonic=monotonic)
        self._key = key if key is not None else secrets.token_bytes(32)
        self._refresh_after = refresh_after_seconds
        self._now = monotonic
        self._pending: list[bytes] = []
        self._skip_until = float("-inf")

    def __call__(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        self._pending = []
        if event_dict.get("event") != DECISION:
            return event_dict
        conversation = (event_dict.get("tenant"), event_dict.get("user") or event_dict.get("client"))
        shadow = event_dict.get("shadow")
        # The candidate policy's findings follow the same rule, apart from the active policy's:
        # its own record of the conversation, under its tenant.
        candidate = ("shadow", shadow.get("tenant"), *conversation) if shadow else None
        active_keys = [self._digest(conversation, f) for f in event_dict.get("findings") or ()]
        shadow_keys = [self._digest(candidate, f) for f in shadow.get("findings") or ()] if candidate else []
        known = self._known(active_keys + shadow_keys)
        event_dict["findings"], event_dict[ALREADY_RECORDED] = _split(event_dict.get("findings"), active_keys, known)
        if shadow:
            findings, earlier = _split(shadow.get("findings"), shadow_keys, known)
            event_dict["shadow"] = {**shadow, "findings": findings, ALREADY_RECORDED: earlier}
        # To mark once the line is written: the new findings, and known ones due a refresh.
        self._pending = [key for key in active_keys + shadow_keys
                         if key not in known or known[key] >= self._refresh_after]
        return event_dict

    def commit(self) -> None:
        pending, self._pending = self._pending, []
        if pending and self._usable():
            try:
                self._store.mark(pending)
            except Exception as exc:  # noqa: BLE001 — not remembered: recorded again next time
                self._failed("write", exc)

    def close(self) -> None:
        try:
            self._store.close()
        except Exception as exc:  # noqa: BLE001 — closing at shutdown must not hide the real exit
            log.debug("llm-dlp: audit memory not closed cleanly: %s", exc)

    def __len__(self) -> int:
        return len(self._store)

    def _known(self, keys: list[bytes]) -> dict[bytes, float]:
        if not keys or not self._usable():
            return {}
        try:
            return self._store.known(keys)
        except Exception as exc:  # noqa: BLE001 — unreadable, unreachable, damaged: record again
            self._failed("read", exc)
            return {}

    def _usable(self) -> bool:
        return self._now() >= self._skip_until

    def _failed(self, what: str, exc: Exception) -> None:
        self._skip_until = self._now() + RETRY_AFTER_SECONDS
        log.warning("llm-dlp: cannot %s the audit's memory of recorded findings (%s); findings are recorded "
                    "again meanwhile", what, exc)

    def _digest(self, conversation: tuple[Any, ...], finding: dict[str, Any]) -> bytes:
        parts = (*conversation, finding.get("rule"), finding.get("location"), finding.get("action"), finding.get("value_hash"))
        return hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), key=self._key, digest_size=16).digest()


def _split(findings: Any, keys: list[bytes], known: dict[bytes, float]) -> tuple[list[Any], int]:
    """The findings not recorded before, and how many were."""
    new = [finding for finding, key in zip(findings or (), keys) if key not in known]
    return new, len(keys) - len(new)
