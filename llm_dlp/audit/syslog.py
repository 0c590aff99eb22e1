"""Every sealed audit line also to a syslog receiver (RFC 5424 over TCP, RFC 6587 octet counting).

The local chained log stays the record; the exporter never blocks traffic. ``send`` appends the
framed message to a spool file on disk and returns; a thread of its own sends the spool in
order and moves a cursor (a small file beside the spool) only after a message is handed to the
socket. A receiver that is down, refuses or resets is retried with backoff from the cursor, so
every line arrives once it is back, also across a restart of the proxy. Before each send the connection is checked
for a receiver that went away (RFC 5424 over TCP has no acknowledgement); a line handed to the
socket in the instant a receiver dies can still be lost with it. A line is sent again when the
proxy stopped between sending it and moving the cursor.

The message is the sealed line itself, so a SIEM can verify what it holds with the chain key.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

APP_NAME = "llm-dlp"
PRI_INFO = 16 * 8 + 6  # facility local0, severity informational
PRI_WARNING = 16 * 8 + 4  # a block, a refused login, an upstream failure
WARNING_DECISIONS = ("block", "error", "withhold")
MAX_BACKOFF_SECONDS = 5.0


def parse_target(spec: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` into its parts; ValueError in words otherwise."""
    scheme, sep, rest = spec.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme != "tcp" or not sep or not host or not port.isdigit():
        raise ValueError(f"{spec!r}: expected tcp://HOST:PORT")
    return host.strip("[]"), int(port)


def rfc5424(line: str, hostname: str, procid: int) -> bytes:
    """The sealed line as an RFC 5424 message: its time, its event as MSGID, the line as MSG."""
    fields = json.loads(line)
    event = str(fields.get("event") or "-")[:32]
    warning = fields.get("decision") in WARNING_DECISIONS or event in ("dlp.auth_failure", "dlp.response")
    pri = PRI_WARNING if warning else PRI_INFO
    return f"<{pri}>1 {fields.get('time') or '-'} {hostname} {APP_NAME} {procid} {event} - {line}".encode("utf-8")


class SyslogExporter:
    """An audit exporter: ``send`` spools, a thread delivers. ``backlog`` is what waits, in bytes."""

    def __init__(self, target: str, spool_dir: Path, hostname: str | None = None) -> None:
        self.host, self.port = parse_target(target)
        spool_dir.mkdir(parents=True, exist_ok=True)
        self._spool = spool_dir / "syslog.spool"
        self._cursor = spool_dir / "syslog.cursor"
        self._spool.touch()
        self._hostname = (hostname or socket.gethostname()).replace(" ", "_")[:255] or "-"
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._deliver, name="llm-dlp-syslog", daemon=True)
        self._thread.start()

    @property
    def backlog(self) -> int:
        with self._lock:
            return self._spool.stat().st_size - self._read_cursor()

    def send(self, line: str) -> None:
        message = rfc5424(line, self._hostname, os.getpid())
        frame = str(len(message)).encode() + b" " + message + b"\n"  # the newline is the spool's, not the frame's
        with self._lock, open(self._spool, "ab") as spool:
            spool.write(frame)
        self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """Stop after delivering what is spooled, for at most ``timeout`` seconds; the rest stays spooled."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _deliver(self) -> None:
        connection: socket.socket | None = None
        backoff = 0.1
        while True:
            frame, end = self._next()
            if frame is None:
                if self._stop.is_set():
                    break
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:
                if connection is not None and _closed_by_peer(connection):
                    connection.close()
                    connection = None
                if connection is None:
                    connection = socket.create_connection((self.host, self.port), timeout=5)
                connection.sendall(frame)
            except OSError:
                if connection is not None:
                    connection.close()
                    connection = None
                if self._stop.wait(backoff):  # closing: what is left stays in the spool for next time
                    break
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            backoff = 0.1
            self._advance(end)
        if connection is not None:
            connection.close()

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


def _closed_by_peer(connection: socket.socket) -> bool:
    """A receiver that went away has sent FIN or RST: a send would vanish into a dead socket, so
    look first (the receiver never talks back, so anything readable means it is gone)."""
    try:
        connection.setblocking(False)
        try:
            return connection.recv(1, socket.MSG_PEEK) == b""
        finally:
            connection.setblocking(True)
            connection.settimeout(5)
    except BlockingIOError:
        return False
    except OSError:
        return True
