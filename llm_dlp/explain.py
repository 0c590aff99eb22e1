"""``llm-dlp policy explain``: why a tenant's policy decides what it decides for one body."""

from __future__ import annotations

import json

from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.model import Policy
from llm_dlp.providers import FORMATS
from llm_dlp.withhold import notices_in


def guess_path(text: str) -> str:
    """An API path whose format fits this body, for bodies saved without their request line:
    the first format (in ``FORMATS`` order) whose ``looks_like`` accepts it."""
    try:
        document = json.loads(text)
    except ValueError:
        return "/text"
    api = next((api for api in FORMATS if api.looks_like is not None and api.looks_like(document)), None)
    return api.example_path if api is not None else "/json"


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
    lines.append(f"coverage: {verdict.text_bytes} text bytes scanned of a {verdict.body_bytes}-byte body"
                 + (f"; exempt: {', '.join(verdict.exempt)}" if verdict.exempt else ""))
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
