"""The real proxy remembers across a restart which findings a conversation already recorded.

A single proxy keeps that memory in its confdir (``llm-dlp-recorded.sqlite``): a conversation
that goes on after a restart carries its earlier findings as ``findings_already_recorded``
instead of listing them again. When the file cannot be read, the proxy still forwards the
request and records the findings again (the log may say more, never less). Several instances
sharing a Redis vault share the memory there: tests/test_fleet.py.
"""

from __future__ import annotations

import anthropic

from llm_dlp.audit.recorded_stores import FILE_NAME
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import RunningProxy, start_proxy


def _send(proxy: RunningProxy, provider, history: list[dict]) -> None:
    http_client = anthropic.DefaultHttpxClient(proxy=proxy.url, verify=proxy.ssl_context())
    with anthropic.Anthropic(api_key="sk-ant-test", base_url=provider.base_url, max_retries=0,
                             http_client=http_client) as client:
        client.messages.create(model="claude-test", max_tokens=10, messages=history)


def _last_decision(proxy: RunningProxy) -> dict:
    return proxy.decisions()[-1]


def test_a_restarted_proxy_does_not_record_a_conversation_s_findings_again(tmp_path, provider, received, test_ca):
    key_id = make.aws_access_key_id()
    history = [{"role": "user", "content": f"deploy with {key_id} today"}]

    def run_turn(next_message: str | None) -> dict:
        """A proxy started on the same working directory (confdir, audit log) for one turn."""
        proxy = start_proxy(tmp_path, intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                            extra_args=["--quiet"])
        try:
            if next_message is not None:
                history.extend([{"role": "assistant", "content": "noted"}, {"role": "user", "content": next_message}])
            _send(proxy, provider, history)
            return _last_decision(proxy)
        finally:
            proxy.stop()

    first = run_turn(None)
    assert [f["kind"] for f in first["findings"]] == ["secret"] and first["findings_already_recorded"] == 0

    # Same confdir, new process: the key's finding is counted, not listed.
    second = run_turn("and now the tests")
    assert second["decision"] == "redact" and second["findings"] == []
    assert second["findings_already_recorded"] == 1

    # The memory file is damaged: the next turn is still forwarded (redacted), and recorded again.
    memory = tmp_path / "certs" / FILE_NAME
    assert memory.exists()
    assert key_id.encode() not in b"".join(p.read_bytes() for p in memory.parent.glob(FILE_NAME + "*"))
    for leftover in memory.parent.glob(FILE_NAME + "-*"):
        leftover.unlink()
    memory.write_bytes(b"\x00damaged\x00" * 512)
    third = run_turn("one more")
    assert third["decision"] == "redact"
    assert [f["kind"] for f in third["findings"]] == ["secret"] and third["findings_already_recorded"] == 0
    assert all(key_id not in item.text for item in received)
    assert len(received) == 3
