"""How long the audit review commands take on a 100,000-line log, and what sealing costs a write.

    .venv/bin/python -m bench.audit [--lines 100000] [--repeat 3] [--requests 2000]

(As a module from the repository root: run as a script, bench/secret_detection.py would shadow the
standard library's ``secrets`` module that the chain key generation uses.)

Generates a sealed synthetic log (``llm_dlp.audit.synthetic``) in a temporary directory, then
times each command twice: in-process (the work itself, median of ``--repeat`` runs) and as the
``llm-dlp audit ...`` command a reviewer types (one run, Python start-up and imports included).
Prints a markdown table, then what the proxy's audit costs a request: its decision line and its
response line, written the way the proxy writes them (head kept in the confdir, findings
remembered in the confdir's store, instance named, the target masked).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from llm_dlp.audit.chain import load_or_create_chain_key
from llm_dlp.audit.events import AuditedFinding, DecisionEvent, ResponseEvent
from llm_dlp.audit.log import AuditLog
from llm_dlp.audit.query import Filter, select
from llm_dlp.audit.recorded import RecordedFindings, recorded_key
from llm_dlp.audit.recorded_stores import open_recorded_store
from llm_dlp.audit.report import render
from llm_dlp.audit.rotation import Rotation, parse_time
from llm_dlp.audit.summary import summarize
from llm_dlp.audit.synthetic import generate
from llm_dlp.audit.verify import verify
from llm_dlp.keys import ValueHasher

LLM_DLP = Path(sys.executable).parent / "llm-dlp"


def median_seconds(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cli_seconds(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([str(LLM_DLP), "audit", *args], check=False, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def decision(n: int) -> DecisionEvent:
    """A coding agent's turn as the proxy audits it: three findings, one of them new this turn."""
    findings = tuple(AuditedFinding(kind="secret", rule="aws-access-key-id", location=f"$.messages[{i}].content[0].text",
                                    action="redact", value_hash=f"hmac-sha256:{(n if i == 2 else i):064x}",
                                    preview="AKIA…(20 chars)", detector="secrets", confidence=0.99)
                     for i in range(3))
    return DecisionEvent(
        request_id=f"req-{n}", tenant="default", user="alice", client="127.0.0.1", method="POST",
        host="api.anthropic.com", path="/v1/messages?beta=true", provider="anthropic", format="anthropic",
        model="claude-sonnet-4-20250514", decision="redact", mode="enforce", status=None, reason=None, error=None,
        findings=findings, body_bytes=480_000, scan_ms=41.7, region="international",
        coverage={"text_bytes": 470_000, "body_bytes": 480_000, "exempt": ["signature"]})


def per_request_seconds(directory: Path, requests: int) -> float:
    """One request's audit: its decision line and its response line, as the proxy writes them."""
    confdir = directory / "certs"
    hasher = ValueHasher(b"k" * 32)
    log = AuditLog(directory / "proxy.jsonl", confdir=confdir, head_dir=confdir, instance="bench:8080",
                   hasher=hasher, recorded=RecordedFindings(open_recorded_store("", confdir), key=recorded_key(hasher.key)))
    events = [decision(n) for n in range(requests)]
    start = time.perf_counter()
    for n, event in enumerate(events):
        log.record_event(event)
        log.record_event(ResponseEvent(request_id=f"req-{n}", tenant="default", user="alice",
                                       host="api.anthropic.com", path="/v1/messages?beta=true", status=200, ms=812.0))
    elapsed = (time.perf_counter() - start) / requests
    log.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000, help="requests for the per-request audit cost")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        confdir = directory / "certs"
        key = load_or_create_chain_key(confdir)
        path = directory / "audit.jsonl"
        start = time.perf_counter()
        generate(path, args.lines, key)
        generated = time.perf_counter() - start
        size_mb = path.stat().st_size / 1e6
        files = [path]
        common = [str(path), "--confdir", str(confdir)]
        day = ("2025-03-20", "2025-03-21")

        cases: list[tuple[str, Callable[[], object], list[str] | None]] = [
            ("verify (whole chain)", lambda: verify(files, key), ["verify", *common]),
            ("query, no filter (count all)", lambda: sum(1 for _ in select(files, Filter())), None),
            ("query --tenant acme", lambda: list(select(files, Filter(tenants=frozenset({"acme"})))),
             ["query", *common, "--tenant", "acme", "--json"]),
            ("query --decision block --kind secret",
             lambda: list(select(files, Filter(decisions=frozenset({"block"}), kinds=frozenset({"secret"})))),
             ["query", *common, "--decision", "block", "--kind", "secret"]),
            ("query --since/--until one day",
             lambda: list(select(files, Filter(since=parse_time(day[0]), until=parse_time(day[1])))),
             ["query", *common, "--since", day[0], "--until", day[1], "--json"]),
            ("query --user pilot --model gpt-4o --host api.openai.com",
             lambda: list(select(files, Filter(users=frozenset({"pilot"}), models=frozenset({"gpt-4o"}),
                                               hosts=frozenset({"api.openai.com"})))), None),
            ("summary", lambda: summarize(select(files, Filter())), ["summary", *common]),
            ("report --html (summary + verify + render)",
             lambda: render(summarize(select(files, Filter())), sources=files, verification=verify(files, key),
                            generated=dt.datetime.now(dt.UTC)),
             ["report", *common, "--html", str(directory / "report.html")]),
        ]
        rows = [(name, median_seconds(work, args.repeat), cli_seconds(cli) if cli else None) for name, work, cli in cases]

        writes = 20_000
        log = AuditLog(directory / "writes.jsonl", key=key, rotation=Rotation(max_bytes=50_000_000))
        record = {"tenant": "default", "user": "alice", "decision": "redact", "host": "api.anthropic.com"}
        # A new value each time: a finding already recorded in the conversation would be left out.
        findings = [[{"kind": "secret", "rule": "aws-access-key-id", "location": "$.messages[0].content",
                      "action": "redact", "value_hash": f"hmac-sha256:{i:064x}"}] for i in range(writes)]
        start = time.perf_counter()
        for i in range(writes):
            log.write("dlp.decision", **record, findings=findings[i])
        per_write = (time.perf_counter() - start) / writes
        log.close()
        per_request = per_request_seconds(directory, args.requests)

    print(f"Audit log of {args.lines:,} lines ({size_mb:.0f} MB), generated and sealed in {generated:.1f} s\n")
    print("| operation | in-process (median of %d) | `llm-dlp audit` command |" % args.repeat)
    print("|---|---:|---:|")
    for name, seconds, cli in rows:
        print(f"| {name} | {seconds:.2f} s | {f'{cli:.2f} s' if cli is not None else '-'} |")
    print(f"\nAuditLog.write (processors + seal + flock + one write(2), no fsync): {per_write * 1e6:.0f} µs per line "
          f"({1 / per_write:,.0f} lines/s), {writes:,} writes")
    print(f"A proxied request's audit (decision + response line; head kept, findings remembered, target masked): "
          f"{per_request * 1e6:.0f} µs per request ({per_request * 1e6 / 2:.0f} µs per line), {args.requests:,} requests")


if __name__ == "__main__":
    main()
