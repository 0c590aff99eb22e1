"""Audit lines to a syslog receiver on loopback, RFC 5424 over TCP and over TLS (RFC 5425),
with the receiver down for a while.

A real ``AuditLog`` writes; a real TCP (or TLS, with a certificate from a throwaway CA) receiver
parses the octet-counted frames. Every line the log holds must arrive, in order and still sealed,
whether the receiver was up when it was written or not; the backlog drains to zero once it is
back. A TLS receiver whose certificate does not chain to the configured CA gets nothing.
"""

from __future__ import annotations

import re
import socket
import socketserver
import ssl
import threading

import pytest

from llm_dlp.audit.chain import load_or_create_chain_key, mac_of, open_line
from llm_dlp.audit.log import AuditLog
from llm_dlp.audit.syslog import SyslogExporter, parse_target
from llm_dlp.testing.proxyrun import free_port, wait_until
from llm_dlp.testing.standin import TestCA as ThrowawayCA

FRAME = re.compile(rb"<(\d+)>1 (\S+) (\S+) llm-dlp (\d+) (\S+) - (.*)", re.DOTALL)


class Receiver:
    """A syslog-over-TCP receiver (RFC 6587 octet counting) on a fixed loopback port."""

    def __init__(self, port: int, messages: list[bytes] | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.messages: list[bytes] = [] if messages is None else messages
        received = self.messages
        connections = self.connections = []
        refused = self.refused_handshakes = []

        class Handler(socketserver.StreamRequestHandler):
            def setup(self) -> None:
                if tls is not None:
                    try:
                        self.request = tls.wrap_socket(self.request, server_side=True)
                    except (ssl.SSLError, OSError) as exc:
                        refused.append(exc)
                        raise
                super().setup()

            def handle(self) -> None:
                connections.append(self.connection)
                while True:
                    length = b""
                    while not length.endswith(b" "):
                        byte = self.rfile.read(1)
                        if not byte:
                            return
                        length += byte
                    received.append(self.rfile.read(int(length)))

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down as a receiver goes down: no listener, and its open connections closed."""
        self.server.shutdown()
        self.server.server_close()
        for connection in self.connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()


def _write(audit: AuditLog, first: int, count: int) -> None:
    for n in range(first, first + count):
        audit.write("dlp.decision", request_id=f"r{n}", tenant="default", decision="block" if n % 5 == 0 else "allow",
                    findings=[], body_bytes=10, scan_ms=0.5)


def test_every_line_arrives_also_those_written_while_the_receiver_was_down(tmp_path):
    port = free_port()
    confdir = tmp_path / "certs"
    load_or_create_chain_key(confdir)
    exporter = SyslogExporter(f"tcp://127.0.0.1:{port}", tmp_path / "spool", hostname="edge-1")
    audit = AuditLog(tmp_path / "audit.jsonl", confdir=confdir, exporters=[exporter])

    _write(audit, 1, 5)  # nobody listens yet: spooled, and the writes did not wait
    assert exporter.backlog > 0
    messages: list[bytes] = []
    receiver = Receiver(port, messages)
    wait_until(lambda: len(messages) == 5)
    _write(audit, 6, 5)
    wait_until(lambda: len(messages) == 10)
    receiver.stop()  # down for a while: lines keep coming
    _write(audit, 11, 5)
    assert exporter.backlog > 0
    receiver = Receiver(port, messages)
    wait_until(lambda: exporter.backlog == 0 and len(messages) >= 15)
    _write(audit, 16, 2)
    wait_until(lambda: len(messages) >= 17)
    audit.close()
    receiver.stop()

    logged = (tmp_path / "audit.jsonl").read_bytes().splitlines()
    delivered = [FRAME.fullmatch(m).group(6) for m in messages]
    assert len(logged) == 17
    assert delivered == logged  # every line, in chain order, none twice


def test_messages_are_rfc5424_with_the_sealed_line(tmp_path):
    port = free_port()
    receiver = Receiver(port)
    confdir = tmp_path / "certs"
    key = load_or_create_chain_key(confdir)
    exporter = SyslogExporter(f"tcp://127.0.0.1:{port}", tmp_path / "spool", hostname="edge-1")
    audit = AuditLog(tmp_path / "audit.jsonl", confdir=confdir, exporters=[exporter])
    _write(audit, 1, 5)
    wait_until(lambda: len(receiver.messages) == 5)
    audit.close()
    receiver.stop()
    logged = (tmp_path / "audit.jsonl").read_bytes().splitlines()
    for message, line in zip(receiver.messages, logged):
        pri, stamp, host, _pid, msgid, body = FRAME.fullmatch(message).groups()
        assert body == line and host == b"edge-1" and msgid == b"dlp.decision"
        sealed = open_line(body)
        assert mac_of(key, sealed.body) == sealed.mac  # the SIEM can verify what it holds
        assert int(pri) == (16 * 8 + 4 if b'"decision": "block"' in body else 16 * 8 + 6)
        assert stamp.decode() == sealed.fields["time"]


def test_targets_are_checked():
    assert parse_target("tcp://siem.example:514") == ("tcp", "siem.example", 514)
    assert parse_target("tls://siem.example:6514") == ("tls", "siem.example", 6514)
    for bad in ("siem:514", "udp://siem:514", "tcp://siem", "https://siem:6514"):
        with pytest.raises(ValueError):
            parse_target(bad)


def _server_tls(ca: ThrowawayCA, stem: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*ca.issue(stem))
    return context


def test_over_tls_every_line_arrives_also_those_written_while_the_receiver_was_down(tmp_path):
    ca = ThrowawayCA(tmp_path / "ca")
    tls = _server_tls(ca, "syslog-receiver")
    port = free_port()
    confdir = tmp_path / "certs"
    load_or_create_chain_key(confdir)
    exporter = SyslogExporter(f"tls://localhost:{port}", tmp_path / "spool", hostname="edge-1", ca_file=ca.cert_path)
    audit = AuditLog(tmp_path / "audit.jsonl", confdir=confdir, exporters=[exporter])

    messages: list[bytes] = []
    receiver = Receiver(port, messages, tls=tls)
    _write(audit, 1, 5)
    wait_until(lambda: len(messages) == 5)
    receiver.stop()  # down: lines keep coming, spooled
    _write(audit, 6, 5)
    assert exporter.backlog > 0
    receiver = Receiver(port, messages, tls=tls)
    wait_until(lambda: exporter.backlog == 0 and len(messages) >= 10)
    _write(audit, 11, 3)  # the same TLS session carries on
    wait_until(lambda: len(messages) >= 13)
    audit.close()
    receiver.stop()

    logged = (tmp_path / "audit.jsonl").read_bytes().splitlines()
    assert len(logged) == 13
    assert [FRAME.fullmatch(m).group(6) for m in messages] == logged  # every line, in order, none twice
    assert receiver.connections and all(isinstance(c, ssl.SSLSocket) for c in receiver.connections)


def test_a_tls_receiver_the_ca_did_not_sign_gets_nothing_until_one_it_signed_is_there(tmp_path):
    ca, stranger = ThrowawayCA(tmp_path / "ca"), ThrowawayCA(tmp_path / "stranger")
    port = free_port()
    confdir = tmp_path / "certs"
    load_or_create_chain_key(confdir)
    exporter = SyslogExporter(f"tls://localhost:{port}", tmp_path / "spool", hostname="edge-1", ca_file=ca.cert_path)
    audit = AuditLog(tmp_path / "audit.jsonl", confdir=confdir, exporters=[exporter])

    impostor = Receiver(port, tls=_server_tls(stranger, "impostor"))
    _write(audit, 1, 3)
    wait_until(lambda: len(impostor.refused_handshakes) >= 2)  # the exporter refused it and tried again
    assert impostor.messages == [] and exporter.backlog > 0
    impostor.stop()
    genuine = Receiver(port, tls=_server_tls(ca, "genuine"))
    wait_until(lambda: len(genuine.messages) == 3 and exporter.backlog == 0)
    audit.close()
    genuine.stop()
    assert [FRAME.fullmatch(m).group(6) for m in genuine.messages] == (tmp_path / "audit.jsonl").read_bytes().splitlines()


def test_a_ca_file_needs_a_tls_target(tmp_path):
    with pytest.raises(ValueError, match="tls://"):
        SyslogExporter("tcp://127.0.0.1:514", tmp_path / "spool", ca_file=tmp_path / "ca.pem")


def test_the_real_proxy_exports_every_audit_line(tmp_path, provider, test_ca, received):
    import httpx

    from llm_dlp.testing.proxyrun import start_proxy

    port, admin = free_port(), free_port()
    messages: list[bytes] = []
    receiver = Receiver(port, messages)
    running = start_proxy(tmp_path / "run", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                          extra_args=["--export-syslog", f"tcp://127.0.0.1:{port}", "--admin-listen",
                                      f"127.0.0.1:{admin}", "--quiet"])
    try:
        with running.client() as client:
            for text in ("hello", "again", "once more"):
                client.post(f"{provider.base_url}/v1/messages", json={
                    "model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": text}]})
        wait_until(lambda: len(messages) >= len(running.audit_lines()) == 6)  # three decisions, three answers
        metrics = httpx.get(f"http://127.0.0.1:{admin}/metrics").text
        assert 'llm_dlp_export_backlog_bytes{exporter="syslog"} 0.0' in metrics
    finally:
        running.stop()
        receiver.stop()
    assert [FRAME.fullmatch(m).group(6) for m in messages] == running.audit_path.read_bytes().splitlines()
