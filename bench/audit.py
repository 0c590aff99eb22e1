"""How long the audit review commands take on a 100,000-line log, and what sealing costs a write.

    .venv/bin/python -m bench.audit [--lines 100000] [--repeat 3]

(As a module from the repository root: run as a script, bench/secret_detection.py would shadow the
standard library's ``secrets`` module that the chain key generation uses.)

Generates a sealed synthetic log (``llm_dlp.audit.synthetic``) in a temporary directory, then
times each command twice: in-process (the work itself, median of ``--repeat`` runs) and as the
``llm-dlp audit ...`` command a reviewer types (one run, Python start-up and imports included).
Prints a markdown table.
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
from llm_dlp.audit.log import AuditLog
from llm_dlp.audit.query import Filter, select
from llm_dlp.audit.report import render
from llm_dlp.audit.rotation import Rotation, parse_time
from llm_dlp.audit.summary import summarize
from llm_dlp.audit.synthetic import generate
from llm_dlp.audit.verify import verify

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
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

    print(f"Audit log of {args.lines:,} lines ({size_mb:.0f} MB), generated and sealed in {generated:.1f} s\n")
    print("| operation | in-process (median of %d) | `llm-dlp audit` command |" % args.repeat)
    print("|---|---:|---:|")
    for name, seconds, cli in rows:
        print(f"| {name} | {seconds:.2f} s | {f'{cli:.2f} s' if cli is not None else '-'} |")
    print(f"\nAuditLog.write (processors + seal + flock + one write(2), no fsync): {per_write * 1e6:.0f} µs per line "
          f"({1 / per_write:,.0f} lines/s), {writes:,} writes")


if __name__ == "__main__":
    main()
