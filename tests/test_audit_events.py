"""The events besides decisions: upstream answers and errors, refused logins, the console line."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from mitmproxy.test import tflow

from addons.identity import ProxyIdentity
from llm_dlp.audit.chain import load_or_create_chain_key
from llm_dlp.audit.events import AuthFailureEvent, ResponseEvent, RestoreEvent
from llm_dlp.audit.log import AuditLog
from llm_dlp.audit.verify import verify
from llm_dlp.identity import UsersFile, hash_password
from llm_dlp.testing.proxyrun import free_port, start_proxy

NOON = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def audit(tmp_path):
    console = io.StringIO()
    log = AuditLog(tmp_path / "audit.jsonl", key=load_or_create_chain_key(tmp_path / "certs"), console=console,
                   clock=lambda: NOON)
    yield log, console
    log.close()


def lines(log: AuditLog) -> list[dict]:
    return [json.loads(line) for line in Path(log.target).read_text().splitlines()]


def answer(status: int | None, error: str | None = None) -> ResponseEvent:
    return ResponseEvent(request_id="r1", tenant="default", user="alice", host="api.anthropic.com",
                         path="/v1/messages", status=status, error=error, ms=812.4)


def test_every_answer_is_a_short_line_and_only_an_upstream_error_is_shown(audit):
    log, console = audit
    log.record_event(answer(200))
    log.record_event(answer(502))
    log.record_event(answer(None, "Server connection to api.anthropic.com failed: Connection refused"))
    log.record_event(RestoreEvent("r1", "default", "api.anthropic.com", "/v1/messages", {"secret": 2}, {}))
    written = lines(log)
    assert [(line["event"], line.get("status")) for line in written] == [
        ("dlp.response", 200), ("dlp.response", 502), ("dlp.response", None), ("dlp.restore", None)]
    assert written[2]["error"].endswith("Connection refused") and written[1]["ms"] == 812.4
    assert "error" not in written[0]  # a success says status and time, no more
    assert len(Path(log.target).read_bytes().splitlines()[0]) < 500
    shown = console.getvalue().splitlines()
    assert len(shown) == 2
    assert "alice  default  api.anthropic.com  upstream 502" in shown[0] and "812 ms" in shown[0]
    assert "upstream failed" in shown[1] and "Connection refused" in shown[1]
    assert verify([Path(log.target)], load_or_create_chain_key(Path(log.target).parent / "certs")).ok


def test_the_console_line_of_a_decision(audit):
    log, console = audit
    log.write("dlp.decision", tenant="pilot", user="bob", host="api.openai.com", decision="redact", scan_ms=12.34,
              findings=[{"kind": "secret", "rule": "r", "location": "$.a", "action": "redact", "value_hash": "h1"},
                        {"kind": "pii", "rule": "email", "location": "$.a", "action": "log", "value_hash": "h2", "count": 3}])
    log.write("dlp.decision", tenant="pilot", user="bob", host="api.openai.com", decision="redact", scan_ms=3.0,
              findings=[{"kind": "secret", "rule": "r", "location": "$.a", "action": "redact", "value_hash": "h1"}])
    first, second = console.getvalue().splitlines()
    local = NOON.astimezone().strftime("%H:%M:%S")
    assert first == f"{local}  bob  pilot  api.openai.com  redact  pii 3, secret 1  12.3 ms"
    assert second == f"{local}  bob  pilot  api.openai.com  redact  1 earlier  3.0 ms"


@pytest.fixture
def identity(tmp_path, audit):
    users = tmp_path / "users.yaml"
    users.write_text(f'users:\n  alice:\n    password: "{hash_password("right horse")}"\n    groups: [eng]\n')
    addon = ProxyIdentity(audit=audit[0])
    addon.users, addon.require_auth = UsersFile.load(users), True  # what configure() sets from the options
    return addon


def _flow(credentials: str | None):
    flow = tflow.tflow()
    if credentials is not None:
        flow.request.headers["proxy-authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    return flow


def test_refused_logins_are_audited_without_what_the_user_typed(identity, audit):
    log, console = audit
    for credentials in ("alice:hunter2-typo", "correct-horse-battery:staple", None, "alice:right horse"):
        identity.requestheaders(_flow(credentials))
    written = lines(log)
    assert [(line["event"], line["reason"], line["user"]) for line in written] == [
        ("dlp.auth_failure", "wrong password", "alice"),
        ("dlp.auth_failure", "unknown user", None),  # it may be a password typed in the wrong field
        ("dlp.auth_failure", "no credentials", None),
    ]
    text = Path(log.target).read_text()
    assert "hunter2" not in text and "correct-horse" not in text and "staple" not in text
    assert all(line["client"] for line in written)
    assert console.getvalue().count("proxy auth refused") == 3


def test_auth_failure_fields_are_named_once():
    event = AuthFailureEvent(client="10.0.0.9", reason="unknown user", host="api.openai.com")
    assert event.fields() == {"client": "10.0.0.9", "user": None, "host": "api.openai.com", "reason": "unknown user"}


# -- through the real proxy -----------------------------------------------------------------------


def test_an_unreachable_upstream_is_audited_and_shown(tmp_path, provider, test_ca):
    dead = free_port()  # nothing listens here
    running = start_proxy(tmp_path / "proxy", intercept=[f"localhost:{provider.port}", f"localhost:{dead}"],
                          upstream_ca=test_ca.cert_path)
    try:
        with running.client() as client:
            ok = client.post(f"{provider.base_url}/v1/messages",
                             json={"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
            failed = client.post(f"https://localhost:{dead}/v1/messages",
                                 json={"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    finally:
        running.stop()
    assert ok.status_code == 200 and failed.status_code == 502
    events = [(line["event"], line.get("host"), line.get("status")) for line in running.audit_lines()]
    assert events == [("dlp.decision", "localhost", None), ("dlp.response", "localhost", 200),
                      ("dlp.decision", "localhost", None), ("dlp.response", "localhost", None)]
    written = running.audit_lines()
    assert written[1]["request_id"] == written[0]["request_id"] and "error" not in written[1]
    assert written[3]["error"] and written[3]["request_id"] == written[2]["request_id"]
    console = [line for line in running.log_path.read_text().splitlines() if "  localhost  " in line]
    assert len(console) == 3  # two decisions, one upstream failure
    assert "allow" in console[0] and "upstream failed" in console[2]


def test_quiet_leaves_the_console_alone(tmp_path, provider, test_ca):
    running = start_proxy(tmp_path / "proxy", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                          extra_args=["--quiet"])
    try:
        with running.client() as client:
            client.post(f"{provider.base_url}/v1/messages",
                        json={"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    finally:
        running.stop()
    assert [line["event"] for line in running.audit_lines()] == ["dlp.decision", "dlp.response"]
    assert "  localhost  " not in running.log_path.read_text()
