"""What ``llm-dlp run`` starts with: its configuration, and the core parts built from it.

The proxy itself (mitmproxy with the llm-dlp addons) is started by ``addons.main.serve``: the
core never imports the addons, so it hands them finished parts instead. Everything that can be
wrong with a configuration (a broken policy, an outdated code index, an unreadable CA) fails
here, before a port is opened.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

from detectors.base import Detector

from llm_dlp.admin import ReadinessCheck, directory_writable, files_readable
from llm_dlp.audit.log import AuditLog
from llm_dlp.audit.rotation import Rotation
from llm_dlp.audit.recorded import RecordedFindings, recorded_key
from llm_dlp.audit.recorded_stores import open_recorded_store
from llm_dlp.known_values import open_known_values
from llm_dlp.audit.export import SpooledExporter
from llm_dlp.audit.hec import TOKEN_VARIABLE, HecExporter
from llm_dlp.audit.ocsf import OcsfExporter
from llm_dlp.audit.syslog import SyslogExporter
from llm_dlp.ca import CertificateAuthority, ensure_ca, trust_instructions
from llm_dlp.detection import DetectorOptions, DetectorRegistry, build_detectors, check_fit, fit_to_policies
from llm_dlp.endpoints import Endpoint, EndpointTable
from llm_dlp.keys import load_or_create_hasher
from llm_dlp.metrics import Metrics, MetricsSink
from llm_dlp.pipeline import Pipeline
from llm_dlp.policy.loader import PolicySet, load_policy_dir
from llm_dlp.vault import DEFAULT_TTL_SECONDS
from llm_dlp.policy.summary import describe
from llm_dlp.scan_cache import DEFAULT_MEMORY_BYTES, open_findings_cache
from llm_dlp.scan_workers import SegmentScanner


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    policy_dir: Path = Path("policies")
    audit_log: str = "llm-dlp-audit.jsonl"
    confdir: Path = Path("certs")
    extra_endpoints: tuple[Endpoint, ...] = ()
    upstream_ca: Path | None = None
    mitm_options: tuple[tuple[str, str], ...] = ()
    detector_options: DetectorOptions = field(default_factory=DetectorOptions)
    users_file: Path | None = None
    require_auth: bool = False  # without credentials: 407 instead of the default tenant
    shadow_policy_dir: Path | None = None
    reload_interval: float = 2.0
    audit_max_bytes: int = 100 * 1024 * 1024
    audit_daily: bool = True
    audit_fsync: bool = False
    vault: str = "memory"  # memory | file:PATH | redis://HOST:PORT/DB (shared by several proxies)
    vault_ttl_seconds: float = DEFAULT_TTL_SECONDS
    quiet: bool = False  # no console line per request
    workers: int | None = None  # detector worker processes; None: one per core; 0: in the proxy process
    scan_cache_bytes: int = DEFAULT_MEMORY_BYTES  # findings cache in memory; 0: none
    scan_cache_redis: str | None = None  # redis://HOST:PORT/DB: a findings cache shared by a fleet
    admin_listen: str | None = None  # HOST:PORT of /metrics, /healthz, /readyz; None: no admin listener
    instance_id: str = ""  # names this instance in its audit chain and metrics; "": default_instance_id
    export_syslog: str | None = None  # tcp:// or tls://HOST:PORT: every audit line also to this syslog receiver
    export_syslog_ca: Path | None = None  # PEM CA the tls:// receiver's certificate must chain to (else system roots)
    export_ocsf: Path | None = None  # decisions and refused logins also written here as OCSF 1.5.0 JSON lines
    export_splunk_hec: str | None = None  # http(s)://…/services/collector/event; token in LLM_DLP_HEC_TOKEN


class StartupError(Exception):
    """The proxy refuses to start; the message says why in words an operator acts on."""


@dataclass(frozen=True, slots=True)
class ProxyCore:
    """The core parts one proxy process runs with, built once, shared by its addons."""

    config: ProxyConfig
    pipeline: Pipeline
    endpoints: EndpointTable
    audit: AuditLog
    load_policies: Callable[[Path], PolicySet]  # what a hot reload calls: the same rule ids are known
    ca: CertificateAuthority
    metrics: Metrics = field(default_factory=Metrics.create)

    def readiness_checks(self, vault: Callable[[], str | None]) -> list:
        """What ``/readyz`` asks: policies loaded, CA readable, audit writable, ``vault`` reachable."""
        audit_dir = None if self.config.audit_log == "-" else Path(self.config.audit_log).resolve().parent
        return [
            ReadinessCheck("policies", lambda: None if self.pipeline.policies.policies else "no policy loaded"),
            ReadinessCheck("ca", lambda: files_readable(self.ca.cert_path)),
            ReadinessCheck("audit", lambda: directory_writable(audit_dir) if audit_dir else None),
            ReadinessCheck("vault", vault),
        ]

    def mitmproxy_options(self) -> dict[str, Any]:
        """mitmproxy's own options for this proxy (``--set NAME=VALUE`` may still override them)."""
        config = self.config
        options: dict[str, Any] = {
            "listen_host": config.listen_host,
            "listen_port": config.listen_port,
            "confdir": str(config.confdir),
            # No allow_hosts: addons.connections hands every connection that is not an AI endpoint
            # back as a blind tunnel at its ClientHello, from the CONNECT authority and the SNI.
            # HTTP/2 client connections keep every stream in memory until they close (mitmproxy #4456).
            "http2": False,
            # Blocked requests must not open an upstream connection at all.
            "connection_strategy": "lazy",
            "termlog_verbosity": "warn",
        }
        if config.upstream_ca:
            options["ssl_verify_upstream_trusted_ca"] = str(_upstream_bundle(config))
        return options

    def banner(self) -> str:
        config = self.config
        url = f"http://{config.listen_host}:{config.listen_port}"
        return "\n".join([
            f"llm-dlp proxy listening on {url}",
            f"policies: {config.policy_dir} (tenants: {', '.join(sorted(self.pipeline.policies.policies))})",
            *describe(self.pipeline.policies.default),
            f"audit log: {config.audit_log} (instance {config.instance_id or default_instance_id(config.listen_port)})",
            *([f"admin: http://{config.admin_listen} (/metrics, /healthz, /readyz)"] if config.admin_listen else []),
            trust_instructions(self.ca, url),
        ])

    def close(self) -> None:
        self.audit.close()
        self.pipeline.scanner.close()  # the detector worker processes
        self.pipeline.known.close()


def build_core(config: ProxyConfig) -> ProxyCore:
    hec_token = os.environ.get(TOKEN_VARIABLE, "")
    if config.export_splunk_hec and not hec_token:
        raise StartupError(f"--export-splunk-hec needs the collector's token in the environment variable {TOKEN_VARIABLE}")
    detectors = build_detectors(config.detector_options)
    # Every load (and hot reload) also self-checks the detectors the policies need.
    load = partial(load_policy_dir, registry=DetectorRegistry.for_proxy(detectors, config.detector_options))
    policies = load(config.policy_dir)  # refuse to start on a broken policy or a detector it needs
    shadow = load(config.shadow_policy_dir) if config.shadow_policy_dir else None
    # No language model where no policy can use a language; a reload that needs one is refused.
    detectors = fit_to_policies(detectors, [*policies.policies.values(), *(shadow.policies.values() if shadow else ())])
    load = partial(_load_fitting, detectors=detectors, options=config.detector_options)
    ca = ensure_ca(config.confdir)
    endpoints = EndpointTable.with_extra(list(config.extra_endpoints))
    hasher = load_or_create_hasher(config.confdir)
    instance = config.instance_id or default_instance_id(config.listen_port)
    metrics = Metrics.create(instance)
    # Workers fork here, after the detectors are built and before any thread starts.
    scanner = SegmentScanner(
        detectors,
        open_findings_cache(hasher, detectors, config.scan_cache_bytes, config.scan_cache_redis),
        workers=(os.cpu_count() or 1) if config.workers is None else config.workers,
    )
    # Values redacted earlier, kept where the vault is (sealed): a restart or another instance of
    # the fleet still finds them where a detector no longer would.
    known = open_known_values(config.vault, config.confdir, hasher.key, config.vault_ttl_seconds)
    known.load(policies.policies)
    pipeline = Pipeline(policies, detectors, hasher, shadow=shadow, scanner=scanner, known=known)
    exporters = _exporters(config, instance, hec_token)  # their threads start after the workers forked
    for exporter in exporters:
        metrics.export_backlog.labels(exporter=exporter.name).set_function(lambda e=exporter: e.backlog)
    audit = AuditLog(
        config.audit_log,
        confdir=config.confdir,
        rotation=Rotation(max_bytes=config.audit_max_bytes, daily=config.audit_daily),
        fsync=config.audit_fsync,
        head_dir=config.confdir,
        console=None if config.quiet else sys.stderr if config.audit_log == "-" else sys.stdout,
        metrics=MetricsSink(metrics),
        instance=instance,
        exporters=exporters,
        hasher=hasher,
        # Kept where the vault is: a fleet sharing a Redis vault records a finding once, and a
        # restart of a single proxy remembers (a file in the confdir).
        recorded=RecordedFindings(open_recorded_store(config.vault, config.confdir), key=recorded_key(hasher.key)),
    )
    return ProxyCore(config, pipeline, endpoints, audit, load, ca, metrics)


def _load_fitting(directory: Path, detectors: Sequence[Detector], options: DetectorOptions) -> PolicySet:
    loaded = load_policy_dir(directory, registry=DetectorRegistry.for_proxy(detectors, options))
    check_fit(detectors, loaded.policies.values())
    return loaded


def _exporters(config: ProxyConfig, instance: str, hec_token: str) -> list[SpooledExporter]:
    # The spools sit beside the audit log (or in the confdir when the log is stdout).
    base = Path(config.confdir) if config.audit_log == "-" else Path(config.audit_log).resolve().parent
    spool, host = base / "llm-dlp-spool", instance.replace(":", "-")
    exporters = []
    if config.export_syslog:
        exporters.append(SyslogExporter(config.export_syslog, spool, hostname=host, ca_file=config.export_syslog_ca))
    if config.export_splunk_hec:
        exporters.append(HecExporter(config.export_splunk_hec, hec_token, spool, host))
    if config.export_ocsf:
        exporters.append(OcsfExporter(Path(config.export_ocsf), spool))
    return exporters


def default_instance_id(listen_port: int) -> str:
    """``HOSTNAME:PORT``: unique among instances on one host, and stable across restarts."""
    return f"{socket.gethostname()}:{listen_port}"


def _upstream_bundle(config: ProxyConfig) -> Path:
    """Public roots plus the operator's private CA, so both kinds of upstream verify."""
    import certifi

    bundle = Path(config.confdir) / "upstream-ca-bundle.pem"
    extra = Path(config.upstream_ca).read_bytes()  # type: ignore[arg-type]
    bundle.write_bytes(Path(certifi.where()).read_bytes().rstrip() + b"\n" + extra)
    return bundle
