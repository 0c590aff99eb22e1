"""The audit never holds a value: one distinct secret planted in every field a request can carry,
through the real proxy, then looked for in every audit line, every file the audit commands write,
the export spool, and everything the proxy printed (its log at debug level included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_dlp.cli import main
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import REPO, copy_policies, free_port, start_proxy


def plant() -> dict[str, str]:
    """A distinct value per place, each a real-looking secret, so any copy of it is found."""
    return {
        "body value": make.aws_access_key_id(),
        "tool input value": make.github_pat(),
        "json key in tool input": make.aws_access_key_id(),
        "json key in metadata": make.aws_access_key_id(),
        "json key at depth": make.anthropic_api_key(),
        "model field": make.aws_access_key_id(),
        "query value": make.github_pat(),
        "query name": make.github_pat(),
        "path segment": make.aws_access_key_id(),
        "gemini model in path": make.aws_access_key_id(),
        "gemini query key": make.openai_api_key(),
        "gemini body": make.github_pat(),
        "echoed query value": "trace-zq7f3a9c41b2e8d6",  # no secret: forwarded, its answer restored
        "echoed body value": make.aws_access_key_id(),
        "header": make.github_pat(),
        "user agent": make.aws_access_key_id(),
        "openai user": make.github_pat(),
        "blocked under a key": make.aws_access_key_id(),
        "content encoding": make.aws_access_key_id().lower(),
    }


def forms(value: str) -> set[str]:
    """The value as it could appear: raw, JSON-escaped, and its tail (a preview shows 4 leading
    characters at most, so anything past them is a leak)."""
    return {value, json.dumps(value)[1:-1], value[4:]}


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory, provider, test_ca):
    values = plant()
    closed = free_port()  # a SIEM that is down: every line waits in the spool, which is an exported file too
    workdir = tmp_path_factory.mktemp("no-value")
    # A candidate policy in monitor mode: every decision that differs carries a shadow record.
    default = (REPO / "policies" / "default.yaml").read_text().replace("mode: enforce", "mode: monitor", 1)
    shadow = copy_policies(workdir / "shadow-policies", default=default)
    running = start_proxy(workdir / "run", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                          extra_args=["--export-syslog", f"tcp://127.0.0.1:{closed}", "--set", "termlog_verbosity=debug",
                                      "--shadow-policy-dir", str(shadow)])
    base = provider.base_url
    hi = {"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    try:
        headers = {"x-title": f"deploy {values['header']}", "user-agent": f"agent/{values['user agent']}"}
        with running.client(headers=headers) as client:
            client.post(f"{base}/v1/messages", json=hi)
        with running.client() as client:
            client.post(f"{base}/v1/messages?beta=true&key={values['query value']}&{values['query name']}=1", json={
                "model": values["model field"], "max_tokens": 5,
                "metadata": {"user_id": "u-1", values["json key in metadata"]: "x"},
                "messages": [
                    {"role": "user", "content": f"deploy with {values['body value']}"},
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Deploy", "input": {
                        values["json key in tool input"]: f"token {values['tool input value']}",
                        "config": {"nested": {values["json key at depth"]: f"again {values['tool input value']}"}}}}]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]},
                ]})
            client.post(f"{base}/{values['path segment']}/v1/messages", json=hi)
            client.post(f"{base}/v1beta/models/{values['gemini model in path']}:generateContent?key={values['gemini query key']}",
                        json={"contents": [{"role": "user", "parts": [{"text": f"key {values['gemini body']}"}]}]})
            # An answer with a placeholder to restore: a restore event, and its path.
            client.post(f"{base}/v1/messages?trace={values['echoed query value']}", json={
                "model": "echo", "max_tokens": 5,
                "messages": [{"role": "user", "content": f"say {values['echoed body value']}"}]})
            client.post(f"{base}/v1/chat/completions", json={
                "model": "gpt-test", "user": values["openai user"], "messages": [{"role": "user", "content": "hi"}]})
            # Blocked: a private key where it cannot be withheld, and a secret under a made-up key.
            client.post(f"{base}/v1/messages", json={
                "model": "claude-test", "max_tokens": 5, "system": f"load\n{make.private_key_pem()}",
                "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]},
                             {"role": "assistant", "content": [{"type": "tool_use", "id": "t2", "name": "Run", "input": {
                                 values["blocked under a key"]: values["blocked under a key"]}}]}]})
            # Refused (415): the unknown coding is the client's text, and the refusal is audited.
            client.post(f"{base}/v1/messages", content=b"{}", headers={
                "content-type": "application/json", "content-encoding": values["content encoding"]})
    finally:
        running.stop()
    return running, values


def outputs(running, tmp_path: Path, capsys, values: dict[str, str]) -> dict[str, str]:
    """Everything a reviewer or an operator could read afterwards, by where it came from."""
    log, confdir = str(running.audit_path), str(running.confdir)
    texts = {"audit log": running.audit_path.read_text(), "proxy output": running.log_path.read_text()}
    for spool in (running.workdir / "llm-dlp-spool").rglob("*"):
        if spool.is_file():
            texts[f"spool {spool.name}"] = spool.read_bytes().decode("utf-8", "replace")
    commands = {
        "query": ["audit", "query", log],
        "query --json": ["audit", "query", log, "--json"],
        "summary": ["audit", "summary", log],
        "summary --json": ["audit", "summary", log, "--json"],
        "verify": ["audit", "verify", log, "--confdir", confdir],
    }
    commands |= {f"seen {name}": ["audit", "seen", value, log, "--confdir", confdir] for name, value in values.items()}
    for name, args in commands.items():
        main(args)
        captured = capsys.readouterr()
        texts[name] = captured.out + captured.err
    report = tmp_path / "report.html"
    assert main(["audit", "report", log, "--html", str(report), "--confdir", confdir]) == 0
    capsys.readouterr()
    texts["report"] = report.read_text()
    return texts


def test_no_planted_value_is_in_any_audit_line_export_or_log(planted_run, tmp_path, capsys):
    running, values = planted_run
    texts = outputs(running, tmp_path, capsys, values)
    assert any(name.startswith("spool ") for name in texts) and "llm-dlp failed" not in texts["proxy output"]
    # The seen command is given the value: what it prints must not be the value either.
    leaks = [(place, where) for place, value in values.items() for where, text in texts.items()
             if any(form in text for form in forms(value))]
    assert leaks == []
    # And the log still says what happened: six requests, each answered request's status, findings.
    lines = running.audit_lines()
    decisions = [line for line in lines if line["event"] == "dlp.decision"]
    assert len(decisions) == 8
    assert {line["request_id"] for line in lines if line["event"] == "dlp.response"} \
        == {d["request_id"] for d in decisions if d["status"] is None}
    assert any(line["event"] == "dlp.restore" for line in lines)
    assert any(d.get("shadow", {}).get("findings") for d in decisions)  # shadow records were written, and checked
    assert "seen in 1 request(s)" in texts["seen body value"]


def test_what_the_audit_writes_in_place_of_the_values(planted_run):
    running, values = planted_run
    headers, first, path_segment, gemini, echo, chat, blocked, refused = running.decisions()
    assert headers["path"] == "/v1/messages" and headers["model"] == "claude-test"
    assert first["path"].startswith("/v1/messages?beta=…&key=…&#")
    assert first["model"].startswith("AKIA…(20 chars) #")
    locations = {f["location"] for f in first["findings"]}
    assert "$.messages[0].content" in locations
    # The secret in the tool input sits under a key the client made up: hashed, with the API's fields kept.
    assert any(loc.startswith("$.messages[1].content[0].input[#") for loc in locations)
    assert path_segment["path"].startswith("/#") and path_segment["path"].endswith("/v1/messages")
    assert gemini["path"].startswith("/v1beta/models/#") and gemini["path"].endswith(":generateContent?key=…")
    assert echo["path"] == "/v1/messages?trace=…" and chat["model"] == "gpt-test"
    assert blocked["decision"] == "block" and "$.system" in blocked["reason"]
    assert refused["status"] == 415 and "content-encoding of 20 characters" in refused["error"]
    [restore] = [line for line in running.audit_lines()
                 if line["event"] == "dlp.restore" and line["request_id"] == echo["request_id"]]
    assert restore["path"] == "/v1/messages?trace=…" and restore["restored"]
