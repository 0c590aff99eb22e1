"""The proxy's Prometheus metrics: defined once here, one registry per process.

Most counters are read off the audit chain (``MetricsSink`` is one of its sinks), so a request
counted here is a request with an audit line, and the two never disagree. What the audit does not
see is recorded where it happens: a failed audit write (``AuditLog``) and a policy reload
(``addons.reload``).

Labels are bounded by configuration, never by traffic: provider and host come from the endpoint
table, tenant from the policy set, kind and rule from the detectors, decision and reason from
fixed vocabularies. No user, client address, model or path label: those grow with the fleet.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from llm_dlp.audit.events import AUTH_FAILURE, DECISION, RESPONSE

# Scan times run from well under a millisecond (a short chat turn, cached) to seconds (an agent's
# whole repository in one request); the buckets cover both ends.
SCAN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Counting a shared Redis vault walks its keys (SCAN), so a scrape every 15 s from each of
# several Prometheus servers reads a count at most this old instead of walking again.
VAULT_COUNT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Metrics:
    """Every metric of one proxy process, in its own registry (nothing module-global)."""

    registry: CollectorRegistry
    requests: Counter
    findings: Counter
    scan_seconds: Histogram
    scanned_bytes: Counter
    upstream_errors: Counter
    auth_failures: Counter
    audit_write_failures: Counter
    policy_reloads: Counter
    export_backlog: Gauge
    vault_entries: Gauge
    info: Gauge

    @classmethod
    def create(cls, instance: str = "") -> Metrics:
        registry = CollectorRegistry(auto_describe=True)
        metrics = cls(
            registry=registry,
            requests=Counter(
                "llm_dlp_requests", "AI API requests decided, by provider, decision and tenant.",
                ("provider", "decision", "tenant"), registry=registry,
            ),
            findings=Counter(
                "llm_dlp_findings", "Findings in decided requests, by kind and detector rule (every finding, "
                "including those an earlier turn of the conversation showed).",
                ("kind", "rule"), registry=registry,
            ),
            scan_seconds=Histogram(
                "llm_dlp_scan_seconds", "Time to scan and decide one request body.",
                ("provider",), buckets=SCAN_BUCKETS, registry=registry,
            ),
            scanned_bytes=Counter(
                "llm_dlp_scanned_bytes", "Request body bytes scanned.", ("provider",), registry=registry,
            ),
            upstream_errors=Counter(
                "llm_dlp_upstream_errors", "Forwarded requests upstream answered with 4xx/5xx or did not answer "
                "(class: 4xx, 5xx or connection).",
                ("host", "class"), registry=registry,
            ),
            auth_failures=Counter(
                "llm_dlp_auth_failures", "Clients refused at proxy authentication, by reason.",
                ("reason",), registry=registry,
            ),
            audit_write_failures=Counter(
                "llm_dlp_audit_write_failures", "Audit lines that could not be written (the request was refused).",
                registry=registry,
            ),
            policy_reloads=Counter(
                "llm_dlp_policy_reloads", "Hot reloads of a policy directory, by result (loaded or rejected).",
                ("result",), registry=registry,
            ),
            export_backlog=Gauge(
                "llm_dlp_export_backlog_bytes", "Audit lines spooled for a SIEM exporter and not yet delivered, in bytes.",
                ("exporter",), registry=registry,
            ),
            vault_entries=Gauge(
                "llm_dlp_vault_entries", "Placeholder values held in the vault and not expired (shared by every "
                f"instance on a Redis vault; counted at most every {VAULT_COUNT_SECONDS:g} s; NaN when the vault "
                "cannot be read).", registry=registry,
            ),
            info=Gauge("llm_dlp_instance", "Always 1; its label names this proxy instance.", ("instance",),
                       registry=registry),
        )
        metrics.info.labels(instance=instance).set(1)
        return metrics

    def watch_vault(self, count: Callable[[], int], every_seconds: float = VAULT_COUNT_SECONDS) -> None:
        """Serve ``count()`` as ``llm_dlp_vault_entries``, asked at most once per ``every_seconds``."""
        self.vault_entries.set_function(CachedReading(count, every_seconds))

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format, as ``/metrics`` serves it."""
        return generate_latest(self.registry)


class CachedReading:
    """A costly reading, taken again only when the last one is older than ``max_age`` seconds;
    NaN when it fails (a scrape must not fail because the vault is away: readiness says that)."""

    def __init__(self, read: Callable[[], float], max_age: float) -> None:
        self._read = read
        self._max_age = max_age
        self._lock = threading.Lock()
        self._value = math.nan
        self._taken: float | None = None

    def __call__(self) -> float:
        with self._lock:
            now = time.monotonic()
            if self._taken is None or now - self._taken >= self._max_age:
                try:
                    self._value = float(self._read())
                except Exception:  # noqa: BLE001 — any store error reads as "unknown"
                    self._value = math.nan
                self._taken = now
            return self._value


class MetricsSink:
    """An audit sink: counts each event the chain has written. It only reads the event dict."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def show(self, event_dict: dict[str, Any]) -> None:
        event = event_dict.get("event")
        if event == DECISION:
            self._decision(event_dict)
        elif event == RESPONSE:
            self._response(event_dict)
        elif event == AUTH_FAILURE:
            self.metrics.auth_failures.labels(reason=str(event_dict.get("reason") or "?")).inc()

    def write_failed(self) -> None:
        self.metrics.audit_write_failures.inc()

    def _decision(self, event_dict: dict[str, Any]) -> None:
        m = self.metrics
        provider = str(event_dict.get("provider") or "?")
        m.requests.labels(provider=provider, decision=str(event_dict.get("decision") or "?"),
                          tenant=str(event_dict.get("tenant") or "?")).inc()
        for finding in event_dict.get("findings") or ():
            m.findings.labels(kind=str(finding.get("kind") or "?"), rule=str(finding.get("rule") or "?")).inc(
                finding.get("count", 1))
        scan_ms = event_dict.get("scan_ms")
        if scan_ms is not None:
            m.scan_seconds.labels(provider=provider).observe(scan_ms / 1000)
        m.scanned_bytes.labels(provider=provider).inc(event_dict.get("body_bytes") or 0)

    def _response(self, event_dict: dict[str, Any]) -> None:
        status = event_dict.get("status")
        if event_dict.get("error") is None and status is not None and status < 400:
            return
        klass = "connection" if status is None else f"{status // 100}xx"
        self.metrics.upstream_errors.labels(host=str(event_dict.get("host") or "?"), **{"class": klass}).inc()
