"""``llm-dlp replay``: captured mitmproxy flows through the same pipeline, offline.

Each recorded request on an AI endpoint gets exactly the decision the live proxy would make:
the same header checks, the same tenant choice (from the recorded proxy-auth user and client
address, unless ``--tenant`` forces one), the same scan and policy. Nothing is sent anywhere.
"""

from __future__ import annotations

import dataclasses
import html
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from mitmproxy import http, io

from llm_dlp.endpoints import EndpointTable
from llm_dlp.flows import TARGET, info_from_flow, target_of
from llm_dlp.pipeline import Inspection, Pipeline
from llm_dlp.request import connection_verdict, header_verdict, passes_unscanned
from llm_dlp.verdict import Verdict


@dataclass
class ReplayedRequest:
    index: int
    method: str
    url: str
    tenant: str
    decision: str
    status: int | None
    message: str
    findings: list[dict[str, Any]]
    forwarded_body: str | None  # what would have gone upstream (None when answered by the proxy)
    compare_decision: str | None = None


@dataclass
class ReplayReport:
    requests: list[ReplayedRequest] = field(default_factory=list)
    skipped: int = 0  # flows to hosts that are not AI endpoints, or not HTTP

    @property
    def totals(self) -> dict[str, int]:
        return dict(Counter(r.decision for r in self.requests))

    @property
    def differences(self) -> list[ReplayedRequest]:
        return [r for r in self.requests if r.compare_decision is not None and r.compare_decision != r.decision]

    def to_json(self) -> dict[str, Any]:
        return {
            "totals": self.totals,
            "skipped": self.skipped,
            "differences": [r.index for r in self.differences],
            "requests": [dataclasses.asdict(r) for r in self.requests],
        }


def read_flows(paths: Iterable[Path]) -> list[http.HTTPFlow]:
    flows = []
    for path in paths:
        with open(path, "rb") as handle:
            flows.extend(io.FlowReader(handle).stream())
    return flows


def replay(
    flows: list,
    pipeline: Pipeline,
    endpoints: EndpointTable,
    tenant: str | None = None,
    compare: Pipeline | None = None,
) -> ReplayReport:
    report = ReplayReport()
    for index, flow in enumerate(flows):
        if not isinstance(flow, http.HTTPFlow) or flow.request.method == "CONNECT":
            report.skipped += 1
            continue
        target = target_of(flow, endpoints)
        endpoint = target.endpoint
        if endpoint is None:
            report.skipped += 1
            continue
        flow.metadata[TARGET] = target
        inspection = _decide(pipeline, flow, endpoint, tenant)
        verdict = inspection.verdict
        entry = ReplayedRequest(
            index=index,
            method=flow.request.method,
            url=flow.request.pretty_url,
            tenant=verdict.tenant,
            decision=verdict.decision,
            status=verdict.status if verdict.answers_client else None,
            message=verdict.message,
            findings=[dataclasses.asdict(f) for f in verdict.findings],
            forwarded_body=None if verdict.answers_client else _forwarded(flow, inspection),
        )
        if compare is not None:
            entry.compare_decision = _decide(compare, flow, endpoint, tenant).verdict.decision
        report.requests.append(entry)
    return report


def _decide(pipeline: Pipeline, flow: http.HTTPFlow, endpoint, tenant: str | None) -> Inspection:
    """The live proxy's decision: the header checks first, then the body's inspection."""
    info = info_from_flow(flow, endpoint)
    policy = pipeline.policies.get(tenant) if tenant else pipeline.policy_for(info)
    target = flow.metadata[TARGET]
    if passes_unscanned(target, policy):
        return Inspection(Verdict("allow", policy.name, policy_mode=policy.mode))
    refused = connection_verdict(target, policy) or header_verdict(info, policy)
    if refused is not None:
        return Inspection(refused)
    return pipeline.inspect(info, flow.request.raw_content or b"", policy)


def _forwarded(flow: http.HTTPFlow, inspection: Inspection) -> str | None:
    body = inspection.body if inspection.body is not None else flow.request.get_content(strict=False)
    return body.decode("utf-8", "replace") if body else None


def write_report(report: ReplayReport, target: Path) -> None:
    if target.suffix.lower() in (".html", ".htm"):
        target.write_text(_html(report), encoding="utf-8")
    else:
        target.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")


def format_table(report: ReplayReport) -> str:
    lines = [f"{'#':>4}  {'decision':<13}{'tenant':<14}{'findings':>8}  request"]
    for r in report.requests:
        compare = f"  (compare: {r.compare_decision})" if r.compare_decision not in (None, r.decision) else ""
        lines.append(f"{r.index:>4}  {r.decision:<13}{r.tenant:<14}{len(r.findings):>8}  {r.method} {r.url}{compare}")
    totals = ", ".join(f"{k}: {v}" for k, v in sorted(report.totals.items())) or "none"
    lines.append(f"totals: {totals}; skipped (not AI endpoints): {report.skipped}")
    if any(r.compare_decision is not None for r in report.requests):
        lines.append(f"decisions that differ under the compared policy: {len(report.differences)}")
    return "\n".join(lines)


def _html(report: ReplayReport) -> str:
    rows = []
    for r in report.requests:
        findings = "<br>".join(
            html.escape(f"{f['kind']}/{f['rule']} at {f['location']} → {f['action']} ({f['preview']})") for f in r.findings
        )
        differs = ' class="differs"' if r.compare_decision not in (None, r.decision) else ""
        rows.append(
            f"<tr{differs}><td>{r.index}</td><td>{html.escape(r.method)} {html.escape(r.url)}</td>"
            f"<td>{html.escape(r.tenant)}</td><td class=\"d-{html.escape(r.decision)}\">{html.escape(r.decision)}</td>"
            f"<td>{html.escape(r.compare_decision or '')}</td><td>{findings}</td></tr>"
        )
    totals = " · ".join(f"{html.escape(k)}: {v}" for k, v in sorted(report.totals.items()))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>llm-dlp replay report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }}
.d-block, .d-error {{ color: #b00020; font-weight: bold; }} .d-redact, .d-withhold {{ color: #a15c00; }} tr.differs {{ background: #fff3cd; }}
</style></head><body>
<h1>llm-dlp replay report</h1>
<p>{len(report.requests)} requests on AI endpoints ({totals}); {report.skipped} other flows skipped;
{len(report.differences)} decisions differ under the compared policy.</p>
<table><tr><th>#</th><th>request</th><th>tenant</th><th>decision</th><th>compared</th><th>findings</th></tr>
{''.join(rows)}
</table></body></html>
"""
