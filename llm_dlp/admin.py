"""The admin listener: metrics and health on a port of their own, never the proxy's.

    GET /metrics   Prometheus text format (``metrics.Metrics``)
    GET /healthz   liveness: 200 while the process serves this listener
    GET /readyz    readiness: 200 when every check passes, else 503 naming the ones that failed

A load balancer or Kubernetes probes ``/readyz`` to take an instance out of rotation before it
refuses traffic (an audit directory that filled up or went read-only, a vault that went away);
``/healthz`` only says the process is there, so an orchestrator does not restart an instance
for a fault outside it. The listener is a small threaded WSGI server (the standard library's),
so a probe still answers while the proxy's event loop is busy scanning.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from llm_dlp.metrics import CONTENT_TYPE, Metrics

Check = Callable[[], str | None]  # None when fine, else what is wrong, in words


@dataclass(frozen=True, slots=True)
class ReadinessCheck:
    name: str
    check: Check


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    failures: dict[str, str]


def parse_listen(spec: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``[v6]:PORT``) into its parts; ValueError in words otherwise."""
    host, sep, port = spec.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{spec!r}: expected HOST:PORT, for example 127.0.0.1:9464")
    return host.strip("[]"), int(port)


def readiness(checks: Sequence[ReadinessCheck]) -> Readiness:
    failures: dict[str, str] = {}
    for item in checks:
        try:
            problem = item.check()
        except Exception as exc:  # noqa: BLE001 — a check that raises is a failed check, said in words
            problem = f"{type(exc).__name__}: {exc}"
        if problem:
            failures[item.name] = problem
    return Readiness(not failures, failures)


def directory_writable(path: Path) -> str | None:
    """Can a file be created in ``path``? Tried for real: root passes every permission check."""
    try:
        with tempfile.TemporaryFile(dir=path, prefix=".llm-dlp-ready-"):
            return None
    except OSError as exc:
        return f"cannot write in {path}: {exc.strerror or exc}"


def files_readable(*paths: Path) -> str | None:
    missing = [str(p) for p in paths if not os.access(p, os.R_OK)]
    return f"cannot read {', '.join(missing)}" if missing else None


class AdminApp:
    """The WSGI application behind the admin listener."""

    def __init__(self, metrics: Metrics, checks: Sequence[ReadinessCheck]) -> None:
        self.metrics = metrics
        self.checks = tuple(checks)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _reply(start_response, "405 Method Not Allowed", b"GET only\n")
        if path == "/metrics":
            return _reply(start_response, "200 OK", self.metrics.exposition(), CONTENT_TYPE)
        if path == "/healthz":
            return _reply(start_response, "200 OK", b"ok\n")
        if path == "/readyz":
            state = readiness(self.checks)
            body = json.dumps({"ready": state.ready, "failures": state.failures}).encode() + b"\n"
            return _reply(start_response, "200 OK" if state.ready else "503 Service Unavailable", body,
                          "application/json")
        return _reply(start_response, "404 Not Found", b"/metrics, /healthz or /readyz\n")


def _reply(start_response: Callable[..., Any], status: str, body: bytes,
           content_type: str = "text/plain; charset=utf-8") -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — the base class's name
        pass  # a scrape every 15 s from each Prometheus must not fill the proxy's console


class AdminServer:
    """The listener in a thread of its own; ``start`` binds (and raises OSError if it cannot)."""

    def __init__(self, host: str, port: int, app: AdminApp) -> None:
        self._server = make_server(host, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="llm-dlp-admin", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
