"""``llm-dlp policy explain``: why a tenant's policy decides what it decides for one body."""

from __future__ import annotations

import json

from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.model import Policy
from llm_dlp.withhold import notices_in


def guess_path(text: str) -> str:
    """An API path whose adapter fits this body, for bodies saved without their request line."""
    try:
        document = json.loads(text)
    except ValueError:
        return "/text"
    if isinstance(document, dict) and isinstance(document.get("messages"), list):
        anthropic_markers = ("system" in document, "max_tokens" in document and "messages" in document)
        blocks = [
            block.get("type")
            for message in document["messages"] if isinstance(message, dict) and isinstance(message.get("content"), list)
            for block in message["content"] if isinstance(block, dict)
        ]
        if any(kind in ("tool_use", "tool_result", "thinking", "document") for kind in blocks):
            return "/v1/messages"
        if any(isinstance(m, dict) and m.get("role") in ("system", "developer", "tool") for m in document["messages"]):
            return "/v1/chat/completions"
        return "/v1/messages" if any(anthropic_markers) else "/v1/chat/completions"
    return "/json"


def explain(pipeline: Pipeline, policy: Policy, body: bytes, path: str | None = None) -> str:
    text = body.decode("utf-8", "replace")
    path = path or guess_path(text)
    info = RequestInfo("explain", "POST", "explain.local", path, "custom",
                       content_type="application/json" if path != "/text" else "text/plain")
    inspection = pipeline.inspect(info, body, policy)
    verdict = inspection.verdict
    lines = [
        f"tenant: {policy.name} ({policy.source}; mode {policy.mode}, on_error {policy.on_error})",
        f"read as: {verdict.format or 'n/a'} (path {path})",
    ]
    if verdict.error:
        lines.append(f"error: {verdict.error}")
    if verdict.findings:
        lines.append("findings:")
        for finding in verdict.findings:
            because = finding.policy_rule or f"no rule matched: default_action {policy.default_action.label}"
            lines.append(
                f"  {finding.kind}/{finding.rule} at {finding.location} x{finding.count} "
                f"(confidence {finding.confidence}, {finding.preview})"
            )
            lines.append(f"    -> {finding.action}  because {because}")
    else:
        lines.append("findings: none")
    lines.append(f"decision: {verdict.decision}")
    if inspection.body is not None:
        lines += [f"withheld, the model reads instead: {notice}" for notice in notices_in(inspection.body.decode("utf-8"))]
    if verdict.message:
        lines.append(f"message to the client: {verdict.message}")
    if verdict.reroute:
        lines.append(f"rerouted to: {verdict.reroute}")
    return "\n".join(lines)
