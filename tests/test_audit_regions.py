"""Audit summary and report say how many requests and findings went to each region and provider."""

from __future__ import annotations

import datetime as dt
import json

from llm_dlp.audit.log import EVENT
from llm_dlp.audit.records import AuditEntry
from llm_dlp.audit.report import render
from llm_dlp.audit.summary import as_json, as_text, summarize


def line(tenant: str, provider: str, region: str | None, findings: int) -> AuditEntry:
    data = {"time": "2026-12-07T10:00:00+00:00", "event": EVENT, "tenant": tenant, "host": "h",
            "provider": provider, "region": region, "decision": "allow",
            "findings": [{"kind": "secret", "rule": "r", "location": "x", "action": "log", "count": findings}] if findings else []}
    return AuditEntry.parse(json.dumps(data).encode())


def test_requests_and_findings_per_tenant_region_and_provider():
    entries = [line("default", "qwen", "mainland", 2), line("default", "qwen", "mainland", 0),
               line("default", "anthropic", "international", 1), line("finance", "vllm", "self-hosted", 3),
               line("finance", "custom", None, 0)]
    assert entries[0].is_decision, "the test's lines must be decision lines"
    summary = summarize(entries)
    report = json.loads(as_json(summary))["destinations"]
    assert report == {
        "default": {"mainland/qwen": {"requests": 2, "findings": 2}, "international/anthropic": {"requests": 1, "findings": 1}},
        "finance": {"self-hosted/vllm": {"requests": 1, "findings": 3}, "unknown/custom": {"requests": 1, "findings": 0}},
    }
    assert "default  mainland/qwen" in as_text(summary) and "2 requests, 2 findings" in as_text(summary)
    html = render(summary, sources=[], verification=None, generated=dt.datetime(2026, 12, 7, tzinfo=dt.timezone.utc))
    table = html[html.index('id="destinations"'):html.index("</table>", html.index('id="destinations"'))]
    assert "<td>finance</td><td>self-hosted</td><td>vllm</td><td>1</td>" in table.replace("\n        ", "")
