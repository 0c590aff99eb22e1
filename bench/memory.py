"""Memory of llm-dlp vs plain mitmdump: idle, then after thousands of agent requests.

Both proxies get the same stream of Claude-Code-shaped requests (``bench.session``'s bodies:
sessions of growing history, real source files as tool results, no file shared between
sessions), one request at a time. After every ``--step`` requests the memory of each proxy is
read from /proc: resident set (RSS) of the proxy process, and the proportional set size (PSS) of
its whole process tree, which counts the pages the forked detector workers share with it once
rather than once per process. A bounded proxy levels off; one that keeps growing does not.

    .venv/bin/python -m bench.memory [--requests 3000] [--step 500] [--turns 10] [--out FILE]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.proxy_latency import print_table, start_mitmdump
from bench.session import HEADERS, session_bodies, source_files
from llm_dlp.testing.proxyrun import REPO, start_proxy
from llm_dlp.testing.standin import StandInProvider, TestCA


@dataclass(frozen=True)
class Reading:
    requests: int
    rss_mib: float  # the proxy process alone
    tree_pss_mib: float  # the proxy and its descendants, shared pages counted once


def descendants(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _kib(path: Path, field: str) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reading(pid: int, requests: int) -> Reading:
    pss = 0
    for member in descendants(pid):
        try:
            pss += _kib(Path(f"/proc/{member}/smaps_rollup"), "Pss")
        except OSError:
            continue  # a worker that just exited
    return Reading(requests, _kib(Path(f"/proc/{pid}/status"), "VmRSS") / 1024, pss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--step", type=int, default=500)
    parser.add_argument("--turns", type=int, default=10, help="turns per session (history grows within one)")
    parser.add_argument("--out", type=Path, help="also write the table as markdown to this file")
    args = parser.parse_args()

    files = source_files()
    sessions = (session_bodies(number, args.turns, files) for number in itertools.count())
    bodies = itertools.islice(itertools.chain.from_iterable(sessions), args.requests)
    workdir = Path(tempfile.mkdtemp(prefix="llm-dlp-memory-"))
    ca = TestCA(workdir / "ca")
    provider = StandInProvider(ca)
    mitmdump, mitm_port = start_mitmdump(workdir, ca.cert_path)
    dlp = start_proxy(workdir / "dlp", intercept=[f"localhost:{provider.port}"], upstream_ca=ca.cert_path,
                      policy_dir=REPO / "policies")
    url = f"{provider.base_url}/v1/messages"
    clients = {
        "mitmdump": (mitmdump.pid, httpx.Client(proxy=f"http://127.0.0.1:{mitm_port}", timeout=120,
                                                verify=str(workdir / "mitm-conf" / "mitmproxy-ca-cert.pem"))),
        "llm-dlp": (dlp.process.pid, httpx.Client(proxy=dlp.url, verify=dlp.ssl_context(), timeout=120)),
    }
    readings: dict[str, list[Reading]] = {name: [reading(pid, 0)] for name, (pid, _) in clients.items()}
    sizes: list[int] = []
    try:
        sent = 0
        for body in bodies:
            sizes.append(len(body))
            for _, client in clients.values():
                client.post(url, content=body, headers=HEADERS).raise_for_status()
            sent += 1
            if sent % args.step == 0:
                for name, (pid, _) in clients.items():
                    readings[name].append(reading(pid, sent))
    finally:
        dlp.stop()
        mitmdump.terminate()
        provider.close()

    lines = [f"{len(sizes)} requests (sessions of {args.turns} turns, {min(sizes) // 1000} → {max(sizes) // 1000} KB, "
             f"{sum(sizes) / 1e6:.0f} MB in all; every session other files), one at a time, to each proxy; "
             f"memory after every {args.step}", "",
             "| requests | mitmdump RSS MiB | llm-dlp RSS MiB (proxy process) | llm-dlp PSS MiB (with its workers) |",
             "|---:|---:|---:|---:|"]
    for plain, ours in zip(readings["mitmdump"], readings["llm-dlp"]):
        lines.append(f"| {ours.requests} | {plain.rss_mib:.0f} | {ours.rss_mib:.0f} | {ours.tree_pss_mib:.0f} |")
    print_table(lines, args.out)


if __name__ == "__main__":
    main()
