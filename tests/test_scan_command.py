"""`llm-dlp scan`: every detector's findings as JSON lines, exit status, tenant exceptions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from detectors.base import Finding
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import copy_policies

LLM_DLP = str(Path(sys.executable).parent / "llm-dlp")


def scan(*args: str, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run([LLM_DLP, "scan", *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_findings_of_every_kind_come_out_as_json_lines(tmp_path):
    key = make.aws_access_key_id()
    text = (f"AWS_ACCESS_KEY_ID={key}\ncontact: jane.doe@example.org\n\n```python\n"
            "def add(a, b):\n    return a + b\n\nprint(add(1, 2))\n```\n")
    result = scan("--json", "-", stdin=text)
    assert result.returncode == 1, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = {(r["kind"], r["rule"]) for r in records}
    assert ("secret", "aws-access-token") in kinds and ("pii", "EMAIL_ADDRESS") in kinds
    assert any(r["kind"] == "code" and r["language"] == "python" and r["lines"] >= 3 for r in records)
    secret = next(r for r in records if r["rule"] == "aws-access-token")
    assert text[secret["start"]:secret["end"]] == key and key not in result.stdout
    assert {"kind", "rule", "start", "end", "confidence", "preview"} <= set(secret)


def test_nothing_found_exits_zero():
    result = scan("-", stdin="Just a sentence about the weather.\n")
    assert (result.returncode, result.stdout) == (0, "")
    assert "no findings" in result.stderr


def test_tenant_exceptions_apply(tmp_path):
    key = make.aws_access_key_id()
    hashed = ValueHasher(bytes.fromhex("11" * 32)).fingerprint(key)
    confdir = tmp_path / "certs"
    confdir.mkdir()
    (confdir / "llm-dlp-hmac.key").write_text("11" * 32 + "\n")
    policies = copy_policies(tmp_path / "p", default=f"exceptions:\n  values: ['{hashed}']\nrules:\n  - kind: secret\n    action: block\n")
    result = scan("--json", "--policy-dir", str(policies), "--confdir", str(confdir), "-", stdin=f"id {key}\n")
    assert result.returncode == 0 and result.stdout == ""
    assert "1 finding(s) allowed" in result.stderr
    other = scan("--json", "--policy-dir", str(policies), "--confdir", str(confdir), "-", stdin=f"id {make.aws_access_key_id()}\n")
    assert other.returncode == 1 and json.loads(other.stdout.splitlines()[0])["action"] == "block"


class BrokenDetector:
    name = "broken"
    takes_path_hint = False  # the only declaration the pipeline reads

    def scan(self, text: str) -> list[Finding]:
        raise RuntimeError("bug in a detector")


@pytest.mark.parametrize("on_error, decision, status", [("block", "error", 500), ("allow", "allow", 200)])
def test_a_detector_bug_fails_closed_unless_the_tenant_fails_open(tmp_path, on_error, decision, status):
    policies = copy_policies(tmp_path / "p", default=f"on_error: {on_error}\nrules: []\n")
    pipeline = Pipeline(load_policy_dir(policies), [BrokenDetector()], ValueHasher(b"k" * 32))
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hello"}]}).encode()
    verdict = pipeline.inspect(RequestInfo("r", "POST", "h", "/v1/messages", "anthropic"), body).verdict
    assert (verdict.decision, verdict.status) == (decision, status)
    # Named by type and where it was raised; an exception's words could quote the request.
    assert verdict.error.startswith("RuntimeError in scan (test_scan_command.py:") and "bug in" not in verdict.error


SAME_ENGINE_POLICY = """
exceptions:
  rules: [github-pat]
rules:
  - kind: pii
    rule: [EMAIL_ADDRESS]
    min_count: 3
    action: block
  - kind: secret
    action: redact
default_action: log
"""


@pytest.mark.parametrize("emails, decision", [(3, "block"), (2, "redact")])
def test_scan_and_the_proxy_pipeline_decide_identically(tmp_path, capsys, emails, decision):
    """One policy engine: the same findings get the same actions in `llm-dlp scan` and in a request,
    including a request-level threshold (min_count) and an exception."""
    from llm_dlp.cli import main
    from llm_dlp.detection import build_detectors

    confdir = tmp_path / "certs"
    confdir.mkdir()
    (confdir / "llm-dlp-hmac.key").write_text("22" * 32 + "\n")
    policies = copy_policies(tmp_path / "p", default=SAME_ENGINE_POLICY)
    addresses = ", ".join(f"{name}.doe@example.org" for name in ("jane", "john", "jim")[:emails])
    text = f"Contacts: {addresses}.\nDeploy key {make.aws_access_key_id()} and token {make.github_pat()}.\n"
    source = tmp_path / "prompt.txt"
    source.write_text(text)

    assert main(["scan", "--json", "--policy-dir", str(policies), "--confdir", str(confdir), str(source)]) == 1
    out, err = capsys.readouterr()
    by_scan = sorted((r["kind"], r["rule"], r["action"]) for r in map(json.loads, out.splitlines()))
    assert "1 finding(s) allowed" in err  # the github token, by the exception

    pipeline = Pipeline(load_policy_dir(policies), build_detectors(), ValueHasher(bytes.fromhex("22" * 32)))
    info = RequestInfo("r", "POST", "h", "/text", "custom", content_type="text/plain")
    verdict = pipeline.inspect(info, text.encode()).verdict
    by_proxy = sorted((f.kind, f.rule, f.action) for f in verdict.findings if not (f.policy_rule or "").startswith("exceptions.")
                      for _ in range(f.count))
    exempt = [f for f in verdict.findings if f.policy_rule == "exceptions.rules"]

    assert by_scan == by_proxy
    assert [(f.rule, f.action) for f in exempt] == [("github-pat", "allow")]
    assert ("pii", "EMAIL_ADDRESS", "block" if emails == 3 else "log") in by_scan
    assert verdict.decision == decision
