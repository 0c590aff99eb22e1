"""The audit log: one sealed JSON line per event, through a chain of processors into a sink.

Configured once, here, in this order (structlog's design; each step is its own small callable):

    RequestTargetMask        path and model without the client's values  target.py
    TimeStamper              time and event first, fixed-width UTC        processors.py
    RecordedFindings         a finding once per conversation, then a count recorded.py
    ChainLink.link           instance, seq and prev                       processors.py
    render_json              the line                                     processors.py
    ChainLink.seal           the line's mac                               processors.py
    → LogFile | Stream       one write(2), locked, rotated                sink.py
    → ConsoleSink            a short line per request, unless --quiet     console.py
    → MetricsSink            the Prometheus counters, when asked          llm_dlp/metrics.py
    → exporters              the sealed line to a SIEM, spooled           export.py

Callers pass an event value (``events.py``); the events name their fields. ``record`` takes
the pipeline's verdict for a request (``records.decision_event`` reads it).

``record_event`` returns only once the line is in the file: the addon forwards a request after
that, so a proxy killed by SIGTERM, Ctrl-C or a crash has written a line for every request it
let through. Another process (``audit purge``) may append to the same log: the file lock, and
the sink's check for lines it did not write (the chain is then re-read from the file's tail),
keep one unbroken chain.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import structlog

from llm_dlp.audit.chain import ChainState, KeptHead, load_or_create_chain_key, read_head, tail_state
from llm_dlp.audit.console import ConsoleSink
from llm_dlp.audit.events import DECISION, RESTORE, AuditEvent
from llm_dlp.audit.processors import ChainLink, Processor, TimeStamper, render_json
from llm_dlp.audit.recorded import RecordedFindings
from llm_dlp.audit.records import decision_event
from llm_dlp.audit.rotation import Rotation
from llm_dlp.audit.sink import LogFile, Stream
from llm_dlp.audit.target import RequestTargetMask

if TYPE_CHECKING:
    from llm_dlp.audit.export import SpooledExporter
    from llm_dlp.keys import ValueHasher
    from llm_dlp.metrics import MetricsSink
    from llm_dlp.pipeline import RequestInfo, Verdict

# Kept for callers of the first version; the names live in events.py.
EVENT = DECISION
RESTORE_EVENT = RESTORE


class AuditWriteError(OSError):
    """The audit line could not be written; the request must not be forwarded unaudited."""


class AuditLog:
    def __init__(
        self,
        target: str | Path,
        *,
        confdir: str | Path = "certs",
        key: bytes | None = None,
        rotation: Rotation = Rotation(),
        fsync: bool = False,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        head_dir: str | Path | None = None,
        console: TextIO | None = None,
        recorded: RecordedFindings | None = None,
        metrics: MetricsSink | None = None,
        instance: str | None = None,
        exporters: Sequence[SpooledExporter] = (),
        hasher: ValueHasher | None = None,
        head_every: float = 1.0,
    ) -> None:
        self.target = str(target)
        path = None if self.target == "-" else Path(self.target)
        key = key if key is not None else load_or_create_chain_key(confdir)
        # Where the chain's head is kept (see chain.py); None keeps no head. ``head_every``: how
        # many seconds the kept head may lag while the writer runs (processors.ChainLink).
        head = KeptHead.of(head_dir, path) if head_dir is not None and path is not None else None
        self._sink: LogFile | Stream = Stream(sys.stdout) if path is None else LogFile(path, rotation, fsync)
        self._link = ChainLink(key, head, instance, head_every)
        # Which findings each conversation has recorded; the proxy passes one kept where its vault
        # is (recorded.py), the default is this process's memory.
        self._recorded = recorded if recorded is not None else RecordedFindings()
        self._clock = clock
        # What every event goes through first; what every line goes through before the console
        # sees it; and what seals it for the file.
        # ``hasher``: the proxy's value-hash key, so a masked path or model carries the same mark
        # on every line and every instance; without it, a key of this process (target.py).
        self._keep: list[Processor] = [RequestTargetMask(hasher)]
        self._prepare: list[Processor] = [TimeStamper(clock), self._recorded]
        self._seal: list[Processor] = [self._link.link, render_json, self._link.seal]
        self._console = ConsoleSink(console) if console is not None else None
        self._metrics = metrics
        self._exporters = tuple(exporters)
        self._lock = threading.Lock()

    def record(self, info: RequestInfo, verdict: Verdict) -> None:
        """The decision on one request."""
        self.record_event(decision_event(info, verdict))

    def record_event(self, event: AuditEvent) -> None:
        self.write(event.name, **event.fields())

    def write(self, event: str, **fields: Any) -> None:
        """A line of any event; prefer ``record_event`` with an event from events.py."""
        try:
            kept = _through(self._keep, {"event": event, **fields})
        except structlog.DropEvent:
            return
        # The metrics count every finding of the request, not only those new to the conversation:
        # a copy, because the chain's processors reshape the dict they are given.
        counted = dict(kept)
        try:
            with self._lock:
                prepared = self._write_line(kept)
        except (OSError, ValueError) as exc:
            if self._metrics is not None:
                self._metrics.write_failed()
            raise AuditWriteError(f"cannot write audit log {self.target}: {exc}") from exc
        if self._metrics is not None:
            self._metrics.show(counted)
        if self._console is not None:
            self._show(prepared)

    @property
    def state(self) -> ChainState:
        return self._link.state

    def close(self) -> None:
        """Keep the head for the last line, then close: after a normal exit the head is never behind."""
        with self._lock:
            self._keep_head()
            self._sink.close()
            self._recorded.close()
        for exporter in self._exporters:
            exporter.close()

    def _write_line(self, event_dict: dict[str, Any]) -> dict[str, Any]:
        now = self._clock()
        event_dict["time"] = now
        self._sink.lock()
        try:
            self._catch_up()
            self._sink.rotate_if_due(now, self._link.state.seq + 1)
            prepared = _through(self._prepare, event_dict)
            line = _through(self._seal, dict(prepared))
            self._sink.write(line, now)
            self._link.commit()  # still under the file lock: the kept head names this very line
            for exporter in self._exporters:  # spooled, in chain order; never waits for a receiver
                _export(exporter, line)
        finally:
            self._sink.unlock()
        self._recorded.commit()
        return prepared

    def _catch_up(self) -> None:
        if self._sink.catch_up():  # only a file can change behind our back
            self._link.resume(tail_state(self._sink.path, self._kept_head()))  # type: ignore[arg-type]

    def _kept_head(self) -> ChainState | None:
        """The newest of the kept head and the last line this writer wrote: the kept head may lag
        (``head_every``), and a tail cut off while we run must still be bridged, not forgotten."""
        head = self._link.head
        if head is None:
            return None
        kept = read_head(head.path, self._link.key)
        own = self._link.state
        return own if kept is None or own.seq > kept.seq else kept

    def _keep_head(self) -> None:
        if not self._link.head_behind or self._sink.path is None:
            return
        try:
            self._sink.lock()
        except (OSError, ValueError) as exc:
            logging.getLogger("llm_dlp").error("llm-dlp: audit head not kept at close: %s", exc)
            return
        try:
            self._catch_up()
            self._link.keep_head()
        except (OSError, ValueError) as exc:
            logging.getLogger("llm_dlp").error("llm-dlp: audit head not kept at close: %s", exc)
        finally:
            self._sink.unlock()

    def _show(self, prepared: dict[str, Any]) -> None:
        try:
            self._console.show(prepared)  # type: ignore[union-attr]
        except (OSError, ValueError) as exc:  # a closed terminal must not stop the traffic
            logging.getLogger("llm_dlp").debug("llm-dlp: console line not shown: %s", exc)


def _export(exporter: SpooledExporter, line: str) -> None:
    # The line is in the log, the record: a spool that cannot be written must not refuse the request.
    try:
        exporter.send(line)
    except OSError as exc:
        logging.getLogger("llm_dlp").error("llm-dlp: audit line not spooled for export: %s", exc)


def _through(processors: list[Processor], event_dict: dict[str, Any]) -> Any:
    result: Any = event_dict
    for processor in processors:
        result = processor(None, "info", result)
    return result
