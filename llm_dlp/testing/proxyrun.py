"""Start the real ``llm-dlp run`` as a subprocess on loopback, the way an operator would."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from llm_dlp.audit.rotation import log_files

REPO = Path(__file__).resolve().parent.parent.parent
LLM_DLP = Path(sys.executable).parent / "llm-dlp"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listened on {port} within {timeout}s:\n{log.read_text()}")


@dataclass
class RunningProxy:
    process: subprocess.Popen
    port: int
    workdir: Path
    confdir: Path
    audit_path: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca_cert(self) -> Path:
        return self.confdir / "mitmproxy-ca-cert.pem"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_cert))

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(proxy=self.url, verify=self.ssl_context(), timeout=30, **kwargs)

    def audit_lines(self) -> list[dict]:
        """The lines of the log and of the files it rotated into, oldest first: a run that
        crosses midnight UTC starts a new file, and the lines before it still count."""
        return [
            json.loads(line) for path in log_files(self.audit_path)
            for line in path.read_text().splitlines() if line.strip()
        ]

    def decisions(self) -> list[dict]:
        """The decision lines: one per request. (A forwarded request's answer has a line of its
        own, written once the answer has gone through, so it may land after the client is done.)"""
        return [line for line in self.audit_lines() if line.get("event") == "dlp.decision"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_proxy(
    workdir: Path,
    *,
    intercept: list[str],
    upstream_ca: Path,
    policy_dir: Path | None = None,
    extra_args: list[str] | None = None,
    allow_missing_index: bool = True,
) -> RunningProxy:
    """The real ``llm-dlp run`` in a subprocess. The bundled default withholds proprietary code,
    which needs a code index; tests without one start as ``make run`` does, with the warning."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    confdir = workdir / "certs"
    audit = workdir / "audit.jsonl"
    log = workdir / "proxy.log"
    args = [
        str(LLM_DLP), "run",
        "--listen-port", str(port),
        "--confdir", str(confdir),
        "--audit-log", str(audit),
        "--policy-dir", str(policy_dir or REPO / "policies"),
        "--upstream-ca", str(upstream_ca),
    ]
    for host in intercept:
        args += ["--intercept-host", host]
    args += extra_args or []
    if allow_missing_index:
        args.append("--allow-missing-index")
    handle = open(log, "w")
    process = subprocess.Popen(args, cwd=workdir, stdout=handle, stderr=subprocess.STDOUT, env=os.environ.copy())
    wait_for_port(port, process, log)
    return RunningProxy(process, port, workdir, confdir, audit, log)


def copy_policies(target: Path, **overrides: str) -> Path:
    """The bundled policies, with whole files replaced by ``overrides`` (name -> YAML text)."""
    shutil.copytree(REPO / "policies", target)
    for name, text in overrides.items():
        (target / f"{name}.yaml").write_text(text)
    return target


def wait_until(condition, timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)
