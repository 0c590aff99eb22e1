"""The DLP addon: flows in, the core's decision back out as a forwarded, rewritten or answered flow."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from mitmproxy.test import taddons

from addons.dlp import RESTORE, DlpAddon
from llm_dlp.audit.log import AuditWriteError
from llm_dlp.testing import secrets_factory as make
from tests.addons.conftest import audit_lines, chat, flow_to

ANTHROPIC = "api.anthropic.com"


def through(addon: DlpAddon, flow) -> None:
    """The request-side hooks in mitmproxy's order; the body hook only if no answer stands yet."""
    addon.requestheaders(flow)
    if flow.response is None:
        asyncio.run(addon.request(flow))


def test_a_host_that_is_not_an_ai_api_is_left_untouched(pipeline, endpoints, audit):
    addon = DlpAddon(pipeline, endpoints, audit)
    body = chat(f"deploy with {make.aws_access_key_id()}")
    flow = flow_to("example.org", content=body)
    with taddons.context(addon):
        through(addon, flow)
    assert flow.response is None and flow.request.content == body
    assert flow.metadata == {}
    assert Path(audit.target).read_text() == ""


def test_a_websocket_upgrade_is_refused_before_any_body(pipeline, endpoints, audit):
    addon = DlpAddon(pipeline, endpoints, audit)
    flow = flow_to(ANTHROPIC, upgrade="websocket", connection="Upgrade")
    with taddons.context(addon):
        addon.requestheaders(flow)
    assert flow.response is not None and flow.response.status_code == 403
    assert "WebSocket" in json.loads(flow.response.content)["error"]["message"]
    [line] = audit_lines(Path(audit.target))
    assert (line["decision"], line["error"]) == ("error", "websocket refused")


def test_a_declared_length_over_the_limit_is_refused_with_413(pipeline, endpoints, audit):
    addon = DlpAddon(pipeline, endpoints, audit)
    flow = flow_to(ANTHROPIC, content=chat("hello"))
    flow.request.headers["content-length"] = str(40 * 1024 * 1024)  # the bundled limit is 32 MiB
    with taddons.context(addon):
        addon.requestheaders(flow)
    assert flow.response.status_code == 413
    assert json.loads(flow.response.content)["error"]["type"] == "request_too_large"
    [line] = audit_lines(Path(audit.target))
    assert (line["status"], line["body_bytes"]) == (413, 40 * 1024 * 1024)


def test_a_secret_is_redacted_in_the_forwarded_body_and_kept_for_the_answer(pipeline, endpoints, audit):
    addon = DlpAddon(pipeline, endpoints, audit)
    key = make.aws_access_key_id()
    flow = flow_to(ANTHROPIC, content=chat(f"deploy with {key}"))
    with taddons.context(addon):
        through(addon, flow)
    assert flow.response is None  # forwarded
    forwarded = json.loads(flow.request.content)["messages"][0]["content"]
    assert key not in forwarded and forwarded.startswith("deploy with [[secret:aws-access-token:")
    [placeholder] = flow.metadata[RESTORE].redacted
    assert placeholder in forwarded and flow.metadata[RESTORE].redacted[placeholder].value == key
    raw = Path(audit.target).read_text()
    assert key not in raw and json.loads(raw)["decision"] == "redact"


def test_a_block_answers_in_the_providers_own_error_shape(pipeline, endpoints, audit):
    addon = DlpAddon(pipeline, endpoints, audit)
    # In a system prompt there is no content unit to withhold, so the default policy blocks.
    with taddons.context(addon):
        anthropic = flow_to(ANTHROPIC, content=json.dumps({
            "model": "claude", "max_tokens": 10, "system": make.private_key_pem(),
            "messages": [{"role": "user", "content": "hi"}]}).encode())
        through(addon, anthropic)
        openai = flow_to("api.openai.com", "/v1/chat/completions",
                         json.dumps({"model": "gpt", "messages": [{"role": "system", "content": make.private_key_pem()}]}).encode())
        through(addon, openai)
    assert anthropic.response.status_code == openai.response.status_code == 403
    answer = json.loads(anthropic.response.content)
    assert answer["type"] == "error" and answer["error"]["type"] == "permission_error"
    assert "private-key" in answer["error"]["message"]
    assert set(json.loads(openai.response.content)["error"]) >= {"message", "type"}
    assert anthropic.response.headers["x-should-retry"] == "false"
    assert [line["decision"] for line in audit_lines(Path(audit.target))] == ["block", "block"]


class UnwritableAudit:
    def record(self, info, verdict) -> None:
        raise AuditWriteError("cannot write audit log llm-dlp-audit.jsonl: No space left on device")


def test_a_request_whose_audit_line_cannot_be_written_is_not_forwarded(pipeline, endpoints):
    addon = DlpAddon(pipeline, endpoints, UnwritableAudit())
    flow = flow_to(ANTHROPIC, content=chat("What does this regex do?"))
    with taddons.context(addon):
        through(addon, flow)
    assert flow.response.status_code == 500
    assert "audit log" in json.loads(flow.response.content)["error"]["message"]
    assert RESTORE not in flow.metadata


def test_a_tenant_that_fails_open_forwards_even_when_the_audit_fails(pipeline, endpoints, tmp_path):
    (tmp_path / "default.yaml").write_text("on_error: allow\nrules: []\n")
    from llm_dlp.policy.loader import load_policy_dir

    pipeline.policies = load_policy_dir(tmp_path)
    addon = DlpAddon(pipeline, endpoints, UnwritableAudit())
    flow = flow_to(ANTHROPIC, content=chat("What does this regex do?"))
    with taddons.context(addon):
        through(addon, flow)
    assert flow.response is None and RESTORE in flow.metadata


def test_a_failure_is_logged_and_audited_without_the_url_or_the_exceptions_words(pipeline, endpoints, audit, caplog,
                                                                                 monkeypatch):
    """An exception may quote the request (a key, a header, a piece of the body): the proxy's log,
    at debug level, and the audit name the failure by its type and where it was raised."""
    segment, query, quoted = make.aws_access_key_id(), make.github_pat(), make.anthropic_api_key()

    def broken(*_args, **_kwargs):
        raise ValueError(f"cannot read {quoted}")

    monkeypatch.setattr(pipeline, "inspect", broken)
    addon = DlpAddon(pipeline, endpoints, audit)
    flow = flow_to(ANTHROPIC, path=f"/{segment}/v1/messages?key={query}", content=chat("hello"))
    caplog.set_level("DEBUG")
    with taddons.context(addon):
        through(addon, flow)
    assert flow.response is not None and flow.response.status_code == 500
    logged, written = caplog.text, Path(audit.target).read_text()
    assert "ValueError in broken" in logged and "/v1/messages?key=…" in logged
    for value in (segment, query, quoted):
        assert value not in logged and value not in written
    [line] = audit_lines(Path(audit.target))
    assert line["error"].startswith("ValueError in broken") and line["path"].endswith("/v1/messages?key=…")
