"""Audit lines to a Splunk HTTP Event Collector stand-in on loopback, down for part of the run."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from llm_dlp.audit.chain import load_or_create_chain_key, mac_of, open_line
from llm_dlp.audit.hec import HecExporter, HecTransport
from llm_dlp.audit.log import AuditLog
from llm_dlp.testing.proxyrun import free_port, wait_until

TOKEN = "00000000-0000-4000-8000-000000000000"


class Collector:
    """Answers as HEC does: 200 {"text":"Success","code":0}, 401 without the token; records events."""

    def __init__(self, port: int, events: list[dict], status: int = 200) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if self.headers.get("authorization") != f"Splunk {TOKEN}":
                    code, answer = 401, {"text": "Invalid token", "code": 4}
                elif status != 200:
                    code, answer = status, {"text": "Server is busy", "code": 9}
                else:
                    events.append(json.loads(body))
                    code, answer = 200, {"text": "Success", "code": 0}
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _write(audit: AuditLog, first: int, count: int) -> None:
    for n in range(first, first + count):
        audit.write("dlp.decision", request_id=f"r{n}", tenant="default", decision="allow", findings=[],
                    body_bytes=10, scan_ms=0.5)


def test_every_line_arrives_through_an_outage_and_a_busy_collector(tmp_path):
    port = free_port()
    confdir = tmp_path / "certs"
    key = load_or_create_chain_key(confdir)
    exporter = HecExporter(f"http://127.0.0.1:{port}/services/collector/event", TOKEN, tmp_path / "spool", "edge-1")
    audit = AuditLog(tmp_path / "audit.jsonl", confdir=confdir, exporters=[exporter])
    events: list[dict] = []

    _write(audit, 1, 4)  # the collector is not there yet
    collector = Collector(port, events)
    wait_until(lambda: len(events) == 4)
    collector.stop()
    collector = Collector(port, events, status=503)  # up but busy: nothing is taken
    _write(audit, 5, 4)
    time.sleep(0.5)  # let it be refused a few times; what is asserted is the count, not the time
    assert len(events) == 4 and exporter.backlog > 0
    collector.stop()
    collector = Collector(port, events)
    wait_until(lambda: len(events) == 8 and exporter.backlog == 0)
    audit.close()
    collector.stop()

    logged = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert [e["event"]["sealed"] for e in events] == logged  # every line, in order, none twice
    for event in events:
        sealed = open_line(event["event"]["sealed"].encode())
        assert mac_of(key, sealed.body) == sealed.mac
        assert event["host"] == "edge-1" and event["sourcetype"] == "llm-dlp:audit"
        assert event["event"]["request_id"] == sealed.fields["request_id"]


def test_a_wrong_token_is_not_taken_for_delivery(tmp_path):
    port = free_port()
    events: list[dict] = []
    collector = Collector(port, events)
    try:
        transport = HecTransport(f"http://127.0.0.1:{port}/services/collector/event", "wrong")
        with pytest.raises(OSError, match="401"):
            transport.deliver(b'{"event": {}}')
        transport.close()
    finally:
        collector.stop()
    assert events == []
    with pytest.raises(ValueError):
        HecTransport("collector:8088", TOKEN)


def test_the_real_proxy_exports_to_the_collector(tmp_path, provider, test_ca, received, monkeypatch):
    import httpx

    from llm_dlp.testing.proxyrun import start_proxy

    port, admin = free_port(), free_port()
    events: list[dict] = []
    collector = Collector(port, events)
    monkeypatch.setenv("LLM_DLP_HEC_TOKEN", TOKEN)
    running = start_proxy(tmp_path / "run", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                          extra_args=["--export-splunk-hec", f"http://127.0.0.1:{port}/services/collector/event",
                                      "--admin-listen", f"127.0.0.1:{admin}", "--quiet", "--instance-id", "edge-9"])
    try:
        with running.client() as client:
            for text in ("hello", "again"):
                client.post(f"{provider.base_url}/v1/messages", json={
                    "model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": text}]})
        wait_until(lambda: len(events) >= len(running.audit_lines()) == 4)  # two decisions, two answers
        metrics = httpx.get(f"http://127.0.0.1:{admin}/metrics").text
        assert 'llm_dlp_export_backlog_bytes{exporter="splunk-hec"} 0.0' in metrics
    finally:
        running.stop()
        collector.stop()
    assert [e["event"]["sealed"] for e in events] == running.audit_path.read_text().splitlines()
    assert {e["event"]["instance"] for e in events} == {"edge-9"} and {e["host"] for e in events} == {"edge-9"}


def test_the_proxy_refuses_to_start_without_the_token(tmp_path, provider, test_ca, monkeypatch):
    from llm_dlp.testing.proxyrun import start_proxy

    monkeypatch.delenv("LLM_DLP_HEC_TOKEN", raising=False)
    with pytest.raises(RuntimeError, match="LLM_DLP_HEC_TOKEN"):
        start_proxy(tmp_path / "run", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                    extra_args=["--export-splunk-hec", "http://127.0.0.1:1/services/collector/event"])
