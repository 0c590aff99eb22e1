"""Captured traffic replays to the same decisions the live proxy made; check and explain."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import REPO, copy_policies, free_port, wait_for_port

LLM_DLP = str(Path(sys.executable).parent / "llm-dlp")
MITMDUMP = str(Path(sys.executable).parent / "mitmdump")


def requests_to_replay() -> tuple[list[tuple[str, bytes]], list[str]]:
    def chat(text: str) -> bytes:
        return json.dumps({"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": text}]}).encode()

    planted = [make.aws_access_key_id(), make.private_key_pem(), make.github_pat()]
    return [
        ("/v1/messages", chat("What does this regex do?")),
        ("/v1/messages", chat(f"deploy with {planted[0]}")),
        ("/v1/messages", chat(planted[1])),
        ("/v1/chat/completions", json.dumps({"model": "gpt", "messages": [{"role": "user", "content": planted[2]}]}).encode()),
        ("/v1/messages", b'{"messages": [oops'),
    ], planted


def test_flows_captured_by_plain_mitmdump_replay_to_the_live_decisions(tmp_path, proxy, provider, test_ca):
    flows = tmp_path / "flows.mitm"
    port = free_port()
    log = tmp_path / "mitmdump.log"
    capture = subprocess.Popen(
        [MITMDUMP, "-q", "--listen-host", "127.0.0.1", "--listen-port", str(port), "-w", str(flows),
         "--set", f"confdir={tmp_path / 'mitm-conf'}", "--set", f"ssl_verify_upstream_trusted_ca={test_ca.cert_path}"],
        stdout=open(log, "w"), stderr=subprocess.STDOUT)
    requests, planted = requests_to_replay()
    try:
        wait_for_port(port, capture, log)
        with httpx.Client(proxy=f"http://127.0.0.1:{port}", timeout=30,
                          verify=str(tmp_path / "mitm-conf" / "mitmproxy-ca-cert.pem")) as client:
            for path, body in requests:
                client.post(f"{provider.base_url}{path}", content=body, headers={"content-type": "application/json"})
    finally:
        capture.terminate()
        capture.wait(timeout=30)

    before = len(proxy.decisions())
    with proxy.client() as client:
        for path, body in requests:
            client.post(f"{provider.base_url}{path}", content=body, headers={"content-type": "application/json"})
    live = [line["decision"] for line in proxy.decisions()[before:]]
    assert live == ["allow", "redact", "withhold", "redact", "error"]

    report_path = tmp_path / "report.json"
    result = subprocess.run(
        [LLM_DLP, "replay", str(flows), "--policy-dir", str(REPO / "policies"), "--confdir", str(proxy.confdir),
         "--intercept-host", f"localhost:{provider.port}", "--report", str(report_path)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    assert [r["decision"] for r in report["requests"]] == live
    assert report["totals"] == {"allow": 1, "redact": 2, "withhold": 1, "error": 1}
    redacted = report["requests"][1]["forwarded_body"]
    assert "[[secret:" in redacted and planted[0] not in redacted
    withheld = report["requests"][2]["forwarded_body"]
    assert "[llm-dlp withheld this message under policy 'default'" in withheld and planted[1].splitlines()[1] not in withheld
    # The same keyed hashes as the live audit log: a reviewer can match replay and production.
    live_hashes = {f["value_hash"] for line in proxy.decisions()[before:] for f in line["findings"]}
    assert {f["value_hash"] for r in report["requests"] for f in r["findings"]} == live_hashes
    assert "totals:" in result.stdout

    stricter = copy_policies(tmp_path / "strict", default="rules:\n  - kind: secret\n    action: block\n")
    html_report = tmp_path / "report.html"
    result = subprocess.run(
        [LLM_DLP, "replay", str(flows), "--confdir", str(proxy.confdir), "--compare-policy-dir", str(stricter),
         "--intercept-host", f"localhost:{provider.port}", "--report", str(html_report)],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "decisions that differ under the compared policy: 3" in result.stdout
    page = html_report.read_text()
    assert page.count('class="differs"') == 3
    assert not any(value in page or value.splitlines()[1] in page for value in planted[1:2]) and planted[0] not in page


def test_policy_check_reports_errors_with_file_line_and_key(tmp_path):
    ok = subprocess.run([LLM_DLP, "policy", "check", str(REPO / "policies")], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "ok  default" in ok.stdout
    broken = copy_policies(tmp_path / "p", pilot="mode: monitr\n")
    bad = subprocess.run([LLM_DLP, "policy", "check", str(broken)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert f"{broken / 'pilot.yaml'}:1: mode: 'monitr' is not one of enforce, monitor" in bad.stderr


def test_policy_explain_names_the_rule_behind_each_action(tmp_path):
    body = tmp_path / "body.json"
    key_id = make.aws_access_key_id()
    body.write_text(json.dumps({"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": f"key {key_id}\n{make.private_key_pem()}"}]}))
    result = subprocess.run([LLM_DLP, "policy", "explain", "--tenant", "default", "--policy-dir", str(REPO / "policies"),
                             "--confdir", str(tmp_path / "certs"), str(body)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "read as: anthropic-messages" in out
    assert "secret/private-key at $.messages[0].content" in out and "-> withhold  because default.yaml:" in out
    # the key beside it would be redacted, but its whole message is withheld: it is not sent at all
    assert "secret/aws-access-token" in out and "; inside a withheld unit, so not sent" in out
    assert "decision: withhold" in out and key_id not in out
    assert "withheld, the model reads instead: [llm-dlp withheld this message under policy 'default': a secret (secret private-key)" in out


def test_policy_explain_says_when_withholding_is_impossible(tmp_path):
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"model": "m", "max_tokens": 5, "system": make.private_key_pem(),
                                "messages": [{"role": "user", "content": "hello"}]}))
    result = subprocess.run([LLM_DLP, "policy", "explain", "--policy-dir", str(REPO / "policies"),
                             "--confdir", str(tmp_path / "certs"), str(body)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "secret/private-key at $.system" in result.stdout
    assert "-> block  because default.yaml:" in result.stdout and "cannot be withheld there, so blocked" in result.stdout
    assert "decision: block" in result.stdout
