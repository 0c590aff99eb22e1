"""A coding agent's session through llm-dlp vs plain mitmdump: added latency per turn and CPU.

Each session is 30 Claude-Code-shaped ``/v1/messages`` requests: a system prompt and tool
definitions, then per turn one more ``Read`` tool call whose ``tool_result`` carries a real
source file from an installed package, the whole history resent every turn (~80 KB → ~500 KB).
Every session reads other files (and has its own system prompt), so turn 1 is always cold.
Each turn goes through plain ``mitmdump`` and ``llm-dlp run`` in the same run, order alternated;
the CPU of each proxy's process tree (workers included) is read from /proc around each session,
and compared with the CPU of one in-process, uncached ``inspect`` of the session's final body.

    .venv/bin/python -m bench.session [--sessions 3] [--turns 30] [--workers N] [--policy-dir DIR]
        [--baseline CHECKOUT] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sysconfig
import tempfile
import time
from pathlib import Path

import httpx

from bench.proxy_latency import print_table, start_mitmdump, tool_definitions
from llm_dlp.testing.proxyrun import REPO, start_proxy
from llm_dlp.testing.standin import StandInProvider, TestCA

SITE = Path(sysconfig.get_paths()["purelib"])
STDLIB = Path(sysconfig.get_paths()["stdlib"])
PACKAGES = ("mitmproxy", "botocore", "anyio", "h2", "httpx", "flask", "cryptography", "click", "faker")
FILE_CHARS = 16_000  # per tool result: 30 turns grow the body from ~80 KB to ~500 KB
HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01"}


def source_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        files += sorted(p for p in (SITE / package).rglob("*.py") if p.stat().st_size > 4000)
    return files


def session_bodies(number: int, turns: int, files: list[Path]) -> list[bytes]:
    """Session ``number``'s request bodies, turn 1 to ``turns``; no file is shared between sessions."""
    system_sources = sorted(STDLIB.glob("*.py"))
    system = system_sources[number % len(system_sources)].read_text(errors="replace")[:12000]
    body: dict = {
        "model": "claude-test", "max_tokens": 1024, "stream": False,
        "system": [{"type": "text", "text": f"You are a coding agent (session {number}).\n{system}"}],
        "tools": tool_definitions(12),
        "messages": [{"role": "user", "content": "Why does the build fail on CI but not locally?"}],
    }
    bodies = []
    for turn in range(turns):
        source = files[(number * turns + turn) % len(files)]
        tool_id = f"toolu_{number}_{turn}"
        body["messages"] += [
            {"role": "assistant", "content": [
                {"type": "text", "text": f"Let me read {source.name}."},
                {"type": "tool_use", "id": tool_id, "name": "Read", "input": {"file_path": str(source)}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id,
                                          "content": source.read_text(errors="replace")[:FILE_CHARS]}]},
        ]
        bodies.append(json.dumps(body).encode())
    return bodies


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its live descendants (detector workers)."""
    return sum(cpu_by_process(pid).values())


def cpu_by_process(pid: int) -> dict[int, float]:
    """User + system CPU seconds of a process and of each of its live descendants, by pid."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            found[current] = (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def final_body_cpu(bodies: list[bytes], policy_dir: Path) -> float:
    """CPU seconds of one uncached, in-process inspect of the final body: the floor to compare with."""
    from llm_dlp.detection import DetectorRegistry, build_detectors, fit_to_policies
    from llm_dlp.keys import ValueHasher
    from llm_dlp.pipeline import Pipeline, RequestInfo
    from llm_dlp.policy.loader import load_policy_dir

    detectors = build_detectors()
    policies = load_policy_dir(policy_dir, registry=DetectorRegistry.of(detectors))
    # The detectors the proxy runs for these policies (no language model where none needs one).
    pipeline = Pipeline(policies, fit_to_policies(detectors, policies.policies.values()), ValueHasher(b"k" * 32))
    info = RequestInfo("bench", "POST", "localhost", "/v1/messages", "anthropic")
    pipeline.inspect(info, bodies[0])  # warm: lazy loads are start-up, not scanning
    started = time.process_time()
    pipeline.inspect(info, bodies[-1])
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=3, help="sessions (each with other files); medians over them")
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--workers", type=int, help="llm-dlp run --workers (default: its default)")
    parser.add_argument("--policy-dir", type=lambda p: Path(p).resolve(), default=REPO / "policies",
                        help="llm-dlp's policies (bench/data/policy_no_code: no use for kind code)")
    parser.add_argument("--baseline", type=lambda p: Path(p).resolve(),
                        help="a checkout of another llm-dlp version: its proxy runs beside this one, in the same run")
    parser.add_argument("--out", type=Path, help="also write the table as markdown to this file")
    args = parser.parse_args()

    files = source_files()
    sessions = [session_bodies(n, args.turns, files) for n in range(args.sessions)]
    workdir = Path(tempfile.mkdtemp(prefix="llm-dlp-session-"))
    ca = TestCA(workdir / "ca")
    provider = StandInProvider(ca)
    mitmdump, mitm_port = start_mitmdump(workdir, ca.cert_path)
    extra = ["--workers", str(args.workers)] if args.workers is not None else []
    dlp = start_proxy(workdir / "dlp", intercept=[f"localhost:{provider.port}"], upstream_ca=ca.cert_path,
                      policy_dir=args.policy_dir, extra_args=extra)
    url = f"{provider.base_url}/v1/messages"
    paths = {
        "mitmdump": (mitmdump.pid, httpx.Client(proxy=f"http://127.0.0.1:{mitm_port}", timeout=120,
                                                verify=str(workdir / "mitm-conf" / "mitmproxy-ca-cert.pem"))),
        "llm-dlp": (dlp.process.pid, httpx.Client(proxy=dlp.url, verify=dlp.ssl_context(), timeout=120)),
    }
    proxies = [dlp]
    if args.baseline:  # its packages first on the path of the proxy it runs
        os.environ["PYTHONPATH"], saved = str(args.baseline), os.environ.get("PYTHONPATH")
        try:
            old = start_proxy(workdir / "baseline", intercept=[f"localhost:{provider.port}"], upstream_ca=ca.cert_path,
                              policy_dir=args.policy_dir, extra_args=extra)
        finally:
            os.environ.pop("PYTHONPATH") if saved is None else os.environ.update(PYTHONPATH=saved)
        proxies.append(old)
        paths["baseline"] = (old.process.pid, httpx.Client(proxy=old.url, verify=old.ssl_context(), timeout=120))
    latency: dict[str, list[list[float]]] = {name: [[] for _ in range(args.turns)] for name in paths}
    cpu: dict[str, list[float]] = {name: [] for name in paths}
    main_cpu: dict[str, list[float]] = {name: [] for name in paths}  # a proxy's own process, without its workers
    try:
        warm = json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
        for _, client in paths.values():
            client.post(url, content=warm, headers=HEADERS).raise_for_status()
        for number, bodies in enumerate(sessions):
            order = list(paths)[number % len(paths):] + list(paths)[:number % len(paths)]
            for name in order:  # one whole session per proxy, so its CPU is that session's alone
                pid, client = paths[name]
                before = cpu_by_process(pid)
                for turn, body in enumerate(bodies):
                    started = time.perf_counter()
                    response = client.post(url, content=body, headers=HEADERS)
                    latency[name][turn].append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                time.sleep(0.3)  # let the last request's audit line and bookkeeping finish
                after = cpu_by_process(pid)
                cpu[name].append(sum(after.values()) - sum(before.values()))
                main_cpu[name].append(after[pid] - before[pid])
    finally:
        for proxy in proxies:
            proxy.stop()
        mitmdump.terminate()
        provider.close()
    floor = statistics.median(final_body_cpu(bodies, args.policy_dir) for bodies in sessions)

    sizes = [len(b) / 1000 for b in sessions[0]]
    lines = [f"{args.sessions} sessions of {args.turns} turns ({sizes[0]:.0f} → {sizes[-1]:.0f} KB), "
             "one request at a time, keep-alive, loopback, TLS on both legs; medians over sessions; "
             f"policies {args.policy_dir.name}", "",
             "| turn | body KB | mitmdump p50 ms | llm-dlp p50 ms | **added p50 ms** |", "|---:|---:|---:|---:|---:|"]
    for turn in sorted({0, 1, 9, args.turns - 1} & set(range(args.turns))):
        m, d = (statistics.median(latency[name][turn]) for name in ("mitmdump", "llm-dlp"))
        lines.append(f"| {turn + 1} | {sizes[turn]:.0f} | {m:.1f} | {d:.1f} | **{d - m:+.1f}** |")
    for name in [n for n in paths if n != "mitmdump"]:
        follow = [statistics.median(latency[name][t]) - statistics.median(latency["mitmdump"][t])
                  for t in range(1, args.turns)]
        lines += ["", f"{name}: added p50 over follow-up turns 2–{args.turns}: median {statistics.median(follow):+.1f} ms, "
                      f"worst turn {max(follow):+.1f} ms; turn 1 "
                      f"{statistics.median(latency[name][0]) - statistics.median(latency['mitmdump'][0]):+.1f} ms."]
    lines += ["", "| CPU per session (process tree) | seconds |", "|---|---:|",
              f"| plain mitmdump | {statistics.median(cpu['mitmdump']):.2f} |"]
    if args.baseline:
        lines += [f"| baseline llm-dlp ({args.baseline}) | {statistics.median(cpu['baseline']):.2f} |",
                  f"| of which its proxy process | {statistics.median(main_cpu['baseline']):.2f} |"]
    lines += [f"| llm-dlp | {statistics.median(cpu['llm-dlp']):.2f} |",
              f"| of which the proxy process (not its detector workers) | {statistics.median(main_cpu['llm-dlp']):.2f} |",
              f"| one uncached scan of the final body (in-process inspect) | {floor:.2f} |",
              f"| **llm-dlp ÷ final-body scan** | **{statistics.median(cpu['llm-dlp']) / floor:.2f}×** |",
              # mitmproxy's own work is not scanning: what llm-dlp adds to it, against one scan
              f"| (llm-dlp − mitmdump) ÷ final-body scan | {(statistics.median(cpu['llm-dlp']) - statistics.median(cpu['mitmdump'])) / floor:.2f}× |"]
    print_table(lines, args.out)


if __name__ == "__main__":
    main()
