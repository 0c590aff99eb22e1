"""Audit lines to a SIEM: a spool on disk, and a thread that delivers it through a transport.

The local chained log stays the record; an exporter never blocks traffic. ``send`` appends the
rendered message to a spool file and returns; a thread of its own hands the spool, in order, to
the transport (``syslog.py``, ``hec.py``) and moves a cursor (a small file beside the spool) only
after the transport took a message. A receiver that is down, refuses or resets is retried with
backoff from the cursor, so every line arrives once it is back, also across a restart of the
proxy. A line is sent again when the proxy stopped between delivering it and moving the cursor.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

MAX_BACKOFF_SECONDS = 5.0


class Transport(Protocol):
    name: str  # names the spool and the backlog metric's label

    def deliver(self, message: bytes) -> None:
        """Hand one message to the receiver; OSError when it did not take it."""

    def close(self) -> None: ...


class SpooledExporter:
    """An audit exporter: ``send`` spools, a thread delivers. ``backlog`` is what waits, in bytes."""

    def __init__(self, transport: Transport, render: Callable[[str], bytes | None], spool_dir: Path) -> None:
        self.transport = transport
        self._render = render
        spool_dir.mkdir(parents=True, exist_ok=True)
        self._spool = spool_dir / f"{transport.name}.spool"
        self._cursor = spool_dir / f"{transport.name}.cursor"
        self._spool.touch()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._deliver, name=f"llm-dlp-{transport.name}", daemon=True)
        self._thread.start()

    @property
    def name(self) -> str:
        return self.transport.name

    @property
    def backlog(self) -> int:
        with self._lock:
            return max(0, self._spool.stat().st_size - self._read_cursor())

    def send(self, line: str) -> None:
        message = self._render(line)
        if message is None:  # an event this exporter does not carry (OCSF maps only some)
            return
        if b"\n" in message:
            raise ValueError("a rendered message must be one line")
        with self._lock, open(self._spool, "ab") as spool:
            spool.write(message + b"\n")
        self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """Stop after delivering what is spooled, for at most ``timeout`` seconds; the rest stays spooled."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self.transport.close()

    def _deliver(self) -> None:
        backoff = 0.1
        while True:
            message, end = self._next()
            if message is None:
                if self._stop.is_set():
                    break
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:
                self.transport.deliver(message)
            except OSError:
                if self._stop.wait(backoff):  # closing: what is left stays in the spool for next time
                    break
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            backoff = 0.1
            self._advance(end)

    def _next(self) -> tuple[bytes | None, int]:
        with self._lock:
            start = self._read_cursor()
            if start > self._spool.stat().st_size:  # stopped between emptying the spool and the cursor
                start = 0
            with open(self._spool, "rb") as spool:
                spool.seek(start)
                record = spool.readline()
        if not record.endswith(b"\n"):
            return None, start
        return record[:-1], start + len(record)

    def _advance(self, end: int) -> None:
        with self._lock:
            if end >= self._spool.stat().st_size:  # all delivered: start the spool afresh
                self._spool.write_bytes(b"")
                end = 0
            temporary = self._cursor.with_name(self._cursor.name + ".tmp")
            temporary.write_text(str(end))
            os.replace(temporary, self._cursor)

    def _read_cursor(self) -> int:
        try:
            return int(self._cursor.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0
