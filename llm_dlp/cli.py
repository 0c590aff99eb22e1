"""``llm-dlp``: run the proxy, scan text, manage the code index.

The program's entry point is ``addons.main:main``, which passes ``serve`` (mitmproxy with the
llm-dlp addons) to ``main`` here: the core never imports the addons, so ``llm-dlp run`` only
parses its options into a ``ProxyConfig`` and hands that on.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from detectors.collector import collector_paused
from llm_dlp.detection import DetectorCheckError

if TYPE_CHECKING:
    from llm_dlp.proxy import ProxyConfig

Serve = Callable[["ProxyConfig"], None]


def main(argv: list[str] | None = None, *, serve: Serve | None = None) -> int:
    """``serve`` runs the proxy for ``llm-dlp run``; without it that command is unavailable."""
    # As the process ends, Python's finalization has the cyclic collector walk every object once
    # more (a third of a second of CPU after a scan that loaded spaCy); frozen objects are not
    # walked, and garbage is no concern in a process that is ending. Registered once.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    with collector_paused():  # the commands' modules load here (see detectors.collector)
        parser = _parser(serve)
        args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except DetectorCheckError as exc:  # e.g. an --index-dir that does not exist
        print(f"llm-dlp: {exc}", file=sys.stderr)
        return 2


def _parser(serve: Serve | None) -> argparse.ArgumentParser:
    from llm_dlp import index_command
    from llm_dlp.audit import commands as audit_commands

    parser = argparse.ArgumentParser(prog="llm-dlp", description="Data-loss prevention proxy for LLM API traffic.")
    commands = parser.add_subparsers(title="commands")

    run = commands.add_parser("run", help="run the forward proxy")
    run.add_argument("--listen-host", default="127.0.0.1")
    run.add_argument("--listen-port", type=int, default=8080)
    run.add_argument("--policy-dir", type=Path, default=Path("policies"))
    run.add_argument("--audit-log", default="llm-dlp-audit.jsonl", help="audit log file, or - for stdout")
    run.add_argument("--audit-max-bytes", type=int, default=100 * 1024 * 1024, help="rotate the audit log at this size")
    run.add_argument("--audit-no-daily-rotation", action="store_true", help="rotate by size only, not also each day")
    run.add_argument("--audit-fsync", action="store_true", help="fsync every audit line (survives power loss; slower)")
    run.add_argument("--confdir", type=Path, default=Path("certs"), help="where the CA and keys live")
    run.add_argument("--quiet", action="store_true",
                     help="no console line per intercepted request (the audit log is written all the same)")
    run.add_argument(
        "--intercept-host", action="append", default=[], metavar="HOST[:PORT][=PROVIDER[@REGION]]",
        help="also intercept this host (repeatable), e.g. a self-hosted gateway: llm.corp:8443=vllm@self-hosted",
    )
    run.add_argument("--upstream-ca", type=Path, help="PEM CA to trust for upstream TLS, besides the public roots")
    run.add_argument("--index-dir", type=Path, help="proprietary-code index directory")
    run.add_argument("--allow-missing-index", action="store_true",
                     help="start even when a policy has proprietary_code rules and the code index is missing or "
                          "empty (those rules then match nothing; warned about at start and every policy reload)")
    run.add_argument("--spacy-model", help="an installed spaCy pipeline for names in prose (default: none)")
    run.add_argument("--users-file", type=Path, help="proxy users: bcrypt password hashes and groups (YAML)")
    run.add_argument("--unauthenticated", choices=("default", "reject"), default="default",
                     help="clients without proxy credentials: use the default tenant, or answer 407")
    run.add_argument("--shadow-policy-dir", type=Path,
                     help="candidate policies run beside the active ones; audit lines record where they differ")
    run.add_argument("--reload-interval", type=float, default=2.0, help="seconds between policy directory checks")
    run.add_argument("--vault", default="memory",
                     help="where placeholders' values are kept for restoring answers: memory, file:PATH, "
                          "or redis://HOST:PORT/DB to share them between proxy instances (default: memory)")
    run.add_argument("--vault-ttl", type=float, default=24 * 3600, metavar="SECONDS",
                     help="how long a redacted value stays restorable after its last use (default: 86400)")
    run.add_argument("--workers", type=int, metavar="N",
                     help="detector worker processes (default: one per core; 0: scan in the proxy process)")
    run.add_argument("--scan-cache-mb", type=float, default=256, metavar="MB",
                     help="memory for findings of segments already scanned, so a resent conversation "
                          "is not scanned again (default: 256; 0: off)")
    run.add_argument("--scan-cache-redis", metavar="URL",
                     help="redis://HOST:PORT/DB: share the findings cache between proxy instances "
                          "(offsets and keyed hashes only, never text)")
    run.add_argument("--admin-listen", metavar="HOST:PORT",
                     help="serve /metrics (Prometheus), /healthz and /readyz here (default: off)")
    run.add_argument("--instance-id", metavar="ID",
                     help="names this instance in its audit chain and metrics (default: HOSTNAME:LISTEN_PORT)")
    run.add_argument("--export-syslog", metavar="tcp|tls://HOST:PORT",
                     help="also send every audit line to this syslog receiver (RFC 5424 over TCP, or over TLS "
                          "as RFC 5425 with tls://), spooled beside the log")
    run.add_argument("--export-syslog-ca", type=Path, metavar="PEM",
                     help="CA file the tls:// syslog receiver's certificate must chain to (default: the system's roots)")
    run.add_argument("--export-ocsf", type=Path, metavar="FILE",
                     help="also write decisions and refused logins to FILE as OCSF 1.5.0 JSON lines "
                          "(Data Security Finding, Authentication), spooled beside the log")
    run.add_argument("--export-splunk-hec", metavar="URL",
                     help="also send every audit line to this Splunk HTTP Event Collector "
                          "(…/services/collector/event; token in LLM_DLP_HEC_TOKEN), spooled beside the log")
    run.add_argument("--set", dest="mitm_options", action="append", default=[], metavar="NAME=VALUE",
                     help="any mitmproxy option (repeatable)")
    run.set_defaults(handler=partial(_run, serve=serve))

    scan = commands.add_parser("scan", help="run every detector on a file or stdin and print findings")
    scan.add_argument("file", help="file to scan, or - for stdin")
    scan.add_argument("--json", action="store_true", help="one JSON object per finding per line")
    scan.add_argument("--policy-dir", type=Path, help="also show what this policy directory would do")
    scan.add_argument("--tenant", default="default")
    scan.add_argument("--index-dir", type=Path, help="proprietary-code index directory")
    scan.add_argument("--confdir", type=Path, default=Path("certs"), help="where the HMAC key for value hashes lives")
    scan.set_defaults(handler=_scan)

    policy = commands.add_parser("policy", help="check policies, or explain a decision")
    policy_commands = policy.add_subparsers(title="policy commands")
    check = policy_commands.add_parser("check", help="validate a policy directory")
    check.add_argument("directory", nargs="?", type=Path, default=Path("policies"))
    check.set_defaults(handler=_policy_check)
    explain = policy_commands.add_parser("explain", help="findings, matching rules and decision for a body or text")
    explain.add_argument("file", help="a request body (JSON) or plain text; - for stdin")
    explain.add_argument("--tenant", default="default")
    explain.add_argument("--policy-dir", type=Path, default=Path("policies"))
    explain.add_argument("--path", help="API path to read the body as (default: guessed from the body)")
    explain.add_argument("--confdir", type=Path, default=Path("certs"))
    explain.add_argument("--index-dir", type=Path)
    explain.set_defaults(handler=_policy_explain)

    replay = commands.add_parser("replay", help="run captured mitmproxy flows through a policy, offline")
    replay.add_argument("flows", nargs="+", type=Path, help="files written by mitmdump -w or mitmweb")
    replay.add_argument("--policy-dir", type=Path, default=Path("policies"))
    replay.add_argument("--tenant", help="decide every request as this tenant (default: as the live proxy would)")
    replay.add_argument("--compare-policy-dir", type=Path, help="a second policy directory; report where decisions differ")
    replay.add_argument("--report", type=Path, help="write a report: FILE.json or FILE.html")
    replay.add_argument("--intercept-host", action="append", default=[], metavar="HOST[:PORT][=PROVIDER[@REGION]]")
    replay.add_argument("--confdir", type=Path, default=Path("certs"), help="where the HMAC key lives")
    replay.add_argument("--index-dir", type=Path)
    replay.set_defaults(handler=_replay)

    hash_password = commands.add_parser("hash-password", help="bcrypt a password for the --users-file")
    hash_password.add_argument("password", nargs="?", help="default: read from stdin")
    hash_password.set_defaults(handler=_hash_password)

    init = commands.add_parser("init", help="create the CA and keys in a confdir, then exit (a fleet makes them "
                                             "once and gives every instance a copy)")
    init.add_argument("--confdir", type=Path, default=Path("certs"))
    init.set_defaults(handler=_init)

    pac = commands.add_parser("pac", help="write a proxy auto-config (PAC) file: only the AI hosts go to the proxy")
    pac.add_argument("--proxy", required=True, metavar="HOST:PORT", help="the proxy (or its load balancer) clients use")
    pac.add_argument("--intercept-host", action="append", default=[], metavar="HOST[:PORT][=PROVIDER[@REGION]]",
                     help="also send this host to the proxy (repeatable), as given to llm-dlp run")
    pac.add_argument("--output", "-o", type=Path, help="write here (default: stdout)")
    pac.set_defaults(handler=_pac)

    doctor = commands.add_parser("doctor", help="check this machine's client setup: proxy variables per tool, CA "
                                                "trust, and a request through the proxy; print the fix for each problem")
    doctor.add_argument("--proxy", metavar="URL", help="the proxy to expect (default: HTTPS_PROXY of this environment)")
    doctor.add_argument("--ca", type=Path, metavar="PEM", help="the proxy's CA certificate clients should trust "
                                                               "(default: the one the environment names)")
    doctor.add_argument("--url", default=None, metavar="URL",
                        help="an AI endpoint to reach through the proxy (default: https://api.anthropic.com/)")
    doctor.add_argument("--tool", action="append", choices=("claude-code", "codex", "gemini-cli", "python"),
                        help="check only these tools' settings (repeatable; default: all)")
    doctor.set_defaults(handler=_doctor)

    index_command.register(commands)
    audit_commands.register(commands)
    return parser


def _init(args: argparse.Namespace) -> int:
    from llm_dlp.audit.chain import CHAIN_KEY_FILE, load_or_create_chain_key
    from llm_dlp.ca import CA_CERT, ensure_ca
    from llm_dlp.keys import KEY_FILE, load_or_create_hasher

    ca = ensure_ca(args.confdir)
    load_or_create_hasher(args.confdir)
    load_or_create_chain_key(args.confdir)
    state = "created" if ca.created else "already there"
    print(f"{args.confdir}: CA {state}; keys {KEY_FILE}, {CHAIN_KEY_FILE}; clients trust {args.confdir / CA_CERT}")
    return 0


def _pac(args: argparse.Namespace) -> int:
    from llm_dlp.endpoints import EndpointTable, parse_intercept_host
    from llm_dlp.pac import pac_file

    try:
        endpoints = EndpointTable.with_extra([parse_intercept_host(h) for h in args.intercept_host])
        text = pac_file(endpoints, args.proxy)
    except ValueError as exc:
        print(f"llm-dlp: {exc}", file=sys.stderr)
        return 2
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"PAC file written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _doctor(args: argparse.Namespace) -> int:
    import os

    from llm_dlp.doctor import TOOLS, diagnose, format_report

    tools = tuple(t for t in TOOLS if not args.tool or t.key in args.tool)
    checks = diagnose(dict(os.environ), tools, proxy=args.proxy, ca=args.ca, url=args.url)
    print(format_report(checks))
    return 0 if all(c.ok for c in checks) else 1


def _run(args: argparse.Namespace, serve: Serve | None) -> int:
    with collector_paused():
        from llm_dlp.detection import DetectorOptions
        from llm_dlp.endpoints import parse_intercept_host
        from detectors.code.index_store import OutdatedIndexError
        from llm_dlp.policy.loader import PolicyError
        from llm_dlp.admin import parse_listen
        from llm_dlp.audit.syslog import parse_target
        from llm_dlp.proxy import ProxyConfig, StartupError, default_instance_id

    try:
        extra = tuple(parse_intercept_host(spec) for spec in args.intercept_host)
        options = tuple(_split_option(spec) for spec in args.mitm_options)
        if args.workers is not None and args.workers < 0:
            raise ValueError("--workers: use 0 (in the proxy process) or more")
        if args.scan_cache_redis and not args.scan_cache_redis.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"--scan-cache-redis {args.scan_cache_redis!r}: use redis://HOST:PORT/DB")
        if args.admin_listen:
            try:
                parse_listen(args.admin_listen)
            except ValueError as exc:
                raise ValueError(f"--admin-listen {exc}") from None
        if args.export_syslog:
            try:
                scheme, _, _ = parse_target(args.export_syslog)
            except ValueError as exc:
                raise ValueError(f"--export-syslog {exc}") from None
            if args.export_syslog_ca and scheme != "tls":
                raise ValueError("--export-syslog-ca verifies a TLS receiver: use --export-syslog tls://HOST:PORT")
        elif args.export_syslog_ca:
            raise ValueError("--export-syslog-ca needs --export-syslog tls://HOST:PORT")
        if args.export_syslog_ca and not args.export_syslog_ca.is_file():
            raise ValueError(f"--export-syslog-ca {args.export_syslog_ca}: no such file")
        if args.upstream_ca is not None and not args.upstream_ca.is_file():
            raise ValueError(f"--upstream-ca {args.upstream_ca}: no such file (a PEM CA certificate)")
        if args.export_splunk_hec and not args.export_splunk_hec.startswith(("http://", "https://")):
            raise ValueError(f"--export-splunk-hec {args.export_splunk_hec!r}: expected http(s)://HOST:PORT/services/collector/event")
    except ValueError as exc:
        print(f"llm-dlp: {exc}", file=sys.stderr)
        return 2
    if serve is None:
        print("llm-dlp: this entry point cannot run the proxy; use the llm-dlp command (addons.main)", file=sys.stderr)
        return 2
    config = ProxyConfig(
        listen_host=args.listen_host,
        listen_port=args.listen_port,
        policy_dir=args.policy_dir,
        audit_log=args.audit_log,
        confdir=args.confdir,
        extra_endpoints=extra,
        upstream_ca=args.upstream_ca,
        mitm_options=options,
        detector_options=DetectorOptions(index_dir=args.index_dir, spacy_model=args.spacy_model,
                                         allow_missing_index=args.allow_missing_index),
        users_file=args.users_file,
        require_auth=args.unauthenticated == "reject",
        shadow_policy_dir=args.shadow_policy_dir,
        reload_interval=args.reload_interval,
        vault=args.vault,
        vault_ttl_seconds=args.vault_ttl,
        quiet=args.quiet,
        workers=args.workers,
        scan_cache_bytes=int(args.scan_cache_mb * 1024 * 1024),
        scan_cache_redis=args.scan_cache_redis,
        admin_listen=args.admin_listen,
        instance_id=args.instance_id or default_instance_id(args.listen_port),
        export_syslog=args.export_syslog,
        export_splunk_hec=args.export_splunk_hec,
        export_syslog_ca=args.export_syslog_ca,
        export_ocsf=args.export_ocsf,
    )
    try:
        serve(config)
    except PolicyError as exc:
        print(f"llm-dlp: refusing to start: policy error: {exc}", file=sys.stderr)
        return 2
    except (StartupError, OutdatedIndexError, DetectorCheckError) as exc:
        print(f"llm-dlp: refusing to start: {exc}", file=sys.stderr)
        return 2
    return 0


def _split_option(spec: str) -> tuple[str, str]:
    name, sep, value = spec.partition("=")
    if not sep or not name:
        raise ValueError(f"--set {spec!r}: expected NAME=VALUE")
    return name, value


def _scan(args: argparse.Namespace) -> int:
    from llm_dlp.detection import DetectorOptions, build_detectors
    from llm_dlp.keys import load_or_create_hasher, mask_preview
    from llm_dlp.policy import engine
    from llm_dlp.policy.engine import FoundValue
    from llm_dlp.policy.loader import PolicyError, load_policy_dir

    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8", errors="replace")
    policy = None
    with collector_paused():
        if args.policy_dir:
            try:
                policy = load_policy_dir(args.policy_dir).get(args.tenant)
            except (PolicyError, KeyError) as exc:
                print(f"llm-dlp: {exc}", file=sys.stderr)
                return 2
        detectors = build_detectors(DetectorOptions(index_dir=args.index_dir))
    findings = []
    for detector in detectors:
        findings.extend(detector.scan(text))
    findings.sort(key=lambda f: (f.start, f.end))
    actions: dict[int, str] = {}
    exempted = 0
    if policy is not None:
        # The proxy's own policy engine: exceptions, rule order and min_count as in a request.
        hasher = load_or_create_hasher(args.confdir)
        hits = [FoundValue(f, f.value(text), hasher.fingerprint(f.value(text))) for f in findings]
        decided = {id(d.hit.finding): d for d in engine.decide(policy, hits)}
        kept = [f for f in findings if not decided[id(f)].exempt]
        actions = {id(f): decided[id(f)].action.label for f in kept}
        exempted, findings = len(findings) - len(kept), kept
    for finding in findings:
        record = {
            "kind": finding.kind,
            "rule": finding.rule,
            "start": finding.start,
            "end": finding.end,
            "confidence": round(finding.confidence, 3),
            "detector": finding.detector,
            "preview": mask_preview(finding.value(text)),
            **dict(finding.details),
        }
        if policy is not None:
            record["action"] = actions[id(finding)]
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
        else:
            line = text.count("\n", 0, finding.start) + 1
            extra = f" -> {record['action']}" if "action" in record else ""
            print(f"line {line}: {finding.kind}/{finding.rule} {record['preview']} "
                  f"(confidence {record['confidence']}){extra}")
    if exempted:
        print(f"llm-dlp: {exempted} finding(s) allowed by tenant {args.tenant!r}'s exceptions", file=sys.stderr)
    if not args.json and not findings:
        # Silence would read as "did it run at all?"; stdout stays empty for scripts.
        print("llm-dlp: no findings", file=sys.stderr)
    return 1 if findings else 0


def _policy_check(args: argparse.Namespace) -> int:
    from llm_dlp.detection import DetectorRegistry, build_detectors
    from llm_dlp.policy.loader import PolicyError, load_policy_dir
    from llm_dlp.policy.summary import placeholder_risks

    try:
        policies = load_policy_dir(args.directory, registry=DetectorRegistry.of(build_detectors()))
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, policy in sorted(policies.policies.items()):
        members = ", ".join([*policy.members.users, *(f"@{g}" for g in policy.members.groups),
                             *map(str, policy.members.networks)])
        if name == "default":
            members = members or "everyone no other tenant claims"
        print(f"ok  {name:<16} {policy.mode:<8} {len(policy.rules):>3} rules  members: {members or '-'}")
        for risk in placeholder_risks(policy):
            print(f"warning: {name}: {risk}", file=sys.stderr)
    return 0


def _pipeline(policy_dir: Path, confdir: Path, index_dir: Path | None):
    from llm_dlp.detection import DetectorOptions, DetectorRegistry, build_detectors
    from llm_dlp.keys import load_or_create_hasher
    from llm_dlp.pipeline import Pipeline
    from llm_dlp.policy.loader import load_policy_dir

    detectors = build_detectors(DetectorOptions(index_dir=index_dir))
    policies = load_policy_dir(policy_dir, registry=DetectorRegistry.of(detectors))
    return Pipeline(policies, detectors, load_or_create_hasher(confdir))


def _policy_explain(args: argparse.Namespace) -> int:
    from llm_dlp.explain import explain
    from llm_dlp.policy.loader import PolicyError

    body = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    try:
        pipeline = _pipeline(args.policy_dir, args.confdir, args.index_dir)
        policy = pipeline.policies.get(args.tenant)
    except (PolicyError, KeyError) as exc:
        print(f"llm-dlp: {exc}", file=sys.stderr)
        return 2
    print(explain(pipeline, policy, body, args.path))
    return 0


def _replay(args: argparse.Namespace) -> int:
    from llm_dlp.endpoints import EndpointTable, parse_intercept_host
    from llm_dlp.policy.loader import PolicyError
    from llm_dlp.replay import format_table, read_flows, replay, write_report

    try:
        endpoints = EndpointTable.with_extra([parse_intercept_host(h) for h in args.intercept_host])
        pipeline = _pipeline(args.policy_dir, args.confdir, args.index_dir)
        compare = _pipeline(args.compare_policy_dir, args.confdir, args.index_dir) if args.compare_policy_dir else None
        if args.tenant:
            pipeline.policies.get(args.tenant)
    except (PolicyError, KeyError, ValueError) as exc:
        print(f"llm-dlp: {exc}", file=sys.stderr)
        return 2
    report = replay(read_flows(args.flows), pipeline, endpoints, args.tenant, compare)
    print(format_table(report))
    if args.report:
        write_report(report, args.report)
        print(f"report written to {args.report}")
    return 0


def _hash_password(args: argparse.Namespace) -> int:
    from llm_dlp.identity import hash_password

    password = args.password if args.password is not None else sys.stdin.readline().rstrip("\n")
    print(hash_password(password))
    return 0
