"""Lines cut off the end of the audit log are found: the real proxy keeps the chain's head apart.

A shorter log is still a valid chain, so the chain alone cannot tell that its last lines were
removed while the proxy was stopped. The proxy keeps the head (last seq and MAC, sealed) in its
confdir; ``audit verify`` compares, and a restarted proxy links past the gap so it stays visible.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_dlp.audit.chain import HEAD_FILE_PREFIX, head_file, load_chain_key
from llm_dlp.audit.log import AuditLog
from llm_dlp.cli import main
from llm_dlp.testing.proxyrun import start_proxy


def send(running, provider, count: int) -> None:
    with running.client() as client:
        for n in range(count):
            client.post(f"{provider.base_url}/v1/messages",
                        json={"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": f"question {n}"}]})


def verify(running, capsys) -> tuple[int, str]:
    code = main(["audit", "verify", str(running.audit_path), "--confdir", str(running.confdir)])
    return code, capsys.readouterr().out


@pytest.fixture
def stopped_proxy(tmp_path, provider, test_ca):
    """A proxy that answered five requests (ten lines: each decision and its answer) and was stopped,
    and a way to start it again."""
    def start():
        return start_proxy(tmp_path / "work", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path)

    running = start()
    try:
        send(running, provider, 5)
    finally:
        running.stop()
    return running, start


def test_the_head_is_kept_apart_and_an_intact_log_verifies(stopped_proxy, capsys):
    running, _ = stopped_proxy
    [head] = running.confdir.glob(f"{HEAD_FILE_PREFIX}*.json")
    assert head == head_file(running.confdir, running.audit_path)
    assert json.loads(head.read_text())["seq"] == 10
    code, out = verify(running, capsys)
    assert code == 0 and out.startswith("OK: 10 lines")


def test_lines_cut_off_the_end_are_reported_and_stay_reported_after_a_restart(stopped_proxy, provider, capsys):
    running, start = stopped_proxy
    lines = running.audit_path.read_bytes().splitlines(keepends=True)
    running.audit_path.write_bytes(b"".join(lines[:3]))  # what a person covering their tracks does
    code, out = verify(running, capsys)
    assert code == 1
    assert out.startswith(f"FAILED: {running.audit_path}:3: ")
    assert "ends at seq 3, but its writer recorded seq 10: 7 line(s) cut off the end" in out

    again = start()
    try:
        send(again, provider, 1)
    finally:
        again.stop()
    code, out = verify(running, capsys)
    assert code == 1
    assert out.startswith(f"FAILED: {running.audit_path}:4: ")
    assert "expected seq 4, found seq 11: 7 line(s) missing here" in out


def test_a_replaced_last_line_and_an_edited_head_are_reported(stopped_proxy, capsys):
    running, _ = stopped_proxy
    head = head_file(running.confdir, running.audit_path)
    fields = json.loads(head.read_text())
    head.write_text(json.dumps(fields | {"seq": 3}))
    code, out = verify(running, capsys)
    assert code == 1 and "audit head does not match its seal: edited" in out

    head.write_text(json.dumps(fields))
    # The last line replaced by a properly sealed one (by someone holding the chain key, with a
    # writer that keeps no head): the chain is whole, the head tells.
    lines = running.audit_path.read_bytes().splitlines(keepends=True)
    running.audit_path.write_bytes(b"".join(lines[:9]))
    AuditLog(running.audit_path, key=load_chain_key(running.confdir)).write("dlp.decision", decision="allow")
    code, out = verify(running, capsys)
    assert code == 1
    assert "seq 10 is not the line its writer recorded last (MAC differs): the last line was replaced" in out


def _writer(tmp_path, **kwargs) -> tuple[AuditLog, Path, Path]:
    confdir, path = tmp_path / "certs", tmp_path / "audit.jsonl"
    return AuditLog(path, confdir=confdir, head_dir=confdir, **kwargs), path, confdir


def _kept_seq(confdir: Path, path: Path) -> int:
    return json.loads(head_file(confdir, path).read_text())["seq"]


def test_a_lagging_head_is_brought_to_the_last_line_at_close(tmp_path):
    log, path, confdir = _writer(tmp_path, head_every=3600)
    for n in range(5):
        log.write("dlp.decision", decision="allow", request_id=str(n))
    assert _kept_seq(confdir, path) == 1  # the first line keeps it; the next hour's lines wait
    log.close()
    assert _kept_seq(confdir, path) == 5
    assert main(["audit", "verify", str(path), "--confdir", str(confdir)]) == 0


def test_the_head_after_every_line_when_asked(tmp_path):
    log, path, confdir = _writer(tmp_path, head_every=0)
    for n in range(3):
        log.write("dlp.decision", decision="allow", request_id=str(n))
        assert _kept_seq(confdir, path) == n + 1
    log.close()


def test_a_tail_cut_while_the_head_lags_stays_visible(tmp_path, capsys):
    log, path, confdir = _writer(tmp_path, head_every=3600)
    for n in range(6):
        log.write("dlp.decision", decision="allow", request_id=str(n))
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2]))  # cut while the proxy runs; the kept head says seq 1
    log.write("dlp.decision", decision="allow", request_id="after")
    log.close()
    assert json.loads(path.read_bytes().splitlines()[-1])["seq"] == 7  # linked past the gap, from its own last line
    assert main(["audit", "verify", str(path), "--confdir", str(confdir)]) == 1
    assert "expected seq 3, found seq 7: 4 line(s) missing here" in capsys.readouterr().out
