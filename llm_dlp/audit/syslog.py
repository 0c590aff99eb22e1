"""Audit lines to a syslog receiver: RFC 5424 messages, octet-counted, over TCP or TLS.

``tcp://HOST:PORT`` frames as RFC 6587 does; ``tls://HOST:PORT`` is RFC 5425 (the same octet
counting, inside TLS, port 6514 by convention): the receiver's certificate is verified against a
CA file given with the target (else the system's roots) and must name HOST. The message is the
sealed line itself (MSGID the event), so a SIEM can verify what it holds with the chain key.
Spooling and retries are ``export.py``'s. Syslog over TCP or TLS has no acknowledgement: before
each send the connection is checked for a receiver that went away, but a line handed to the
socket in the instant a receiver dies can still be lost with it.
"""

from __future__ import annotations

import json
import os
import select
import socket
import ssl
from functools import partial
from pathlib import Path

from llm_dlp.audit.events import AUTH_FAILURE, RESPONSE, answer_failed
from llm_dlp.audit.export import SpooledExporter

APP_NAME = "llm-dlp"
PRI_INFO = 16 * 8 + 6  # facility local0, severity informational
PRI_WARNING = 16 * 8 + 4  # a block, a refused login, an upstream failure
WARNING_DECISIONS = ("block", "error", "withhold")


SCHEMES = ("tcp", "tls")


def parse_target(spec: str) -> tuple[str, str, int]:
    """``tcp://HOST:PORT`` or ``tls://HOST:PORT`` into scheme, host and port; ValueError in words otherwise."""
    scheme, sep, rest = spec.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in SCHEMES or not sep or not host or not port.isdigit():
        raise ValueError(f"{spec!r}: expected tcp://HOST:PORT or tls://HOST:PORT")
    return scheme, host.strip("[]"), int(port)


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

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        self.host, self.port = host, port
        self._tls = tls
        self._connection: socket.socket | None = None

    def deliver(self, message: bytes) -> None:
        try:
            if self._connection is not None and _closed_by_peer(self._connection):
                self.close()
            if self._connection is None:
                self._connection = self._connect()
            self._connection.sendall(str(len(message)).encode() + b" " + message)
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> socket.socket:
        connection = socket.create_connection((self.host, self.port), timeout=5)
        if self._tls is None:
            return connection
        try:  # a certificate that does not verify is an OSError (ssl.SSLError): retried like a receiver that is down
            return self._tls.wrap_socket(connection, server_hostname=self.host)
        except OSError:
            connection.close()
            raise


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verify the receiver against ``ca_file`` (else the system's roots), its name included; TLS 1.2 or later."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def SyslogExporter(target: str, spool_dir: Path, hostname: str | None = None,  # noqa: N802 — reads as the class it builds
                   ca_file: Path | None = None) -> SpooledExporter:
    scheme, host, port = parse_target(target)
    if ca_file is not None and scheme != "tls":
        raise ValueError(f"{target!r}: a CA file verifies a TLS receiver; use tls://HOST:PORT")
    name = (hostname or socket.gethostname()).replace(" ", "_")[:255] or "-"
    transport = SyslogTransport(host, port, tls_context(ca_file) if scheme == "tls" else None)
    return SpooledExporter(transport, partial(rfc5424, name, os.getpid()), spool_dir)


def _closed_by_peer(connection: socket.socket) -> bool:
    """A receiver that went away has sent FIN or RST: a send would vanish into a dead socket, so
    look first (the receiver never talks back, so anything readable means it is gone)."""
    if isinstance(connection, ssl.SSLSocket):
        return _tls_closed_by_peer(connection)
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


def _tls_closed_by_peer(connection: ssl.SSLSocket) -> bool:
    """As ``_closed_by_peer``, through TLS: bytes on the wire can be a TLS 1.3 session ticket, not
    a goodbye, so read through the TLS layer; only an end of stream or an error means gone."""
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable and not connection.pending():
        return False
    try:
        connection.setblocking(False)
        try:
            return connection.recv(1) == b""
        finally:
            connection.setblocking(True)
            connection.settimeout(5)
    except ssl.SSLWantReadError:  # only handshake records (a ticket) were waiting
        return False
    except OSError:
        return True
