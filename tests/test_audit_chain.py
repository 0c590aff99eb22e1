"""Tamper evidence: a copy of a log the real proxy wrote, edited every way a person might."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from llm_dlp.audit.chain import load_chain_key, mac_of, open_line
from llm_dlp.audit.verify import verify
from llm_dlp.cli import main
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import start_proxy


@dataclass(frozen=True)
class RealLog:
    path: Path
    confdir: Path
    planted: tuple[str, ...]  # secret values the requests carried

    @property
    def key(self) -> bytes:
        return load_chain_key(self.confdir)

    def lines(self) -> list[bytes]:
        return self.path.read_bytes().splitlines(keepends=True)


@pytest.fixture(scope="module")
def real_log(tmp_path_factory, provider, test_ca) -> RealLog:
    """Ten requests of every outcome through the real proxy, which is then stopped."""
    running = start_proxy(tmp_path_factory.mktemp("audit-real"), intercept=[f"localhost:{provider.port}"],
                          upstream_ca=test_ca.cert_path)
    try:
        planted = (make.aws_access_key_id(), make.github_pat(), make.aws_access_key_id())
        with running.client() as client:
            url = f"{provider.base_url}/v1/messages"
            for text in ["hello", f"key {planted[0]}", f"why?\n{make.private_key_pem()}",
                         f"token {planted[1]}", "plain question", "another one", f"id {planted[2]}"]:
                client.post(url, json={"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": text}]})
            client.post(url, content=b'{"messages": [', headers={"content-type": "application/json"})
            client.get(f"{provider.base_url}/v1/models")
            client.post(f"{provider.base_url}/v1/chat/completions", json={"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]})
    finally:
        running.stop()
    lines = running.audit_lines()
    decisions = [line for line in lines if line["event"] == "dlp.decision"]
    answers = {line["request_id"]: line["status"] for line in lines if line["event"] == "dlp.response"}
    # Each forwarded request's upstream answer has its own short line, joined by request_id.
    assert len(decisions) == 10 and len(lines) == 19
    assert answers == {d["request_id"]: 200 for d in decisions if d["status"] is None}
    return RealLog(running.audit_path, running.confdir, planted)


def tampered(real_log: RealLog, tmp_path: Path, change) -> Path:
    lines = real_log.lines()
    copy = tmp_path / "audit.jsonl"
    copy.write_bytes(b"".join(change(lines)))
    return copy


def verify_cli(path: Path, confdir: Path, capsys) -> tuple[int, str]:
    code = main(["audit", "verify", str(path), "--confdir", str(confdir)])
    return code, capsys.readouterr().out


def test_the_untouched_log_verifies(real_log, tmp_path, capsys):
    copy = tmp_path / "audit.jsonl"
    shutil.copy(real_log.path, copy)
    code, out = verify_cli(copy, real_log.confdir, capsys)
    assert code == 0
    assert out.startswith("OK: 19 lines in 1 file(s), seq 1..19")
    first = json.loads(real_log.lines()[0])
    assert first["seq"] == 1 and first["prev"] == "0" * 64 and first["event"] == "dlp.decision"


def _edit(lines):
    assert b'"tenant": "default"' in lines[3]
    return lines[:3] + [lines[3].replace(b'"tenant": "default"', b'"tenant": "pilot"')] + lines[4:]


def _reseal_with_a_guessed_key(lines):
    sealed = open_line(lines[3].rstrip(b"\n"))
    body = sealed.body.replace(b'"tenant": "default"', b'"tenant": "pilot"')
    return lines[:3] + [body[:-1] + b', "mac": "' + mac_of(b"not the key" * 3, body).encode() + b'"}\n'] + lines[4:]


def _forge_a_new_line(lines):
    forged = json.loads(lines[2])
    forged["request_id"] = "f" * 32
    return lines[:3] + [json.dumps(forged).encode() + b"\n"] + lines[3:]


@pytest.mark.parametrize(
    ("change", "bad_line", "words"),
    [
        (_edit, 4, "edited or forged"),
        (_reseal_with_a_guessed_key, 4, "edited or forged"),
        (lambda ls: ls[:3] + ls[4:], 4, "1 line(s) missing here"),
        (lambda ls: ls[:3] + ls[6:], 4, "3 line(s) missing here"),
        (lambda ls: ls[:3] + [ls[4], ls[3]] + ls[5:], 4, "missing here"),
        (lambda ls: ls[:8] + [ls[9], ls[8]], 9, "missing here"),
        (_forge_a_new_line, 4, "edited or forged"),
        (lambda ls: ls[:5] + [ls[1]] + ls[5:], 6, "reordered, duplicated or inserted"),
        (lambda ls: ls[:3] + [b"\n"] + ls[3:], 4, "not a sealed audit line"),
        (lambda ls: ls[:3] + [ls[3][: len(ls[3]) // 2] + b"\n"] + ls[4:], 4, "not a sealed audit line"),
        (lambda ls: ls[:9] + [ls[9][:-20]], 10, "not a sealed audit line"),
        (lambda ls: ls[1:], 1, "begins at seq 2"),
    ],
    ids=["edit-a-field", "reseal-with-a-guessed-key", "delete-a-line", "delete-three-lines", "swap-two-lines",
         "swap-the-last-two", "insert-a-forged-line", "insert-a-replayed-line", "insert-a-blank-line",
         "truncate-a-line", "torn-last-line", "delete-the-first-line"],
)
def test_verify_names_the_first_bad_line(real_log, tmp_path, capsys, change, bad_line, words):
    copy = tampered(real_log, tmp_path, change)
    code, out = verify_cli(copy, real_log.confdir, capsys)
    assert code == 1
    assert out.startswith(f"FAILED: {copy}:{bad_line}: ")
    assert words in out


def test_verify_as_json_for_scripts(real_log, tmp_path, capsys):
    copy = tampered(real_log, tmp_path, lambda ls: ls[:6] + ls[7:])
    assert main(["audit", "verify", str(copy), "--confdir", str(real_log.confdir), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is False and result["problem"]["line"] == 7 and result["problem"]["file"] == str(copy)


def test_a_reviewer_without_the_key_cannot_verify(real_log, tmp_path, capsys):
    assert main(["audit", "verify", str(real_log.path), "--confdir", str(tmp_path / "elsewhere")]) == 2
    assert "no audit chain key" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere").exists()  # verify never invents a key


def test_the_chain_key_is_kept_apart_and_private(real_log):
    key_file = real_log.confdir / "llm-dlp-audit-chain.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.parent != real_log.path.parent
    assert key_file.read_text().strip() not in real_log.path.read_text()


def test_verify_in_code_reports_the_span(real_log):
    result = verify([real_log.path], real_log.key)
    assert result.ok and result.lines == 19 and (result.first_seq, result.last_seq) == (1, 19)


def test_the_log_never_holds_a_value_yet_seen_finds_it(real_log, capsys, monkeypatch):
    text = real_log.path.read_text()
    for value in real_log.planted:
        assert value not in text and value[4:16] not in text
        assert main(["audit", "seen", value, str(real_log.path), "--confdir", str(real_log.confdir)]) == 0
        out = capsys.readouterr().out
        assert out.startswith("seen in 1 request(s) as hmac-sha256:") and "secret/" in out
    monkeypatch.setattr("sys.stdin", io.StringIO(real_log.planted[1] + "\n"))  # kept out of shell history
    assert main(["audit", "seen", "-", str(real_log.path), "--confdir", str(real_log.confdir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["decision"] == "redact"


def test_seen_says_so_when_a_value_never_passed(real_log, capsys):
    never = make.aws_access_key_id()
    assert main(["audit", "seen", never, str(real_log.path), "--confdir", str(real_log.confdir)]) == 1
    assert capsys.readouterr().out.startswith("not seen (hmac-sha256:")
