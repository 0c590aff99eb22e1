"""No request is answered unaudited: not under SIGTERM with requests in flight, not on a full disk."""

from __future__ import annotations

import shutil
import signal
import threading
import time

import httpx
import pytest

from llm_dlp.audit.chain import load_or_create_chain_key
from llm_dlp.audit.log import AuditLog, AuditWriteError
from llm_dlp.audit.rotation import log_files
from llm_dlp.audit.verify import verify
from llm_dlp.cli import main
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import copy_policies, start_proxy

WORKERS = 12
ANSWERS_BEFORE_STOP = 80


def _body(model: str, worker: int, i: int) -> dict:
    body = {"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": f"question {worker}.{i}"}]}
    if i % 5 == 4:  # a private key in the system prompt cannot be withheld: blocked, answered by the proxy
        body["system"] = f"load this\n{make.private_key_pem()}"
    elif i % 3 == 2:
        body["messages"][0]["content"] = f"key {make.aws_access_key_id()}"  # redacted, then forwarded
    return body


def test_sigterm_under_load_leaves_an_audit_line_for_every_answer(tmp_path, provider, test_ca, capsys):
    running = start_proxy(tmp_path / "proxy", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path)
    answered: list[tuple[str, int]] = []
    unanswered: list[str] = []
    lock = threading.Lock()

    def client_loop(worker: int) -> None:
        # A unique model name per request: the audit line records it, so answers map to lines.
        with running.client() as client:
            i = 0
            while running.process.poll() is None:
                model = f"claude-load-{worker}-{i}"
                body = _body(model, worker, i)
                try:
                    response = client.post(f"{provider.base_url}/v1/messages", json=body)
                except httpx.HTTPError:
                    with lock:
                        unanswered.append(model)
                else:
                    with lock:
                        answered.append((model, response.status_code))
                i += 1

    threads = [threading.Thread(target=client_loop, args=(w,), daemon=True) for w in range(WORKERS)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while len(answered) < ANSWERS_BEFORE_STOP and time.monotonic() < deadline:
            time.sleep(0.05)
        running.process.send_signal(signal.SIGTERM)  # every worker has a request in flight now
        running.process.wait(timeout=60)
    finally:
        running.stop()
        for thread in threads:
            thread.join(timeout=60)

    assert len(answered) >= ANSWERS_BEFORE_STOP
    statuses = {status for _model, status in answered}
    assert 200 in statuses and 403 in statuses  # forwarded and blocked requests were both in the mix
    # Requests cut off upstream by the stop also get a dlp.response line; the decisions are what counts.
    decisions = [line for line in running.audit_lines() if line["event"] == "dlp.decision"]
    audited = {line["model"] for line in decisions}
    missing = [(model, status) for model, status in answered if model not in audited]
    # A request caught by the stop before its scan could start is answered 500 by the proxy and
    # audited as an error, without a model (its body was never read): one such line for each.
    refused_at_stop = [line for line in decisions if line["decision"] == "error" and line["model"] is None]
    assert {status for _model, status in missing} <= {500}, f"{len(missing)} answered requests have no audit line"
    assert len(missing) <= len(refused_at_stop)
    # And what was written is one intact chain.
    assert main(["audit", "verify", str(running.audit_path), "--confdir", str(running.confdir)]) == 0
    assert "OK:" in capsys.readouterr().out


@pytest.mark.parametrize(("on_error", "status", "forwarded"), [("block", 500, False), ("allow", 200, True)])
def test_a_full_disk_blocks_traffic_unless_the_policy_fails_open(tmp_path, provider, test_ca, received,
                                                                 on_error, status, forwarded):
    policies = copy_policies(tmp_path / "policies", default=f"on_error: {on_error}\nrules:\n  - kind: secret\n    action: redact\n")
    running = start_proxy(tmp_path / "proxy", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                          policy_dir=policies, extra_args=["--audit-log", "/dev/full"])
    try:
        with running.client() as client:
            response = client.post(f"{provider.base_url}/v1/messages",
                                   json={"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    finally:
        running.stop()
    assert response.status_code == status
    assert bool(received) is forwarded
    if not forwarded:
        assert "audit log" in response.json()["error"]["message"]
    assert "No space left on device" in running.log_path.read_text()


def test_a_vanished_log_directory_is_a_write_error(tmp_path):
    directory = tmp_path / "logs"
    log = AuditLog(directory / "audit.jsonl", key=load_or_create_chain_key(tmp_path / "certs"))
    log.write("dlp.decision", tenant="t")
    shutil.rmtree(directory)
    with pytest.raises(AuditWriteError, match="cannot write audit log"):
        log.write("dlp.decision", tenant="t")
    log.close()


def test_writing_after_close_is_a_write_error_not_a_silent_loss(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl", key=load_or_create_chain_key(tmp_path / "certs"))
    log.close()
    with pytest.raises(AuditWriteError):
        log.write("dlp.decision", tenant="t")


def test_concurrent_writers_in_one_process_never_interleave_a_line(tmp_path):
    key = load_or_create_chain_key(tmp_path / "certs")
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, key=key)

    def burst(n: int) -> None:
        for i in range(200):
            log.write("dlp.decision", tenant=f"t{n}", n=i, findings=[{"preview": "x" * 500}])

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    result = verify(log_files(path), key)
    assert result.ok and result.lines == 1600
