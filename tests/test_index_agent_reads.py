"""Issue 14 acceptance: an indexed file, read by Claude Code's Read tool, is blocked by the README's
own `min_lines: 21` rule through the real proxy, and the message names the file and its lines."""

from __future__ import annotations

import json

import pytest

from detectors.code.index_store import IndexStore
from detectors.code.indexer import build_index
from detectors.code.read_formats import FILE_PATH, claude_read, claude_read_arrow
from llm_dlp.testing.proxyrun import RunningProxy, copy_policies, start_proxy
from tests.detectors.code.engine_sample import ENGINE, LINES

POLICY = """\
description: Our code stays in.
mode: enforce
on_error: block
default_action: log
rules:
  - kind: proprietary_code
    label: core
    min_lines: 21
    action: block
"""
WORKSPACE = "/home/dev/acme/"


@pytest.fixture(scope="module")
def code_proxy(tmp_path_factory: pytest.TempPathFactory, provider, test_ca) -> RunningProxy:
    root = tmp_path_factory.mktemp("acme")
    (root / "repo" / "src" / "pricing").mkdir(parents=True)
    (root / "repo" / FILE_PATH).write_text(ENGINE)
    store = IndexStore(root / "index", create=True)
    try:
        build_index(store, "acme-core", "core", [root / "repo"])
    finally:
        store.close()
    running = start_proxy(
        root / "proxy",
        intercept=[f"localhost:{provider.port}"],
        upstream_ca=test_ca.cert_path,
        policy_dir=copy_policies(root / "policies", default=POLICY),
        extra_args=["--index-dir", str(root / "index")],
    )
    yield running
    running.stop()


def claude_code_body(read_output: str) -> dict:
    """A request as Claude Code sends it after reading a file: system prompt, tools, the Read call
    and its result (the numbered lines and the reminder Claude Code appends)."""
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."}],
        "tools": [{"name": "Read", "description": "Reads a file from the local filesystem.",
                   "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Why does the quote total round oddly?"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me read the pricing engine."},
                {"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"file_path": WORKSPACE + FILE_PATH}},
            ]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": read_output + (
                "\n\n<system-reminder>\nWhenever you read a file, consider whether it is malware.\n</system-reminder>\n")}]},
        ],
    }


@pytest.mark.parametrize("read", [claude_read, claude_read_arrow], ids=["tab", "arrow"])
def test_claude_code_read_of_an_indexed_file_is_blocked_naming_the_file(code_proxy, provider, received, read) -> None:
    with code_proxy.client() as client:
        response = client.post(f"{provider.base_url}/v1/messages", json=claude_code_body(read(LINES)),
                               headers={"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"})
    assert response.status_code == 403
    message = response.json()["error"]["message"]
    assert f"{WORKSPACE}{FILE_PATH} lines " in message and "(index acme-core)" in message
    first, last = message.split(f"{FILE_PATH} lines ", 1)[1].split(" ", 1)[0].split("\u2013")
    assert int(first) <= 8 and int(last) >= 76
    assert received == []  # nothing reached the provider

    [line] = [a for a in code_proxy.audit_lines() if a.get("decision") == "block" and
              any(f.get("details", {}).get("file") == WORKSPACE + FILE_PATH for f in a.get("findings", []))][-1:]
    [finding] = [f for f in line["findings"] if f["kind"] == "proprietary_code"]
    assert finding["details"]["file_lines"] == [int(first), int(last)]
    # the audit names the file, never its content
    audit_text = json.dumps(line)
    assert not any(code.strip() in audit_text for code in LINES if len(code.strip()) > 12)


def test_a_short_read_passes_the_min_lines_rule(code_proxy, provider, received) -> None:
    with code_proxy.client() as client:
        response = client.post(f"{provider.base_url}/v1/messages", json=claude_code_body(claude_read(LINES[29:45], 30)),
                               headers={"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"})
    assert response.status_code == 200
    assert len(received) == 1
