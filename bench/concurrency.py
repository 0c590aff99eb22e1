"""Concurrent agent sessions through llm-dlp vs plain mitmdump: requests/s, p50/p99, cores used.

4, 8 and 16 sessions at once, each a growing Claude-Code-shaped conversation (see
``bench.session``) sent turn after turn on its own keep-alive connection; every session of every
run reads other files, so nothing is cached from an earlier run. Targets, in the same run: plain
``mitmdump``; ``llm-dlp run --workers 1`` pinned to one core; ``llm-dlp run --workers 2`` on two
cores (pinning by CPU affinity of the whole process tree). "Cores used" is the CPU time of the
proxy's process tree (workers included) divided by the wall time of the run.

    .venv/bin/python -m bench.concurrency [--turns 8] [--sessions 4 8 16] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.proxy_latency import percentile, print_table, start_mitmdump
from bench.session import HEADERS, cpu_by_process, session_bodies, source_files
from llm_dlp.testing.proxyrun import start_proxy
from llm_dlp.testing.standin import StandInProvider, TestCA


@dataclass
class Target:
    name: str
    pid: int
    client_args: dict
    cores: set[int] | None = None


@dataclass
class Run:
    requests: int
    body_bytes: int
    wall: float
    cpu: float
    main_cpu: float  # the proxy process alone, without detector workers
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.wall


def pin(pid: int, cores: set[int]) -> None:
    """Pin a process and every live descendant (detector workers) to ``cores``."""
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                os.sched_setaffinity(int(task.name), cores)
                pending += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue


def run_sessions(target: Target, url: str, sessions: list[list[bytes]]) -> Run:
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def one(bodies: list[bytes]) -> None:
        try:
            with httpx.Client(timeout=300, **target.client_args) as client:
                for body in bodies:
                    started = time.perf_counter()
                    response = client.post(url, content=body, headers=HEADERS)
                    elapsed = (time.perf_counter() - started) * 1000
                    response.raise_for_status()
                    with lock:
                        latencies.append(elapsed)
        except BaseException as exc:  # noqa: BLE001 — reported after the run
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(bodies,)) for bodies in sessions]
    cpu_before, started = cpu_by_process(target.pid), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu_after = cpu_by_process(target.pid)
    cpu = sum(cpu_after.values()) - sum(cpu_before.values())
    main_cpu = cpu_after[target.pid] - cpu_before[target.pid]
    if errors:
        raise RuntimeError(f"{target.name}: {errors[0]!r}")
    return Run(len(latencies), sum(len(b) for s in sessions for b in s), wall, cpu, main_cpu, latencies)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=8, help="turns per session")
    parser.add_argument("--sessions", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--main-on-one-core", action="store_true",
                        help="with --workers 2, keep the proxy process's own threads on one core")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    files = source_files()
    workdir = Path(tempfile.mkdtemp(prefix="llm-dlp-concurrency-"))
    ca = TestCA(workdir / "ca")
    provider = StandInProvider(ca)
    mitmdump, mitm_port = start_mitmdump(workdir, ca.cert_path)
    intercept = [f"localhost:{provider.port}"]
    one = start_proxy(workdir / "one", intercept=intercept, upstream_ca=ca.cert_path, extra_args=["--workers", "1"])
    two = start_proxy(workdir / "two", intercept=intercept, upstream_ca=ca.cert_path, extra_args=["--workers", "2"])
    pin(one.process.pid, {0})
    pin(two.process.pid, {0, 1})
    if args.main_on_one_core:
        # Only the proxy process's own threads onto one core, its workers keep both.
        for task in Path(f"/proc/{two.process.pid}/task").iterdir():
            os.sched_setaffinity(int(task.name), {1})
    targets = [
        Target("mitmdump", mitmdump.pid, {"proxy": f"http://127.0.0.1:{mitm_port}",
                                          "verify": str(workdir / "mitm-conf" / "mitmproxy-ca-cert.pem")}),
        Target("llm-dlp, 1 core, --workers 1", one.process.pid, {"proxy": one.url, "verify": one.ssl_context()}),
        Target("llm-dlp, 2 cores, --workers 2", two.process.pid, {"proxy": two.url, "verify": two.ssl_context()}),
    ]
    url = f"{provider.base_url}/v1/messages"
    results: dict[tuple[str, int], Run] = {}  # a count given twice keeps its last run
    first_session = 1000  # other files than bench.session's sessions
    try:
        for index, count in enumerate(args.sessions):
            # mitmdump first; the two llm-dlp set-ups swap places from one count to the next, so
            # neither always runs right after the other.
            for target in targets[:1] + (targets[1:] if index % 2 == 0 else targets[:0:-1]):
                sessions = [session_bodies(first_session + n, args.turns, files) for n in range(count)]
                first_session += count
                results[(target.name, count)] = run_sessions(target, url, sessions)
    finally:
        one.stop()
        two.stop()
        mitmdump.terminate()
        provider.close()

    sizes = session_bodies(0, args.turns, files)
    lines = [f"Sessions of {args.turns} turns ({len(sizes[0]) / 1000:.0f} → {len(sizes[-1]) / 1000:.0f} KB), "
             "all sessions at once, each on its own keep-alive connection; loopback, TLS on both legs", "",
             "| sessions | proxy | req/s | MB/s of body | p50 ms | p99 ms | cores used |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for count in args.sessions:
        for target in targets:
            run = results[(target.name, count)]
            lines.append(f"| {count} | {target.name} | {run.rate:.1f} | {run.body_bytes / run.wall / 1e6:.1f} "
                         f"| {statistics.median(run.latencies):.0f} | {percentile(run.latencies, 0.99):.0f} "
                         f"| {run.cpu / run.wall:.2f} |")
    lines += ["", "| sessions | throughput 2 cores ÷ 1 core, measured | CPU ms per request: proxy process + workers "
                  "(2 cores) | bound on 2 ÷ 1 core from that split | added p99, 2 cores, ms |",
              "|---:|---:|---:|---:|---:|"]
    for count in args.sessions:
        one_run, two_run = results[(targets[1].name, count)], results[(targets[2].name, count)]
        added = percentile(two_run.latencies, 0.99) - percentile(results[("mitmdump", count)].latencies, 0.99)
        main, workers = two_run.main_cpu / two_run.requests * 1000, (two_run.cpu - two_run.main_cpu) / two_run.requests * 1000
        # The proxy process (mitmproxy, parsing, policy, audit) is one GIL: it cannot use more than
        # one core, so two cores at most give (main + workers) / main, and never more than 2.
        bound = min(2.0, (main + workers) / main) if main else 2.0
        lines.append(f"| {count} | {two_run.rate / one_run.rate:.2f}× | {main:.1f} + {workers:.1f} | {bound:.2f}× | {added:+.0f} |")
    print_table(lines, args.out)


if __name__ == "__main__":
    main()
