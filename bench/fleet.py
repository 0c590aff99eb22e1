"""One llm-dlp instance vs two behind HAProxy (TCP mode), side by side with plain mitmdump.

Same run, same machine, same traffic shape as ``bench.concurrency``: N agent sessions at once,
each a growing Claude-Code-shaped conversation on its own keep-alive connection (so HAProxy,
which balances connections, spreads sessions over the instances). Targets, in the same run:

- plain ``mitmdump`` (the floor: TLS interception and forwarding, no scanning);
- one llm-dlp instance, clients straight to it;
- one llm-dlp instance behind HAProxy (what the balancer alone costs);
- two llm-dlp instances behind HAProxy, sharing the CA, keys and a Redis vault.

Every llm-dlp instance runs ``--workers 1`` and uses the Redis vault, so the only difference
between the last two rows is the second instance. Nothing is pinned: on a machine with two
cores, two instances (each a proxy process and one worker) compete for the same two cores, so
the ratio says what a second instance buys on *this* host, not on a second host. "Cores used"
is the CPU time of the proxy process trees (HAProxy not included) over the wall time.

With ``--rounds R`` every set-up runs R times per session count (fresh sessions each time, the
set-ups in a rotating order); the table shows the run with the median rate, and the spread.

    .venv/bin/python -m bench.fleet [--turns 6] [--sessions 4 8] [--rounds 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.concurrency import Target, run_sessions
from bench.proxy_latency import percentile, print_table, start_mitmdump
from bench.session import cpu_by_process, session_bodies, source_files
from llm_dlp.testing.proxyrun import RunningProxy, free_port, start_proxy, wait_for_port
from llm_dlp.testing.standin import StandInProvider, TestCA

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


@dataclass(frozen=True, slots=True)
class Setup:
    name: str
    target: Target
    pids: tuple[int, ...]  # the process trees whose CPU counts


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = workdir / "redis.log"
    process = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)], stdout=open(log, "w"), stderr=subprocess.STDOUT)
    wait_for_port(port, process, log)
    return process, f"redis://127.0.0.1:{port}/0"


def start_haproxy(workdir: Path, name: str, backends: list[RunningProxy]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    servers = "\n".join(f"    server edge-{n} 127.0.0.1:{proxy.port}" for n, proxy in enumerate(backends, 1))
    config = workdir / f"haproxy-{name}.cfg"
    config.write_text(f"""global
    maxconn 1024
defaults
    mode tcp
    timeout connect 5s
    timeout client 300s
    timeout server 300s
frontend bench
    bind 127.0.0.1:{port}
    default_backend instances
backend instances
    balance roundrobin
{servers}
""")
    log = workdir / f"haproxy-{name}.log"
    process = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=open(log, "w"), stderr=subprocess.STDOUT)
    wait_for_port(port, process, log)
    return process, port


def measure(setup: Setup, url: str, sessions: list[list[bytes]]) -> tuple[float, float, list[float], int]:
    """Requests/s, cores used, latencies and body bytes of one run of ``sessions`` through ``setup``."""
    before = sum(sum(cpu_by_process(pid).values()) for pid in setup.pids)
    started = time.perf_counter()
    run = run_sessions(setup.target, url, sessions)
    wall = time.perf_counter() - started
    cpu = sum(sum(cpu_by_process(pid).values()) for pid in setup.pids) - before
    return run.requests / wall, cpu / wall, run.latencies, run.body_bytes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=6, help="turns per session")
    parser.add_argument("--sessions", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each set-up per session count")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    files = source_files()
    workdir = Path(tempfile.mkdtemp(prefix="llm-dlp-fleet-bench-"))
    ca = TestCA(workdir / "ca")
    provider = StandInProvider(ca)
    processes: list[subprocess.Popen] = []
    proxies: list[RunningProxy] = []
    try:
        redis, vault = start_redis(workdir)
        processes.append(redis)
        mitmdump, mitm_port = start_mitmdump(workdir, ca.cert_path)
        processes.append(mitmdump)
        intercept = [f"localhost:{provider.port}"]
        for n in (1, 2, 3):
            if proxies:  # the same CA and keys, as a fleet ships them
                shutil.copytree(proxies[0].confdir, workdir / f"edge-{n}" / "certs",
                                ignore=shutil.ignore_patterns("llm-dlp-audit-head-*"))
            proxies.append(start_proxy(workdir / f"edge-{n}", intercept=intercept, upstream_ca=ca.cert_path,
                                       extra_args=["--workers", "1", "--vault", vault, "--instance-id", f"edge-{n}",
                                                   "--quiet"]))
        single, pair_a, pair_b = proxies
        haproxy_one, port_one = start_haproxy(workdir, "one", [single])
        haproxy_two, port_two = start_haproxy(workdir, "two", [pair_a, pair_b])
        processes += [haproxy_one, haproxy_two]
        verify = single.ssl_context()
        setups = [
            Setup("mitmdump", Target("mitmdump", mitmdump.pid, {
                "proxy": f"http://127.0.0.1:{mitm_port}", "verify": str(workdir / "mitm-conf" / "mitmproxy-ca-cert.pem")}),
                (mitmdump.pid,)),
            Setup("llm-dlp ×1, direct", Target("one", single.process.pid, {"proxy": single.url, "verify": verify}),
                  (single.process.pid,)),
            Setup("llm-dlp ×1 behind HAProxy", Target("one-haproxy", single.process.pid, {
                "proxy": f"http://127.0.0.1:{port_one}", "verify": verify}), (single.process.pid,)),
            Setup("llm-dlp ×2 behind HAProxy", Target("two-haproxy", pair_a.process.pid, {
                "proxy": f"http://127.0.0.1:{port_two}", "verify": verify}), (pair_a.process.pid, pair_b.process.pid)),
        ]
        url = f"{provider.base_url}/v1/messages"
        for proxy in proxies:  # each instance's first request (worker start-up, imports) is not measured
            run_sessions(Target("warm-up", proxy.process.pid, {"proxy": proxy.url, "verify": verify}), url,
                         [session_bodies(1, 1, files)])
        runs: dict[tuple[str, int], list[tuple[float, float, list[float], int]]] = {}
        first_session = 2000  # files no other bench's sessions read
        load_before = os.getloadavg()
        for round_number in range(args.rounds):
            for count in args.sessions:
                # The set-ups rotate from one round to the next, so none always follows another.
                shift = round_number % len(setups)
                for setup in setups[shift:] + setups[:shift]:
                    sessions = [session_bodies(first_session + n, args.turns, files) for n in range(count)]
                    first_session += count
                    runs.setdefault((setup.name, count), []).append(measure(setup, url, sessions))
        results = {key: sorted(found, key=lambda run: run[0])[len(found) // 2] for key, found in runs.items()}
        load_after = os.getloadavg()
        served = [sum(1 for line in p.audit_lines() if line["event"] == "dlp.decision") for p in (pair_a, pair_b)]
    finally:
        for proxy in proxies:
            proxy.stop()
        for process in processes:
            process.terminate()
        provider.close()

    sizes = session_bodies(0, args.turns, files)
    lines = [f"Sessions of {args.turns} turns ({len(sizes[0]) / 1000:.0f} → {len(sizes[-1]) / 1000:.0f} KB), all "
             "at once, each on its own keep-alive connection; loopback, TLS on both legs; every llm-dlp instance "
             "--workers 1 with a Redis vault; nothing pinned (2 cores, shared with other jobs) ",
             f"(median of {args.rounds} runs each; req/s of every run in brackets). Load average (1/5/15 min) "
             f"before: {'/'.join(f'{x:.1f}' for x in load_before)}, after: {'/'.join(f'{x:.1f}' for x in load_after)} "
             f"on {os.cpu_count()} cores: other jobs shared the machine.", "",
             "| sessions | set-up | req/s | runs | MB/s of body | p50 ms | p99 ms | cores used |",
             "|---:|---|---:|---|---:|---:|---:|---:|"]
    for count in args.sessions:
        for setup in setups:
            rate, cores, latencies, body = results[(setup.name, count)]
            wall = len(latencies) / rate
            spread = ", ".join(f"{run[0]:.1f}" for run in runs[(setup.name, count)])
            lines.append(f"| {count} | {setup.name} | {rate:.1f} | [{spread}] | {body / wall / 1e6:.1f} | "
                         f"{statistics.median(latencies):.0f} | {percentile(latencies, 0.99):.0f} | {cores:.2f} |")
    lines += ["", "| sessions | ×2 ÷ ×1 behind HAProxy | ×1 behind HAProxy ÷ direct | llm-dlp ×2 ÷ mitmdump |",
              "|---:|---:|---:|---:|"]
    for count in args.sessions:
        rate = {name: results[(name, count)][0] for name in (s.name for s in setups)}
        lines.append(f"| {count} | {rate['llm-dlp ×2 behind HAProxy'] / rate['llm-dlp ×1 behind HAProxy']:.2f}× | "
                     f"{rate['llm-dlp ×1 behind HAProxy'] / rate['llm-dlp ×1, direct']:.2f}× | "
                     f"{rate['llm-dlp ×2 behind HAProxy'] / rate['mitmdump']:.2f}× |")
    lines += ["", f"Requests each of the two instances decided (audit lines): {served[0]} and {served[1]}."]
    print_table(lines, args.out)


if __name__ == "__main__":
    main()
