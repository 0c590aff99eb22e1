"""Addons driven in-process with mitmproxy's own test kit (taddons, tflow): milliseconds each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.test import tflow, tutils

from detectors.secrets import SecretDetector
from llm_dlp.audit.log import AuditLog
from llm_dlp.endpoints import EndpointTable
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.testing.proxyrun import REPO


@pytest.fixture(scope="session")
def secrets() -> SecretDetector:
    return SecretDetector()


@pytest.fixture
def pipeline(secrets) -> Pipeline:
    return Pipeline(load_policy_dir(REPO / "policies"), [secrets], ValueHasher(b"k" * 32))


@pytest.fixture
def endpoints() -> EndpointTable:
    return EndpointTable.with_extra([])


@pytest.fixture
def audit(tmp_path) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl", key=b"a" * 32)
    yield log
    log.close()


def audit_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def chat(text: str) -> bytes:
    return json.dumps({"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": text}]}).encode()


def flow_to(host: str, path: str = "/v1/messages", content: bytes = b"", **headers: str) -> http.HTTPFlow:
    """A client's POST as mitmproxy hands it to the addons, before any hook ran."""
    request = tutils.treq(
        host=host, port=443, scheme=b"https", method=b"POST", path=path.encode(), authority=host.encode(),
        headers=http.Headers(content_type="application/json", **headers), content=content,
    )
    request.headers["content-length"] = str(len(content))
    return tflow.tflow(req=request)
