"""Audit lines to a syslog receiver: RFC 5424 messages over TCP, RFC 6587 octet counting.

The message is the sealed line itself (MSGID the event), so a SIEM can verify what it holds with
the chain key. Spooling and retries are ``export.py``'s. RFC 5424 over TCP has no
acknowledgement: before each send the connection is checked for a receiver that went away, but a
line handed to the socket in the instant a receiver dies can still be lost with it.
"""

from __future__ import annotations

import json
import os
import socket
from functools import partial
from pathlib import Path

from llm_dlp.audit.events import AUTH_FAILURE, RESPONSE, answer_failed
from llm_dlp.audit.export import SpooledExporter

APP_NAME = "llm-dlp"
PRI_INFO = 16 * 8 + 6  # facility local0, severity informational
PRI_WARNING = 16 * 8 + 4  # a block, a refused login, an upstream failure
WARNING_DECISIONS = ("block", "error", "withhold")


def parse_target(spec: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` into its parts; ValueError in words otherwise."""
    scheme, sep, rest = spec.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme != "tcp" or not sep or not host or not port.isdigit():
        raise ValueError(f"{spec!r}: expected tcp://HOST:PORT")
    return host.strip("[]"), int(port)


def rfc5424(hostname: str, procid: int, line: str) -> bytes:
    """The sealed line as an RFC 5424 message: its time, its event as MSGID, the line as MSG."""
    fields = json.loads(line)
    event = str(fields.get("event") or "-")[:32]
    warning = (fields.get("decision") in WARNING_DECISIONS or event == AUTH_FAILURE
               or event == RESPONSE and answer_failed(fields))
    pri = PRI_WARNING if warning else PRI_INFO
    return f"<{pri}>1 {fields.get('time') or '-'} {hostname} {APP_NAME} {procid} {event} - {line}".encode("utf-8")


class SyslogTransport:
    name = "syslog"

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._connection: socket.socket | None = None

    def deliver(self, message: bytes) -> None:
        try:
            if self._connection is not None and _closed_by_peer(self._connection):
                self.close()
            if self._connection is None:
                self._connection = socket.create_connection((self.host, self.port), timeout=5)
            self._connection.sendall(str(len(message)).encode() + b" " + message)
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def SyslogExporter(target: str, spool_dir: Path, hostname: str | None = None) -> SpooledExporter:  # noqa: N802 — reads as the class it builds
    host, port = parse_target(target)
    name = (hostname or socket.gethostname()).replace(" ", "_")[:255] or "-"
    return SpooledExporter(SyslogTransport(host, port), partial(rfc5424, name, os.getpid()), spool_dir)


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
