"""Which findings this proxy has already recorded: a finding goes into the log once per conversation.

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
(``value_hash``, HMAC under the proxy's key) all match. Only a 16-byte BLAKE2 digest of those is
kept, in memory, so nothing here can be turned back into a value.

Bounds: an entry lives ``ttl_seconds`` after it was last seen (a conversation in use never
expires), and at most ``max_entries`` are kept, the least recently seen going first. When
an entry is gone, the finding is simply recorded again the next time: the log errs towards
saying more. The same holds across processes: after a restart, and on each instance behind a
load balancer, a conversation's findings are recorded once more (once per instance), never
fewer. A value pasted again into a new message has a new location and is recorded anew; two
conversations of one user with the same value at the same place within the TTL count as one.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from llm_dlp.audit.events import ALREADY_RECORDED, DECISION

DEFAULT_TTL_SECONDS = 24 * 3600
DEFAULT_MAX_ENTRIES = 200_000  # ~40 MB at most; a busy team's day of agent sessions fits


class RecordedFindings:
    """A processor for decision events; ``commit`` once the line is written, so a line that could
    not be written does not make its findings count as recorded."""

    def __init__(self, *, ttl_seconds: float = DEFAULT_TTL_SECONDS, max_entries: int = DEFAULT_MAX_ENTRIES,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._now = monotonic
        self._seen: OrderedDict[bytes, float] = OrderedDict()
        self._pending: list[bytes] = []

    def __call__(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        self._pending = []
        if event_dict.get("event") != DECISION:
            return event_dict
        now = self._now()
        conversation = (event_dict.get("tenant"), event_dict.get("user") or event_dict.get("client"))
        event_dict["findings"], event_dict[ALREADY_RECORDED] = self._first_seen(conversation, event_dict.get("findings"), now)
        shadow = event_dict.get("shadow")
        if shadow:
            # The candidate policy's findings follow the same rule, apart from the active
            # policy's: its own record of the conversation, under its tenant.
            candidate = ("shadow", shadow.get("tenant"), *conversation)
            findings, earlier = self._first_seen(candidate, shadow.get("findings"), now)
            event_dict["shadow"] = {**shadow, "findings": findings, ALREADY_RECORDED: earlier}
        return event_dict

    def _first_seen(self, conversation: tuple[Any, ...], findings: Any, now: float) -> tuple[list[Any], int]:
        """The findings this conversation has not recorded before, and how many it has."""
        new, earlier = [], 0
        for finding in findings or ():
            key = _key(conversation, finding)
            if self._known(key, now):
                earlier += 1
            else:
                new.append(finding)
            self._pending.append(key)
        return new, earlier

    def commit(self) -> None:
        now = self._now()
        for key in self._pending:
            self._seen[key] = now
            self._seen.move_to_end(key)
        self._pending = []
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)
        self._expire(now)

    def __len__(self) -> int:
        return len(self._seen)

    def _known(self, key: bytes, now: float) -> bool:
        seen = self._seen.get(key)
        return seen is not None and now - seen <= self._ttl

    def _expire(self, now: float) -> None:
        # Oldest first: stop at the first entry still alive.
        while self._seen:
            key, seen = next(iter(self._seen.items()))
            if now - seen <= self._ttl:
                return
            del self._seen[key]


def _key(conversation: tuple[Any, ...], finding: dict[str, Any]) -> bytes:
    parts = (*conversation, finding.get("rule"), finding.get("location"), finding.get("action"), finding.get("value_hash"))
    return hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=16).digest()
