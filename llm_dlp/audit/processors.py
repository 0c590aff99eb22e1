"""The audit chain's processors: each a small callable with structlog's signature.

``(logger, method_name, event_dict) -> event_dict`` (or, for the last ones, the rendered line),
so structlog's own processors fit in between; ``log.py`` puts them in order once. Two keep state
between lines, and change it only through ``commit``, called after the line is in the file:
the chain link here, and ``recorded.RecordedFindings``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

import structlog

from llm_dlp.audit.chain import ChainState, KeptHead, mac_of

Processor = Callable[[Any, str, dict[str, Any]], Any]

# The line as JSON: non-ASCII kept as is, anything unusual (a datetime, a Path) as its str().
render_json: Processor = structlog.processors.JSONRenderer(ensure_ascii=False, default=str)


class TimeStamper:
    """``time`` and ``event`` first, the time in fixed-width UTC: a reviewer reading the raw file
    sees when and what before the rest, and ``query`` compares times as text."""

    def __init__(self, clock: Callable[[], dt.datetime]) -> None:
        self._clock = clock

    def __call__(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        when = event_dict.pop("time", None) or self._clock()
        stamped = {"time": stamp(when), "event": event_dict.pop("event")}
        return stamped | event_dict


def stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class ChainLink:
    """The hash chain (chain.py): ``link`` adds ``instance``, ``seq`` and ``prev`` before rendering, ``seal``
    appends the ``mac`` of the rendered bytes, ``commit`` advances the chain once it is written.

    The kept head (chain.py) is written by ``commit`` at most once every ``head_every`` seconds,
    always for the line just written under the file lock (so it never names an older line than
    one already kept), and by ``keep_head`` when the writer closes. Replacing the head file cost
    more than everything else a line costs; a head that lags by up to ``head_every`` seconds of
    lines after a crash (never after a normal exit) only shortens the stretch of the tail whose
    removal a reviewer would be told about. 0 keeps the head after every line."""

    def __init__(self, key: bytes, head: KeptHead | None = None, instance: str | None = None,
                 head_every: float = 0.0) -> None:
        self.key = key
        self.head = head
        self.instance = instance  # the proxy instance writing this chain; verify names it
        self.state = ChainState()
        self._pending = ChainState()
        self._head_every = head_every
        self._head_kept_at: float | None = None  # monotonic time of the last head written
        self._head_behind = False  # lines written since the head was last kept

    def resume(self, state: ChainState) -> None:
        """Continue from ``state``: the log's tail as another writer or a restart left it."""
        self.state = state

    def link(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        if self.instance:  # sealed with the line: which instance wrote it cannot be edited either
            event_dict["instance"] = self.instance
        event_dict["seq"] = self.state.seq + 1
        event_dict["prev"] = self.state.mac
        return event_dict

    def seal(self, _logger: Any, _method: str, rendered: str) -> str:
        mac = mac_of(self.key, rendered.encode("utf-8"))
        self._pending = ChainState(self.state.seq + 1, mac)
        return rendered[:-1] + f', "mac": "{mac}"}}'

    def commit(self) -> None:
        self.state = self._pending
        if self.head is None:
            return
        self._head_behind = True
        now = time.monotonic()
        if self._head_kept_at is None or now - self._head_kept_at >= self._head_every:
            self.keep_head()

    @property
    def head_behind(self) -> bool:
        return self.head is not None and self._head_behind

    def keep_head(self) -> None:
        """Write the head for the current state; call under the file lock, after ``catch_up``."""
        if not self.head_behind:
            return
        # The line is in the log already; a head that cannot be written weakens only the
        # detection of a cut-off tail, so it is reported, and traffic is not stopped for it.
        try:
            self.head.write(self.state, self.key)  # type: ignore[union-attr]
        except OSError as exc:
            logging.getLogger("llm_dlp").error("llm-dlp: cannot keep the audit head in %s: %s", self.head.path, exc)
            return
        self._head_kept_at = time.monotonic()
        self._head_behind = False
