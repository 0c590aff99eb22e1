"""The admin listener of the real proxy: Prometheus metrics after real requests, and health.

The proxy runs as ``llm-dlp run --admin-listen`` in a subprocess, in front of the stand-in
provider; the metrics are read with prometheus-client's own parser, as a scraper would.
"""

from __future__ import annotations

import shutil
import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from llm_dlp.admin import parse_listen
from llm_dlp.testing import secrets_factory
from llm_dlp.testing.agentscript import Failure
from llm_dlp.testing.proxyrun import free_port, start_proxy


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _post(running, url: str, body: dict) -> httpx.Response:
    with running.client() as client:
        return client.post(url, json=body, headers={"x-api-key": "test", "anthropic-version": "2023-06-01"})


@pytest.fixture
def admin_proxy(tmp_path, provider, test_ca):
    port = free_port()
    audit_dir = tmp_path / "run" / "audit"
    audit_dir.mkdir(parents=True)
    running = start_proxy(
        tmp_path / "run", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
        extra_args=["--admin-listen", f"127.0.0.1:{port}", "--instance-id", "edge-1",
                    "--audit-log", str(audit_dir / "audit.jsonl")],
    )
    running.audit_path = audit_dir / "audit.jsonl"
    yield running, f"http://127.0.0.1:{port}"
    running.stop()


def test_requests_findings_and_upstream_errors_are_counted(admin_proxy, provider, received):
    running, admin = admin_proxy
    clean = {"model": "claude-test", "max_tokens": 8, "messages": [{"role": "user", "content": "hello there"}]}
    secret = secrets_factory.aws_access_key_id()
    leaky = {**clean, "messages": [{"role": "user", "content": f"deploy with key {secret} please"}]}

    assert _post(running, f"{provider.base_url}/v1/messages", clean).status_code == 200
    assert _post(running, f"{provider.base_url}/v1/messages", clean).status_code == 200
    _post(running, f"{provider.base_url}/v1/messages", leaky)
    provider.failure = Failure(503, b'{"error": "overloaded"}')
    try:
        assert _post(running, f"{provider.base_url}/v1/messages", clean).status_code == 503
    finally:
        provider.failure = None

    decisions = [line for line in running.audit_lines() if line["event"] == "dlp.decision"]
    assert len(decisions) == 4
    provider_label = decisions[0]["provider"]  # an --intercept-host endpoint: "custom"
    text = httpx.get(f"{admin}/metrics").text
    samples = _samples(text)
    # The counters say what the audit says, request by request.
    by_decision: dict[str, int] = {}
    for line in decisions:
        by_decision[line["decision"]] = by_decision.get(line["decision"], 0) + 1
    for decision, count in by_decision.items():
        assert _value(samples, "llm_dlp_requests_total", provider=provider_label, decision=decision,
                      tenant="default") == count
    # Each finding appears once in this conversation, so the audit holds them all.
    found: dict[tuple[str, str], int] = {}
    for line in decisions:
        for finding in line["findings"]:
            key = (finding["kind"], finding["rule"])
            found[key] = found.get(key, 0) + finding.get("count", 1)
    assert any(kind == "secret" for kind, _ in found), found
    for (kind, rule), count in found.items():
        assert _value(samples, "llm_dlp_findings_total", kind=kind, rule=rule) == count
    assert _value(samples, "llm_dlp_scan_seconds_count", provider=provider_label) == 4
    assert _value(samples, "llm_dlp_scanned_bytes_total", provider=provider_label) == sum(
        line["body_bytes"] for line in decisions)
    assert _value(samples, "llm_dlp_upstream_errors_total", host="localhost", **{"class": "5xx"}) == 1
    assert _value(samples, "llm_dlp_instance", instance="edge-1") == 1
    assert _value(samples, "llm_dlp_audit_write_failures_total") == 0
    # Bounded labels: nothing per user, client or model, and never the value found.
    assert secret not in text and "claude-test" not in text and 'user="' not in text


def test_readiness_turns_not_ready_when_the_audit_directory_cannot_be_written(admin_proxy):
    running, admin = admin_proxy
    assert httpx.get(f"{admin}/healthz").status_code == 200
    ready = httpx.get(f"{admin}/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"ready": True, "failures": {}}

    # The directory goes away and a file takes its name: nothing can be created in it, whoever
    # the tests run as (root passes permission checks, so chmod alone would prove nothing).
    audit_dir = running.audit_path.parent
    shutil.move(audit_dir, audit_dir.with_name("audit-moved"))
    audit_dir.write_text("not a directory\n")
    not_ready = httpx.get(f"{admin}/readyz")
    assert not_ready.status_code == 503
    assert set(not_ready.json()["failures"]) == {"audit"}
    assert httpx.get(f"{admin}/healthz").status_code == 200  # alive: an orchestrator must not restart it

    audit_dir.unlink()
    shutil.move(audit_dir.with_name("audit-moved"), audit_dir)
    assert httpx.get(f"{admin}/readyz").status_code == 200


def test_a_refused_audit_write_is_counted(admin_proxy, provider, received):
    running, admin = admin_proxy
    audit_dir = running.audit_path.parent
    shutil.move(audit_dir, audit_dir.with_name("audit-moved"))
    audit_dir.write_text("not a directory\n")
    body = {"model": "claude-test", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    response = _post(running, f"{provider.base_url}/v1/messages", body)
    assert response.status_code >= 400  # never forwarded unaudited
    assert received == []
    samples = _samples(httpx.get(f"{admin}/metrics").text)
    assert _value(samples, "llm_dlp_audit_write_failures_total") >= 1


def test_the_admin_port_is_checked_before_the_proxy_starts(tmp_path, provider, test_ca):
    with pytest.raises(ValueError):
        parse_listen("9464")
    busy = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", busy))
        holder.listen()
        with pytest.raises(RuntimeError) as refused:
            start_proxy(tmp_path / "run", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                        extra_args=["--admin-listen", f"127.0.0.1:{busy}"])
    assert "llm_dlp_admin_listen" in str(refused.value) and "refusing to start" in str(refused.value)


def test_metrics_names_follow_prometheus_conventions():
    from llm_dlp.metrics import Metrics

    families = list(text_string_to_metric_families(Metrics.create("x").exposition().decode()))
    names = {family.name for family in families}
    assert {"llm_dlp_requests", "llm_dlp_findings", "llm_dlp_scan_seconds", "llm_dlp_scanned_bytes",
            "llm_dlp_upstream_errors", "llm_dlp_audit_write_failures", "llm_dlp_policy_reloads"} <= names
    for family in families:
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
