"""Run mitmproxy in-process with the llm-dlp addon: the engine behind ``llm-dlp run``."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from functools import partial
from dataclasses import dataclass, field
from pathlib import Path

from mitmproxy import options
from mitmproxy.tools.dump import DumpMaster

from addons.dlp import DlpAddon
from addons.identity import ProxyIdentity
from addons.reload import PolicyReloader
from llm_dlp.audit.log import AuditLog
from llm_dlp.audit.rotation import Rotation
from llm_dlp.ca import CertificateAuthority, ensure_ca, trust_instructions
from llm_dlp.detection import DetectorOptions, build_detectors, known_rule_ids
from llm_dlp.endpoints import Endpoint, EndpointTable
from llm_dlp.identity import UsersFile
from llm_dlp.keys import load_or_create_hasher
from llm_dlp.pipeline import Pipeline
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.restore import Restorer
from llm_dlp.scan_cache import DEFAULT_MEMORY_BYTES, open_findings_cache
from llm_dlp.scan_workers import SegmentScanner
from llm_dlp.vault import DEFAULT_TTL_SECONDS, open_vault

log = logging.getLogger("llm_dlp")


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
    workers: int | None = None  # detector worker processes; None: one per core; 0: in the proxy process
    scan_cache_bytes: int = DEFAULT_MEMORY_BYTES  # findings cache in memory; 0: none
    scan_cache_redis: str | None = None  # redis://HOST:PORT/DB: a findings cache shared by a fleet


def run_proxy(config: ProxyConfig) -> None:
    detectors = build_detectors(config.detector_options)
    _check_code_index(detectors)
    known = known_rule_ids(detectors)
    load = partial(load_policy_dir, known_rules=known)
    policies = load(config.policy_dir)  # refuse to start on a broken policy
    shadow = load(config.shadow_policy_dir) if config.shadow_policy_dir else None
    users = UsersFile.load(config.users_file) if config.users_file else None
    ca = ensure_ca(config.confdir)
    endpoints = EndpointTable.with_extra(list(config.extra_endpoints))
    hasher = load_or_create_hasher(config.confdir)
    # Workers fork here, after the detectors are built and before any thread starts.
    scanner = SegmentScanner(
        detectors,
        open_findings_cache(hasher, detectors, config.scan_cache_bytes, config.scan_cache_redis),
        workers=(os.cpu_count() or 1) if config.workers is None else config.workers,
    )
    pipeline = Pipeline(policies, detectors, hasher, shadow=shadow, scanner=scanner)
    audit = AuditLog(
        config.audit_log,
        confdir=config.confdir,
        rotation=Rotation(max_bytes=config.audit_max_bytes, daily=config.audit_daily),
        fsync=config.audit_fsync,
        head_dir=config.confdir,
    )
    addons: list = []
    if users is not None:
        addons.append(ProxyIdentity(users, config.require_auth))
    restorer = Restorer(open_vault(config.vault, pipeline.hasher.key, config.vault_ttl_seconds))
    addons.append(DlpAddon(pipeline, endpoints, audit, restorer))
    addons.append(PolicyReloader(pipeline, config.policy_dir, load, config.reload_interval, config.shadow_policy_dir))
    print(_banner(config, ca, policies.policies.keys()), flush=True)
    try:
        asyncio.run(_serve(config, endpoints, addons))
    finally:
        audit.close()
        restorer.close()
        scanner.close()


async def _serve(config: ProxyConfig, endpoints: EndpointTable, addons: list) -> None:
    opts = options.Options(
        listen_host=config.listen_host,
        listen_port=config.listen_port,
        confdir=str(config.confdir),
        # Only AI endpoints are TLS-intercepted; everything else is a blind TCP tunnel.
        allow_hosts=endpoints.allow_hosts(),
        # HTTP/2 client connections keep every stream in memory until they close (mitmproxy #4456).
        http2=False,
    )
    master = DumpMaster(opts, with_termlog=True, with_dumper=False)
    # Blocked requests must not open an upstream connection at all.
    master.options.update(connection_strategy="lazy", termlog_verbosity="warn")
    if config.upstream_ca:
        master.options.update(ssl_verify_upstream_trusted_ca=str(_upstream_bundle(config)))
    for name, value in config.mitm_options:
        master.options.set(f"{name}={value}")
    master.addons.add(*addons)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    await master.run()


def _check_code_index(detectors: list) -> None:
    """An index in an old format would fail every request closed: refuse to start instead."""
    for detector in detectors:
        if detector.name == "proprietary_code":
            detector.table()  # raises OutdatedIndexError with the command that rebuilds it


def _upstream_bundle(config: ProxyConfig) -> Path:
    """Public roots plus the operator's private CA, so both kinds of upstream verify."""
    import certifi

    bundle = Path(config.confdir) / "upstream-ca-bundle.pem"
    extra = Path(config.upstream_ca).read_bytes()  # type: ignore[arg-type]
    bundle.write_bytes(Path(certifi.where()).read_bytes().rstrip() + b"\n" + extra)
    return bundle


def _banner(config: ProxyConfig, ca: CertificateAuthority, tenants) -> str:
    url = f"http://{config.listen_host}:{config.listen_port}"
    return "\n".join([
        f"llm-dlp proxy listening on {url}",
        f"policies: {config.policy_dir} (tenants: {', '.join(sorted(tenants))})",
        f"audit log: {config.audit_log}",
        trust_instructions(ca, url),
    ])
